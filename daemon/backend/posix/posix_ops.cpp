// SPDX-License-Identifier: MIT
// posix_ops.cpp — one backend operation as blocking system calls, on a worker
// thread of the posix backend. See posix_op.hpp for the contract.
#include <fcntl.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <mutex>

#include "backend/confined_path.hpp"
#include "backend/posix/posix_op.hpp"

namespace aiod::daemon::posix {
namespace {

void on_cancel_signal(int) {}  // only interrupts the system call

// The descriptor an op waits on, and for what, when the descriptor is
// non-blocking and not ready (events 0: the op never waits that way).
struct WaitOn {
  int fd = -1;
  short events = 0;
  int fd2 = -1;  // a second descriptor to wait for input on, or -1
};
WaitOn wait_on(const BackendOp& op) {
  switch (op.opcode()) {
    case BackendOpcode::read:
      return {op.as<op::Read>().fd, POLLIN};
    case BackendOpcode::readv:
      return {op.as<op::Readv>().fd, POLLIN};
    case BackendOpcode::recv:
      return {op.as<op::Recv>().fd, POLLIN};
    case BackendOpcode::recvmsg:
      return {op.as<op::Recvmsg>().fd, POLLIN};
    case BackendOpcode::accept:
      return {op.as<op::Accept>().fd, POLLIN};
    case BackendOpcode::write:
      return {op.as<op::Write>().fd, POLLOUT};
    case BackendOpcode::writev:
      return {op.as<op::Writev>().fd, POLLOUT};
    case BackendOpcode::send:
      return {op.as<op::Send>().fd, POLLOUT};
    case BackendOpcode::sendmsg:
      return {op.as<op::Sendmsg>().fd, POLLOUT};
    case BackendOpcode::connect:
      return {op.as<op::Connect>().fd, POLLOUT};
    case BackendOpcode::splice: {  // the output side, then the input side
      const auto& o = op.as<op::Splice>();
      return {o.out, POLLOUT, o.in};
    }
    default:
      return {};
  }
}

// The MSG_* flags of a socket transfer, or 0.
std::uint32_t message_flags(const BackendOp& op) {
  switch (op.opcode()) {
    case BackendOpcode::recv:
      return op.as<op::Recv>().flags;
    case BackendOpcode::send:
      return op.as<op::Send>().flags;
    case BackendOpcode::recvmsg:
      return op.as<op::Recvmsg>().flags;
    case BackendOpcode::sendmsg:
      return op.as<op::Sendmsg>().flags;
    default:
      return 0;
  }
}

loff_t* offset_ptr(std::uint64_t offset, loff_t& storage) {
  if (offset == op::kCurrentPosition) return nullptr;
  storage = static_cast<loff_t>(offset);
  return &storage;
}

bool positional(std::uint64_t offset) { return offset != op::kCurrentPosition; }

// A confined_*() result (>= 0 or -errno) as a system call's (-1 and errno).
long as_call(int res) {
  if (res >= 0) return res;
  errno = -res;
  return -1;
}

// One function per op: one attempt of its system call; -1 with errno like the
// call itself. Every path a client names goes through confined_path.hpp;
// `resolve` is BackendOp::resolve.
long attempt(const op::Read& o, std::uint64_t) {
  return positional(o.offset) ? ::pread(o.fd, o.buf, o.len, static_cast<off_t>(o.offset)) : ::read(o.fd, o.buf, o.len);
}
long attempt(const op::Write& o, std::uint64_t) {
  return positional(o.offset) ? ::pwrite(o.fd, o.buf, o.len, static_cast<off_t>(o.offset))
                              : ::write(o.fd, o.buf, o.len);
}
long attempt(const op::Readv& o, std::uint64_t) {
  const int n = static_cast<int>(o.count);
  return positional(o.offset) ? ::preadv(o.fd, o.iov, n, static_cast<off_t>(o.offset)) : ::readv(o.fd, o.iov, n);
}
long attempt(const op::Writev& o, std::uint64_t) {
  const int n = static_cast<int>(o.count);
  return positional(o.offset) ? ::pwritev(o.fd, o.iov, n, static_cast<off_t>(o.offset)) : ::writev(o.fd, o.iov, n);
}
long attempt(const op::Fsync& o, std::uint64_t) { return o.datasync ? ::fdatasync(o.fd) : ::fsync(o.fd); }
long attempt(const op::Openat2& o, std::uint64_t) { return as_call(confined_open(o.dir, o.path, *o.how)); }
long attempt(const op::Close& o, std::uint64_t) { return ::close(o.fd); }
long attempt(const op::Recvmsg& o, std::uint64_t) { return ::recvmsg(o.fd, o.msg, static_cast<int>(o.flags)); }
long attempt(const op::Sendmsg& o, std::uint64_t resolve) {  // the daemon ignores SIGPIPE; tests may not
  const int flags = static_cast<int>(o.flags) | MSG_NOSIGNAL;
  if (is_unix_path(o.msg->msg_name, o.msg->msg_namelen)) {
    return as_call(confined_unix_sendmsg(o.fd, *o.msg, flags, o.unix_root, resolve));
  }
  return ::sendmsg(o.fd, o.msg, flags);
}
long attempt(const op::Recv& o, std::uint64_t) { return ::recv(o.fd, o.buf, o.len, static_cast<int>(o.flags)); }
long attempt(const op::Send& o, std::uint64_t) {
  return ::send(o.fd, o.buf, o.len, static_cast<int>(o.flags) | MSG_NOSIGNAL);
}
long attempt(const op::Accept& o, std::uint64_t) {
  return ::accept4(o.fd, o.addr, o.addr_len, static_cast<int>(o.flags));
}
long attempt(const op::Connect& o, std::uint64_t resolve) {
  if (is_unix_path(o.addr, o.addr_len)) {
    return as_call(confined_unix_connect(o.fd, o.addr, o.addr_len, o.unix_root, resolve));
  }
  return ::connect(o.fd, o.addr, o.addr_len);
}
long attempt(const op::Bind& o, std::uint64_t resolve) {
  if (is_unix_path(o.addr, o.addr_len)) {
    return as_call(confined_unix_bind(o.fd, o.addr, o.addr_len, o.umask, o.unix_root, resolve));
  }
  return ::bind(o.fd, o.addr, o.addr_len);
}
long attempt(const op::Listen& o, std::uint64_t) { return ::listen(o.fd, o.backlog); }
long attempt(const op::Shutdown& o, std::uint64_t) { return ::shutdown(o.fd, o.how); }
long attempt(const op::PollAdd& o, std::uint64_t) {
  pollfd p{o.fd, static_cast<short>(o.events), 0};
  const int n = ::poll(&p, 1, -1);
  return n < 0 ? n : p.revents;
}
long attempt(const op::Renameat& o, std::uint64_t resolve) {
  return as_call(confined_rename(o.old_dir, o.old_path, o.new_dir, o.new_path, o.flags, resolve));
}
long attempt(const op::Unlinkat& o, std::uint64_t resolve) {
  return as_call(confined_unlink(o.dir, o.path, o.flags, resolve));
}
long attempt(const op::Mkdirat& o, std::uint64_t resolve) {
  return as_call(confined_mkdir(o.dir, o.path, o.mode, resolve));
}
long attempt(const op::Symlinkat& o, std::uint64_t resolve) {
  return as_call(confined_symlink(o.target, o.dir, o.link_path, resolve));
}
long attempt(const op::Socket& o, std::uint64_t) { return ::socket(o.domain, o.type, o.protocol); }
long attempt(const op::Splice& o, std::uint64_t) {
  loff_t in_off = 0;
  loff_t out_off = 0;
  return ::splice(o.in, offset_ptr(o.in_offset, in_off), o.out, offset_ptr(o.out_offset, out_off), o.len, o.flags);
}
long attempt(const op::Statx& o, std::uint64_t resolve) {
  return as_call(confined_statx(o.dir, o.path, o.flags, o.mask, o.out, resolve));
}
long attempt(const op::Fallocate& o, std::uint64_t) {
  return ::fallocate(o.fd, o.mode, static_cast<off_t>(o.offset), static_cast<off_t>(o.length));
}
long attempt(const op::Fadvise& o, std::uint64_t) {
  // Returns the error number itself instead of setting errno.
  if (const int err = ::posix_fadvise(o.fd, static_cast<off_t>(o.offset), static_cast<off_t>(o.len), o.advice);
      err != 0) {
    errno = err;
    return -1;
  }
  return 0;
}
long attempt(const op::Ftruncate& o, std::uint64_t) { return ::ftruncate(o.fd, static_cast<off_t>(o.length)); }
long attempt(const op::SyncFileRange& o, std::uint64_t) {
  return ::sync_file_range(o.fd, static_cast<off64_t>(o.offset), o.len, o.flags);
}
long attempt(const op::Setsockopt& o, std::uint64_t) { return ::setsockopt(o.fd, o.level, o.name, o.value, o.len); }
// The value's length, as io_uring's socket command returns it (never more
// than the room given).
long attempt(const op::Getsockopt& o, std::uint64_t) {
  socklen_t len = o.len;
  if (::getsockopt(o.fd, o.level, o.name, o.value, &len) < 0) return -1;
  return std::min(len, o.len);
}
// The address's full length; at most o.len bytes of it are written.
long attempt(const op::Getsockname& o, std::uint64_t) {
  socklen_t len = o.len;
  return ::getsockname(o.fd, o.addr, &len) < 0 ? -1 : static_cast<long>(len);
}
long attempt(const op::Getpeername& o, std::uint64_t) {
  socklen_t len = o.len;
  return ::getpeername(o.fd, o.addr, &len) < 0 ? -1 : static_cast<long>(len);
}
// Never given to a worker: the backend runs these itself.
long attempt(const op::Nop&, std::uint64_t) { return -1; }
long attempt(const op::Timeout&, std::uint64_t) { return -1; }
long attempt(const op::LinkTimeout&, std::uint64_t) { return -1; }
long attempt(const op::Cancel&, std::uint64_t) { return -1; }

long attempt(const BackendOp& op) {
  errno = EINVAL;
  return std::visit([&op](const auto& args) { return attempt(args, op.resolve); }, op.args);
}

// Waits until a non-blocking descriptor may be ready for `op` again.
// Returns 0 (try again) or -errno.
int wait_ready(const WaitOn& on, std::uint64_t& syscalls) {
  pollfd fds[2] = {{on.fd, on.events, 0}, {on.fd2, POLLIN, 0}};
  const nfds_t n = on.fd2 >= 0 ? 2 : 1;
  ++syscalls;
  return ::poll(fds, n, -1) < 0 ? -errno : 0;
}

// A connect that was interrupted or is in progress finishes in the
// background: wait for it and fetch its outcome.
int finish_connect(int fd, const std::atomic<bool>& cancelled, std::uint64_t& syscalls) {
  for (;;) {
    if (cancelled.load(std::memory_order_relaxed)) return -ECANCELED;
    pollfd p{fd, POLLOUT, 0};
    ++syscalls;
    if (::poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ++syscalls;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
    return -err;
  }
}

int run(const BackendOp& op, const std::atomic<bool>& cancelled, std::uint64_t& syscalls) {
  // Whether a non-blocking descriptor's -EAGAIN means "wait", as io_uring
  // treats it; MSG_DONTWAIT asks for the -EAGAIN itself.
  const WaitOn on = wait_on(op);
  const bool may_wait = on.events != 0 && (message_flags(op) & MSG_DONTWAIT) == 0;
  for (;;) {
    if (cancelled.load(std::memory_order_relaxed)) return -ECANCELED;
    ++syscalls;
    const long r = attempt(op);
    if (r >= 0) return static_cast<int>(r);
    const int err = errno;
    if (err == EINTR) {
      if (cancelled.load(std::memory_order_relaxed)) return -ECANCELED;
      if (op.is<op::Close>()) return 0;  // the descriptor is gone all the same
      if (op.is<op::Connect>()) return finish_connect(on.fd, cancelled, syscalls);
      continue;  // a signal meant for an earlier op of this worker
    }
    if (err == EINPROGRESS && op.is<op::Connect>()) return finish_connect(on.fd, cancelled, syscalls);
    if ((err == EAGAIN || err == EWOULDBLOCK) && may_wait) {
      const int w = wait_ready(on, syscalls);
      if (w == -EINTR || w == 0) continue;  // the loop's top sees a cancellation
      return w;
    }
    return err == ENOSYS ? -EOPNOTSUPP : -err;  // the kernel lacks it, like a failed io_uring probe
  }
}

// The non-blocking attempt of read/readv/write/writev; nullopt: use a worker.
// `buffered_file`: a positioned read of a regular file known never to be
// O_DIRECT (op::Read::try_at_once). Any other regular file, directory or
// block device goes to a worker untried: a client sharing its description
// may switch it to O_DIRECT at any moment, and a direct transfer waits for
// the device even with RWF_NOWAIT; and at the file position the kernel first
// takes the description's position lock, which a client's own stuck call
// may hold. A pipe too: its mutex is taken even with RWF_NOWAIT, and a
// client's blocking splice into it holds that mutex for as long as it likes
// (BackendOp::never_inline says so first; this is the backstop). (This runs
// on the shard thread: the type comes from the kernel's cache, never from a
// filesystem that could hang, AT_STATX_DONT_SYNC.)
std::optional<int> try_rw_now(int fd, const iovec* iov, int n, std::uint64_t offset, bool reading,
                              bool buffered_file, std::uint64_t& syscalls) {
  if (buffered_file && offset == op::kCurrentPosition) buffered_file = false;
  if (!buffered_file) {
    ++syscalls;
    struct statx st {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &st) < 0 || S_ISREG(st.stx_mode) ||
        S_ISDIR(st.stx_mode) || S_ISBLK(st.stx_mode) || S_ISFIFO(st.stx_mode)) {
      return std::nullopt;
    }
  }
  const auto off = static_cast<off_t>(offset);  // -1: the file position
  auto call = [&](int flags) {
    ++syscalls;
    return reading ? ::preadv2(fd, iov, n, off, flags) : ::pwritev2(fd, iov, n, off, flags);
  };
  // No RWF_NOWAIT for this file (an eventfd's write, a tty): a worker's. Its
  // O_NONBLOCK is no promise: a client sharing the description can clear it
  // between a look and the call, and an eventfd whose count it has filled
  // would then hold the shard thread for good.
  const ssize_t r = call(RWF_NOWAIT);
  if (r >= 0) return static_cast<int>(r);
  if (errno == EAGAIN || errno == EINTR || errno == EOPNOTSUPP) return std::nullopt;
  return -errno;
}

}  // namespace

std::optional<int> try_now(const BackendOp& op, std::uint64_t& syscalls) {
  long r;
  const int flags = static_cast<int>(message_flags(op));
  // A non-blocking MSG_WAITALL receive may return part of what it must wait for.
  if (flags & MSG_WAITALL) return std::nullopt;
  switch (op.opcode()) {
    case BackendOpcode::read: {
      const auto& o = op.as<op::Read>();
      const iovec one{o.buf, o.len};
      return try_rw_now(o.fd, &one, 1, o.offset, true, o.try_at_once, syscalls);
    }
    case BackendOpcode::write: {
      const auto& o = op.as<op::Write>();
      const iovec one{const_cast<void*>(o.buf), o.len};
      return try_rw_now(o.fd, &one, 1, o.offset, false, false, syscalls);
    }
    case BackendOpcode::readv: {
      const auto& o = op.as<op::Readv>();
      return try_rw_now(o.fd, o.iov, static_cast<int>(o.count), o.offset, true, false, syscalls);
    }
    case BackendOpcode::writev: {
      const auto& o = op.as<op::Writev>();
      return try_rw_now(o.fd, o.iov, static_cast<int>(o.count), o.offset, false, false, syscalls);
    }
    case BackendOpcode::recv: {
      const auto& o = op.as<op::Recv>();
      r = ::recv(o.fd, o.buf, o.len, flags | MSG_DONTWAIT);
      break;
    }
    case BackendOpcode::send: {
      const auto& o = op.as<op::Send>();
      r = ::send(o.fd, o.buf, o.len, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
      break;
    }
    case BackendOpcode::recvmsg: {
      const auto& o = op.as<op::Recvmsg>();
      r = ::recvmsg(o.fd, o.msg, flags | MSG_DONTWAIT);
      break;
    }
    case BackendOpcode::sendmsg: {
      const auto& o = op.as<op::Sendmsg>();
      if (is_unix_path(o.msg->msg_name, o.msg->msg_namelen)) return std::nullopt;  // a path to resolve: a worker's job
      r = ::sendmsg(o.fd, o.msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
      break;
    }
    case BackendOpcode::getsockname:
    case BackendOpcode::getpeername: {
      // Never block: always done here, never by a worker.
      ++syscalls;
      const long res = attempt(op);
      return res >= 0 ? static_cast<int>(res) : -errno;
    }
    case BackendOpcode::poll_add: {
      const auto& o = op.as<op::PollAdd>();
      pollfd p{o.fd, static_cast<short>(o.events), 0};
      ++syscalls;
      const int n = ::poll(&p, 1, 0);
      if (n < 0) return errno == EINTR ? std::nullopt : std::optional<int>(-errno);
      if (n == 0) return std::nullopt;
      return p.revents;
    }
    default:
      return std::nullopt;
  }
  ++syscalls;
  if (r >= 0) return static_cast<int>(r);
  if ((errno == EAGAIN || errno == EWOULDBLOCK) && !(flags & MSG_DONTWAIT)) return std::nullopt;
  if (errno == EINTR) return std::nullopt;
  return -errno;
}

int cancel_signal() { return SIGURG; }

void install_cancel_signal() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_cancel_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the blocking system call must return EINTR
    ::sigaction(cancel_signal(), &sa, nullptr);
  });
}

