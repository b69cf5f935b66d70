// SPDX-License-Identifier: MIT
// protected_sockets.hpp — sockets of the daemon's own that no client may reach
// through it.
//
// The service manager takes notifications (READY=1, STOPPING=1,
// WATCHDOG=trigger, MAINPID=...) from aiod's process, and a datagram that a
// client sends through aiod comes from that process too. So the daemon's
// notify socket is refused, with -EACCES, as the destination of every
// client's connect and sendmsg, whether named by path (compared by device and
// inode after the path is resolved) or by abstract name.
//
// Thread-safety: protect_socket() is called before any other thread starts
// (main(), through take_notifier()); afterwards the set is only read.
#pragma once

#include <sys/types.h>

#include <string_view>

namespace aiod::daemon {

// Records `address`: a path, or '@' and an abstract name, as NOTIFY_SOCKET
// gives it. A path that cannot be stat()ed is not recorded (nothing listens).
void protect_socket(std::string_view address);

// Whether the socket file with this device and inode is protected.
[[nodiscard]] bool is_protected_socket(dev_t dev, ino_t ino);

// Whether an abstract AF_UNIX name (the bytes after the leading NUL) is protected.
[[nodiscard]] bool is_protected_abstract(std::string_view name);

}  // namespace aiod::daemon
