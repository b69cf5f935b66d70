// SPDX-License-Identifier: MIT
// op_prepare_net.cpp — validation of socket ops. Addresses and control data
// are copied out of the arena (the kernel reads them later); SCM_RIGHTS in
// SEND_MSG carries handles, which become the daemon's descriptors here.
#include <linux/if_packet.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "os/control_data.hpp"
#include "prepare/handle_table.hpp"
#include "prepare/op_prepare_util.hpp"

namespace aiod::daemon::prep {
namespace {

constexpr std::uint32_t kSendFlags =
    MSG_CONFIRM | MSG_DONTROUTE | MSG_DONTWAIT | MSG_EOR | MSG_MORE | MSG_OOB | MSG_NOSIGNAL;
constexpr std::uint32_t kRecvFlags = MSG_DONTWAIT | MSG_ERRQUEUE | MSG_OOB | MSG_PEEK | MSG_TRUNC | MSG_WAITALL;
// Control data one message may carry.
constexpr std::uint64_t kMaxControl = 64 * 1024;

int copy_address(const PrepareContext& ctx, std::uint64_t off, std::uint64_t len, OpRecord& rec) {
  if (len == 0 || len > sizeof(sockaddr_storage)) return -EINVAL;
  const std::byte* p = arena_ptr(ctx, off, len);
  if (p == nullptr) return -EFAULT;
  rec.addr = {};
  std::memcpy(&rec.addr, p, len);
  rec.addr_len = static_cast<socklen_t>(len);
  return fix_unix_address(ctx, rec, rec.addr, rec.addr_len);
}

// --- socket options (SETSOCKOPT, GETSOCKOPT) ---------------------------------
//
// Only options known to be safe pass: the kernel runs setsockopt and
// getsockopt in the calling process, which is the daemon, and some options
// act on that process rather than on the socket. Each list below is
// docs/operations.md's ("Which options pass").

// Newer than some C libraries' headers (Linux 6.5, 6.3).
constexpr int kSoPassPidfd = 76;
constexpr int kSoPeerPidfd = 77;
constexpr int kIpLocalPortRange = 51;

// The most bytes a value may have: more than any option that passes needs
// (TCP_INFO is about 250, SO_PEERGROUPS 4 per group).
constexpr std::uint32_t kMaxOptionLength = 4096;

enum Direction : std::uint8_t { kSet = 1, kGet = 2, kBoth = kSet | kGet };
struct Option {
  int level;
  int name;
  Direction dir;
};

// Refused with -EPERM, whatever the client's rights: the kernel would read
// the value, or write its answer, in the daemon's context.
constexpr Option kRefused[] = {
    // A descriptor number (eBPF) or a pointer (classic BPF's sock_fprog)
    // followed in the daemon, and a program run on every packet: the
    // daemon's memory could be loaded as a filter and read back.
    {SOL_SOCKET, SO_ATTACH_FILTER, kBoth},  // also SO_GET_FILTER, whose length counts filter blocks, not bytes
    {SOL_SOCKET, SO_ATTACH_BPF, kSet},
    {SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, kSet},
    {SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, kSet},
    {SOL_SOCKET, SO_DETACH_FILTER, kSet},  // SO_DETACH_BPF
    {SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, kSet},
    {SOL_PACKET, PACKET_FANOUT_DATA, kBoth},
    // Ancillary data the kernel fills in as the receiving process, the
    // daemon, sees it: SCM_CREDENTIALS' pid in the daemon's pid namespace and
    // ids in its user namespace; SCM_PIDFD a descriptor installed in the
    // daemon.
    {SOL_SOCKET, SO_PASSCRED, kSet},
    {SOL_SOCKET, kSoPassPidfd, kSet},
    // A pidfd installed in the daemon's descriptor table.
    {SOL_SOCKET, kSoPeerPidfd, kGet},
    // Maps received pages into the daemon's address space.
    {IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, kGet},
};

// What passes (the kernel then checks the client's own rights: SO_MARK,
// SO_PRIORITY above 6, SO_*BUFFORCE, SO_BINDTODEVICE, IP_TRANSPARENT and
// the like need capabilities the client's identity does not carry).
constexpr Option kAllowed[] = {
    // SOL_SOCKET
    {SOL_SOCKET, SO_REUSEADDR, kBoth},
    {SOL_SOCKET, SO_REUSEPORT, kBoth},
    {SOL_SOCKET, SO_KEEPALIVE, kBoth},
    {SOL_SOCKET, SO_LINGER, kBoth},
    {SOL_SOCKET, SO_SNDBUF, kBoth},
    {SOL_SOCKET, SO_RCVBUF, kBoth},
    {SOL_SOCKET, SO_SNDBUFFORCE, kSet},
    {SOL_SOCKET, SO_RCVBUFFORCE, kSet},
    {SOL_SOCKET, SO_BROADCAST, kBoth},
    {SOL_SOCKET, SO_DONTROUTE, kBoth},
    {SOL_SOCKET, SO_OOBINLINE, kBoth},
    {SOL_SOCKET, SO_PRIORITY, kBoth},
    {SOL_SOCKET, SO_MARK, kBoth},
    {SOL_SOCKET, SO_BINDTODEVICE, kBoth},
    {SOL_SOCKET, SO_BINDTOIFINDEX, kBoth},
    {SOL_SOCKET, SO_RCVLOWAT, kBoth},
    {SOL_SOCKET, SO_SNDLOWAT, kBoth},
    {SOL_SOCKET, SO_RCVTIMEO_OLD, kBoth},
    {SOL_SOCKET, SO_SNDTIMEO_OLD, kBoth},
    {SOL_SOCKET, SO_RCVTIMEO_NEW, kBoth},
    {SOL_SOCKET, SO_SNDTIMEO_NEW, kBoth},
    {SOL_SOCKET, SO_TIMESTAMP_OLD, kBoth},
    {SOL_SOCKET, SO_TIMESTAMPNS_OLD, kBoth},
    {SOL_SOCKET, SO_TIMESTAMPING_OLD, kBoth},
    {SOL_SOCKET, SO_TIMESTAMP_NEW, kBoth},
    {SOL_SOCKET, SO_TIMESTAMPNS_NEW, kBoth},
    {SOL_SOCKET, SO_TIMESTAMPING_NEW, kBoth},
    {SOL_SOCKET, SO_BUSY_POLL, kBoth},
    {SOL_SOCKET, SO_PREFER_BUSY_POLL, kBoth},
    {SOL_SOCKET, SO_BUSY_POLL_BUDGET, kBoth},
    {SOL_SOCKET, SO_INCOMING_CPU, kBoth},
    {SOL_SOCKET, SO_MAX_PACING_RATE, kBoth},
    {SOL_SOCKET, SO_PEEK_OFF, kBoth},
    {SOL_SOCKET, SO_RXQ_OVFL, kBoth},
    {SOL_SOCKET, SO_NO_CHECK, kBoth},
    {SOL_SOCKET, SO_SELECT_ERR_QUEUE, kBoth},
    {SOL_SOCKET, SO_TYPE, kGet},
    {SOL_SOCKET, SO_DOMAIN, kGet},
    {SOL_SOCKET, SO_PROTOCOL, kGet},
    {SOL_SOCKET, SO_ERROR, kGet},
    {SOL_SOCKET, SO_ACCEPTCONN, kGet},
    {SOL_SOCKET, SO_PEERCRED, kGet},
    {SOL_SOCKET, SO_PEERGROUPS, kGet},
    {SOL_SOCKET, SO_PEERNAME, kGet},
    {SOL_SOCKET, SO_COOKIE, kGet},
    {SOL_SOCKET, SO_NETNS_COOKIE, kGet},
    {SOL_SOCKET, SO_MEMINFO, kGet},
    {SOL_SOCKET, SO_INCOMING_NAPI_ID, kGet},
    // IPPROTO_TCP
    {IPPROTO_TCP, TCP_NODELAY, kBoth},
    {IPPROTO_TCP, TCP_MAXSEG, kBoth},
    {IPPROTO_TCP, TCP_CORK, kBoth},
    {IPPROTO_TCP, TCP_KEEPIDLE, kBoth},
    {IPPROTO_TCP, TCP_KEEPINTVL, kBoth},
    {IPPROTO_TCP, TCP_KEEPCNT, kBoth},
    {IPPROTO_TCP, TCP_SYNCNT, kBoth},
    {IPPROTO_TCP, TCP_LINGER2, kBoth},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, kBoth},
    {IPPROTO_TCP, TCP_WINDOW_CLAMP, kBoth},
    {IPPROTO_TCP, TCP_QUICKACK, kBoth},
    {IPPROTO_TCP, TCP_CONGESTION, kBoth},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, kBoth},
    {IPPROTO_TCP, TCP_NOTSENT_LOWAT, kBoth},
    {IPPROTO_TCP, TCP_FASTOPEN, kBoth},
    {IPPROTO_TCP, TCP_FASTOPEN_CONNECT, kBoth},
    {IPPROTO_TCP, TCP_INFO, kGet},
    // IPPROTO_IP
    {IPPROTO_IP, IP_TOS, kBoth},
    {IPPROTO_IP, IP_TTL, kBoth},
    {IPPROTO_IP, IP_MTU_DISCOVER, kBoth},
    {IPPROTO_IP, IP_MTU, kGet},
    {IPPROTO_IP, IP_RECVERR, kBoth},
    {IPPROTO_IP, IP_PKTINFO, kBoth},
    {IPPROTO_IP, IP_RECVTOS, kBoth},
    {IPPROTO_IP, IP_RECVTTL, kBoth},
    {IPPROTO_IP, IP_RECVORIGDSTADDR, kBoth},
    {IPPROTO_IP, IP_FREEBIND, kBoth},
    {IPPROTO_IP, IP_TRANSPARENT, kBoth},
    {IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, kBoth},
    {IPPROTO_IP, kIpLocalPortRange, kBoth},
    {IPPROTO_IP, IP_MULTICAST_TTL, kBoth},
    {IPPROTO_IP, IP_MULTICAST_LOOP, kBoth},
    {IPPROTO_IP, IP_MULTICAST_IF, kBoth},
    {IPPROTO_IP, IP_MULTICAST_ALL, kBoth},
    {IPPROTO_IP, IP_ADD_MEMBERSHIP, kSet},
    {IPPROTO_IP, IP_DROP_MEMBERSHIP, kSet},
    {IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, kSet},
    {IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, kSet},
    {IPPROTO_IP, IP_BLOCK_SOURCE, kSet},
    {IPPROTO_IP, IP_UNBLOCK_SOURCE, kSet},
    // IPPROTO_IPV6
    {IPPROTO_IPV6, IPV6_V6ONLY, kBoth},
    {IPPROTO_IPV6, IPV6_UNICAST_HOPS, kBoth},
    {IPPROTO_IPV6, IPV6_TCLASS, kBoth},
    {IPPROTO_IPV6, IPV6_MTU_DISCOVER, kBoth},
    {IPPROTO_IPV6, IPV6_MTU, kBoth},
    {IPPROTO_IPV6, IPV6_RECVERR, kBoth},
    {IPPROTO_IPV6, IPV6_RECVPKTINFO, kBoth},
    {IPPROTO_IPV6, IPV6_RECVTCLASS, kBoth},
    {IPPROTO_IPV6, IPV6_RECVHOPLIMIT, kBoth},
    {IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, kBoth},
    {IPPROTO_IPV6, IPV6_FREEBIND, kBoth},
    {IPPROTO_IPV6, IPV6_TRANSPARENT, kBoth},
    {IPPROTO_IPV6, IPV6_DONTFRAG, kBoth},
    {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, kBoth},
    {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, kBoth},
    {IPPROTO_IPV6, IPV6_MULTICAST_IF, kBoth},
    {IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, kSet},
    {IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP, kSet},
    // IPPROTO_UDP
    {IPPROTO_UDP, UDP_CORK, kBoth},
    {IPPROTO_UDP, UDP_SEGMENT, kBoth},
    {IPPROTO_UDP, UDP_GRO, kBoth},
};

