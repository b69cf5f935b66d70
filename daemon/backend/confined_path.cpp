// SPDX-License-Identifier: MIT
// confined_path.cpp — see confined_path.hpp.
#include "backend/confined_path.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "os/protected_sockets.hpp"
#include "unique_fd.hpp"
#include "unix_address.hpp"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace aiod::daemon::posix {
namespace {

// -EACCES for a descriptor on procfs, else 0.
int refuse_procfs(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) < 0) return -errno;
  return fs.f_type == PROC_SUPER_MAGIC ? -EACCES : 0;
}

// openat2 with the rules applied; returns the descriptor or -errno.
int open_confined(int dirfd, const char* path, open_how how) {
  how.resolve |= RESOLVE_NO_MAGICLINKS;
  how.flags |= O_CLOEXEC;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how))));
  if (!fd) return -errno;
  if (const int err = refuse_procfs(fd.get()); err < 0) return err;
  return fd.release();
}

int open_path(int dirfd, const char* path, bool directory, bool follow, std::uint64_t resolve) {
  open_how how{};
  how.flags = O_PATH | (directory ? O_DIRECTORY : 0) | (follow ? 0 : O_NOFOLLOW);
  how.resolve = resolve;
  return open_confined(dirfd, path, how);
}

// A path split into the directory that holds its last component and that
// component (with any trailing slashes, which keep their meaning there).
struct Split {
  std::string parent;
  std::string leaf;
};

Split split(std::string_view path) {
  std::size_t end = path.find_last_not_of('/');
  if (end == std::string_view::npos) return {"/", "."};  // "/" itself (or "//")
  const std::size_t slash = path.rfind('/', end);
  if (slash == std::string_view::npos) return {".", std::string(path)};
  return {std::string(path.substr(0, slash + 1)), std::string(path.substr(slash + 1))};
}

// Resolves the parent of `path` under the rules; `leaf` receives the last component.
int open_parent(int dirfd, const char* path, std::string& leaf, std::uint64_t resolve) {
  Split s = split(path);
  leaf = std::move(s.leaf);
  return open_path(dirfd, s.parent.c_str(), true, true, resolve);
}

std::string_view unix_path(const void* addr, socklen_t len) {
  return proto::unix_path(*static_cast<const sockaddr_un*>(addr), len);
}

// Resolves a socket path to an O_PATH descriptor of the socket file and an
// address that names that file through the daemon's own descriptor table (a
// magic link the daemon made itself, so nothing of the client's is walked).
int resolve_socket(const void* addr, socklen_t len, int dirfd, std::uint64_t resolve, UniqueFd& file, sockaddr_un& via,
                   socklen_t& via_len) {
  const std::string path(unix_path(addr, len));
  const int fd = open_path(dirfd < 0 ? AT_FDCWD : dirfd, path.c_str(), false, true, resolve);
  if (fd < 0) return fd;
  file.reset(fd);
  struct stat st {};
  if (::fstat(fd, &st) < 0) return -errno;
  if (is_protected_socket(st.st_dev, st.st_ino)) return -EACCES;
  via = {};
  via.sun_family = AF_UNIX;
  const int n = std::snprintf(via.sun_path, sizeof(via.sun_path), "/proc/self/fd/%d", fd);
  via_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + static_cast<std::size_t>(n) + 1);
  return 0;
}

}  // namespace

int check_openat2(std::string& why) {
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_MAGICLINKS;
  const UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how))));
  if (fd) return 0;
  const int err = errno;
  why = std::string("openat2(2) fails here (") + std::strerror(err) +
        "), and aiod resolves every client path with it. A seccomp filter blocks it: under systemd, "
        "RestrictSUIDSGID=yes does (remove it from the unit); Linux before 5.6 lacks it";
  return -err;
}

int confined_open(int dirfd, const char* path, open_how how) { return open_confined(dirfd, path, how); }

int confined_unlink(int dirfd, const char* path, int flags, std::uint64_t resolve) {
  std::string leaf;
  const UniqueFd dir(open_parent(dirfd, path, leaf, resolve));
  if (!dir) return dir.get();
  return ::unlinkat(dir.get(), leaf.c_str(), flags) < 0 ? -errno : 0;
}

int confined_mkdir(int dirfd, const char* path, mode_t mode, std::uint64_t resolve) {
  std::string leaf;
  const UniqueFd dir(open_parent(dirfd, path, leaf, resolve));
  if (!dir) return dir.get();
  return ::mkdirat(dir.get(), leaf.c_str(), mode) < 0 ? -errno : 0;
}

