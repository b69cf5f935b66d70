// SPDX-License-Identifier: MIT
#include "system/systemd_notify.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "os/protected_sockets.hpp"

namespace aiod::daemon {
namespace {

// Parses a whole decimal string; false for anything else (sign, spaces, overflow).
bool parse_decimal(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

}  // namespace

int Notifier::open(std::string_view address, std::string& error) {
  fd_.reset();
  addr_ = {};
  addr_.sun_family = AF_UNIX;
  if (address.size() < 2 || (address.front() != '/' && address.front() != '@')) {
    error = "NOTIFY_SOCKET '" + std::string(address) + "' is neither a socket path nor an abstract name";
    return -EINVAL;
  }
  if (address.size() > sizeof(addr_.sun_path) - (address.front() == '/' ? 1 : 0)) {
    error = "NOTIFY_SOCKET '" + std::string(address) + "' is too long for a unix socket address";
    return -ENAMETOOLONG;
  }
  std::memcpy(addr_.sun_path, address.data(), address.size());
  // Abstract names start with a NUL byte and are exactly as long as given;
  // path names end with one (the memcpy left it: addr_ was zeroed).
  if (address.front() == '@') addr_.sun_path[0] = '\0';
  const std::size_t used = address.size() + (address.front() == '/' ? 1 : 0);
  addr_len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + used);

  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    const int err = errno;
    error = std::string("notify socket: ") + std::strerror(err);
    return -err;
  }
  fd_ = std::move(fd);
  return 0;
}

int Notifier::notify(std::string_view state) const {
  if (!fd_) return 0;
  // Unconnected: each datagram names the address, so a manager that re-created
  // its socket (daemon-reexec) still receives the next one.
  const ssize_t n = ::sendto(fd_.get(), state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
  if (n < 0) return -errno;
  return static_cast<std::size_t>(n) == state.size() ? 0 : -EMSGSIZE;
}

Notifier Notifier::connected_to(UniqueFd connected) {
  Notifier n;
  n.fd_ = std::move(connected);  // addr_len_ 0: sendto() uses the connected peer
  return n;
}

Notifier take_notifier(std::string& error) {
  Notifier notifier;
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env != nullptr) {
    const std::string address = env;  // copy: unsetenv frees the value
    ::unsetenv("NOTIFY_SOCKET");
    // Clients' messages leave from this process too: the manager must never
    // get one of theirs as the daemon's (protected_sockets.hpp).
    protect_socket(address);
    (void)notifier.open(address, error);
  }
  return notifier;
}

std::chrono::microseconds take_watchdog_interval(std::string& error) {
  const char* usec_env = std::getenv("WATCHDOG_USEC");
  const char* pid_env = std::getenv("WATCHDOG_PID");
  const std::string usec_text = usec_env != nullptr ? usec_env : "";
  const std::string pid_text = pid_env != nullptr ? pid_env : "";
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  if (usec_env == nullptr) return std::chrono::microseconds(0);

  std::uint64_t pid = 0;
  if (pid_env != nullptr) {
    if (!parse_decimal(pid_text, pid)) {
      error = "WATCHDOG_PID '" + pid_text + "' is not a process id";
      return std::chrono::microseconds(0);
    }
    // Meant for another process (we were started by one that had the watchdog).
    if (pid != static_cast<std::uint64_t>(::getpid())) return std::chrono::microseconds(0);
  }
  std::uint64_t usec = 0;
  // Upper bound: a century, far beyond any WatchdogSec= and safe to convert.
  constexpr std::uint64_t kMaxUsec = std::uint64_t{100} * 365 * 24 * 3600 * 1'000'000;
  if (!parse_decimal(usec_text, usec) || usec == 0 || usec > kMaxUsec) {
    error = "WATCHDOG_USEC '" + usec_text + "' is not a positive number of microseconds";
    return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(usec));
}

}  // namespace aiod::daemon
