// SPDX-License-Identifier: MIT
#include "system/listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aiod::daemon {
namespace {

// The address of `name` inside directory `dir`, reached through the
// directory descriptor's /proc link, so that bind() and connect() resolve
// the same directory the other steps use.
int fill_address(int dir, const std::string& name, sockaddr_un& addr) {
  const std::string path = "/proc/self/fd/" + std::to_string(dir) + "/" + name;
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return -ENAMETOOLONG;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return 0;
}

// Splits `path` into its directory and last component.
void split(const std::string& path, std::string& dir, std::string& name) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    dir = ".";
    name = path;
  } else {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    name = path.substr(slash + 1);
  }
}

std::string errno_text(const std::string& what, int err) { return what + ": " + std::strerror(err); }

// Gives the just-bound socket file its mode and group. The file is reached
// through an O_PATH descriptor opened relative to the directory without
// following links and checked to be a socket, so a link planted at the path
// cannot make a root daemon chmod or chown some other file.
int set_owner_and_mode(int dir, const std::string& name, const std::string& path, unsigned mode,
                       std::optional<gid_t> group, std::string& error) {
  UniqueFd file(::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) < 0) {
    const int err = errno;
    error = errno_text("setting up '" + path + "'", err);
    return -err;
  }
  if (!S_ISSOCK(st.st_mode)) {
    error = "'" + path + "' was replaced by something else while it was set up";
    return -EEXIST;
  }
  if (group && ::fchownat(file.get(), "", static_cast<uid_t>(-1), *group, AT_EMPTY_PATH) < 0) {
    const int err = errno;
    error = errno_text("giving '" + path + "' the group " + std::to_string(*group), err);
    return -err;
  }
  // fchmod() refuses O_PATH descriptors; the descriptor's /proc link reaches
  // the same inode.
  const std::string proc_link = "/proc/self/fd/" + std::to_string(file.get());
  if (::chmod(proc_link.c_str(), mode) < 0) {
    const int err = errno;
    error = errno_text("setting the mode of '" + path + "'", err);
    return -err;
  }
  return 0;
}

}  // namespace

Listener::~Listener() { close(); }

int Listener::bind(const std::string& path, unsigned mode, std::optional<gid_t> group, std::string& error) {
  std::string dir_path, name;
  split(path, dir_path, name);
  if (path.empty() || name.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    error = "socket path '" + path + "' is empty, ends in '/' or is longer than " +
            std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes";
    return -ENAMETOOLONG;
  }
  // Every step below works on this one directory: an ancestor swapped for a
  // link halfway through cannot make the stale-socket check, the bind and
  // the chmod look at different directories (and remove or open up another
  // daemon's socket).
  UniqueFd dir(::open(dir_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    const int err = errno;
    error = errno_text("socket directory '" + dir_path + "'", err);
    return -err;
  }
  sockaddr_un addr;
  if (fill_address(dir.get(), name, addr) < 0) {
    error = "socket name '" + name + "' is too long";
    return -ENAMETOOLONG;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    const int err = errno;
    error = errno_text("socket", err);
    return -err;
  }
  struct stat st {};
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "'" + path + "' exists and is not a socket; refusing to replace it";
      return -EEXIST;
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      error = "another aiod is already listening on '" + path + "'";
      return -EADDRINUSE;
    }
    ::unlinkat(dir.get(), name.c_str(), 0);  // stale: nobody listens
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    const int err = errno;
    error = errno_text("bind '" + path + "'", err);
    return -err;
  }
  // Mode and group are set before listen(): until then every connect is refused.
  if (const int err = set_owner_and_mode(dir.get(), name, path, mode, group, error); err < 0) {
    ::unlinkat(dir.get(), name.c_str(), 0);
    return err;
  }
  if (::listen(fd.get(), 128) < 0) {
    const int err = errno;
    error = errno_text("listen on '" + path + "'", err);
    ::unlinkat(dir.get(), name.c_str(), 0);
    return -err;
  }
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    dev_ = st.st_dev;
    inode_ = st.st_ino;
  }
  dir_ = std::move(dir);
  name_ = name;
  fd_ = std::move(fd);
  return 0;
}

void Listener::adopt(UniqueFd fd) {
  close();
  fd_ = std::move(fd);
}

void Listener::close() {
  fd_.reset();
  if (dir_) {
    struct stat st {};
    // Only remove the file if it is still the socket we created (a newer
    // daemon may have replaced it).
    if (::fstatat(dir_.get(), name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == dev_ &&
        st.st_ino == inode_) {
      ::unlinkat(dir_.get(), name_.c_str(), 0);
    }
    dir_.reset();
    name_.clear();
  }
}

}  // namespace aiod::daemon
