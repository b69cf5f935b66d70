// SPDX-License-Identifier: MIT
#include "os/peer_creds.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <cerrno>
#include <cstdlib>
#include <spdlog/spdlog.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace aiod::daemon {
namespace {

void normalise(std::vector<gid_t>& groups) {
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
}

// Per-thread credential changes need the raw system calls: glibc's wrappers
// apply a change to every thread of the process.
long raw_setgroups(const std::vector<gid_t>& groups) { return ::syscall(SYS_setgroups, groups.size(), groups.data()); }
long raw_setresgid(gid_t r, gid_t e, gid_t s) { return ::syscall(SYS_setresgid, r, e, s); }
long raw_setresuid(uid_t r, uid_t e, uid_t s) { return ::syscall(SYS_setresuid, r, e, s); }

// Copies the thread's permitted capabilities into its effective set (needed
// to switch uids back after acting for a peer).
long raw_raise_effective_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};  // pid 0: this thread
  __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, caps) < 0) return -1;
  for (auto& c : caps) c.effective = c.permitted;
  return ::syscall(SYS_capset, &header, caps);
}

// The effective capabilities of a uid-0 peer, from its /proc status; the pidfd
// must still be alive afterwards (the pid was not reused meanwhile).
int read_peer_caps(PeerCreds& peer) {
  if (!peer.pidfd) return -ESRCH;
  std::ifstream status("/proc/" + std::to_string(peer.pid) + "/status");
  std::string line;
  bool found = false;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    peer.cap_effective = std::stoull(line.substr(7), nullptr, 16);
    found = true;
    break;
  }
  if (!found) return -ESRCH;
  if (::syscall(SYS_pidfd_send_signal, peer.pidfd.get(), 0, nullptr, 0) < 0) return -errno;
  return 0;
}

// The calling thread's effective capabilities.
std::uint64_t own_effective_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, caps) < 0) return 0;
  return static_cast<std::uint64_t>(caps[1].effective) << 32 | caps[0].effective;
}

// Sets the calling thread's effective capabilities to `wanted` (within its permitted set).
long raw_set_effective_caps(std::uint64_t wanted) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, caps) < 0) return -1;
  caps[0].effective = static_cast<std::uint32_t>(wanted) & caps[0].permitted;
  caps[1].effective = static_cast<std::uint32_t>(wanted >> 32) & caps[1].permitted;
  return ::syscall(SYS_capset, &header, caps);
}

}  // namespace

int read_peer_creds(int sock, PeerCreds& out) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -errno;
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;

  std::vector<gid_t> groups(64);
  for (;;) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      break;
    }
    if (errno != ERANGE || groups.size() > 65536) return -errno;
    groups.resize(std::max<std::size_t>(glen / sizeof(gid_t), groups.size() * 2));
  }
  normalise(groups);
  out.groups = std::move(groups);

  int pidfd = -1;
  socklen_t plen = sizeof(pidfd);
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &plen) == 0) {
    out.pidfd.reset(pidfd);
  } else {
    out.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, out.pid, 0)));
  }
  if (out.uid == 0) return read_peer_caps(out);
  return 0;
}

PeerCreds own_creds() {
  PeerCreds me;
  me.pid = ::getpid();
  me.uid = ::geteuid();
  me.gid = ::getegid();
  if (me.uid == 0) me.cap_effective = own_effective_caps();
  const int n = ::getgroups(0, nullptr);
  if (n > 0) {
    me.groups.resize(static_cast<std::size_t>(n));
    me.groups.resize(static_cast<std::size_t>(::getgroups(n, me.groups.data())));
  }
  normalise(me.groups);
  return me;
}

int authorise_peer(const PeerCreds& peer, const PeerCreds& daemon, bool& needs_personality, std::string& why) {
  needs_personality = false;
  if (daemon.uid == 0) {
    // Root acts for anyone, under their identity unless it is root's own.
    needs_personality = !peer.same_identity(daemon);
    return 0;
  }
  // Without root the daemon cannot take another identity: it may serve a peer
  // only if everything the daemon can reach, the peer can reach too.
  const bool groups_covered =
      std::includes(peer.groups.begin(), peer.groups.end(), daemon.groups.begin(), daemon.groups.end());
  if (peer.uid != daemon.uid || peer.gid != daemon.gid || !groups_covered) {
    why = "this aiod runs as uid " + std::to_string(daemon.uid) +
          " and serves only clients with the same user, group and groups (client uid " + std::to_string(peer.uid) + ")";
    return -EPERM;
  }
  return 0;
}

int with_peer_identity(const PeerCreds& peer, const std::function<int()>& fn) {
  const PeerCreds saved = own_creds();
  if (saved.uid != 0) return -EPERM;
  // Every id of the thread becomes the peer's (real, effective, saved and, by
  // following the effective ones, filesystem): a receiver of SCM_CREDENTIALS
  // or SO_PEERCRED, a signal permission check, a file's owner all see the
  // client, never root. KEEP_CAPS (this thread's alone) keeps the permitted
  // set across the switch so the thread can come back; the effective set is
  // empty while it acts for the peer, and that is the set every check uses.
  if (::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0) return -errno;
  auto restore = [&saved] {
    if (raw_raise_effective_caps() < 0 || raw_setresuid(saved.uid, saved.uid, saved.uid) < 0 ||
        raw_setresgid(saved.gid, saved.gid, saved.gid) < 0 || raw_setgroups(saved.groups) < 0 ||
        ::prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0) {
      spdlog::critical("could not restore the daemon's credentials on a daemon thread");
      std::abort();  // a thread left with a client's identity must not go on
    }
  };
  // Order: groups and gids while still root, uids last.
  if (raw_setgroups(peer.groups) < 0 || raw_setresgid(peer.gid, peer.gid, peer.gid) < 0 ||
      raw_setresuid(peer.uid, peer.uid, peer.uid) < 0 ||
      // uid 0 keeps root's capabilities across the switch: only the peer's stay.
      (peer.uid == 0 && raw_set_effective_caps(peer.cap_effective) < 0)) {
    const int err = -errno;
    restore();
    return err;
  }
  const int result = fn();
  restore();
  return result;
}

}  // namespace aiod::daemon
