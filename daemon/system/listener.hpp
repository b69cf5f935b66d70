// SPDX-License-Identifier: MIT
// listener.hpp — the daemon's listening SOCK_SEQPACKET unix socket.
//
// bind() refuses to steal the path from a running daemon (it probes with a
// connect), replaces a stale socket file, applies the requested mode and
// group before it listens, and the destructor removes the file if it is still
// ours. Every step works relative to one descriptor of the socket's
// directory, opened once, so a directory on the path swapped for a link
// midway cannot make the steps disagree about which file they touch.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "unique_fd.hpp"

namespace aiod::daemon {

class Listener {
 public:
  Listener() = default;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // Returns 0 or -errno with `error` set. `group`: the file's group (else
  // the daemon's own).
  [[nodiscard]] int bind(const std::string& path, unsigned mode, std::optional<gid_t> group, std::string& error);
  // Adopts an already listening socket (socket activation); the path is not ours to remove.
  void adopt(UniqueFd fd);

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  // Closes the socket: no new connections are accepted.
  void close();

 private:
  UniqueFd fd_;
  // The socket file we bound: its directory (held open, so that removing the
  // file later looks in the same directory even if the path's ancestors were
  // changed since), its name there, and its identity.
  UniqueFd dir_;
  std::string name_;
  dev_t dev_ = 0;
  ino_t inode_ = 0;
};

}  // namespace aiod::daemon
