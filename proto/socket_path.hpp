// SPDX-License-Identifier: MIT
// socket_path.hpp — where the daemon listens and clients connect, by default.
//
// AIOD_SOCKET overrides; otherwise the system daemon's /run/aiod.sock for root
// and $XDG_RUNTIME_DIR/aiod.sock for everyone else. Empty when no default
// exists (not root and no XDG_RUNTIME_DIR). Clients fall back to the system
// socket when the user runs no daemon (client_socket_path()).
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

// Where a client connects: default_socket_path(), except that a user with no
// daemon of their own (no socket at $XDG_RUNTIME_DIR/aiod.sock) is sent to the
// system daemon's socket.
inline std::string client_socket_path() {
  std::string path = default_socket_path();
  if (std::getenv("AIOD_SOCKET") == nullptr && ::geteuid() != 0 &&
      (path.empty() || ::access(path.c_str(), F_OK) != 0) && ::access(kSystemSocketPath, F_OK) == 0) {
    path = kSystemSocketPath;
  }
  return path;
}

}  // namespace aiod
