// SPDX-License-Identifier: MIT
// Unit tests of daemon/watchdog: the main thread may send WATCHDOG=1 only
// while every shard's loop turns, and must check often enough that a healthy
// daemon is never restarted.
#include <chrono>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "system/watchdog.hpp"

namespace aiod::daemon {
namespace {

using namespace std::chrono_literals;
using Verdict = ShardWatchdog::Verdict;
const ShardWatchdog::Clock::time_point t0{};

TEST(ShardWatchdog, DisabledNeverPingsNorWakes) {
  ShardWatchdog w(0us);
  EXPECT_FALSE(w.enabled());
  EXPECT_EQ(w.shard_wake().count(), 0);
  EXPECT_EQ(w.poll_timeout_ms(t0), -1);
  const std::vector<std::uint64_t> beats{1};
  w.start(t0, beats);
  EXPECT_EQ(w.check(t0 + 1h, std::vector<std::uint64_t>{2}), Verdict::not_due);
}

TEST(ShardWatchdog, ChecksEveryHalfIntervalAndShardsWakeEveryQuarter) {
  ShardWatchdog w(20s);
  EXPECT_TRUE(w.enabled());
  EXPECT_EQ(w.shard_wake(), 5s);
  w.start(t0, std::vector<std::uint64_t>{0});
  EXPECT_EQ(w.poll_timeout_ms(t0), 10'000);
  EXPECT_EQ(w.poll_timeout_ms(t0 + 9999ms + 1us), 1);  // rounded up, never early
  EXPECT_EQ(w.poll_timeout_ms(t0 + 11s), 0);
}

TEST(ShardWatchdog, PingsOnlyWhenEveryShardAdvanced) {
  ShardWatchdog w(2s);
  w.start(t0, std::vector<std::uint64_t>{10, 20});
  EXPECT_EQ(w.check(t0 + 500ms, std::vector<std::uint64_t>{11, 21}), Verdict::not_due);
  EXPECT_EQ(w.check(t0 + 1s, std::vector<std::uint64_t>{11, 21}), Verdict::alive);
  // Shard 1 stood still for a whole period: no ping, and we learn which.
  EXPECT_EQ(w.check(t0 + 2s, std::vector<std::uint64_t>{12, 21}), Verdict::stalled);
  EXPECT_EQ(w.stalled_shard(), 1);
  // It moves again: pings resume at the next check.
  EXPECT_EQ(w.check(t0 + 3s, std::vector<std::uint64_t>{13, 22}), Verdict::alive);
  EXPECT_EQ(w.stalled_shard(), -1);
}

TEST(ShardWatchdog, LateCheckIsFollowedByAFullPeriod) {
  ShardWatchdog w(2s);
  w.start(t0, std::vector<std::uint64_t>{0});
  // The caller woke late (busy accepting): the next check is a period after
  // this one, so an idle shard waking every W/4 is seen to advance again.
  EXPECT_EQ(w.check(t0 + 1700ms, std::vector<std::uint64_t>{1}), Verdict::alive);
  EXPECT_EQ(w.check(t0 + 2s, std::vector<std::uint64_t>{1}), Verdict::not_due);
  EXPECT_EQ(w.poll_timeout_ms(t0 + 2s), 700);
}

// The bound stated in watchdog.hpp: with pings withheld from the first check
// that sees a shard stand still, the last ping comes less than W/2 after the
// shard stuck, so systemd (which waits W) restarts aiod within 3W/2.
TEST(ShardWatchdog, StuckShardLastPingWithinHalfInterval) {
  const auto interval = 4s;
  ShardWatchdog w(interval);
  std::uint64_t beat = 0;
  w.start(t0, std::vector<std::uint64_t>{beat});
  const auto stuck_at = t0 + 5300ms;
  ShardWatchdog::Clock::time_point last_ping = t0;
  // Shard turns every 100 ms (a busy or W/4-waking idle shard would too)
  // until it sticks; the main thread wakes whenever its poll timeout says.
  for (auto now = t0; now < t0 + 30s; now += 100ms) {
    if (now < stuck_at) ++beat;
    if (w.poll_timeout_ms(now) != 0) continue;
    if (w.check(now, std::vector<std::uint64_t>{beat}) == Verdict::alive) last_ping = now;
  }
  EXPECT_LT(last_ping, stuck_at + interval / 2);
  EXPECT_GE(last_ping, stuck_at - interval / 2);
}

}  // namespace
}  // namespace aiod::daemon
