// socket_path.hpp — where the daemon listens and clients connect, by default.
//
// AIOD_SOCKET overrides; otherwise the system daemon's /run/aiod.sock for root
// and $XDG_RUNTIME_DIR/aiod.sock for everyone else. Empty when no default
// exists (not root and no XDG_RUNTIME_DIR).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace aiod {

inline constexpr const char* kSystemSocketPath = "/run/aiod.sock";

inline std::string default_socket_path() {
  if (const char* env = std::getenv("AIOD_SOCKET"); env != nullptr && *env != '\0') return env;
  if (::geteuid() == 0) return kSystemSocketPath;
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/aiod.sock";
  }
  return {};
}

}  // namespace aiod
