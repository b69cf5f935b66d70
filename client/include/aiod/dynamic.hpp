// dynamic.hpp — a queue of operations completed on demand (zig-aio's Dynamic).
//
// queue() adds ops atomically — all of a call's ops or none — without
// submitting; complete() submits everything queued and reaps completions,
// blocking for at least one (blocking) or not at all (nonblocking).
// A Dynamic belongs to one Client and has the same threading rules. Destroying
// it waits for its outstanding ops to complete.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <system_error>

#include "aiod/client.hpp"

namespace aiod {

namespace detail {
struct Batch;
}  // namespace detail

enum class CompletionMode { blocking, nonblocking };

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
  [[nodiscard]] std::size_t outstanding() const noexcept;

 private:
  Client& client_;
  std::unique_ptr<detail::Batch> batch_;
};

}  // namespace aiod