int confined_rename(int old_dirfd, const char* old_path, int new_dirfd, const char* new_path, unsigned flags,
                    std::uint64_t resolve) {
  std::string old_leaf, new_leaf;
  const UniqueFd old_dir(open_parent(old_dirfd, old_path, old_leaf, resolve));
  if (!old_dir) return old_dir.get();
  const UniqueFd new_dir(open_parent(new_dirfd, new_path, new_leaf, resolve));
  if (!new_dir) return new_dir.get();
  return ::syscall(SYS_renameat2, old_dir.get(), old_leaf.c_str(), new_dir.get(), new_leaf.c_str(), flags) < 0 ? -errno
                                                                                                               : 0;
}

int confined_symlink(const char* target, int dirfd, const char* link_path, std::uint64_t resolve) {
  std::string leaf;
  const UniqueFd dir(open_parent(dirfd, link_path, leaf, resolve));
  if (!dir) return dir.get();
  // The target is stored, not resolved.
  return ::symlinkat(target, dir.get(), leaf.c_str()) < 0 ? -errno : 0;
}

int confined_statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* out, std::uint64_t resolve) {
  constexpr int kKept = AT_STATX_SYNC_TYPE | AT_NO_AUTOMOUNT;
  if (path[0] == '\0') {  // AT_EMPTY_PATH: the directory handle itself
    if (const int err = refuse_procfs(dirfd); err < 0) return err;
    return ::statx(dirfd, "", AT_EMPTY_PATH | (flags & kKept), mask, out) < 0 ? -errno : 0;
  }
  const UniqueFd file(open_path(dirfd, path, false, (flags & AT_SYMLINK_NOFOLLOW) == 0, resolve));
  if (!file) return file.get();
  return ::statx(file.get(), "", AT_EMPTY_PATH | (flags & kKept), mask, out) < 0 ? -errno : 0;
}

bool is_unix_path(const void* addr, socklen_t len) {
  if (addr == nullptr || proto::unix_path_room(len) == 0) return false;
  const auto* un = static_cast<const sockaddr_un*>(addr);
  return un->sun_family == AF_UNIX && un->sun_path[0] != '\0';
}

int confined_unix_connect(int sock, const void* addr, socklen_t len, int dirfd, std::uint64_t resolve) {
  UniqueFd file;
  sockaddr_un via;
  socklen_t via_len;
  if (const int err = resolve_socket(addr, len, dirfd, resolve, file, via, via_len); err < 0) return err;
  return ::connect(sock, reinterpret_cast<const sockaddr*>(&via), via_len) < 0 ? -errno : 0;
}

int confined_unix_sendmsg(int sock, const msghdr& msg, int flags, int dirfd, std::uint64_t resolve) {
  UniqueFd file;
  sockaddr_un via;
  socklen_t via_len;
  if (const int err = resolve_socket(msg.msg_name, msg.msg_namelen, dirfd, resolve, file, via, via_len); err < 0) {
    return err;
  }
  msghdr m = msg;
  m.msg_name = &via;
  m.msg_namelen = via_len;
  const ssize_t n = ::sendmsg(sock, &m, flags);
  return n < 0 ? -errno : static_cast<int>(n);
}

int confined_unix_bind(int sock, const void* addr, socklen_t len, mode_t umask, int dirfd, std::uint64_t resolve) {
  const std::string path(unix_path(addr, len));
  std::string leaf;
  const UniqueFd dir(open_parent(dirfd < 0 ? AT_FDCWD : dirfd, path.c_str(), leaf, resolve));
  if (!dir) return dir.get();
  sockaddr_un local{};
  local.sun_family = AF_UNIX;
  if (leaf.size() >= sizeof(local.sun_path)) return -ENAMETOOLONG;
  std::memcpy(local.sun_path, leaf.data(), leaf.size());
  // The name is created in the resolved directory, from this worker's own
  // cwd, with the client's umask; both are put back before returning.
  if (::fchdir(dir.get()) < 0) return -errno;
  const mode_t old_mask = ::umask(umask);
  const int ret = ::bind(sock, reinterpret_cast<const sockaddr*>(&local),
                         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + leaf.size() + 1));
  const int err = errno;
  ::umask(old_mask);
  (void)!::chdir("/");
  return ret < 0 ? -err : 0;
}

}  // namespace aiod::daemon::posix
