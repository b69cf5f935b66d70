// SPDX-License-Identifier: MIT
// dynamic.hpp — a queue of operations completed on demand (zig-aio's Dynamic).
//
// queue() adds ops atomically — all of a call's ops or none — without
// submitting; complete() submits everything queued and reaps completions,
// blocking for at least one (blocking) or not at all (nonblocking).
// A Dynamic belongs to one Client and has the same threading rules. Destroying
// it waits for its outstanding ops to complete.
//
// With DynamicOptions::backlog, ops the rings have no room for are kept here
// (zig-aio's Dynamic does the same) and go to the daemon, in queue order and
// each queue() call whole, as complete() finds room; queue() then fails with
// queue_full only beyond the capacity. Their buffers are read when they leave
// the backlog, so they must stay valid until the op completes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <system_error>
#include <vector>

#include "aiod/client.hpp"

namespace aiod {

namespace detail {
struct Batch;
}  // namespace detail

enum class CompletionMode { blocking, nonblocking };

struct DynamicOptions {
  // The most ops the queue holds outstanding: in its backlog, queued in the
  // ring or in flight.
  std::size_t capacity = 0;
  // Keep ops the rings have no room for and submit them as room frees up,
  // instead of failing queue() with queue_full.
  bool backlog = false;
};

struct CompletionResult {
  std::size_t num_completed = 0;
  std::size_t num_errors = 0;
};

class Dynamic {
 public:
  // Called once per op as it is reaped: its id, userdata, and whether it failed.
  using Callback = std::function<void(OpId, std::uint64_t userdata, bool failed)>;

  // `capacity`: the most ops this queue holds outstanding (queued or in flight).
  Dynamic(Client& client, std::size_t capacity);
  Dynamic(Client& client, DynamicOptions options);
  Dynamic(const Dynamic&) = delete;
  Dynamic& operator=(const Dynamic&) = delete;
  ~Dynamic();

  template <class... O>
  std::error_code queue(const O&... ops) {
    std::array<Op, sizeof...(O)> batch{Op(ops)...};
    return queue(std::span<Op>(batch));
  }
  std::error_code queue(std::span<Op> ops);

  // With nothing outstanding, returns {0, 0} at once, even when blocking.
  Result<CompletionResult> complete(CompletionMode mode);
  // Completes until nothing is outstanding; returns the number of failed ops.
  Result<std::size_t> complete_all();

  void set_callback(Callback cb);
  // Ops queued and not yet completed, the backlog's included.
  [[nodiscard]] std::size_t outstanding() const noexcept;

 private:
  // Moves what fits from the backlog into the ring; true if anything left it.
  bool drain_backlog();

  Client& client_;
  std::unique_ptr<detail::Batch> batch_;
  bool use_backlog_ = false;
  std::deque<std::vector<Op>> backlog_;  // one entry per queue() call, oldest first
  std::size_t backlog_ops_ = 0;
};

}  // namespace aiod
