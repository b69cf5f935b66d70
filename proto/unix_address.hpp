// SPDX-License-Identifier: MIT
// unix_address.hpp — reading the name out of an AF_UNIX address of a given length.
//
// An address's length, not a NUL, says how much of sun_path it holds: the kernel
// accepts a path that fills sun_path without a terminator, an abstract name
// starts with a NUL and runs to the end of the length, and a length that stops
// at sun_family names nothing (an unnamed socket). Both sides read addresses
// given by others (an application's, a client's, getsockname's), so every read
// stays inside both the length and sun_path. Header-only, no state.
#pragma once

#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>

namespace aiod::proto {

// Bytes of sun_path an address of `len` bytes covers: 0 when it ends at or
// before sun_path (unnamed), never more than sizeof(sun_path) (a len up to
// sizeof(sockaddr_storage) is accepted).
[[nodiscard]] constexpr std::size_t unix_path_room(std::size_t len) noexcept {
  constexpr std::size_t kStart = offsetof(sockaddr_un, sun_path);
  return len > kStart ? std::min(len - kStart, sizeof(sockaddr_un::sun_path)) : 0;
}

// The filesystem path the address names: sun_path up to its first NUL or the
// end of the room. Empty for unnamed and abstract addresses.
[[nodiscard]] inline std::string_view unix_path(const sockaddr_un& un, std::size_t len) noexcept {
  return {un.sun_path, ::strnlen(un.sun_path, unix_path_room(len))};
}

// True for an abstract address: a name whose first byte is NUL.
[[nodiscard]] inline bool unix_is_abstract(const sockaddr_un& un, std::size_t len) noexcept {
  return unix_path_room(len) > 0 && un.sun_path[0] == '\0';
}

// An abstract address's name, without its leading NUL (it may hold more NULs:
// every byte up to the length counts). Empty when the address is not abstract.
[[nodiscard]] inline std::string_view unix_abstract_name(const sockaddr_un& un, std::size_t len) noexcept {
  if (!unix_is_abstract(un, len)) return {};
  return {un.sun_path + 1, unix_path_room(len) - 1};
}

}  // namespace aiod::proto
