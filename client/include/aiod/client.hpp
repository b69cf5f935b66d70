// SPDX-License-Identifier: MIT
// client.hpp — a session with the aiod daemon.
//
// A Client owns one connection: the control socket, the shared rings and the
// buffer arena. It is movable, not copyable, and not thread-safe: use it from
// one thread at a time (one Client per thread is the intended pattern).
//
// The zig-aio style immediate API:
//   single(op)        runs one op; returns its error
//   multi(ops...)     runs a batch; errc::some_operation_failed if any op failed
//   complete(ops...)  runs a batch; returns how many ops failed
// Ops of one call are submitted together; linked ops run in order.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "aiod/error.hpp"
#include "aiod/handle.hpp"
#include "aiod/ops.hpp"
#include "aiod/result.hpp"

namespace aiod {

namespace detail {
class Connection;
}  // namespace detail

struct ClientOptions {
  // Empty: $AIOD_SOCKET, else /run/aiod.sock as root, else $XDG_RUNTIME_DIR/aiod.sock
  // if it exists (the user's own daemon), else /run/aiod.sock.
  std::string socket_path{};
  std::uint32_t sq_entries = 0;  // 0: the daemon's default; rounded up to a power of two
  std::size_t arena_bytes = 0;   // 0: the daemon's default
  // The longest a wait spins on the completion ring before it sleeps. Waits
  // adapt below it: while the daemon answers later than this (it is busy
  // with many clients), they spin for less and leave the CPU to it. 0: never spin.
  // 50 us covers a shard turn of 16 page-cache reads, the longest a client
  // with a deep queue waits for its next completions (docs/benchmarks.md).
  std::chrono::microseconds spin{50};
  std::string name{};  // shown by `aioctl clients`
};

struct SessionInfo {
  std::uint64_t session_id = 0;
  std::string daemon_version;
  std::string backend;
  std::uint32_t sq_entries = 0;
  std::uint32_t cq_entries = 0;
  std::size_t arena_bytes = 0;
  std::uint32_t max_in_flight = 0;
};

class Client {
 public:
  [[nodiscard]] static Result<Client> connect(const ClientOptions& options = {});

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  // Closes the session; the daemon cancels whatever is still in flight.
  ~Client();

  // --- immediate API ---------------------------------------------------------
  template <class O>
  std::error_code single(const O& op) {
    std::error_code op_error;
    O copy = op;
    copy.out_error = &op_error;
    copy.link = Link::unlinked;
    Op any = copy;
    const auto r = run_batch({&any, 1});
    if (op.out_error != nullptr) *op.out_error = r ? op_error : r.error();
    return r ? op_error : r.error();
  }

  template <class... O>
  std::error_code multi(const O&... ops) {
    std::array<Op, sizeof...(O)> batch{Op(ops)...};
    const auto r = run_batch(batch);
    if (!r) return r.error();
    return *r == 0 ? std::error_code() : make_error_code(errc::some_operation_failed);
  }

  // Returns the number of ops that failed.
  template <class... O>
  Result<std::size_t> complete(const O&... ops) {
    std::array<Op, sizeof...(O)> batch{Op(ops)...};
    return run_batch(batch);
  }

  // Queues `ops` as one batch, submits it and waits for all of them.
  // Returns the number of failed ops.
  Result<std::size_t> run_batch(std::span<Op> ops);

  // --- descriptors -------------------------------------------------------------
  // Hands copies of `fds` to the daemon; returns their handles, in order.
  // 1 to 16 descriptors a call (one control message); more: call again.
  Result<std::vector<Handle>> register_fds(std::span<const int> fds);
  Result<Handle> register_fd(int fd);
  // Drops handles (the daemon closes its copies once no op uses them).
  std::error_code unregister(std::span<const Handle> handles);

  // --- arena -----------------------------------------------------------------------
  // Memory inside the shared arena: ops on it need no copy. Freed with arena_free().
  Result<std::span<std::byte>> arena_alloc(std::size_t size);
  void arena_free(std::span<std::byte> block);

  // --- event-loop integration ------------------------------------------------------
  // A descriptor that becomes readable when completions may be waiting. Use:
  //   if (!client.arm_completion_fd()) poll(client.completion_fd(), POLLIN...);
  //   queue.complete(CompletionMode::nonblocking);
  [[nodiscard]] int completion_fd() const noexcept;
  // Asks the daemon to signal completion_fd() for the next completions (and
  // clears a stale signal). Returns true when completions, or the daemon's
  // death, are already there to reap: do not block then.
  [[nodiscard]] bool arm_completion_fd();
  // Wakes a thread blocked in this client's wait (complete(blocking), a
  // coroutine tick): it re-checks what it waits for. The one thread-safe call.
  void wake() const noexcept;

  // --- CPU placement ---------------------------------------------------------------
  // Keeps the calling thread off the CPU of the daemon thread serving this
  // client: drops that CPU from the thread's affinity, unless no other would
  // be left. A round trip is then two spins on two CPUs, not two sleeps on
  // one (docs/benchmarks.md). Meant for a daemon whose shards are pinned
  // (aiod --shard-cpus); call it from each thread that waits. Returns whether
  // the affinity changed.
  bool keep_off_daemon_cpu();

  [[nodiscard]] const SessionInfo& info() const noexcept;
  // A round trip over the control socket.
  std::error_code ping();

  // For Dynamic and the coroutine runtime.
  [[nodiscard]] detail::Connection& connection() noexcept { return *impl_; }

 private:
  explicit Client(std::unique_ptr<detail::Connection> impl);
  std::unique_ptr<detail::Connection> impl_;
};

}  // namespace aiod
