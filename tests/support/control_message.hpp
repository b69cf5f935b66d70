// SPDX-License-Identifier: MIT
// control_message.hpp — a control message carrying handles (SCM_RIGHTS by
// default) as a client writes it for SEND_MSG: the bytes to place in its arena.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace aiod::test {

inline std::vector<std::byte> handles_message(const std::vector<std::uint32_t>& handles, int level = SOL_SOCKET,
                                              int type = SCM_RIGHTS) {
  const std::size_t payload = handles.size() * sizeof(int);
  std::vector<std::byte> control(CMSG_SPACE(payload));
  msghdr m{};
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(payload);
  std::memcpy(CMSG_DATA(c), handles.data(), payload);
  return control;
}

}  // namespace aiod::test
