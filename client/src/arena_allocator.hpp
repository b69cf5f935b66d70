// SPDX-License-Identifier: MIT
// arena_allocator.hpp — first-fit allocation of byte ranges inside the
// session's arena, with coalescing on free.
//
// Blocks are 64-byte aligned (one cache line: no false sharing between
// buffers of different ops). Offsets are relative to the arena's start.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace aiod::detail {

class ArenaAllocator {
 public:
  static constexpr std::uint64_t kAlign = 64;

  ArenaAllocator() = default;
  explicit ArenaAllocator(std::uint64_t size);

  // Returns the offset of a block of at least `size` bytes, or nullopt.
  [[nodiscard]] std::optional<std::uint64_t> allocate(std::uint64_t size);
  // Frees a block returned by allocate() with the same size.
  void free(std::uint64_t offset, std::uint64_t size);

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] std::uint64_t free_bytes() const noexcept { return free_bytes_; }

 private:
  static std::uint64_t rounded(std::uint64_t size) { return (size + kAlign - 1) / kAlign * kAlign; }

  std::map<std::uint64_t, std::uint64_t> free_;  // offset -> length
  std::uint64_t size_ = 0;
  std::uint64_t free_bytes_ = 0;
};

}  // namespace aiod::detail
