// SPDX-License-Identifier: MIT
// confined_path.hpp — the path operations of a client, resolved as the client
// would resolve them and never through the daemon itself.
//
// A client's paths are resolved on the daemon's threads. There /proc/self,
// /proc/thread-self and /proc/<aiod's pid> are the daemon, and procfs's
// ptrace-style checks pass for them whatever the thread's credentials, because
// the caller is in the daemon's own thread group: a path through them would
// reach the daemon's descriptors (other sessions' memory among them) and its
// memory. So every path a client names is resolved here under three rules:
//  - magic links (/proc/*/fd/*, cwd, root, exe, map_files, ns/*, and so
//    /dev/fd/*) are never followed (RESOLVE_NO_MAGICLINKS);
//  - nothing on procfs is opened, examined or acted on (-EACCES): procfs
//    answers according to the process that asks, which would be the daemon;
//  - an op that creates, removes or renames acts on its last component
//    relative to its parent directory, itself resolved under these rules, so
//    no part of any path is walked by the kernel without them.
// AF_UNIX socket paths follow the same rules; the socket is then reached
// through the daemon's own descriptor of the resolved file (connect, sendmsg)
// or created by name inside the resolved directory (bind).
//
// Every function runs on a posix worker thread (it may block on the
// filesystem), already under the client's identity, and returns >= 0 or
// -errno, like the system call it stands for. `resolve` holds RESOLVE_* flags
// added to every walk: RESOLVE_IN_ROOT for a client whose root is not the
// daemon's (the walk then treats its starting directory as the root).
#pragma once

#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

struct statx;

namespace aiod::daemon::posix {

// Whether this process may call openat2(2), on which every rule above rests:
// 0, or -errno with `why` saying what blocks it. A seccomp filter can forbid
// it (systemd's RestrictSUIDSGID= does, since it cannot inspect the mode
// inside open_how); the daemon then refuses to start, for it could serve no
// path operation.
int check_openat2(std::string& why);

// openat2(dirfd, path, how) under the rules above (RESOLVE_NO_MAGICLINKS is
// added to how.resolve). Returns the new descriptor.
int confined_open(int dirfd, const char* path, open_how how);

int confined_unlink(int dirfd, const char* path, int flags, std::uint64_t resolve);
int confined_mkdir(int dirfd, const char* path, mode_t mode, std::uint64_t resolve);
int confined_rename(int old_dirfd, const char* old_path, int new_dirfd, const char* new_path, unsigned flags,
                    std::uint64_t resolve);
int confined_symlink(const char* target, int dirfd, const char* link_path, std::uint64_t resolve);
int confined_statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* out, std::uint64_t resolve);

// Whether `addr` is an AF_UNIX address with a path (not abstract, not unnamed).
[[nodiscard]] bool is_unix_path(const void* addr, socklen_t len);

// connect / bind / sendmsg whose address is an AF_UNIX path (is_unix_path),
// walked from `dirfd` (the client's root; -1: the daemon's, which is then the
// client's too).
// bind creates the socket file with mode 0777 & ~umask, as the client's own
// bind would, by setting the calling worker's own umask for the call (workers
// do not share their filesystem context). The daemon's notify socket is
// refused (protected_sockets.hpp).
int confined_unix_connect(int sock, const void* addr, socklen_t len, int dirfd, std::uint64_t resolve);
int confined_unix_bind(int sock, const void* addr, socklen_t len, mode_t umask, int dirfd, std::uint64_t resolve);
int confined_unix_sendmsg(int sock, const msghdr& msg, int flags, int dirfd, std::uint64_t resolve);

}  // namespace aiod::daemon::posix
