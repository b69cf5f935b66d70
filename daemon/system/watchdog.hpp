// SPDX-License-Identifier: MIT
// watchdog.hpp — when the main thread may send systemd "WATCHDOG=1".
//
// systemd kills and restarts the service when WATCHDOG=1 stops arriving for
// WatchdogSec (W). A ping from the main thread alone would only prove the
// accept loop alive, while the work happens in the shards. So every shard bumps
// a heartbeat counter each turn of its loop (an idle shard wakes at least every
// shard_wake() = W/4 to do so), and the main thread checks every W/2: it pings
// only when every shard's counter moved since the previous check.
//
// Bounds: a healthy daemon pings every W/2. A shard stuck inside one turn at
// time t is seen as stuck by the second check after t, so the last ping is
// before t + W/2 and systemd restarts aiod before t + 3W/2.
//
// Pure logic, no clock or I/O of its own (the caller passes `now` and the
// counters), so it is tested without threads. Thread-safety: one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

namespace aiod::daemon {

class ShardWatchdog {
 public:
  using Clock = std::chrono::steady_clock;

  // `interval`: WatchdogSec; zero disables the watchdog.
  explicit ShardWatchdog(std::chrono::microseconds interval);

  [[nodiscard]] bool enabled() const noexcept { return period_.count() > 0; }
  // How often an idle shard must wake to bump its heartbeat; zero when disabled.
  [[nodiscard]] std::chrono::nanoseconds shard_wake() const noexcept { return period_ / 2; }

  // Records the counters the first check compares against; the first check is
  // due one period after `now`.
  void start(Clock::time_point now, std::span<const std::uint64_t> heartbeats);

  // Milliseconds the caller may sleep before check() is due (rounded up, at
  // least 0); -1 when disabled.
  [[nodiscard]] int poll_timeout_ms(Clock::time_point now) const;

  enum class Verdict {
    not_due,  // disabled, or too early for a check
    alive,    // every shard advanced: send WATCHDOG=1 now
    stalled,  // some shard stood still (stalled_shard() says which): no ping
  };
  // Call whenever the caller wakes. When a check is due, compares `heartbeats`
  // (one per shard, same order as start()) with the previous check's.
  [[nodiscard]] Verdict check(Clock::time_point now, std::span<const std::uint64_t> heartbeats);

  // The first shard that stood still at the last check, or -1.
  [[nodiscard]] int stalled_shard() const noexcept { return stalled_; }

 private:
  std::chrono::nanoseconds period_;  // W/2
  Clock::time_point next_check_{};
  std::vector<std::uint64_t> last_;
  int stalled_ = -1;
};

}  // namespace aiod::daemon
