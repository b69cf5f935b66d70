// SPDX-License-Identifier: MIT
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

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "backend/backend_op.hpp"
#include "backend/backend_report.hpp"
#include "os/kernel_version.hpp"

namespace aiod::daemon {

// What a backend operation's result is delivered to. complete() runs on the
// shard thread from Backend::drain(); it may prepare further operations.
class Completion {
 public:
  virtual void complete(int res) = 0;

 protected:
  ~Completion() = default;
};

// Kernel features a backend reports, for the handshake and for `aioctl stats`.
struct BackendInfo {
  std::string_view name;
  // An op prepared with a Link, then its link timeout, are run as a pair:
  // whichever ends first cancels the other.
  bool linked_timeouts = false;
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
  // pairs the op with the next one prepared, which must be its link timeout
  // (see BackendInfo::linked_timeouts): longer chains are the session's to
  // run, one segment at a time, and a backend need not order other linked
  // ops (io_uring's ring and its posix part would not). Never blocks. Returns
  // 0, -EAGAIN when space() is 0, or -EOPNOTSUPP for an op it does not support().
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

  // Safe to call from any thread once the backend is set up (counts are
  // relaxed atomics).
  [[nodiscard]] virtual BackendReport report() const = 0;
};

// Creates the io_uring backend with `entries` submission slots, on the calling
// thread (the ring is single-issuer); `worker_share` is its posix part's most
// workers per owner (see make_posix_backend). With `emulate_kernel`, the ring
// has only what that Linux's io_uring had (uring_kernel.hpp): the rest runs
// emulated. Returns nullptr and sets `error` to a sentence explaining why when
// io_uring is unavailable, refused, or older than kUringFloor.
std::unique_ptr<Backend> make_uring_backend(unsigned entries, unsigned worker_share,
                                            std::optional<KernelVersion> emulate_kernel, std::string& error);

// Creates the posix backend (posix_backend.hpp): `entries` staging slots;
// worker threads start on demand, at most `worker_share` of them busy with
// one owner's ops (BackendOp::owner) at a time. Returns nullptr and sets
// `error` when it cannot be set up (no eventfd).
std::unique_ptr<Backend> make_posix_backend(unsigned entries, unsigned worker_share, std::string& error);

}  // namespace aiod::daemon
