// SPDX-License-Identifier: MIT
// shm_access.hpp — how both sides touch a session's shared region.
//
// aiod_shm.h says where each word lives; this header says how it is read and
// written, so the client and the daemon cannot disagree on a memory order, and
// which layouts of the region are usable (layout_misfit).
// Header-only: every function here is on the submission or completion path.
//
// Who writes what (aiod_shm_header):
//   client: sq_tail, cq_head (ring indices), client_flags
//   daemon: sq_head, cq_tail (ring indices), daemon_flags, daemon_cpu
// Each side stores only its own words and loads only the other side's, except
// that a side may read back its own word (load_own); the daemon never does,
// since the client can overwrite anything in the region.
//
// Why each order:
//  - An index publishes ring entries (or frees them): the entries are written
//    (or copied out) before the index moves, so ours is stored with release
//    (publish_own_index) and theirs loaded with acquire (load_peer_index).
//  - Flag words and the daemon_cpu hint publish no memory behind them. They are
//    stored and loaded relaxed; where a sleep decision depends on them, the
//    Dekker pattern orders them: store own word, store_load_fence(), load the
//    peer's word. Both sides fence, so at least one sees the other's store.
// The region is shared between processes; std::atomic_ref on a plain
// uint32_t is lock-free and address-free, which is what makes this valid.
#pragma once

#include <atomic>
#include <cstdint>

#include "aiod_shm.h"

namespace aiod::proto {

static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free, "ring words must be lock-free atomics");

// An index the other side writes (sq_tail / cq_head for the daemon, sq_head /
// cq_tail for the client). Acquire: the entries it covers are visible.
[[nodiscard]] inline std::uint32_t load_peer_index(const std::uint32_t& word) noexcept {
  return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(word)).load(std::memory_order_acquire);
}

// Moves an index this side owns. Release: the entries written (or copied out)
// before it are done before the other side acts on the new value.
inline void publish_own_index(std::uint32_t& word, std::uint32_t value) noexcept {
  std::atomic_ref<std::uint32_t>(word).store(value, std::memory_order_release);
}

// A flag word or hint the other side writes (daemon_flags, daemon_cpu,
// client_flags). Relaxed: ordered, where it matters, by store_load_fence().
[[nodiscard]] inline std::uint32_t load_peer_flags(const std::uint32_t& word) noexcept {
  return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(word)).load(std::memory_order_relaxed);
}

// Stores a flag word or hint this side owns. Relaxed, as load_peer_flags.
inline void store_own_flags(std::uint32_t& word, std::uint32_t value) noexcept {
  std::atomic_ref<std::uint32_t>(word).store(value, std::memory_order_relaxed);
}

// Reads back a word this side owns (its last store, unless the peer broke the
// protocol). Only a side that trusts the region may rely on it: the daemon
// keeps private copies instead.
[[nodiscard]] inline std::uint32_t load_own(const std::uint32_t& word) noexcept {
  return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(word)).load(std::memory_order_relaxed);
}

// Full fence between storing our word (tail or need-wakeup flag) and loading
// the peer's (flag or tail): the two sides' store-then-load sequences (Dekker)
// cannot both miss each other's store, so a wake-up is never lost.
inline void store_load_fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }

// A hint to the CPU inside a spin loop: lets a sibling hyperthread run and
// saves power. No effect on memory ordering.
inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// --- region layout ------------------------------------------------------------

// Where the rings and the arena sit in a region of total_size bytes (the
// Welcome's fields; aiod_shm.h has the picture).
struct ShmLayout {
  std::uint32_t sq_entries = 0;
  std::uint32_t cq_entries = 0;
  std::uint64_t sq_offset = 0;
  std::uint64_t cq_offset = 0;
  std::uint64_t arena_offset = 0;
  std::uint64_t arena_size = 0;
  std::uint64_t total_size = 0;
};

// Why a side that maps `l.total_size` bytes could not use this layout without
// faulting, or nullptr when it can: ring sizes are powers of two, and the
// header, both rings and the arena lie inside the region. The daemon computes
// only layouts that pass; the client refuses a Welcome whose layout fails.
// Overflow-safe: every field may be anything.
[[nodiscard]] constexpr const char* layout_misfit(const ShmLayout& l) noexcept {
  const auto pow2 = [](std::uint32_t n) { return n != 0 && (n & (n - 1)) == 0; };
  const auto inside = [&l](std::uint64_t offset, std::uint64_t bytes) {
    return offset <= l.total_size && bytes <= l.total_size - offset;
  };
  if (!pow2(l.sq_entries) || !pow2(l.cq_entries)) return "ring sizes are not powers of two";
  if (l.total_size < AIOD_SHM_HEADER_SIZE) return "the region is smaller than its header";
  if (!inside(l.sq_offset, std::uint64_t{l.sq_entries} * AIOD_SQE_SIZE)) {
    return "the submission ring is outside the region";
  }
  if (!inside(l.cq_offset, std::uint64_t{l.cq_entries} * AIOD_CQE_SIZE)) {
    return "the completion ring is outside the region";
  }
  if (!inside(l.arena_offset, l.arena_size)) return "the arena is outside the region";
  return nullptr;
}

}  // namespace aiod::proto
