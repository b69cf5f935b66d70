#include "system/listener.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aiod::daemon {
namespace {

int fill_address(const std::string& path, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return -ENAMETOOLONG;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return 0;
}

}  // namespace

Listener::~Listener() { close(); }

int Listener::bind(const std::string& path, unsigned mode, std::string& error) {
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
  if (::chmod(path.c_str(), mode) < 0 || ::listen(fd.get(), 128) < 0) {
    const int err = errno;
    error = "setting up '" + path + "': " + std::strerror(err);
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
