// SPDX-License-Identifier: MIT
// The client's spin before it sleeps: it follows the daemon's answer time
// both ways, and a shrunken spin comes back once answers are quick again.
#include <chrono>

#include <gtest/gtest.h>

#include "spin_policy.hpp"

namespace aiod::detail {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

// One wait whose answer comes `answer` after the spin starts.
void wait_for(SpinPolicy& policy, nanoseconds answer) {
  if (answer <= policy.next()) {
    policy.caught();
  } else {
    policy.missed();
  }
}

TEST(SpinPolicy, StartsAtTheFullSpinAndKeepsItWhileAnswersComeWithinIt) {
  SpinPolicy policy(microseconds(20));
  for (int i = 0; i < 100; ++i) wait_for(policy, microseconds(9));
  EXPECT_EQ(policy.budget(), microseconds(20));
}

TEST(SpinPolicy, ShrinksToItsFloorWhileAnswersAreSlowerThanTheFullSpin) {
  SpinPolicy policy(microseconds(20));
  for (int i = 0; i < 100; ++i) wait_for(policy, microseconds(500));
  EXPECT_EQ(policy.budget(), nanoseconds(microseconds(20)) / 64);
}

TEST(SpinPolicy, ProbesTheFullSpinOnceEveryFewWaitsWhenShrunk) {
  SpinPolicy policy(microseconds(20));
  for (int i = 0; i < 100; ++i) wait_for(policy, microseconds(500));
  int full = 0;
  for (unsigned i = 0; i < 10 * SpinPolicy::kProbeEvery; ++i) {
    const nanoseconds spin = policy.next();
    full += spin == microseconds(20);
    policy.missed();
  }
  EXPECT_EQ(full, 10);
}

// The trap the policy exists to avoid: answers in 9 us, within the 20 us
// spin, after a stretch of slow ones. The spin must come back to full and
// stay there, not keep sleeping because each sleep's wake-up is slow.
TEST(SpinPolicy, ComesBackToTheFullSpinWithinOneProbeOnceAnswersAreQuickAgain) {
  SpinPolicy policy(microseconds(20));
  for (int i = 0; i < 100; ++i) wait_for(policy, microseconds(500));
  ASSERT_LT(policy.budget(), microseconds(9));
  unsigned missed = 0;  // waits that slept before the probe
  for (unsigned i = 0; i < SpinPolicy::kProbeEvery; ++i) {
    const nanoseconds spin = policy.next();
    if (microseconds(9) <= spin) {
      policy.caught();
    } else {
      policy.missed();
      ++missed;
    }
  }
  EXPECT_EQ(policy.budget(), microseconds(20));
  EXPECT_LT(missed, SpinPolicy::kProbeEvery);
  for (int i = 0; i < 100; ++i) wait_for(policy, microseconds(9));
  EXPECT_EQ(policy.budget(), microseconds(20));
}

TEST(SpinPolicy, FollowsAnAnswerTimeBetweenFloorAndFullSpin) {
  SpinPolicy policy(microseconds(64));
  for (int i = 0; i < 100; ++i) wait_for(policy, microseconds(500));
  // Answers at 10 us: doubling from the floor reaches a spin that catches them.
  for (int i = 0; i < 20; ++i) wait_for(policy, microseconds(10));
  EXPECT_GE(policy.budget(), microseconds(10));
}

TEST(SpinPolicy, ZeroNeverSpins) {
  SpinPolicy policy(nanoseconds(0));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(policy.next(), nanoseconds(0));
    policy.missed();
  }
}

}  // namespace
}  // namespace aiod::detail
