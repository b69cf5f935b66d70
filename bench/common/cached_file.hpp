// SPDX-License-Identifier: MIT
// cached_file.hpp — the test file of the file-IO benchmarks: written and
// fsynced, so that it sits in the page cache, in a directory of the
// filesystem users run on (by default the one that holds the build tree).
#pragma once

#include <cstdint>
#include <string>

namespace aiod::bench {

inline constexpr std::size_t kBlock = 4096;  // the IO size: one page

enum class Pattern { sequential, random };

struct CachedFile {
  std::string path, fs;  // fs: "ext4", "tmpfs"... (statfs)
  int fd = -1;           // read-write
  std::uint64_t blocks = 0;
  // Block i's offset: in order, or a fixed pseudo-random permutation-like walk.
  [[nodiscard]] std::uint64_t offset(std::uint64_t i, Pattern p) const {
    if (p == Pattern::sequential) return (i % blocks) * kBlock;
    return ((i * 2654435761u + 12345) % blocks) * kBlock;
  }
};

// The directory holding this program: in the build tree.
[[nodiscard]] std::string build_tree_dir();

// A file of `mib` MiB named <dir>/aiod-bench-<name>-<pid>, written and
// fsynced; exits the program on failure. The caller closes and unlinks it.
[[nodiscard]] CachedFile make_cached_file(const std::string& dir, const std::string& name, unsigned mib);

}  // namespace aiod::bench
