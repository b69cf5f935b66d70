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

// Gives the just-bound socket file its mode and group. The file is reached
// through an O_PATH descriptor opened without following links and checked to
// be a socket, so a link planted at the path in a shared directory cannot
// make a root daemon chmod or chown some other file.
int set_owner_and_mode(const std::string& path, unsigned mode, std::optional<gid_t> group, std::string& error) {
  UniqueFd file(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) < 0) {
    const int err = errno;
    error = "setting up '" + path + "': " + std::strerror(err);
    return -err;
  }
  if (!S_ISSOCK(st.st_mode)) {
    error = "'" + path + "' was replaced by something else while it was set up";
    return -EEXIST;
  }
  if (group && ::fchownat(file.get(), "", static_cast<uid_t>(-1), *group, AT_EMPTY_PATH) < 0) {
    const int err = errno;
    error = "giving '" + path + "' the group " + std::to_string(*group) + ": " + std::strerror(err);
    return -err;
  }
  // fchmod() refuses O_PATH descriptors; the descriptor's /proc link reaches
  // the same inode.
  const std::string proc_link = "/proc/self/fd/" + std::to_string(file.get());
  if (::chmod(proc_link.c_str(), mode) < 0) {
    const int err = errno;
    error = "setting the mode of '" + path + "': " + std::strerror(err);
    return -err;
  }
  return 0;
}

int fill_address(const std::string& path, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return -ENAMETOOLONG;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return 0;
}

}  // namespace

Listener::~Listener() { close(); }

int Listener::bind(const std::string& path, unsigned mode, std::optional<gid_t> group, std::string& error) {
  sockaddr_un addr;
  if (fill_address(path, addr) < 0) {
    error =
        "socket path '" + path + "' is empty or longer than " + std::to_string(sizeof(addr.sun_path) - 1) + " bytes";
    return -ENAMETOOLONG;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    error = std::string("socket: ") + std::strerror(errno);
    return -errno;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "'" + path + "' exists and is not a socket; refusing to replace it";
      return -EEXIST;
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      error = "another aiod is already listening on '" + path + "'";
      return -EADDRINUSE;
    }
    ::unlink(path.c_str());  // stale: nobody listens
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    error = "bind '" + path + "': " + std::strerror(errno);
    return -errno;
  }
  // Mode and group are set before listen(): until then every connect is refused.
  if (const int err = set_owner_and_mode(path, mode, group, error); err < 0) {
    ::unlink(path.c_str());
    return err;
  }
  if (::listen(fd.get(), 128) < 0) {
    const int err = errno;
    error = "listen on '" + path + "': " + std::strerror(err);
    ::unlink(path.c_str());
    return -err;
  }
  if (::stat(path.c_str(), &st) == 0) inode_ = st.st_ino;
  path_ = path;
  fd_ = std::move(fd);
  return 0;
}

void Listener::adopt(UniqueFd fd) {
  close();
  fd_ = std::move(fd);
}

void Listener::close() {
  fd_.reset();
  if (!path_.empty()) {
    struct stat st {};
    // Only remove the file if it is still the socket we created (a newer
    // daemon may have replaced it).
    if (::stat(path_.c_str(), &st) == 0 && st.st_ino == inode_) ::unlink(path_.c_str());
    path_.clear();
  }
}

}  // namespace aiod::daemon
