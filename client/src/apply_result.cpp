// SPDX-License-Identifier: MIT
// apply_result.cpp — a completion's result, delivered where the op asked:
// out-pointers, bytes copied back out of the arena, messages, addresses.
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "connection.hpp"

namespace aiod::detail {
namespace {

ChildStatus status_of(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED:
      return {ChildStatus::Kind::exited, info.si_status};
    case CLD_KILLED:
    case CLD_DUMPED:
      return {ChildStatus::Kind::signaled, info.si_status};
    case CLD_STOPPED:
    case CLD_TRAPPED:
      return {ChildStatus::Kind::stopped, info.si_status};
    default:
      return {ChildStatus::Kind::unknown, info.si_status};
  }
}

}  // namespace

int Connection::apply_result(PendingOp& op, int res) {
  if (res < 0) return res;
  // Data: the first `res` bytes, in order, over the copy-back entries.
  std::size_t left = static_cast<std::size_t>(res);
  for (const CopyBack& cb : op.copy_backs) {
    const std::size_t n = cb.whole ? cb.len : std::min(left, cb.len);
    if (n > 0) std::memcpy(cb.dst, arena_ + cb.offset, n);
    if (!cb.whole) left -= n;
  }
  switch (op.post) {
    case Post::none:
      break;
    case Post::size:
      *static_cast<std::size_t*>(op.out) = static_cast<std::size_t>(res);
      break;
    case Post::handle:
      *static_cast<Handle*>(op.out) = Handle{static_cast<std::uint32_t>(res)};
      break;
    case Post::events:
      *static_cast<std::uint32_t*>(op.out) = static_cast<std::uint32_t>(res);
      break;
    case Post::socklen:
      *static_cast<socklen_t*>(op.out) = static_cast<socklen_t>(res);
      break;
    case Post::accept: {
      if (op.out != nullptr) *static_cast<Handle*>(op.out) = Handle{static_cast<std::uint32_t>(res)};
      if (op.out2 != nullptr) {
        aiod_sockaddr_out peer;
        std::memcpy(&peer, arena_ + op.aux[0], sizeof(peer));
        auto* len = static_cast<socklen_t*>(op.out3);
        const std::size_t room = std::min<std::size_t>(*len, sizeof(peer.addr));
        std::memcpy(op.out2, peer.addr, std::min<std::size_t>(room, peer.len));
        *len = peer.len;
      }
      break;
    }
    case Post::recv_msg: {
      auto* msg = static_cast<msghdr*>(op.out);
      aiod_msghdr h;
      std::memcpy(&h, arena_ + op.aux[0], sizeof(h));
      if (msg->msg_name != nullptr) {
        std::memcpy(msg->msg_name, arena_ + op.aux[1], std::min<std::size_t>(msg->msg_namelen, h.name_len));
      }
      msg->msg_namelen = h.name_len;
      if (msg->msg_control != nullptr) {
        const std::size_t n = std::min<std::size_t>(msg->msg_controllen, h.control_len);
        std::memcpy(msg->msg_control, arena_ + op.aux[2], n);
        msg->msg_controllen = n;
      }
      msg->msg_flags = static_cast<int>(h.flags);
      if (op.out2 != nullptr) *static_cast<std::size_t*>(op.out2) = static_cast<std::size_t>(res);
      break;
    }
    case Post::child_exit: {
      // The daemon saw the pidfd become readable: the child has exited. Reap
      // it here, where it is a child.
      siginfo_t info{};
      if (::syscall(SYS_waitid, P_PIDFD, op.owned_fd, &info, WEXITED, nullptr) < 0) return -errno;
      if (op.out != nullptr) *static_cast<ChildStatus*>(op.out) = status_of(info);
      break;
    }
  }
  return res;
}

}  // namespace aiod::detail
