// SPDX-License-Identifier: MIT
// Unit tests of daemon/stats: the counters behind `aioctl stats`. What must
// hold: latency buckets are (bound(i-1), bound(i)] with everything past the
// last bound in +Inf; sums and counts add up; aggregation adds every field (a
// field forgotten in operator+= silently reads 0 in the daemon's totals); every
// opcode has its own stable name.
#include <cstdint>
#include <iterator>
#include <limits>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "aiod_shm.h"
#include "stats/stats.hpp"

namespace aiod::daemon {
namespace {

using Histogram = LatencyHistogram;

// The bucket a single recorded value lands in, or -1 when it landed in none or
// in several.
int bucket_of(std::uint64_t ns) {
  Histogram h;
  h.record(ns);
  const Histogram::Snapshot s = h.snapshot();
  int found = -1;
  for (std::size_t i = 0; i < s.counts.size(); ++i) {
    if (s.counts[i] == 0) continue;
    if (s.counts[i] != 1 || found != -1) return -1;
    found = static_cast<int>(i);
  }
  return found;
}

constexpr int kInf = static_cast<int>(Histogram::kBounds);

TEST(LatencyHistogram, SnapshotShape) {
  const Histogram::Snapshot s = Histogram().snapshot();
  ASSERT_EQ(s.bounds_ns.size(), Histogram::kBounds);
  ASSERT_EQ(s.counts.size(), Histogram::kBounds + 1) << "bounds plus the +Inf bucket";
  EXPECT_EQ(s.bounds_ns.front(), 1000u);
  for (std::size_t i = 1; i < s.bounds_ns.size(); ++i) EXPECT_EQ(s.bounds_ns[i], 2 * s.bounds_ns[i - 1]);
  EXPECT_GE(s.bounds_ns.back(), 1'000'000'000u) << "the buckets should reach about a second";
  for (std::uint64_t c : s.counts) EXPECT_EQ(c, 0u);
  EXPECT_EQ(s.sum_ns, 0u);
  EXPECT_EQ(s.count, 0u);
}

TEST(LatencyHistogram, UpToOneMicrosecondIsTheFirstBucket) {
  EXPECT_EQ(bucket_of(0), 0);
  EXPECT_EQ(bucket_of(1), 0);
  EXPECT_EQ(bucket_of(999), 0);
  EXPECT_EQ(bucket_of(1000), 0);
}

TEST(LatencyHistogram, BoundsAreInclusiveAboveAndExclusiveBelow) {
  EXPECT_EQ(bucket_of(1001), 1);
  EXPECT_EQ(bucket_of(1999), 1);
  EXPECT_EQ(bucket_of(2000), 1) << "exactly 2 us is bucket 1";
  EXPECT_EQ(bucket_of(2001), 2);
  EXPECT_EQ(bucket_of(2500), 2);
  EXPECT_EQ(bucket_of(4000), 2);
  EXPECT_EQ(bucket_of(4001), 3);
  for (std::size_t i = 0; i < Histogram::kBounds; ++i) {
    const std::uint64_t b = Histogram::bound_ns(i);
    EXPECT_EQ(bucket_of(b), static_cast<int>(i)) << "bound " << b;
    EXPECT_EQ(bucket_of(b + 1), static_cast<int>(i) + 1) << "bound " << b << " + 1";
    if (i > 0) {
      EXPECT_EQ(bucket_of(b - 1), static_cast<int>(i)) << "bound " << b << " - 1";
    }
  }
}

TEST(LatencyHistogram, HugeValuesGoToInf) {
  EXPECT_EQ(bucket_of(Histogram::bound_ns(Histogram::kBounds - 1) + 1), kInf);
  EXPECT_EQ(bucket_of(60'000'000'000ull), kInf);
  EXPECT_EQ(bucket_of(std::numeric_limits<std::uint64_t>::max()), kInf);
}

TEST(LatencyHistogram, SumAndCount) {
  Histogram h;
  h.record(500);
  h.record(1500);
  h.record(3'000'000);
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(s.sum_ns, 500u + 1500u + 3'000'000u);
  EXPECT_EQ(s.counts[0], 1u);
  EXPECT_EQ(s.counts[1], 1u);
  std::uint64_t total = 0;
  for (std::uint64_t c : s.counts) total += c;
  EXPECT_EQ(total, 3u);
}

TEST(LatencyHistogram, SnapshotsAdd) {
  Histogram a, b;
  a.record(10);
  a.record(5000);
  b.record(10);
  b.record(std::numeric_limits<std::uint32_t>::max());
  Histogram::Snapshot sum;  // empty: takes the shape of the first addend
  sum += a.snapshot();
  sum += b.snapshot();
  ASSERT_EQ(sum.counts.size(), Histogram::kBounds + 1);
  ASSERT_EQ(sum.bounds_ns.size(), Histogram::kBounds);
  EXPECT_EQ(sum.counts[0], 2u);
  EXPECT_EQ(sum.counts[3], 1u);  // 5000 ns: (4 us, 8 us]
  EXPECT_EQ(sum.counts[kInf], 1u);
  EXPECT_EQ(sum.count, 4u);
  EXPECT_EQ(sum.sum_ns, std::uint64_t{10 + 5000 + 10} + std::numeric_limits<std::uint32_t>::max());
}

// A snapshot whose every field differs from every other's.
CountersSnapshot distinct(std::uint64_t base) {
  CountersSnapshot s;
  s.ops_submitted = base + 1;
  s.ops_completed = base + 2;
  s.ops_failed = base + 3;
  s.ops_in_flight = base + 4;
  s.bytes_in = base + 5;
  s.bytes_out = base + 6;
  s.invalid_descriptors = base + 7;
  s.ring_full_events = base + 8;
  s.wakeups_sent = base + 9;
  s.wakeups_received = base + 10;
  return s;
}

void expect_counters(const CountersSnapshot& s, std::uint64_t base) {
  EXPECT_EQ(s.ops_submitted, base + 1);
  EXPECT_EQ(s.ops_completed, base + 2);
  EXPECT_EQ(s.ops_failed, base + 3);
  EXPECT_EQ(s.ops_in_flight, base + 4);
  EXPECT_EQ(s.bytes_in, base + 5);
  EXPECT_EQ(s.bytes_out, base + 6);
  EXPECT_EQ(s.invalid_descriptors, base + 7);
  EXPECT_EQ(s.ring_full_events, base + 8);
  EXPECT_EQ(s.wakeups_sent, base + 9);
  EXPECT_EQ(s.wakeups_received, base + 10);
}

TEST(CountersSnapshot, PlusEqualsAddsEveryField) {
  static_assert(sizeof(CountersSnapshot) == 10 * sizeof(std::uint64_t),
                "a counter was added: extend distinct() and expect_counters()");
  CountersSnapshot s = distinct(100);
  s += distinct(1000);
  // (100 + i) + (1000 + i) == 1100 + 2i: check against the sum field by field.
  EXPECT_EQ(s.ops_submitted, 1102u);
  EXPECT_EQ(s.ops_completed, 1104u);
  EXPECT_EQ(s.ops_failed, 1106u);
  EXPECT_EQ(s.ops_in_flight, 1108u);
  EXPECT_EQ(s.bytes_in, 1110u);
  EXPECT_EQ(s.bytes_out, 1112u);
  EXPECT_EQ(s.invalid_descriptors, 1114u);
  EXPECT_EQ(s.ring_full_events, 1116u);
  EXPECT_EQ(s.wakeups_sent, 1118u);
  EXPECT_EQ(s.wakeups_received, 1120u);

  CountersSnapshot zero;
  zero += distinct(0);
  expect_counters(zero, 0);
  CountersSnapshot& ref = (zero += CountersSnapshot{});
  EXPECT_EQ(&ref, &zero);
  expect_counters(zero, 0);
}

TEST(SessionCounters, SnapshotReadsEachCounterIntoItsOwnField) {
  SessionCounters c;
  c.ops_submitted.add(7);
  c.ops_completed.add(2);
  c.ops_failed.add(3);
  c.bytes_in.add(5);
  c.bytes_out.add(6);
  c.invalid_descriptors.add(17);
  c.ring_full_events.add(8);
  c.wakeups_sent.add(9);
  c.wakeups_received.add(10);
  const CountersSnapshot s = c.snapshot();
  EXPECT_EQ(s.ops_submitted, 7u);
  EXPECT_EQ(s.ops_completed, 2u);
  EXPECT_EQ(s.ops_failed, 3u);
  EXPECT_EQ(s.ops_in_flight, 5u) << "in flight is submitted - completed";
  EXPECT_EQ(s.bytes_in, 5u);
  EXPECT_EQ(s.bytes_out, 6u);
  EXPECT_EQ(s.invalid_descriptors, 17u);
  EXPECT_EQ(s.ring_full_events, 8u);
  EXPECT_EQ(s.wakeups_sent, 9u);
  EXPECT_EQ(s.wakeups_received, 10u);
}

TEST(Counter, AddAndSub) {
  Counter c;
  EXPECT_EQ(c.get(), 0u);
  c.add();
  c.add(41);
  EXPECT_EQ(c.get(), 42u);
  c.sub();
  c.sub(40);
  EXPECT_EQ(c.get(), 1u);
}

TEST(OpcodeName, NamesAreDistinctStableIdentifiers) {
  std::set<std::string> seen;
  for (unsigned op = 0; op < AIOD_OP_LAST; ++op) {
    const char* name = opcode_name(op);
    ASSERT_NE(name, nullptr) << "opcode " << op << " has no name";
    const std::string n(name);
    EXPECT_NE(n, "unknown") << "opcode " << op;
    EXPECT_FALSE(n.empty()) << "opcode " << op;
    for (char c : n) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << n;
    EXPECT_TRUE(seen.insert(n).second) << "duplicate name " << n;
  }
}

TEST(OpcodeName, OutOfRangeIsUnknown) {
  EXPECT_STREQ(opcode_name(AIOD_OP_LAST), "unknown");
  EXPECT_STREQ(opcode_name(AIOD_OP_LAST + 1), "unknown");
  EXPECT_STREQ(opcode_name(255), "unknown");
  EXPECT_STREQ(opcode_name(std::numeric_limits<unsigned>::max()), "unknown");
}

}  // namespace
}  // namespace aiod::daemon
