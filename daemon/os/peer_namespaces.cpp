// SPDX-License-Identifier: MIT
#include "os/peer_namespaces.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif

namespace aiod::daemon {
namespace {

// The daemon's own network namespace file, for comparisons.
bool is_own_netns(int nsfd) {
  struct stat mine {
  }, theirs{};
  return ::stat("/proc/thread-self/ns/net", &mine) == 0 && ::fstat(nsfd, &theirs) == 0 &&
         mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

// 0/1: whether `sock` is in the daemon's network namespace by cookie;
// -errno when the kernel has no cookies.
int same_netns_by_cookie(int sock) {
  std::uint64_t theirs = 0, mine = 0;
  socklen_t len = sizeof(theirs);
  if (::getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, &theirs, &len) < 0) return -errno;
  const UniqueFd own(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  len = sizeof(mine);
  if (!own || ::getsockopt(own.get(), SOL_SOCKET, SO_NETNS_COOKIE, &mine, &len) < 0) return -errno;
  return theirs == mine ? 1 : 0;
}

// The peer's namespace through /proc, checked against its pidfd.
int open_netns_by_pid(const PeerCreds& peer, UniqueFd& out) {
  if (!peer.pidfd) return -ESRCH;
  out.reset(::open(("/proc/" + std::to_string(peer.pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!out) return -errno;
  if (::syscall(SYS_pidfd_send_signal, peer.pidfd.get(), 0, nullptr, 0) < 0) {
    out.reset();
    return -ESRCH;
  }
  return 0;
}

}  // namespace

int peer_in_daemon_pidns(const PeerCreds& peer) {
  if (!peer.pidfd || peer.pid <= 0) return -ESRCH;
  struct stat theirs {}, mine {};
  if (::stat(("/proc/" + std::to_string(peer.pid) + "/ns/pid").c_str(), &theirs) < 0) return -errno;
  if (::stat("/proc/self/ns/pid", &mine) < 0) return -errno;
  if (::syscall(SYS_pidfd_send_signal, peer.pidfd.get(), 0, nullptr, 0) < 0) return -ESRCH;
  return theirs.st_dev == mine.st_dev && theirs.st_ino == mine.st_ino ? 1 : 0;
}

int read_peer_netns(int sock, const PeerCreds& peer, bool& foreign, UniqueFd& netns, std::string& why) {
  foreign = false;
  netns.reset(::ioctl(sock, SIOCGSKNS));
  if (!netns) {
    const int by_cookie = same_netns_by_cookie(sock);
    if (by_cookie == 1) return 0;
    if (open_netns_by_pid(peer, netns) < 0) {
      why = by_cookie == 0 ? "the client is in another network namespace, which this aiod cannot open"
                           : "cannot tell the client's network namespace (no SIOCGSKNS, SO_NETNS_COOKIE or "
                             "/proc access here)";
      return by_cookie == 0 ? -EPERM : -EOPNOTSUPP;
    }
  }
  if (is_own_netns(netns.get())) {
    netns.reset();
    return 0;
  }
  foreign = true;
  return 0;
}

bool is_daemon_root(int fd) {
  struct statx mine {
  }, theirs{};
  // AT_STATX_DONT_SYNC: cached answers only (this runs on a shard thread; the
  // client's root may be on a hung NFS server or a hostile FUSE daemon).
  if (::statx(AT_FDCWD, "/", AT_STATX_DONT_SYNC, STATX_MNT_ID | STATX_INO, &mine) < 0 ||
      ::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID | STATX_INO, &theirs) < 0) {
    return false;
  }
  // Without a mount id (before 5.8) the device and inode must do.
  const bool mount_known = (mine.stx_mask & theirs.stx_mask & STATX_MNT_ID) != 0;
  return (!mount_known || mine.stx_mnt_id == theirs.stx_mnt_id) && mine.stx_dev_major == theirs.stx_dev_major &&
         mine.stx_dev_minor == theirs.stx_dev_minor && mine.stx_ino == theirs.stx_ino;
}

}  // namespace aiod::daemon