bool listed(const auto& list, int level, int name, Direction dir) {
  for (const Option& o : list) {
    if (o.level == level && o.name == name && (o.dir & dir) != 0) return true;
  }
  return false;
}

// 0 if the option may be set (kSet) or read (kGet) for a client; -EPERM for
// the options refused on purpose (every SOL_XDP option too: their values are
// addresses in the calling process); -EOPNOTSUPP for any other.
int option_policy(int level, int name, Direction dir) {
  if (level == SOL_XDP || listed(kRefused, level, name, dir)) return -EPERM;
  return listed(kAllowed, level, name, dir) ? 0 : -EOPNOTSUPP;
}

// The socket's descriptor; any failure is -EBADF.
int socket_fd(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  const int fd = acquire(ctx, rec, s.handle);
  return fd < 0 ? -EBADF : fd;
}

// Handles in SCM_RIGHTS become descriptors (with a reference held until the op
// completes); credentials may not be forged with the daemon's identity.
// Walked by the kernel's rules (control_data.hpp): every SCM_RIGHTS the kernel
// will act on has had its handles translated.
int translate_send_control(const PrepareContext& ctx, OpRecord& rec) {
  return for_each_control_header(rec.control, [&](cmsghdr& c) {
    if (c.cmsg_level != SOL_SOCKET) return 0;
    if (c.cmsg_type == SCM_CREDENTIALS) return -EPERM;
    if (c.cmsg_type != SCM_RIGHTS) return 0;
    const std::size_t n = (c.cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t handle;
      std::memcpy(&handle, CMSG_DATA(&c) + i * sizeof(int), sizeof(handle));
      const int fd = ctx.handles->acquire(handle);
      if (fd < 0) return fd;
      rec.passed.push_back(handle);
      ctx.handles->mark_shared(handle);  // the peer will hold the description too
      std::memcpy(CMSG_DATA(&c) + i * sizeof(int), &fd, sizeof(fd));
    }
    return 0;
  });
}

