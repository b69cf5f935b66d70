// SPDX-License-Identifier: MIT
// posix_timers.hpp — the posix backend's timers: timeouts and link timeouts
// ordered by deadline, on the shard thread (no thread of their own; wait()
// sleeps no longer than the nearest deadline).
//
// Thread-safety: shard thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "backend/posix/posix_op.hpp"

namespace aiod::daemon::posix {

class TimerQueue {
 public:
  // CLOCK_MONOTONIC, in nanoseconds.
  [[nodiscard]] static std::uint64_t now_ns();

  // Arms `op` to expire `relative_ns` from now.
  void arm(PosixOp& op, std::uint64_t relative_ns);
  // Disarms `op` if armed. Returns whether it was.
  bool disarm(PosixOp& op);
  // Moves every op whose deadline is at or before `now` to `out`, disarmed.
  void take_expired(std::uint64_t now, std::vector<PosixOp*>& out);
  // The nearest deadline, if any timer is armed.
  [[nodiscard]] std::optional<std::uint64_t> next_deadline() const;
  [[nodiscard]] bool empty() const noexcept { return timers_.empty(); }

 private:
  std::multimap<std::uint64_t, PosixOp*> timers_;
};

}  // namespace aiod::daemon::posix