namespace {

// Runs `fn` with the calling thread (only) in network namespace `netns`, then
// back in the daemon's. Needs the daemon's capabilities: called before the
// thread takes a client's identity.
template <class F>
int in_network_namespace(int netns, F&& fn) {
  static const int daemon_netns = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);  // before any switch
  if (daemon_netns < 0) return -EOPNOTSUPP;
  if (::setns(netns, CLONE_NEWNET) < 0) return -errno;
  const int result = fn();
  if (::setns(daemon_netns, CLONE_NEWNET) < 0) std::abort();  // a worker must not go on in a client's namespace
  return result;
}

int run_as(const PosixOp& p, std::uint64_t& syscalls) {
  if (!p.creds) return run(p.op, p.cancelled, syscalls);
  // The raw per-thread switch there and back: own_creds() (5 calls), 3 to
  // switch, 3 to restore.
  syscalls += 11;
  return with_peer_identity(*p.creds, [&] { return run(p.op, p.cancelled, syscalls); });
}

}  // namespace

int execute(const PosixOp& p, std::uint64_t& syscalls) {
  if (p.op.is<op::Socket>() && p.op.as<op::Socket>().netns >= 0) {
    syscalls += 2;
    return in_network_namespace(p.op.as<op::Socket>().netns, [&] { return run_as(p, syscalls); });
  }
  return run_as(p, syscalls);
}

}  // namespace aiod::daemon::posix