int prepare_msg(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec, bool send) {
  if ((s.op_flags & ~(send ? kSendFlags : kRecvFlags)) != 0) return -EINVAL;
  if (s.len != sizeof(aiod_msghdr)) return -EINVAL;
  const std::byte* hp = arena_ptr(ctx, s.addr, sizeof(aiod_msghdr));
  if (hp == nullptr) return -EFAULT;
  aiod_msghdr h;
  std::memcpy(&h, hp, sizeof(h));  // one read of the shared copy
  if (h.reserved != 0 || h.iov_count > AIOD_IOV_MAX || h.control_len > kMaxControl) return -EINVAL;

  rec.msg = {};
  if (h.name_len > 0) {
    if (send) {
      if (const int err = copy_address(ctx, h.name, h.name_len, rec); err < 0) return err;
      rec.msg.msg_name = &rec.addr;
      rec.msg.msg_namelen = rec.addr_len;
    } else {
      // The kernel writes at most sizeof(sockaddr_storage) bytes of address.
      const std::uint32_t room = std::min<std::uint32_t>(h.name_len, sizeof(sockaddr_storage));
      std::byte* name = arena_ptr(ctx, h.name, room);
      if (name == nullptr) return -EFAULT;
      rec.msg.msg_name = name;
      rec.msg.msg_namelen = room;
    }
  }
  if (const int err = copy_iovecs(ctx, h.iov, h.iov_count, rec); err < 0) return err;
  // io_uring's rule: a short message breaks a soft link only for a receive
  // with MSG_WAITALL (a send takes no MSG_WAITALL here).
  if (send || (s.op_flags & MSG_WAITALL) == 0) rec.expected = 0;
  rec.msg.msg_iov = rec.iov.data();
  rec.msg.msg_iovlen = rec.iov.size();
  const int fd = socket_fd(s, ctx, rec);
  if (fd < 0) return fd;
  const std::byte* cp = h.control_len > 0 ? arena_ptr(ctx, h.control, h.control_len) : nullptr;
  if (h.control_len > 0 && cp == nullptr) return -EFAULT;
  // Control data is daemon memory: allocated only for a valid descriptor,
  // and only within the session's share (ctx.control_in_flight).
  if (h.control_len > 0 && ctx.control_in_flight != nullptr) {
    if (*ctx.control_in_flight + h.control_len > ctx.max_control_bytes) return -ENOBUFS;
    *ctx.control_in_flight += h.control_len;
    rec.control_charged = static_cast<std::uint32_t>(h.control_len);  // <= kMaxControl
  }
  rec.control.assign(h.control_len, 0);
  if (h.control_len > 0) {
    if (send) {
      std::memcpy(rec.control.data(), cp, h.control_len);
      if (const int err = translate_send_control(ctx, rec); err < 0) return err;
    }
    rec.msg.msg_control = rec.control.data();
    rec.msg.msg_controllen = rec.control.size();
  }
  // Sends never raise SIGPIPE in the daemon; received descriptors never leak
  // into a child of the daemon.
  if (send) {
    rec.op.args =
        op::Sendmsg{.fd = fd, .msg = &rec.msg, .flags = s.op_flags | MSG_NOSIGNAL, .unix_root = unix_root(ctx)};
  } else {
    rec.op.args = op::Recvmsg{.fd = fd, .msg = &rec.msg, .flags = s.op_flags | MSG_CMSG_CLOEXEC};
    rec.out_offset = s.addr;
    rec.out_offset2 = h.control;
    rec.finish = Finish::recv_msg;
  }
  return 0;
}

}  // namespace

