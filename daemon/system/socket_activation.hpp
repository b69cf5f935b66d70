// SPDX-License-Identifier: MIT
// socket_activation.hpp — the listening socket systemd hands over.
//
// With aiod.socket, systemd creates and binds the socket itself and starts aiod
// with it as descriptor 3, described by LISTEN_PID (the process it is meant
// for), LISTEN_FDS (how many, from 3 on) and LISTEN_FDNAMES (colon-separated
// names), as sd_listen_fds(3) documents. The socket outlives the daemon, so
// connections queue while aiod restarts and none is refused.
//
// Contract: call once, from main(), before any other thread starts (the
// environment is edited).
#pragma once

#include <string>

#include "unique_fd.hpp"

namespace aiod::daemon {

struct ActivatedSocket {
  UniqueFd fd;       // listening, close-on-exec, non-blocking
  std::string name;  // from LISTEN_FDNAMES ("aiod.socket" by default), may be empty
  std::string path;  // the address it is bound to, for messages; "@name" if abstract
};

// Takes the socket-activated listener. Returns:
//   0        `out` holds it;
//   -ENOENT  this process was not socket-activated (no LISTEN_* variables, or
//            they were meant for another process);
//   -errno   the descriptors passed are unusable, `error` says why (aiod needs
//            exactly one AF_UNIX SOCK_SEQPACKET socket in listening state).
// In every case LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from the
// environment, and descriptors passed but not taken are closed.
[[nodiscard]] int take_activated_socket(ActivatedSocket& out, std::string& error);

// Checks that `fd` is an AF_UNIX SOCK_SEQPACKET socket in listening state.
// Returns 0 or -errno with `error` set.
[[nodiscard]] int check_listening_socket(int fd, std::string& error);

}  // namespace aiod::daemon
