// SPDX-License-Identifier: MIT
// session_finish.cpp — what the daemon itself does when an op's backend part
// ends: turning descriptors into handles, closing handles, copying results
// back to the arena, and counting the op; the result the client will see.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

#include "op_table.hpp"
#include "os/control_data.hpp"
#include "os/fd_policy.hpp"
#include "session/session.hpp"

namespace aiod::daemon {

int Session::finish_result(OpRecord& rec, int res) {
  if (rec.at_once_refused) handles_.no_read_at_once(rec.handle);
  switch (rec.finish) {
    case Finish::plain:
      break;
    case Finish::timer:
      if (res == -ETIME) res = 0;  // expiry is the timer's success
      break;
    case Finish::link_timer:
      // Cancelled: its op finished first, which is the link timeout's success.
      if (res == -ECANCELED) res = 0;
      break;
    case Finish::new_handle:
    case Finish::accept:
      if (res >= 0) {
        // A descriptor the daemon's own open or accept just made: nobody else
        // holds its description.
        const std::int64_t h = handles_.insert(UniqueFd(res), HandleTable::Description::daemons_own);
        res = static_cast<int>(h);  // a handle (< 2^31) or -EMFILE
        if (res >= 0 && rec.finish == Finish::accept && rec.out_offset != OpRecord::kNoOffset) write_peer_address(rec);
      }
      break;
    case Finish::close_socket:
      // This session's ops still pending on the handle end with -ECANCELED;
      // their references keep the descriptor open until they have.
      if (res >= 0) cancel_backend_ops_on(rec.handle);
      [[fallthrough]];
    case Finish::close_handle:
      if (res >= 0) res = handles_.close(rec.handle);
      break;
    case Finish::recv_msg:
      if (res >= 0) write_back_message(rec);
      break;
    case Finish::eventfd_rw:
      if (res == sizeof(std::uint64_t)) res = 0;
      break;
    case Finish::child_exit:
      // The close flag takes the handle only from a wait that succeeded: a
      // failed or cancelled one leaves it with the client, to wait again or
      // to close.
      if (res >= 0) {
        res = 0;
        if (rec.close_after) (void)handles_.close(rec.handle);
      }
      break;
    case Finish::cancel:
      if (rec.op.is<op::Nop>() && res >= 0) res = rec.preset;
      break;
  }
  if (res > 0) {
    switch (proto::op_info(rec.opcode)->bytes) {
      case proto::Bytes::in:
        counters.bytes_in.add(static_cast<std::uint64_t>(res));
        break;
      case proto::Bytes::out:
        counters.bytes_out.add(static_cast<std::uint64_t>(res));
        break;
      case proto::Bytes::none:
        break;
    }
  }
  return res;
}

// Cancelling by descriptor would reach further than this close may: io_uring
// matches IORING_ASYNC_CANCEL_FD by open file description, which another
// session (handed the same socket) or another handle of this one may share.
// So only the ops of this session that name this handle are cancelled, each
// by its own record.
void Session::cancel_backend_ops_on(std::uint32_t handle) {
  Backend& backend = host_.backend();
  for (OpRecord& r : records_.all()) {
    if (!r.in_backend || (r.handle != handle && r.handle2 != handle)) continue;
    if (backend.cancel(&r) == -EAGAIN) {
      backend.flush();
      (void)backend.cancel(&r);
    }
  }
}

void Session::write_peer_address(const OpRecord& rec) {
  aiod_sockaddr_out out{};
  out.len = rec.addr_len;
  std::memcpy(out.addr, &rec.addr, std::min<std::size_t>(rec.addr_len, sizeof(out.addr)));
  std::memcpy(prepare_ctx_.arena.data() + rec.out_offset, &out, sizeof(out));
}

// SCM_PIDFD (Linux 6.5): the pidfd the kernel installs, in the receiving
// process, for a socket with SO_PASSPIDFD. Not in every C library's headers.
constexpr int kScmPidfd = 0x04;

// After RECV_MSG: descriptors that arrived become handles of this session (the
// daemon's descriptor numbers mean nothing to the client), then the message's
// lengths, flags and control data are written back to the arena.
//
// Any other control message that carries a descriptor (SCM_PIDFD, from a
// client's own socket with SO_PASSPIDFD, which aiod does not let it set) is
// closed and left out of the control data, with MSG_CTRUNC set: otherwise
// each receive would leave a descriptor in the daemon, and its number would
// reach the client.
void Session::write_back_message(OpRecord& rec) {
  msghdr& m = rec.msg;
  if (m.msg_controllen > rec.control.size()) m.msg_controllen = rec.control.size();
  const std::span control(rec.control.data(), m.msg_controllen);
  bool dropped = false;
  // Walked by the kernel's rules (control_data.hpp), so that every descriptor
  // the kernel installed becomes a handle (or is closed): none stays behind
  // in the daemon.
  (void)for_each_control_header(control, [&](cmsghdr& c) {
    if (c.cmsg_level != SOL_SOCKET || (c.cmsg_type != SCM_RIGHTS && c.cmsg_type != kScmPidfd)) return 0;
    const std::size_t n = (c.cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(&c) + i * sizeof(int), sizeof(fd));
      UniqueFd owned(fd);  // a failed pidfd is a negative errno: nothing to close
      if (c.cmsg_type != SCM_RIGHTS) continue;
      // A descriptor the daemon will not hold (fd_policy.hpp) is closed, as
      // one past a full table is.
      const std::int64_t h = refused_as_handle(fd) ? -EPERM : handles_.insert(std::move(owned));
      const std::uint32_t value = h < 0 ? AIOD_HANDLE_INVALID : static_cast<std::uint32_t>(h);
      if (h < 0) m.msg_flags |= MSG_CTRUNC;
      std::memcpy(CMSG_DATA(&c) + i * sizeof(int), &value, sizeof(value));
    }
    if (c.cmsg_type != SCM_RIGHTS) dropped = true;
    return 0;
  });
  if (dropped) {
    // The messages kept, in order, each at its aligned place as the kernel
    // lays them out.
    std::vector<std::uint8_t> kept;
    kept.reserve(control.size());
    (void)for_each_control_header(control, [&](cmsghdr& c) {
      if (c.cmsg_level == SOL_SOCKET && c.cmsg_type == kScmPidfd) return 0;
      const auto* p = reinterpret_cast<const std::uint8_t*>(&c);
      const std::size_t at = static_cast<std::size_t>(p - control.data());
      const std::size_t step = std::min<std::size_t>(CMSG_ALIGN(c.cmsg_len), control.size() - at);
      kept.insert(kept.end(), p, p + step);
      return 0;
    });
    std::memcpy(rec.control.data(), kept.data(), kept.size());
    m.msg_controllen = kept.size();
    m.msg_flags |= MSG_CTRUNC;
  }
  std::byte* arena = prepare_ctx_.arena.data();
  if (m.msg_controllen > 0 && rec.out_offset2 != OpRecord::kNoOffset) {
    std::memcpy(arena + rec.out_offset2, rec.control.data(), m.msg_controllen);
  }
  aiod_msghdr h;
  std::memcpy(&h, arena + rec.out_offset, sizeof(h));
  h.name_len = m.msg_namelen;
  h.flags = static_cast<std::uint32_t>(m.msg_flags);
  h.control_len = m.msg_controllen;
  std::memcpy(arena + rec.out_offset, &h, sizeof(h));
}

}  // namespace aiod::daemon
