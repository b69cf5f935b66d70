// SPDX-License-Identifier: MIT
// cached_file.cpp — making the file-IO benchmarks' test file.
#include "cached_file.hpp"

#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <linux/magic.h>
#include <vector>

#include "bench.hpp"

namespace aiod::bench {
namespace {

std::string fs_name(int fd) {
  struct statfs sfs {};
  if (::fstatfs(fd, &sfs) != 0) return "?";
  switch (sfs.f_type) {
    case EXT4_SUPER_MAGIC:
      return "ext4";  // also ext2/ext3: one magic
    case TMPFS_MAGIC:
      return "tmpfs";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlayfs";
    default:
      return "fs " + std::to_string(sfs.f_type);
  }
}

}  // namespace

std::string build_tree_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/var/tmp";
  const std::string path(buf, static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/'));
}

CachedFile make_cached_file(const std::string& dir, const std::string& name, unsigned mib) {
  CachedFile f;
  f.path = dir + "/aiod-bench-" + name + "-" + std::to_string(::getpid());
  f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (f.fd < 0) die("open %s: %s", f.path.c_str(), std::strerror(errno));
  f.fs = fs_name(f.fd);
  std::vector<char> chunk(1 << 20);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>('a' + i % 26);
  for (unsigned i = 0; i < mib; ++i) {
    if (::write(f.fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) die("filling the file");
  }
  ::fsync(f.fd);
  f.blocks = std::uint64_t{mib} * (1 << 20) / kBlock;
  return f;
}

}  // namespace aiod::bench
