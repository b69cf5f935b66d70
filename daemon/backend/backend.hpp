// backend.hpp — the kernel-facing half of a shard.
//
// A Backend executes daemon-private, already validated operations (BackendOp)
// and reports each one's result to the Completion named at prepare() time.
// Implementations: UringBackend (io_uring) and PosixBackend (blocking system
// calls on worker threads, where io_uring is unavailable).
//
// Thread-safety: one Backend belongs to one shard thread; every method must be
// called from that thread. Methods are split into "drive the kernel" (flush,
// drain, wait — only wait() may block) and "describe work" (prepare, cancel).
#pragma once

#include <linux/openat2.h>
#include <linux/time_types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace aiod::daemon {

// What a backend operation's result is delivered to. complete() runs on the
// shard thread from Backend::drain(); it may prepare further operations.
class Completion {
 public:
  virtual void complete(int res) = 0;

 protected:
  ~Completion() = default;
};

enum class BackendOpcode : std::uint8_t {
  nop,
  read,
  write,
  fsync,
  timeout,
  openat2,
  close,
  recvmsg,
  sendmsg,
  accept,
  poll_add,
  readv,
  writev,
  connect,
  bind,
  listen,
  recv,
  send,
  shutdown,
  link_timeout,
  cancel,  // cancel the op whose Completion is `cancel_target`
  renameat,
  unlinkat,
  mkdirat,
  symlinkat,
  socket,
  splice,
  statx,
  fallocate,
  fadvise,
  ftruncate,
  sync_file_range,
  count,  // not an opcode
};

enum class Link : std::uint8_t {
  none,  // the op ends its chain segment
  soft,  // the next op runs after this one; a failure cancels the rest
  hard,  // the next op runs after this one, whatever the result
};

// A fully validated operation. Pointers refer to daemon-owned memory or to a
// session's mapped arena; they stay valid until the op's Completion runs.
// Every path and AF_UNIX path address in it is resolved by the backend under
// the rules of backend/confined_path.hpp.
//
// Field use by opcode (anything else is ignored):
//   read/write        fd, addr (buffer), len, offset ((uint64_t)-1: file position)
//   readv/writev      fd, addr (iovec[]), len (count), offset
//   fsync             fd, op_flags (IORING_FSYNC_*)
//   timeout           ts (relative); link_timeout: the same, linked behind its target
//   openat2           fd (dir), path, how
//   close             fd
//   recvmsg/sendmsg   fd, addr (msghdr*), op_flags (MSG_*); sendmsg: fd2 as connect
//   recv/send         fd, addr (buffer), len, op_flags (MSG_*)
//   accept            fd, addr (sockaddr*), addr2 (socklen_t*), op_flags (SOCK_*)
//   connect/bind      fd, addr (sockaddr*), len (socklen); bind: op_flags (the
//                     client's umask, for the file of an AF_UNIX path); an
//                     AF_UNIX path is walked from fd2 (-1: the daemon's root)
//   listen            fd, len (backlog)
//   shutdown          fd, len (how)
//   poll_add          fd, op_flags (poll events)
//   cancel            cancel_target
//   renameat          fd (old dir), path, fd2 (new dir), path2, op_flags (RENAME_*)
//   unlinkat          fd, path, op_flags (AT_REMOVEDIR)
//   mkdirat           fd, path, len (mode)
//   symlinkat         path (target), fd (dir), path2 (link path)
//   socket            len (domain), op_flags (type), offset (protocol), netns
//                     (the network namespace to create it in; -1: the daemon's)
//   splice            fd2 (in), offset2 (in offset), fd (out), offset (out offset), len, op_flags
//   statx             fd, path, op_flags (AT_*), len (mask), addr (struct statx*)
//   fallocate         fd, op_flags (mode), offset, offset2 (length)
//   fadvise           fd, offset, len, op_flags (advice)
//   ftruncate         fd, offset (length)
//   sync_file_range   fd, offset, len, op_flags
struct BackendOp {
  BackendOpcode opcode = BackendOpcode::nop;
  Link link = Link::none;
  std::uint16_t personality = 0;  // 0: the daemon's own credentials
  int fd = -1;
  int netns = -1;
  // Whose share of the posix backend's workers the op uses: a client uid + 1,
  // or 0 for the daemon's own ops (doorbells, control receives), never held back.
  std::uint32_t owner = 0;
  std::uint64_t resolve = 0;  // RESOLVE_* for every path walk (RESOLVE_IN_ROOT: a foreign root)
  int fd2 = -1;
  void* addr = nullptr;
  void* addr2 = nullptr;
  std::uint32_t len = 0;
  std::uint32_t op_flags = 0;
  std::uint64_t offset = 0;
  std::uint64_t offset2 = 0;
  const char* path = nullptr;
  const char* path2 = nullptr;
  const open_how* how = nullptr;
  const __kernel_timespec* ts = nullptr;
  Completion* cancel_target = nullptr;
};

