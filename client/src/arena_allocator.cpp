// SPDX-License-Identifier: MIT
#include "arena_allocator.hpp"

namespace aiod::detail {

ArenaAllocator::ArenaAllocator(std::uint64_t size) : size_(size / kAlign * kAlign), free_bytes_(size_) {
  if (size_ > 0) free_.emplace(0, size_);
}

std::optional<std::uint64_t> ArenaAllocator::allocate(std::uint64_t size) {
  const std::uint64_t need = rounded(size == 0 ? 1 : size);
  if (need < size) return std::nullopt;  // overflow
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < need) continue;
    const std::uint64_t offset = it->first;
    const std::uint64_t rest = it->second - need;
    free_.erase(it);
    if (rest > 0) free_.emplace(offset + need, rest);
    free_bytes_ -= need;
    return offset;
  }
  return std::nullopt;
}

void ArenaAllocator::free(std::uint64_t offset, std::uint64_t size) {
  std::uint64_t len = rounded(size == 0 ? 1 : size);
  free_bytes_ += len;
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && offset + len == next->first) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      prev->second += len;
      return;
    }
  }
  free_.emplace(offset, len);
}

}  // namespace aiod::detail
