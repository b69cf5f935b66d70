// SPDX-License-Identifier: MIT
// Unit tests of client/src/arena_allocator: the client's allocator of buffer
// space inside the shared arena. What must hold: blocks are 64-byte aligned and
// inside the arena; two live blocks never overlap (the daemon would read one
// op's buffer while another op writes it); exhaustion is reported, never
// overflowed; freed neighbours coalesce so a full-size block fits again;
// free_bytes() accounts for every byte.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "arena_allocator.hpp"

namespace aiod::detail {
namespace {

constexpr std::uint64_t kAlign = ArenaAllocator::kAlign;
std::uint64_t rounded(std::uint64_t n) { return (n == 0 ? kAlign : (n + kAlign - 1) / kAlign * kAlign); }

TEST(ArenaAllocator, SizeIsWholeCacheLines) {
  EXPECT_EQ(kAlign, 64u);
  EXPECT_EQ(ArenaAllocator(4096).size(), 4096u);
  EXPECT_EQ(ArenaAllocator(4096).free_bytes(), 4096u);
  EXPECT_EQ(ArenaAllocator(1000).size(), 960u) << "a partial line at the end is not usable";
  EXPECT_EQ(ArenaAllocator(1000).free_bytes(), 960u);
  EXPECT_EQ(ArenaAllocator(63).size(), 0u);
}

TEST(ArenaAllocator, EmptyArenasAllocateNothing) {
  ArenaAllocator none;
  EXPECT_EQ(none.allocate(1), std::nullopt);
  ArenaAllocator tiny(63);
  EXPECT_EQ(tiny.allocate(1), std::nullopt);
}

TEST(ArenaAllocator, BlocksAreAlignedAndSizedInCacheLines) {
  ArenaAllocator a(1 << 16);
  std::uint64_t used = 0;
  for (std::uint64_t n : {1u, 63u, 64u, 65u, 100u, 128u, 1000u, 4096u, 0u}) {
    const std::optional<std::uint64_t> off = a.allocate(n);
    ASSERT_TRUE(off.has_value()) << n;
    EXPECT_EQ(*off % kAlign, 0u) << "block of " << n;
    used += rounded(n);
    EXPECT_EQ(a.free_bytes(), a.size() - used) << "after allocating " << n;
  }
}

TEST(ArenaAllocator, ExhaustionIsNullopt) {
  ArenaAllocator a(4096);
  const auto whole = a.allocate(4096);
  ASSERT_EQ(whole, std::optional<std::uint64_t>(0));
  EXPECT_EQ(a.free_bytes(), 0u);
  EXPECT_EQ(a.allocate(1), std::nullopt);
  EXPECT_EQ(a.allocate(0), std::nullopt);

  ArenaAllocator b(4096);
  EXPECT_EQ(b.allocate(4097), std::nullopt);
  EXPECT_EQ(b.free_bytes(), 4096u) << "a refused allocation took space";
  EXPECT_TRUE(b.allocate(4096).has_value());
}

TEST(ArenaAllocator, HugeRequestsDoNotWrapAround) {
  ArenaAllocator a(4096);
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  for (std::uint64_t n : {max, max - 1, max - 62, max - 63, max - 64, std::uint64_t{1} << 63}) {
    EXPECT_EQ(a.allocate(n), std::nullopt) << n;
  }
  EXPECT_EQ(a.free_bytes(), 4096u);
  EXPECT_EQ(a.allocate(4096), std::optional<std::uint64_t>(0));
}

TEST(ArenaAllocator, FreeingEverythingInAnyOrderCoalescesToOneBlock) {
  constexpr std::uint64_t kBlocks = 64;
  ArenaAllocator a(kBlocks * kAlign);
  std::vector<std::uint64_t> offsets;
  for (std::uint64_t i = 0; i < kBlocks; ++i) {
    const auto off = a.allocate(kAlign);
    ASSERT_TRUE(off.has_value());
    offsets.push_back(*off);
  }
  EXPECT_EQ(a.allocate(1), std::nullopt);
  std::mt19937 rng(12345);
  std::shuffle(offsets.begin(), offsets.end(), rng);
  for (std::uint64_t off : offsets) a.free(off, kAlign);
  EXPECT_EQ(a.free_bytes(), a.size());
  EXPECT_EQ(a.allocate(a.size()), std::optional<std::uint64_t>(0))
      << "freed neighbours were not merged back into one block";
}

TEST(ArenaAllocator, FreeMergesWithBothNeighbours) {
  ArenaAllocator a(3 * 1024);
  const auto x = a.allocate(1024);
  const auto y = a.allocate(1024);
  const auto z = a.allocate(1024);
  ASSERT_TRUE(x && y && z);
  a.free(*x, 1024);
  a.free(*z, 1024);
  EXPECT_EQ(a.allocate(2048), std::nullopt) << "two separate 1 KiB holes are not 2 KiB";
  a.free(*y, 1024);  // joins the hole before and the hole after
  EXPECT_EQ(a.allocate(3 * 1024), std::optional<std::uint64_t>(0));
}

TEST(ArenaAllocator, FreeUsesTheRoundedSize) {
  ArenaAllocator a(256);
  const auto x = a.allocate(1);    // one line
  const auto y = a.allocate(100);  // two lines
  ASSERT_TRUE(x && y);
  EXPECT_EQ(a.free_bytes(), 256u - 64u - 128u);
  a.free(*x, 1);
  a.free(*y, 100);
  EXPECT_EQ(a.free_bytes(), 256u);
  EXPECT_EQ(a.allocate(256), std::optional<std::uint64_t>(0));
}

TEST(ArenaAllocator, FreedSpaceIsReused) {
  ArenaAllocator a(1024);
  const auto x = a.allocate(512);
  const auto y = a.allocate(512);
  ASSERT_TRUE(x && y);
  EXPECT_EQ(a.allocate(64), std::nullopt);
  a.free(*x, 512);
  const auto z = a.allocate(256);
  ASSERT_TRUE(z.has_value());
  EXPECT_GE(*z, *x);
  EXPECT_LT(*z, *x + 512) << "the only free space was x's";
}

// Random allocate/free sequences checked against a shadow map of every line.
void random_workout(std::uint32_t seed, std::uint64_t arena, std::uint64_t max_request, int steps) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  ArenaAllocator a(arena);
  const std::uint64_t lines = a.size() / kAlign;
  std::vector<bool> shadow(lines, false);       // line in use
  std::map<std::uint64_t, std::uint64_t> live;  // offset -> requested size
  std::uint64_t used = 0;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::uint64_t> size_dist(0, max_request);

