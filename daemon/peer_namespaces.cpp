#include "peer_namespaces.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

namespace aiod::daemon {
namespace {

bool same_file(int a, int b) {
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int open_ns(const std::string& dir, const char* name, UniqueFd& out) {
  out.reset(::open((dir + name).c_str(), O_RDONLY | O_CLOEXEC));
  return out ? 0 : -errno;
}

}  // namespace

int read_peer_namespaces(const PeerCreds& peer, PeerNamespaces& out, std::string& why) {
  UniqueFd opened;
  int pidfd = peer.pidfd.get();
  if (pidfd < 0) {
    opened.reset(static_cast<int>(::syscall(SYS_pidfd_open, peer.pid, 0)));
    if (!opened) {
      const int err = errno;
      why = "cannot identify the client process (pid " + std::to_string(peer.pid) + "): " + std::strerror(err);
      return -err;
    }
    pidfd = opened.get();
  }
  const std::string dir = "/proc/" + std::to_string(peer.pid) + "/ns/";
  UniqueFd net, mnt, own_net, own_mnt;
  if (open_ns(dir, "net", net) < 0 || open_ns(dir, "mnt", mnt) < 0) {
    const int err = errno;
    why = std::string("cannot read the client's namespaces: ") + std::strerror(err);
    return -err;
  }
  // Still the same process: its pid was not reused between the pidfd and the reads.
  if (::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) < 0) {
    const int err = errno;
    why = "the client process is gone";
    return -err;
  }
  if (open_ns("/proc/thread-self/ns/", "net", own_net) < 0 || open_ns("/proc/thread-self/ns/", "mnt", own_mnt) < 0) {
    const int err = errno;
    why = std::string("cannot read the daemon's own namespaces: ") + std::strerror(err);
    return -err;
  }
  out.foreign_mount = !same_file(mnt.get(), own_mnt.get());
  if (!same_file(net.get(), own_net.get())) out.netns = std::move(net);
  return 0;
}

bool is_daemon_root(int fd) {
  struct statx mine {}, theirs {};
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
