// SPDX-License-Identifier: MIT
// arena_placement.cpp — where an op's bytes go in the arena: in place, or copied.
#include <cstring>

#include "connection.hpp"

namespace aiod::detail {

bool Connection::place(const void* data, std::size_t size, bool copy_in, PendingOp& op, std::uint64_t& offset) {
  const auto* p = static_cast<const std::byte*>(data);
  if (in_arena(p) && size <= static_cast<std::size_t>(arena_ + arena_size_ - p)) {
    offset = static_cast<std::uint64_t>(p - arena_);  // already shared: no copy
    return true;
  }
  if (!scratch(size, op, offset)) return false;
  if (copy_in && size > 0) std::memcpy(arena_ + offset, data, size);
  return true;
}

bool Connection::scratch(std::size_t size, PendingOp& op, std::uint64_t& offset) {
  const auto got = arena_alloc_.allocate(size);
  if (!got) return false;
  op.blocks.push_back({*got, size == 0 ? 1 : size});
  offset = *got;
  return true;
}

}  // namespace aiod::detail
