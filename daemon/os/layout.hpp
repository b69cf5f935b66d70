// SPDX-License-Identifier: MIT
// layout.hpp — where the rings and the arena sit in a session's region.
//
// A pure function of the client's request and the daemon's limits, so the
// handshake and the tests agree on it. See proto/aiod_shm.h for the picture.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shm_access.hpp"

namespace aiod::daemon {

struct LayoutLimits {
  std::uint32_t default_sq_entries = 256;
  std::uint32_t max_sq_entries = 4096;
  std::uint64_t default_arena_bytes = 4u << 20;
  std::uint64_t max_arena_bytes = 64u << 20;
};

// The offsets and sizes the Welcome carries; the client checks them with
// proto::layout_misfit(), which every computed layout passes.
using SessionLayout = proto::ShmLayout;

// Requested 0 = the default. Ring sizes round up to a power of two, the arena
// to whole pages; both are clamped to the limits.
SessionLayout compute_layout(std::uint32_t requested_sq_entries, std::uint64_t requested_arena_bytes,
                             const LayoutLimits& limits);

}  // namespace aiod::daemon
