// peer_namespaces.hpp — the namespaces a client lives in, compared with the
// daemon's.
//
// A client is served inside its own view of the system, never the daemon's:
// its sockets are created in its network namespace, and its paths resolve in
// its mount namespace and under its root. The client's namespaces are read
// from /proc/<pid>/ns of the peer the kernel names (SO_PEERCRED), and the
// peer's pidfd must still be alive after the read, so that the pid was not
// reused meanwhile. Where the kernel gives the pidfd with the connection
// (SO_PEERPIDFD, 6.5+) this is exact; on older kernels the pidfd is taken at
// the handshake, and a peer that exits and has its pid reused between its
// connect and its hello could be mistaken (docs/security.md).
//
// Thread-safety: plain functions; the namespace files are the daemon's /proc.
#pragma once

#include <string>

#include "peer_creds.hpp"
#include "unique_fd.hpp"

namespace aiod::daemon {

struct PeerNamespaces {
  UniqueFd netns;             // the client's network namespace if it is not the daemon's, else empty
  bool foreign_mount = false;  // the client's mount namespace is not the daemon's
};

// Fills `out` for `peer`. Returns 0, or -errno with `why` set (the peer is
// gone, or its namespaces cannot be read).
[[nodiscard]] int read_peer_namespaces(const PeerCreds& peer, PeerNamespaces& out, std::string& why);

// Whether directory `fd` is the daemon's own root: the same mount (by mount
// id) and the same inode. A root passed by a client in a chroot or in another
// mount namespace is not.
[[nodiscard]] bool is_daemon_root(int fd);

}  // namespace aiod::daemon
