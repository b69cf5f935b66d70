// backend.hpp — the kernel-facing half of a shard.
//
// A Backend executes daemon-private, already validated operations (BackendOp)
// and reports each one's result to the Completion named at prepare() time.
// Implementations: UringBackend (io_uring); a posix/epoll emulation can implement
// the same interface.
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
  count,  // not an opcode
};

enum class Link : std::uint8_t {
  none,  // the op ends its chain segment
  soft,  // the next op runs after this one; a failure cancels the rest
  hard,  // the next op runs after this one, whatever the result
};

// A fully validated operation. Pointers refer to daemon-owned memory or to a
// session's mapped arena; they stay valid until the op's Completion runs.
struct BackendOp {
  BackendOpcode opcode = BackendOpcode::nop;
  Link link = Link::none;
  std::uint16_t personality = 0;  // 0: the daemon's own credentials
  int fd = -1;
  void* addr = nullptr;   // buffer; recvmsg/sendmsg: msghdr*; accept: sockaddr*
  void* addr2 = nullptr;  // accept: socklen_t*
  std::uint32_t len = 0;
  std::uint32_t op_flags = 0;  // fsync: IORING_FSYNC_*; recvmsg/sendmsg: MSG_*; poll: events
  std::uint64_t offset = 0;    // read/write offset; (uint64_t)-1 = file position
  const char* path = nullptr;  // openat2
  const open_how* how = nullptr;
  const __kernel_timespec* ts = nullptr;  // timeout
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
// thread (the ring is single-issuer). Returns nullptr and sets `error` to a
// sentence explaining why when io_uring is unavailable.
std::unique_ptr<Backend> make_uring_backend(unsigned entries, std::string& error);

}  // namespace aiod::daemon
