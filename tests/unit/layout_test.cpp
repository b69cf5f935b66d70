// SPDX-License-Identifier: MIT
// Unit tests of daemon/layout: the geometry of a session's shared region. The
// client maps exactly what this computes, so the rings must be powers of two,
// within the limits, and never overlap each other, the header or the arena.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "aiod_shm.h"
#include "os/layout.hpp"

namespace aiod::daemon {
namespace {

constexpr std::uint64_t kPage = 4096;

// Every structural property a layout must have, whatever was requested.
void expect_well_formed(const SessionLayout& l, const LayoutLimits& limits) {
  SCOPED_TRACE(::testing::Message() << "sq=" << l.sq_entries << " arena=" << l.arena_size);
  EXPECT_TRUE(std::has_single_bit(l.sq_entries));
  EXPECT_GE(l.sq_entries, AIOD_MIN_SQ_ENTRIES);
  EXPECT_LE(l.sq_entries, AIOD_MAX_SQ_ENTRIES);
  if (limits.max_sq_entries >= AIOD_MIN_SQ_ENTRIES) {
    EXPECT_LE(l.sq_entries, limits.max_sq_entries);
  }
  EXPECT_EQ(l.cq_entries, AIOD_CQ_PER_SQ * l.sq_entries);
  EXPECT_TRUE(std::has_single_bit(l.cq_entries));

  // The header page comes first and holds the whole header.
  EXPECT_EQ(l.sq_offset, AIOD_SHM_HEADER_SIZE);
  EXPECT_GE(l.sq_offset, sizeof(aiod_shm_header));
  EXPECT_EQ(l.sq_offset % kPage, 0u);
  // Rings in order, no overlap, entries naturally aligned.
  EXPECT_GE(l.cq_offset, l.sq_offset + std::uint64_t{l.sq_entries} * AIOD_SQE_SIZE);
  EXPECT_EQ(l.cq_offset % AIOD_CACHELINE, 0u);
  EXPECT_GE(l.arena_offset, l.cq_offset + std::uint64_t{l.cq_entries} * AIOD_CQE_SIZE);
  // Arena: whole pages at a page boundary.
  EXPECT_EQ(l.arena_offset % kPage, 0u);
  EXPECT_GE(l.arena_size, kPage);
  EXPECT_EQ(l.arena_size % kPage, 0u);
  EXPECT_LE(l.arena_size, std::max(kPage, limits.max_arena_bytes));
  EXPECT_EQ(l.total_size, l.arena_offset + l.arena_size);
  EXPECT_EQ(l.total_size % kPage, 0u);
}

TEST(Layout, ZeroRequestsTakeTheDefaults) {
  const LayoutLimits limits;
  const SessionLayout l = compute_layout(0, 0, limits);
  EXPECT_EQ(l.sq_entries, limits.default_sq_entries);
  EXPECT_EQ(l.cq_entries, 2 * limits.default_sq_entries);
  EXPECT_EQ(l.arena_size, limits.default_arena_bytes);
  expect_well_formed(l, limits);

  LayoutLimits custom;
  custom.default_sq_entries = 64;
  custom.default_arena_bytes = 3 * kPage;
  const SessionLayout c = compute_layout(0, 0, custom);
  EXPECT_EQ(c.sq_entries, 64u);
  EXPECT_EQ(c.arena_size, 3 * kPage);
}

TEST(Layout, SubmissionRingRoundsUpToAPowerOfTwo) {
  const LayoutLimits limits;
  const struct {
    std::uint32_t requested, expected;
  } cases[] = {{1, 1},     {2, 2},     {3, 4},     {5, 8},     {8, 8},       {9, 16},
               {100, 128}, {255, 256}, {256, 256}, {257, 512}, {2049, 4096}, {4096, 4096}};
  for (const auto& c : cases) {
    const SessionLayout l = compute_layout(c.requested, 0, limits);
    EXPECT_EQ(l.sq_entries, c.expected) << "requested " << c.requested;
    EXPECT_EQ(l.cq_entries, 2 * c.expected);
    expect_well_formed(l, limits);
  }
}

TEST(Layout, ArenaRoundsUpToWholePages) {
  const LayoutLimits limits;
  const struct {
    std::uint64_t requested, expected;
  } cases[] = {
      {1, kPage},          {kPage - 1, kPage}, {kPage, kPage}, {kPage + 1, 2 * kPage}, {10 * kPage + 7, 11 * kPage},
      {1u << 20, 1u << 20}};
  for (const auto& c : cases) {
    const SessionLayout l = compute_layout(0, c.requested, limits);
    EXPECT_EQ(l.arena_size, c.expected) << "requested " << c.requested;
    expect_well_formed(l, limits);
  }
}

TEST(Layout, RequestsAboveTheLimitsAreClamped) {
  LayoutLimits limits;
  limits.max_sq_entries = 1024;
  limits.max_arena_bytes = 16 * kPage;
  for (std::uint32_t sq : {1025u, 4096u, 1u << 20, std::numeric_limits<std::uint32_t>::max()}) {
    const SessionLayout l = compute_layout(sq, 0, limits);
    EXPECT_EQ(l.sq_entries, 1024u) << sq;
    expect_well_formed(l, limits);
  }
  for (std::uint64_t arena : {16 * kPage + 1, std::uint64_t{1} << 40, std::numeric_limits<std::uint64_t>::max(),
                              std::numeric_limits<std::uint64_t>::max() - kPage + 2}) {
    const SessionLayout l = compute_layout(0, arena, limits);
    EXPECT_EQ(l.arena_size, 16 * kPage) << arena;
    expect_well_formed(l, limits);
  }
}

TEST(Layout, ALimitThatIsNotAPowerOfTwoClampsBelowIt) {
  LayoutLimits limits;
  limits.max_sq_entries = 3000;  // the largest ring within it is 2048
  for (std::uint32_t sq : {2048u, 2049u, 3000u, 4096u}) {
    const SessionLayout l = compute_layout(sq, 0, limits);
    EXPECT_EQ(l.sq_entries, 2048u) << sq;
    expect_well_formed(l, limits);
  }
}

TEST(Layout, AnArenaLimitThatIsNotPageSizedRoundsDown) {
  LayoutLimits limits;
  limits.max_arena_bytes = 10 * kPage + 100;
  const SessionLayout l = compute_layout(0, std::uint64_t{1} << 30, limits);
  EXPECT_EQ(l.arena_size, 10 * kPage);
  expect_well_formed(l, limits);
}

TEST(Layout, DefaultsAboveTheLimitsAreClampedToo) {
  LayoutLimits limits;
  limits.default_sq_entries = 8192;
  limits.max_sq_entries = 512;
  limits.default_arena_bytes = std::uint64_t{1} << 30;
  limits.max_arena_bytes = 8 * kPage;
  const SessionLayout l = compute_layout(0, 0, limits);
  EXPECT_EQ(l.sq_entries, 512u);
  EXPECT_EQ(l.arena_size, 8 * kPage);
  expect_well_formed(l, limits);
}

TEST(Layout, ProtocolLimitsWinOverLooserDaemonLimits) {
  LayoutLimits limits;
  limits.max_sq_entries = std::numeric_limits<std::uint32_t>::max();
  const SessionLayout big = compute_layout(std::numeric_limits<std::uint32_t>::max(), 0, limits);
  EXPECT_EQ(big.sq_entries, AIOD_MAX_SQ_ENTRIES);
  expect_well_formed(big, limits);

  limits.max_sq_entries = 0;  // nonsense: still at least one entry
  const SessionLayout small = compute_layout(0, 0, limits);
  EXPECT_EQ(small.sq_entries, AIOD_MIN_SQ_ENTRIES);
  expect_well_formed(small, limits);
}

TEST(Layout, TinyArenaLimitsStillGiveOnePage) {
  LayoutLimits limits;
  limits.max_arena_bytes = 0;
  limits.default_arena_bytes = 0;
  const SessionLayout l = compute_layout(0, 0, limits);
  EXPECT_EQ(l.arena_size, kPage);
  expect_well_formed(l, limits);
}

TEST(Layout, EveryRingSizeAndSomeArenasAreWellFormed) {
  LayoutLimits limits;
  limits.max_sq_entries = AIOD_MAX_SQ_ENTRIES;
  for (std::uint32_t sq = 1; sq <= AIOD_MAX_SQ_ENTRIES; sq *= 2) {
    for (std::uint64_t arena : {std::uint64_t{1}, kPage, 5 * kPage + 3, std::uint64_t{64} << 20}) {
      const SessionLayout l = compute_layout(sq, arena, limits);
      EXPECT_EQ(l.sq_entries, sq);
      expect_well_formed(l, limits);
    }
  }
}

TEST(Layout, TotalSizeIsTheSumOfItsParts) {
  const LayoutLimits limits;
  // 256 descriptors (16 KiB) and 512 completions (8 KiB) after the header page,
  // then a 1 MiB arena.
  const SessionLayout l = compute_layout(256, 1u << 20, limits);
  EXPECT_EQ(l.sq_offset, 4096u);
  EXPECT_EQ(l.cq_offset, 4096u + 256u * 64u);
  EXPECT_EQ(l.arena_offset, 4096u + 256u * 64u + 512u * 16u);
  EXPECT_EQ(l.total_size, l.arena_offset + (1u << 20));
}

}  // namespace
}  // namespace aiod::daemon
