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

#include <cerrno>
#include <cstdlib>
#include <mutex>

#include "backend/confined_path.hpp"
#include "backend/posix/posix_op.hpp"

namespace aiod::daemon::posix {
namespace {

void on_cancel_signal(int) {}  // only interrupts the system call

// How an op waits when its descriptor is non-blocking and not ready.
short wait_events(BackendOpcode opcode) {
  switch (opcode) {
    case BackendOpcode::read:
    case BackendOpcode::readv:
    case BackendOpcode::recv:
    case BackendOpcode::recvmsg:
    case BackendOpcode::accept:
      return POLLIN;
    case BackendOpcode::write:
    case BackendOpcode::writev:
    case BackendOpcode::send:
    case BackendOpcode::sendmsg:
    case BackendOpcode::connect:
      return POLLOUT;
    default:
      return 0;
  }
}

loff_t* offset_ptr(std::uint64_t offset, loff_t& storage) {
  if (offset == static_cast<std::uint64_t>(-1)) return nullptr;
  storage = static_cast<loff_t>(offset);
  return &storage;
}

// A confined_*() result (>= 0 or -errno) as a system call's (-1 and errno).
long as_call(int res) {
  if (res >= 0) return res;
  errno = -res;
  return -1;
}

// One attempt of the system call; -1 with errno like the call itself. Every
// path a client names goes through confined_path.hpp.
long attempt(const BackendOp& op) {
  const bool positional = op.offset != static_cast<std::uint64_t>(-1);
  const auto off = static_cast<off_t>(op.offset);
  switch (op.opcode) {
    case BackendOpcode::read:
      return positional ? ::pread(op.fd, op.addr, op.len, off) : ::read(op.fd, op.addr, op.len);
    case BackendOpcode::write:
      return positional ? ::pwrite(op.fd, op.addr, op.len, off) : ::write(op.fd, op.addr, op.len);
    case BackendOpcode::readv: {
      const auto* iov = static_cast<const iovec*>(op.addr);
      const int n = static_cast<int>(op.len);
      return positional ? ::preadv(op.fd, iov, n, off) : ::readv(op.fd, iov, n);
    }
    case BackendOpcode::writev: {
      const auto* iov = static_cast<const iovec*>(op.addr);
      const int n = static_cast<int>(op.len);
      return positional ? ::pwritev(op.fd, iov, n, off) : ::writev(op.fd, iov, n);
    }
    case BackendOpcode::fsync:
      return (op.op_flags & IORING_FSYNC_DATASYNC) ? ::fdatasync(op.fd) : ::fsync(op.fd);
    case BackendOpcode::openat2:
      return as_call(confined_open(op.fd, op.path, *op.how));
    case BackendOpcode::close:
      return ::close(op.fd);
    case BackendOpcode::recvmsg:
      return ::recvmsg(op.fd, static_cast<msghdr*>(op.addr), static_cast<int>(op.op_flags));
    case BackendOpcode::sendmsg: {  // the daemon ignores SIGPIPE; tests may not
      const auto& msg = *static_cast<const msghdr*>(op.addr);
      const int flags = static_cast<int>(op.op_flags) | MSG_NOSIGNAL;
      if (is_unix_path(msg.msg_name, msg.msg_namelen)) return as_call(confined_unix_sendmsg(op.fd, msg, flags, op.fd2, op.resolve));
      return ::sendmsg(op.fd, &msg, flags);
    }
    case BackendOpcode::recv:
      return ::recv(op.fd, op.addr, op.len, static_cast<int>(op.op_flags));
    case BackendOpcode::send:
      return ::send(op.fd, op.addr, op.len, static_cast<int>(op.op_flags) | MSG_NOSIGNAL);
    case BackendOpcode::accept:
      return ::accept4(op.fd, static_cast<sockaddr*>(op.addr), static_cast<socklen_t*>(op.addr2),
                       static_cast<int>(op.op_flags));
    case BackendOpcode::connect:
      if (is_unix_path(op.addr, op.len)) return as_call(confined_unix_connect(op.fd, op.addr, op.len, op.fd2, op.resolve));
      return ::connect(op.fd, static_cast<const sockaddr*>(op.addr), op.len);
    case BackendOpcode::bind:
      if (is_unix_path(op.addr, op.len)) {
        return as_call(confined_unix_bind(op.fd, op.addr, op.len, static_cast<mode_t>(op.op_flags), op.fd2, op.resolve));
      }
      return ::bind(op.fd, static_cast<const sockaddr*>(op.addr), op.len);
    case BackendOpcode::listen:
      return ::listen(op.fd, static_cast<int>(op.len));
    case BackendOpcode::shutdown:
      return ::shutdown(op.fd, static_cast<int>(op.len));
    case BackendOpcode::poll_add: {
      pollfd p{op.fd, static_cast<short>(op.op_flags), 0};
      const int n = ::poll(&p, 1, -1);
      return n < 0 ? n : p.revents;
    }
    case BackendOpcode::renameat:
      return as_call(confined_rename(op.fd, op.path, op.fd2, op.path2, op.op_flags, op.resolve));
    case BackendOpcode::unlinkat:
      return as_call(confined_unlink(op.fd, op.path, static_cast<int>(op.op_flags), op.resolve));
    case BackendOpcode::mkdirat:
      return as_call(confined_mkdir(op.fd, op.path, op.len, op.resolve));
    case BackendOpcode::symlinkat:
      return as_call(confined_symlink(op.path, op.fd, op.path2, op.resolve));
    case BackendOpcode::socket:
      return ::socket(static_cast<int>(op.len), static_cast<int>(op.op_flags), static_cast<int>(op.offset));
    case BackendOpcode::splice: {
      loff_t in_off = 0;
      loff_t out_off = 0;
      return ::splice(op.fd2, offset_ptr(op.offset2, in_off), op.fd, offset_ptr(op.offset, out_off), op.len,
                      op.op_flags);
    }
    case BackendOpcode::statx:
      return as_call(confined_statx(op.fd, op.path, static_cast<int>(op.op_flags), op.len,
                                    static_cast<struct statx*>(op.addr), op.resolve));
    case BackendOpcode::fallocate:
      return ::fallocate(op.fd, static_cast<int>(op.op_flags), static_cast<off_t>(op.offset),
                         static_cast<off_t>(op.offset2));
    case BackendOpcode::fadvise:
      // Returns the error number itself instead of setting errno.
      if (const int err = ::posix_fadvise(op.fd, off, static_cast<off_t>(op.len), static_cast<int>(op.op_flags));
          err != 0) {
        errno = err;
        return -1;
      }
      return 0;
    case BackendOpcode::ftruncate:
      return ::ftruncate(op.fd, off);
    case BackendOpcode::sync_file_range:
      return ::sync_file_range(op.fd, off, op.len, op.op_flags);
    case BackendOpcode::nop:
    case BackendOpcode::timeout:
    case BackendOpcode::link_timeout:
    case BackendOpcode::cancel:
    case BackendOpcode::count:
      break;  // never given to a worker
  }
  errno = EINVAL;
  return -1;
}

// Waits until a non-blocking descriptor may be ready for `op` again.
// Returns 0 (try again) or -errno.
int wait_ready(const BackendOp& op, std::uint64_t& syscalls) {
  pollfd fds[2] = {{op.fd, wait_events(op.opcode), 0}, {op.fd2, POLLIN, 0}};
  nfds_t n = 1;
  if (op.opcode == BackendOpcode::splice) {  // the output side, then the input side
    fds[0].events = POLLOUT;
    n = 2;
  }
  ++syscalls;
  return ::poll(fds, n, -1) < 0 ? -errno : 0;
}

// A connect that was interrupted or is in progress finishes in the
// background: wait for it and fetch its outcome.
int finish_connect(const BackendOp& op, const std::atomic<bool>& cancelled, std::uint64_t& syscalls) {
  for (;;) {
    if (cancelled.load(std::memory_order_relaxed)) return -ECANCELED;
    pollfd p{op.fd, POLLOUT, 0};
    ++syscalls;
    if (::poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ++syscalls;
    if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
    return -err;
  }
}

int run(const BackendOp& op, const std::atomic<bool>& cancelled, std::uint64_t& syscalls) {
  // Whether a non-blocking descriptor's -EAGAIN means "wait", as io_uring
  // treats it; MSG_DONTWAIT asks for the -EAGAIN itself.
  const bool may_wait = wait_events(op.opcode) != 0 || op.opcode == BackendOpcode::splice;
  const bool dontwait = (op.opcode == BackendOpcode::recv || op.opcode == BackendOpcode::send ||
                         op.opcode == BackendOpcode::recvmsg || op.opcode == BackendOpcode::sendmsg) &&
                        (op.op_flags & MSG_DONTWAIT) != 0;
  for (;;) {
    if (cancelled.load(std::memory_order_relaxed)) return -ECANCELED;
    ++syscalls;
    const long r = attempt(op);
    if (r >= 0) return static_cast<int>(r);
    const int err = errno;
    if (err == EINTR) {
      if (cancelled.load(std::memory_order_relaxed)) return -ECANCELED;
      if (op.opcode == BackendOpcode::close) return 0;  // the descriptor is gone all the same
      if (op.opcode == BackendOpcode::connect) return finish_connect(op, cancelled, syscalls);
      continue;  // a signal meant for an earlier op of this worker
    }
    if (err == EINPROGRESS && op.opcode == BackendOpcode::connect) return finish_connect(op, cancelled, syscalls);
    if ((err == EAGAIN || err == EWOULDBLOCK) && may_wait && !dontwait) {
      const int w = wait_ready(op, syscalls);
      if (w == -EINTR || w == 0) continue;  // the loop's top sees a cancellation
      return w;
    }
    return err == ENOSYS ? -EOPNOTSUPP : -err;  // the kernel lacks it, like a failed io_uring probe
  }
}

// The non-blocking attempt of read/readv/write/writev; nullopt: use a worker.
std::optional<int> try_rw_now(const BackendOp& op, std::uint64_t& syscalls) {
  iovec one{op.addr, op.len};
  const bool vectored = op.opcode == BackendOpcode::readv || op.opcode == BackendOpcode::writev;
  const iovec* iov = vectored ? static_cast<const iovec*>(op.addr) : &one;
  const int n = vectored ? static_cast<int>(op.len) : 1;
  const bool reading = op.opcode == BackendOpcode::read || op.opcode == BackendOpcode::readv;
  const auto off = static_cast<off_t>(op.offset);  // -1: the file position
  auto call = [&](int flags) {
    ++syscalls;
    return reading ? ::preadv2(op.fd, iov, n, off, flags) : ::pwritev2(op.fd, iov, n, off, flags);
  };
  ssize_t r = call(RWF_NOWAIT);
  if (r < 0 && errno == EOPNOTSUPP) {
    // No RWF_NOWAIT for this file (an eventfd, for one). Its own O_NONBLOCK
    // is as good, except on files where the kernel ignores that flag.
    // (This runs on the shard thread: the type comes from the kernel's
    // cache, never from a filesystem that could hang, AT_STATX_DONT_SYNC.)
    syscalls += 2;
    const int fl = ::fcntl(op.fd, F_GETFL);
    struct statx st{};
    if (fl < 0 || !(fl & O_NONBLOCK) ||
        ::statx(op.fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &st) < 0 || S_ISREG(st.stx_mode) ||
        S_ISBLK(st.stx_mode)) {
      return std::nullopt;
    }
    r = call(0);
  }
  if (r >= 0) return static_cast<int>(r);
  if (errno == EAGAIN || errno == EINTR || errno == EOPNOTSUPP) return std::nullopt;
  return -errno;
}

}  // namespace

std::optional<int> try_now(const BackendOp& op, std::uint64_t& syscalls) {
  long r;
  const int flags = static_cast<int>(op.op_flags);
  // A non-blocking MSG_WAITALL receive may return part of what it must wait for.
  if (flags & MSG_WAITALL) return std::nullopt;
  switch (op.opcode) {
    case BackendOpcode::read:
    case BackendOpcode::readv:
    case BackendOpcode::write:
    case BackendOpcode::writev:
      return try_rw_now(op, syscalls);
    case BackendOpcode::recv:
      r = ::recv(op.fd, op.addr, op.len, flags | MSG_DONTWAIT);
      break;
    case BackendOpcode::send:
      r = ::send(op.fd, op.addr, op.len, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
      break;
    case BackendOpcode::recvmsg:
      r = ::recvmsg(op.fd, static_cast<msghdr*>(op.addr), flags | MSG_DONTWAIT);
      break;
    case BackendOpcode::sendmsg: {
      const auto* msg = static_cast<const msghdr*>(op.addr);
      if (is_unix_path(msg->msg_name, msg->msg_namelen)) return std::nullopt;  // a path to resolve: a worker's job
      r = ::sendmsg(op.fd, msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
      break;
    }
    case BackendOpcode::poll_add: {
      pollfd p{op.fd, static_cast<short>(op.op_flags), 0};
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
  if ((errno == EAGAIN || errno == EWOULDBLOCK) && !(op.op_flags & MSG_DONTWAIT)) return std::nullopt;
  if (errno == EINTR) return std::nullopt;
  return -errno;
}

int cancel_signal() { return SIGURG; }

void install_cancel_signal() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa{};
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
  if (p.op.opcode == BackendOpcode::socket && p.op.netns >= 0) {
    syscalls += 2;
    return in_network_namespace(p.op.netns, [&] { return run_as(p, syscalls); });
  }
  return run_as(p, syscalls);
}

}  // namespace aiod::daemon::posix
