// SPDX-License-Identifier: MIT
// peer_namespaces.hpp — the namespaces a client lives in, compared with the
// daemon's.
//
// A client is served inside its own view of the system, never the daemon's:
// its sockets are created in its network namespace, and its paths resolve
// under its root, in its mount namespace.
//
// Network namespace: the kernel creates the daemon's end of an AF_UNIX
// connection in the *connecting* socket's namespace, so the session socket
// itself names the client's namespace, with no pid to race on:
// SIOCGSKNS gives it (needs CAP_NET_ADMIN), SO_NETNS_COOKIE (5.14+, no
// capability) says whether it is the daemon's. Only where neither works is
// /proc/<pid>/ns/net read, checked against the peer's pidfd. A daemon that
// can learn the client's namespace but cannot enter it (no CAP_SYS_ADMIN, a
// sandboxed unit) refuses clients from other network namespaces.
//
// Mount namespace: a client's root directory, passed at the hello, is a
// mount of its own namespace; is_daemon_root() compares it with the daemon's
// by mount id, so a client in another mount namespace (or a chroot) is a
// foreign root.
//
// Thread-safety: plain functions.
#pragma once

#include <string>

#include "os/peer_creds.hpp"
#include "unique_fd.hpp"

namespace aiod::daemon {

// The client's network namespace behind session socket `sock`: `foreign` is
// set when it is not the daemon's, and then `netns` holds it when the daemon
// could open it. Returns 0, or -errno with `why` set when it cannot be told.
[[nodiscard]] int read_peer_netns(int sock, const PeerCreds& peer, bool& foreign, UniqueFd& netns, std::string& why);

// Whether the peer lives in the daemon's pid namespace (so that it could
// signal the daemon itself), as /proc/<pid>/ns/pid says, checked against the
// peer's pidfd afterwards so a reused pid cannot answer for it. Returns 1 or
// 0, or -errno when it cannot be told (no pidfd, the pid not visible here).
[[nodiscard]] int peer_in_daemon_pidns(const PeerCreds& peer);

// Whether directory `fd` is the daemon's own root: the same mount (by mount
// id) and the same inode. A root passed by a client in a chroot or in another
// mount namespace is not.
[[nodiscard]] bool is_daemon_root(int fd);

}  // namespace aiod::daemon
