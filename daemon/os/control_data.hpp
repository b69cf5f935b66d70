// SPDX-License-Identifier: MIT
// control_data.hpp — walking ancillary data (SEND_MSG, RECV_MSG) by the
// kernel's own rules.
//
// The kernel processes a header at offset `off` while a whole cmsghdr fits
// there, and refuses the message if that header's length is below the header
// or runs past the buffer; the next header starts at the aligned end. Some
// C libraries' CMSG_NXTHDR stop earlier (at a last header whose *padded*
// length runs past the end), and the kernel would then act on a header the
// daemon never looked at — an SCM_RIGHTS whose numbers were never translated
// from handles. This walk sees exactly the headers the kernel will.
//
// Thread-safety: plain functions.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>

namespace aiod::daemon {

// Calls `fn(cmsghdr&)` for every header of `control` the kernel would process.
// Returns 0, or -EINVAL for a header the kernel would refuse (nothing after it
// is visited).
template <class Fn>
int for_each_control_header(std::span<std::uint8_t> control, Fn&& fn) {
  std::size_t off = 0;
  while (control.size() - off >= sizeof(cmsghdr)) {
    auto* c = reinterpret_cast<cmsghdr*>(control.data() + off);
    if (c->cmsg_len < sizeof(cmsghdr) || c->cmsg_len > control.size() - off) return -EINVAL;
    if (const int err = fn(*c); err < 0) return err;
    const std::size_t step = CMSG_ALIGN(c->cmsg_len);
    if (step > control.size() - off) break;
    off += step;
  }
  return 0;
}

}  // namespace aiod::daemon