// Kernel features a backend reports, for the handshake and for `aioctl stats`.
struct BackendInfo {
  std::string_view name;
  bool native_links = false;  // links inside one prepare batch are run by the kernel
};

class Backend {
 public:
  virtual ~Backend() = default;

  [[nodiscard]] virtual BackendInfo info() const = 0;
  [[nodiscard]] virtual bool supports(BackendOpcode op) const = 0;

  // Room for this many prepare() calls before a flush() is needed. A linked
  // segment must be prepared whole: check space() for its length first.
  [[nodiscard]] virtual unsigned space() const = 0;

  // Describes one operation; `done` receives its result. A Link other than none
  // links the op to the next one prepared. Never blocks. Returns 0, or -EAGAIN
  // when space() is 0, or -EOPNOTSUPP for an opcode the kernel lacks.
  [[nodiscard]] virtual int prepare(const BackendOp& op, Completion* done) = 0;

  // Asks the kernel to cancel the op whose Completion is `target`. The target
  // still completes exactly once (with -ECANCELED if the cancel won the race).
  // Never blocks. Returns 0 or -EAGAIN (no space).
  [[nodiscard]] virtual int cancel(Completion* target) = 0;

  // Hands prepared operations to the kernel. Never blocks. Returns the number
  // handed over or -errno.
  virtual int flush() = 0;

  // Delivers every finished operation's result. Never blocks. Returns the count.
  virtual int drain() = 0;

  // Hands over prepared work and sleeps until at least one operation finishes
  // or `timeout` passes (none: no limit). May block. Returns 0 or -errno
  // (-ETIME and -EINTR are normal).
  virtual int wait(std::optional<std::chrono::nanoseconds> timeout) = 0;

  // Captures the calling thread's current credentials; ops prepared with the
  // returned id (> 0) run with them. Returns the id or -errno.
  [[nodiscard]] virtual int register_personality() = 0;
  virtual void unregister_personality(std::uint16_t id) = 0;

  // Kernel transitions (syscalls) this backend has made, for stats.
  [[nodiscard]] virtual std::uint64_t syscalls() const = 0;
};

// Creates the io_uring backend with `entries` submission slots, on the calling
// thread (the ring is single-issuer); `worker_share` is its posix part's most
// workers per owner (see make_posix_backend). Returns nullptr and sets `error`
// to a sentence explaining why when io_uring is unavailable.
std::unique_ptr<Backend> make_uring_backend(unsigned entries, unsigned worker_share, std::string& error);

// Creates the posix backend (posix_backend.hpp): `entries` staging slots;
// worker threads start on demand, at most `worker_share` of them busy with
// one owner's ops (BackendOp::owner) at a time. Returns nullptr and sets
// `error` when it cannot be set up (no eventfd).
std::unique_ptr<Backend> make_posix_backend(unsigned entries, unsigned worker_share, std::string& error);

}  // namespace aiod::daemon
