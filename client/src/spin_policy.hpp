// SPDX-License-Identifier: MIT
// spin_policy.hpp — how long a wait for completions spins before it sleeps.
//
// A daemon that answers within the spin earns a longer one; a spin that runs
// out halves the next (many clients share the daemon's CPU, or the work is
// slow), so that waiting clients leave the CPUs to the daemon. Only spins
// are judged, never a sleep: how long a sleep took includes the wake-up's own
// latency (tens of microseconds on a virtual CPU), and judging by it once
// locked a client that had shrunk its spin into sleeping on every wait, at a
// quarter of the speed, although each answer came well within the full spin.
// A shrunken spin therefore probes: every kProbeEvery-th wait spins the full
// length, and an answer caught by it restores the full length at once.
//
// Not thread-safe: one per connection, used by the thread that waits.
#pragma once

#include <chrono>

namespace aiod::detail {

class SpinPolicy {
 public:
  static constexpr unsigned kProbeEvery = 8;

  SpinPolicy() = default;
  // `most`: the longest spin (ClientOptions::spin); 0 never spins.
  explicit SpinPolicy(std::chrono::nanoseconds most) : most_(most), budget_(most) {}

  // How long the next wait spins.
  [[nodiscard]] std::chrono::nanoseconds next();
  // The spin that next() set caught the answer.
  void caught();
  // The spin that next() set ran out first.
  void missed();

  [[nodiscard]] std::chrono::nanoseconds budget() const { return budget_; }

 private:
  std::chrono::nanoseconds most_{0};
  std::chrono::nanoseconds budget_{0};
  unsigned waits_since_probe_ = 0;
  bool probing_ = false;
};

}  // namespace aiod::detail
