// SPDX-License-Identifier: MIT
#include "os/fd_policy.hpp"

#include <unistd.h>

#include <string>
#include <string_view>

namespace aiod::daemon {

bool refused_as_handle(int fd) {
  // The daemon's own /proc names what an anonymous inode is.
  char target[64];
  const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof(target));
  if (n <= 0) return true;  // cannot tell: refuse
  return std::string_view(target, static_cast<std::size_t>(n)) == "anon_inode:[signalfd]";
}

}  // namespace aiod::daemon
