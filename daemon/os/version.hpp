// SPDX-License-Identifier: MIT
// version.hpp — the daemon's version string, from the CMake project version.
#pragma once

namespace aiod::daemon {
inline constexpr const char* kVersion = AIOD_VERSION;
}  // namespace aiod::daemon
