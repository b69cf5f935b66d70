// SPDX-License-Identifier: MIT
#include "spin_policy.hpp"

#include <algorithm>

namespace aiod::detail {

std::chrono::nanoseconds SpinPolicy::next() {
  probing_ = budget_ < most_ && ++waits_since_probe_ >= kProbeEvery;
  if (!probing_) return budget_;
  waits_since_probe_ = 0;
  return most_;
}

void SpinPolicy::caught() {
  budget_ = probing_ ? most_ : std::min(budget_ * 2, most_);
  waits_since_probe_ = 0;
}

void SpinPolicy::missed() {
  // The floor keeps a short look: an answer that is already there, or
  // nearly, is still caught without a sleep.
  if (!probing_) budget_ = std::max(budget_ / 2, most_ / 64);
}

}  // namespace aiod::detail
