// SPDX-License-Identifier: MIT
// handle.hpp — names of files, directories and sockets inside the daemon.
//
// A Handle is valid only in the session (Client) that created it — by an
// open/socket/accept op or by passing a descriptor with Client::register_fd().
// It is not a file descriptor and means nothing to the kernel of this process.
#pragma once

#include <compare>
#include <cstdint>

namespace aiod {

struct Handle {
  std::uint32_t value = 0;  // 0: no handle

  [[nodiscard]] constexpr bool valid() const noexcept { return value != 0; }
  explicit constexpr operator bool() const noexcept { return valid(); }
  constexpr auto operator<=>(const Handle&) const = default;

  // For *_at operations: the client's current directory (at connect time).
  [[nodiscard]] static constexpr Handle cwd() noexcept { return Handle{0xffffffffu}; }
};

// Identifies a queued operation, for cancellation and callbacks. Stale once
// the op's completion has been reaped.
struct OpId {
  std::uint64_t value = 0;
  constexpr auto operator<=>(const OpId&) const = default;
};

}  // namespace aiod