int prepare_net(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  switch (s.opcode) {
    case AIOD_OP_SOCKET: {
      if (s.off > INT_MAX || s.mode > INT_MAX || s.op_flags > INT_MAX) return -EINVAL;
      rec.op.args = op::Socket{.domain = static_cast<int>(s.off),
                               .type = static_cast<int>(s.op_flags | SOCK_CLOEXEC),
                               .protocol = static_cast<int>(s.mode),
                               .netns = ctx.netns_fd};  // the client's, if not the daemon's
      rec.finish = Finish::new_handle;
      return 0;
    }
    case AIOD_OP_ACCEPT: {
      if ((s.op_flags & ~static_cast<std::uint32_t>(SOCK_NONBLOCK)) != 0) return -EINVAL;
      if (s.len2 != 0) {
        if (s.len2 < sizeof(aiod_sockaddr_out)) return -EINVAL;
        if (arena_ptr(ctx, s.addr2, sizeof(aiod_sockaddr_out)) == nullptr) return -EFAULT;
        rec.out_offset = s.addr2;
      } else if (s.addr2 != 0) {
        return -EINVAL;
      }
      const int fd = socket_fd(s, ctx, rec);
      if (fd < 0) return fd;
      // The kernel writes the peer address into the record; the completion
      // copies it out (so the client cannot change the length under it).
      rec.addr = {};
      rec.addr_len = sizeof(rec.addr);
      rec.op.args = op::Accept{.fd = fd,
                               .addr = reinterpret_cast<sockaddr*>(&rec.addr),
                               .addr_len = &rec.addr_len,
                               .flags = s.op_flags | SOCK_CLOEXEC};
      rec.finish = Finish::accept;
      return 0;
    }
    case AIOD_OP_CONNECT:
    case AIOD_OP_BIND: {
      if (const int err = copy_address(ctx, s.addr, s.len, rec); err < 0) return err;
      const int fd = socket_fd(s, ctx, rec);
      if (fd < 0) return fd;
      const auto* addr = reinterpret_cast<const sockaddr*>(&rec.addr);
      if (s.opcode == AIOD_OP_CONNECT) {
        rec.op.args = op::Connect{.fd = fd, .addr = addr, .addr_len = rec.addr_len, .unix_root = unix_root(ctx)};
      } else {
        // A socket file is created with the client's umask, as its own bind's would be.
        rec.op.args =
            op::Bind{.fd = fd, .addr = addr, .addr_len = rec.addr_len, .unix_root = unix_root(ctx), .umask = ctx.umask};
      }
      return 0;
    }
    case AIOD_OP_LISTEN: {
      if (s.op_flags > INT_MAX) return -EINVAL;
      const int fd = socket_fd(s, ctx, rec);
      if (fd < 0) return fd;
      rec.op.args = op::Listen{.fd = fd, .backlog = static_cast<int>(s.op_flags)};
      return 0;
    }
    case AIOD_OP_SHUTDOWN: {
      if (s.op_flags > SHUT_RDWR) return -EINVAL;
      const int fd = socket_fd(s, ctx, rec);
      if (fd < 0) return fd;
      rec.op.args = op::Shutdown{.fd = fd, .how = static_cast<int>(s.op_flags)};
      return 0;
    }
    case AIOD_OP_RECV:
    case AIOD_OP_SEND: {
      const bool send = s.opcode == AIOD_OP_SEND;
      if ((s.op_flags & ~(send ? kSendFlags : kRecvFlags)) != 0) return -EINVAL;
      std::byte* buf = arena_ptr(ctx, s.addr, s.len);
      if (buf == nullptr) return -EFAULT;
      const int fd = socket_fd(s, ctx, rec);
      if (fd < 0) return fd;
      if (send) {
        rec.op.args = op::Send{.fd = fd, .buf = buf, .len = s.len, .flags = s.op_flags | MSG_NOSIGNAL};
      } else {
        rec.op.args = op::Recv{.fd = fd, .buf = buf, .len = s.len, .flags = s.op_flags};
        // io_uring's rule: with MSG_WAITALL a short receive breaks a soft link.
        if ((s.op_flags & MSG_WAITALL) != 0) rec.expected = s.len;
      }
      return 0;
    }
    case AIOD_OP_SETSOCKOPT:
    case AIOD_OP_GETSOCKOPT: {
      const bool set = s.opcode == AIOD_OP_SETSOCKOPT;
      if (s.off > INT_MAX || s.op_flags > INT_MAX) return -EINVAL;
      const auto level = static_cast<int>(s.off);
      const auto name = static_cast<int>(s.op_flags);
      // A value may be empty (SO_BINDTODEVICE's unbinding); room to read
      // into may not.
      if (s.len > kMaxOptionLength || (!set && s.len == 0)) return -EINVAL;
      if (const int err = option_policy(level, name, set ? kSet : kGet); err < 0) return err;
      std::byte* value = arena_ptr(ctx, s.addr, s.len);
      if (value == nullptr) return -EFAULT;
      const int fd = socket_fd(s, ctx, rec);
      if (fd < 0) return fd;
      if (set) {
        rec.op.args = op::Setsockopt{.fd = fd, .level = level, .name = name, .value = value, .len = s.len};
      } else {
        rec.op.args = op::Getsockopt{.fd = fd, .level = level, .name = name, .value = value, .len = s.len};
      }
      return 0;
    }
    case AIOD_OP_GETSOCKNAME:
    case AIOD_OP_GETPEERNAME: {
      // The kernel writes at most sizeof(sockaddr_storage) bytes of address.
      if (s.len == 0) return -EINVAL;
      const auto room = static_cast<socklen_t>(std::min<std::uint32_t>(s.len, sizeof(sockaddr_storage)));
      std::byte* addr = arena_ptr(ctx, s.addr, s.len);
      if (addr == nullptr) return -EFAULT;
      const int fd = socket_fd(s, ctx, rec);
      if (fd < 0) return fd;
      auto* out = reinterpret_cast<sockaddr*>(addr);
      if (s.opcode == AIOD_OP_GETSOCKNAME) {
        rec.op.args = op::Getsockname{.fd = fd, .addr = out, .len = room};
      } else {
        rec.op.args = op::Getpeername{.fd = fd, .addr = out, .len = room};
      }
      return 0;
    }
    case AIOD_OP_RECV_MSG:
      return prepare_msg(s, ctx, rec, false);
    case AIOD_OP_SEND_MSG:
      return prepare_msg(s, ctx, rec, true);
    default:
      return -EINVAL;
  }
}

}  // namespace aiod::daemon::prep
