// SPDX-License-Identifier: MIT
#include "os/layout.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

#include "aiod_shm.h"

namespace aiod::daemon {
namespace {
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t round_up(std::uint64_t v, std::uint64_t to) { return (v + to - 1) / to * to; }
}  // namespace

SessionLayout compute_layout(std::uint32_t requested_sq_entries, std::uint64_t requested_arena_bytes,
                             const LayoutLimits& limits) {
  const std::uint32_t max_sq =
      std::bit_floor(std::clamp(limits.max_sq_entries, AIOD_MIN_SQ_ENTRIES, AIOD_MAX_SQ_ENTRIES));
  std::uint32_t sq = requested_sq_entries == 0 ? limits.default_sq_entries : requested_sq_entries;
  sq = std::bit_ceil(std::clamp(sq, AIOD_MIN_SQ_ENTRIES, max_sq));

  const std::uint64_t max_arena = std::max(kPage, limits.max_arena_bytes / kPage * kPage);
  std::uint64_t arena = requested_arena_bytes == 0 ? limits.default_arena_bytes : requested_arena_bytes;
  arena = std::clamp(round_up(std::min(arena, max_arena), kPage), kPage, max_arena);

  SessionLayout l;
  l.sq_entries = sq;
  l.cq_entries = sq * AIOD_CQ_PER_SQ;
  l.sq_offset = AIOD_SHM_HEADER_SIZE;
  l.cq_offset = l.sq_offset + std::uint64_t{l.sq_entries} * AIOD_SQE_SIZE;
  l.arena_offset = round_up(l.cq_offset + std::uint64_t{l.cq_entries} * AIOD_CQE_SIZE, kPage);
  l.arena_size = arena;
  l.total_size = l.arena_offset + l.arena_size;
  assert(proto::layout_misfit(l) == nullptr);  // what the client will check
  return l;
}

}  // namespace aiod::daemon
