// SPDX-License-Identifier: MIT
#include "system/socket_activation.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "unix_address.hpp"

namespace aiod::daemon {
namespace {

// sd_listen_fds(3): passed descriptors start right after stdin, stdout, stderr.
constexpr int kListenFdsStart = 3;

bool parse_decimal(const std::string& text, std::uint64_t& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

std::string take_env(const char* name, bool& present) {
  const char* value = std::getenv(name);
  present = value != nullptr;
  std::string copy = present ? value : "";
  ::unsetenv(name);
  return copy;
}

int get_int_option(int fd, int option, int& value) {
  socklen_t len = sizeof(value);
  return ::getsockopt(fd, SOL_SOCKET, option, &value, &len) < 0 ? -errno : 0;
}

std::string bound_path(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return {};
  if (proto::unix_path_room(len) == 0) return {};
  if (proto::unix_is_abstract(addr, len)) {
    // Built with append: GCC 12 -O3 warns falsely (-Wrestrict) on "@" + string.
    std::string abstract = "@";
    abstract.append(proto::unix_abstract_name(addr, len));
    return abstract;
  }
  return std::string(proto::unix_path(addr, len));
}

}  // namespace

int check_listening_socket(int fd, std::string& error) {
  int domain = 0;
  int type = 0;
  int listening = 0;
  if (int err = get_int_option(fd, SO_DOMAIN, domain); err < 0) {
    error = "descriptor " + std::to_string(fd) + " is not a socket: " + std::strerror(-err);
    return err;
  }
  if (domain != AF_UNIX) {
    error = "descriptor " + std::to_string(fd) + " is not a unix socket (ListenSequentialPacket= takes a path)";
    return -EAFNOSUPPORT;
  }
  if (int err = get_int_option(fd, SO_TYPE, type); err < 0 || type != SOCK_SEQPACKET) {
    error = "descriptor " + std::to_string(fd) +
            " is not a SOCK_SEQPACKET socket (the unit must use ListenSequentialPacket=)";
    return -ESOCKTNOSUPPORT;
  }
  if (int err = get_int_option(fd, SO_ACCEPTCONN, listening); err < 0 || listening == 0) {
    error = "descriptor " + std::to_string(fd) + " is not listening (Accept=yes is not supported)";
    return -EINVAL;
  }
  return 0;
}

int take_activated_socket(ActivatedSocket& out, std::string& error) {
  bool has_pid = false;
  bool has_fds = false;
  bool has_names = false;
  const std::string pid_text = take_env("LISTEN_PID", has_pid);
  const std::string fds_text = take_env("LISTEN_FDS", has_fds);
  const std::string names = take_env("LISTEN_FDNAMES", has_names);
  if (!has_pid || !has_fds) return -ENOENT;

  std::uint64_t pid = 0;
  std::uint64_t count = 0;
  if (!parse_decimal(pid_text, pid)) {
    error = "LISTEN_PID '" + pid_text + "' is not a process id";
    return -EINVAL;
  }
  // Variables inherited from a socket-activated parent: the descriptors, if
  // any are still open, are not ours to take or close.
  if (pid != static_cast<std::uint64_t>(::getpid())) return -ENOENT;
  if (!parse_decimal(fds_text, count) || count > 4096) {
    error = "LISTEN_FDS '" + fds_text + "' is not a descriptor count";
    return -EINVAL;
  }
  if (count == 0) return -ENOENT;

  const int n = static_cast<int>(count);
  // Close every passed descriptor but the first whatever happens: aiod uses one.
  for (int fd = kListenFdsStart + 1; fd < kListenFdsStart + n; ++fd) ::close(fd);
  UniqueFd fd(kListenFdsStart);
  if (n != 1) {
    error = "socket activation passed " + std::to_string(n) +
            " descriptors; aiod listens on exactly one (one ListenSequentialPacket= line)";
    return -EINVAL;
  }
  if (const int err = check_listening_socket(fd.get(), error); err < 0) return err;
  // The accept loop drains the queue until EAGAIN; systemd passes the socket
  // blocking, and the descriptor must not leak into anything aiod starts.
  const int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK) < 0 || ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) < 0) {
    const int err = errno;
    error = std::string("preparing the activated socket: ") + std::strerror(err);
    return -err;
  }
  out.name = names.substr(0, names.find(':'));
  out.path = bound_path(fd.get());
  out.fd = std::move(fd);
  return 0;
}

}  // namespace aiod::daemon
