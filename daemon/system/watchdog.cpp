// SPDX-License-Identifier: MIT
#include "system/watchdog.hpp"

#include <algorithm>

namespace aiod::daemon {

ShardWatchdog::ShardWatchdog(std::chrono::microseconds interval)
    : period_(std::chrono::duration_cast<std::chrono::nanoseconds>(interval) / 2) {}

void ShardWatchdog::start(Clock::time_point now, std::span<const std::uint64_t> heartbeats) {
  last_.assign(heartbeats.begin(), heartbeats.end());
  next_check_ = now + period_;
  stalled_ = -1;
}

int ShardWatchdog::poll_timeout_ms(Clock::time_point now) const {
  if (!enabled()) return -1;
  if (now >= next_check_) return 0;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_check_ - now).count();
  return static_cast<int>(std::min<decltype(left)>(left, 1'000'000'000));
}

ShardWatchdog::Verdict ShardWatchdog::check(Clock::time_point now, std::span<const std::uint64_t> heartbeats) {
  if (!enabled() || now < next_check_) return Verdict::not_due;
  // The next check is a whole period after this one, not after the planned
  // time: a late check must not be followed by one that comes too soon for an
  // idle shard to have woken.
  next_check_ = now + period_;
  stalled_ = -1;
  for (std::size_t i = 0; i < heartbeats.size(); ++i) {
    // A shard added since start() has no previous value: it counts as alive.
    const bool advanced = i >= last_.size() || heartbeats[i] != last_[i];
    if (!advanced && stalled_ < 0) stalled_ = static_cast<int>(i);
  }
  last_.assign(heartbeats.begin(), heartbeats.end());
  return stalled_ < 0 ? Verdict::alive : Verdict::stalled;
}

}  // namespace aiod::daemon
