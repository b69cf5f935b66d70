// SPDX-License-Identifier: MIT
// systemd_notify.hpp — telling the service manager how the daemon is doing.
//
// Under systemd (Type=notify) the manager names a datagram unix socket in
// NOTIFY_SOCKET: a path, or '@' for the abstract namespace. The daemon sends it
// newline-separated KEY=VALUE lines (sd_notify(3)): READY=1 once it serves,
// STATUS=<text> for `systemctl status`, STOPPING=1 when it begins to stop,
// WATCHDOG=1 as proof of life when the unit has WatchdogSec=. It is one
// sendto() on an AF_UNIX socket, so it is written here instead of linking
// libsystemd.
//
// Thread-safety: a Notifier is used by one thread (the daemon's main thread).
// The take_*() functions edit the environment: call them before any other
// thread starts.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <string>
#include <string_view>

#include "unique_fd.hpp"

namespace aiod::daemon {

class Notifier {
 public:
  // A disabled notifier: notify() does nothing and returns 0.
  Notifier() = default;

  // Prepares to send to `address` ('/' path or '@' abstract name). Returns 0,
  // or -errno with `error` set (the notifier stays disabled).
  [[nodiscard]] int open(std::string_view address, std::string& error);

  [[nodiscard]] bool enabled() const noexcept { return fd_.valid(); }

  // A notifier that sends on `connected`, a socket already connected to
  // whatever relays the messages (notify_relay.hpp).
  [[nodiscard]] static Notifier connected_to(UniqueFd connected);

  // Sends `state` as one datagram. Returns 0 (also when disabled) or -errno.
  // Never blocks: the manager reads its socket promptly, and a daemon must not
  // stall because the manager does not.
  [[nodiscard]] int notify(std::string_view state) const;

 private:
  UniqueFd fd_;
  sockaddr_un addr_{};
  socklen_t addr_len_ = 0;
};

// The notifier NOTIFY_SOCKET names, which is then removed from the environment
// (nothing the daemon might start should speak for it). Absent: a disabled
// notifier. Unusable: a disabled notifier and `error` set.
[[nodiscard]] Notifier take_notifier(std::string& error);

// WatchdogSec= as systemd passes it: WATCHDOG_USEC, when WATCHDOG_PID is absent
// or names this process. Returns zero when there is no watchdog, or when the
// value is malformed (then `error` is set). Removes both variables from the
// environment.
[[nodiscard]] std::chrono::microseconds take_watchdog_interval(std::string& error);

}  // namespace aiod::daemon
