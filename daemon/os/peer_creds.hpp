// SPDX-License-Identifier: MIT
// peer_creds.hpp — who is on the other end of a session's socket, and whether
// (and as whom) the daemon may act for them.
//
// Rule: the daemon never does with a client's request what that client could not
// do itself. As root, it runs each session's operations under an io_uring
// personality that holds the client's uid, gid and groups (and no effective
// capabilities). Not as root, it can only act with its own credentials, so it
// serves only peers whose credentials cover its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "unique_fd.hpp"

namespace aiod::daemon {

struct PeerCreds {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // sorted, without duplicates
  // Effective capabilities (bit n: capability n). Read for uid 0 only: a root
  // client may have given some up (a sandboxed service, a container without
  // a user namespace), and must not get them back through the daemon. Any
  // other uid is served with none.
  std::uint64_t cap_effective = 0;
  UniqueFd pidfd;  // may be empty where the kernel cannot give one

  [[nodiscard]] bool same_identity(const PeerCreds& other) const {
    return uid == other.uid && gid == other.gid && groups == other.groups && cap_effective == other.cap_effective;
  }
};

// Reads SO_PEERCRED, SO_PEERGROUPS and (where available) SO_PEERPIDFD, and
// for uid 0 the effective capabilities from /proc/<pid>/status (checked
// against the pidfd afterwards, as peer_namespaces.hpp does). Returns 0 or -errno.
[[nodiscard]] int read_peer_creds(int sock, PeerCreds& out);

// The daemon's own effective identity.
[[nodiscard]] PeerCreds own_creds();

// Decides how the daemon serves `peer`:
//  - returns 0 and sets `needs_personality` when it must act under the peer's
//    identity (the daemon is root and the peer differs from it);
//  - returns -EPERM with `why` when it may not serve the peer at all.
[[nodiscard]] int authorise_peer(const PeerCreds& peer, const PeerCreds& daemon, bool& needs_personality,
                                 std::string& why);

// Runs `fn` on the calling thread while that thread (only) has the peer's
// identity — real, effective, saved and filesystem uids and gids, and groups,
// with no effective capabilities, or for uid 0 its own — then restores the
// daemon's. The daemon must be root. Returns fn's result, or -errno if
// switching failed (fn did not run). If restoring fails the process aborts: a
// daemon thread left with a client's identity must not go on.
[[nodiscard]] int with_peer_identity(const PeerCreds& peer, const std::function<int()>& fn);

}  // namespace aiod::daemon