  for (int step = 0; step < steps; ++step) {
    const bool do_free = !live.empty() && (rng() % 100) < 45;
    if (do_free) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      const std::uint64_t off = it->first, n = it->second;
      for (std::uint64_t l = off / kAlign; l < (off + rounded(n)) / kAlign; ++l) shadow[l] = false;
      a.free(off, n);
      used -= rounded(n);
      live.erase(it);
    } else {
      const std::uint64_t n = size_dist(rng);
      const std::optional<std::uint64_t> off = a.allocate(n);
      if (!off) {
        // Refusal is only fine when no run of free lines is long enough.
        std::uint64_t run = 0, best = 0;
        for (bool inuse : shadow) {
          run = inuse ? 0 : run + 1;
          best = std::max(best, run);
        }
        ASSERT_LT(best * kAlign, rounded(n)) << "refused " << n << " bytes with a large enough hole";
        continue;
      }
      ASSERT_EQ(*off % kAlign, 0u);
      ASSERT_LE(*off + rounded(n), a.size()) << "block past the arena's end";
      for (std::uint64_t l = *off / kAlign; l < (*off + rounded(n)) / kAlign; ++l) {
        ASSERT_FALSE(shadow[l]) << "block at " << *off << " (" << n << " bytes) overlaps a live block";
        shadow[l] = true;
      }
      live.emplace(*off, n);
      used += rounded(n);
    }
    ASSERT_EQ(a.free_bytes(), a.size() - used) << "step " << step;
  }
  for (const auto& [off, n] : live) a.free(off, n);
  EXPECT_EQ(a.free_bytes(), a.size());
  EXPECT_EQ(a.allocate(a.size()), std::optional<std::uint64_t>(0));
}

TEST(ArenaAllocator, RandomSequencesNeverOverlapSmallBlocks) {
  for (std::uint32_t seed = 1; seed <= 8; ++seed) random_workout(seed, 1 << 16, 700, 4000);
}

TEST(ArenaAllocator, RandomSequencesNeverOverlapLargeBlocks) {
  for (std::uint32_t seed = 100; seed < 108; ++seed) random_workout(seed, 1 << 20, 200'000, 2000);
}

TEST(ArenaAllocator, RandomSequencesUnderPressure) {
  // Requests often larger than what is left: exercises refusal and first fit.
  for (std::uint32_t seed = 1000; seed < 1008; ++seed) random_workout(seed, 8192, 3000, 4000);
}

}  // namespace
}  // namespace aiod::detail
