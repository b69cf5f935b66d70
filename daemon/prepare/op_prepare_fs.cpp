// SPDX-License-Identifier: MIT
// op_prepare_fs.cpp — validation of path-based ops. Paths are copied out of
// the arena; they resolve as the client's would: relative ones against the
// client's cwd (or a directory handle), absolute ones inside the client's root.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>

#include <cerrno>

#include "prepare/op_prepare_util.hpp"

namespace aiod::daemon::prep {
namespace {

constexpr std::uint64_t kResolveFlags = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |
                                        RESOLVE_BENEATH | RESOLVE_IN_ROOT
#ifdef RESOLVE_CACHED
                                        | RESOLVE_CACHED
#endif
    ;

int prepare_open(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec, std::uint64_t resolve) {
  if (const int err = copy_path(ctx, s.addr, s.len, rec.path); err < 0) return err;
  if ((resolve & ~kResolveFlags) != 0) return -EINVAL;
  const std::uint32_t flags = s.op_flags;
  const bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
  if (!creates && s.mode != 0) return -EINVAL;
  rec.how = {};
  // O_CLOEXEC: the daemon's descriptors never leak into a child. O_NOCTTY: a
  // terminal a client opens must not become the daemon's controlling terminal
  // (O_PATH opens nothing, and openat2 refuses O_PATH with other flags).
  rec.how.flags = flags | O_CLOEXEC | ((flags & O_PATH) ? 0u : static_cast<std::uint32_t>(O_NOCTTY));
  rec.how.mode = creates ? (s.mode & 07777 & ~ctx.umask) : 0;
  rec.how.resolve = resolve;
  int dirfd;
  if (rec.path.front() == '/' && (resolve & RESOLVE_BENEATH)) {
    return -EXDEV;  // what openat2 says of an absolute path it may not leave the directory for
  }
  if (rec.path.front() == '/') {
    // Absolute paths resolve inside the client's root, whatever the daemon's is.
    dirfd = ctx.root_fd;
    rec.how.resolve |= RESOLVE_IN_ROOT;
  } else if (s.handle == AIOD_HANDLE_CWD) {
    dirfd = ctx.cwd_fd;
    // In a foreign root, ".." and absolute symlinks must not leave the
    // client's view: confine the walk to the starting directory.
    if (ctx.foreign_root) rec.how.resolve |= RESOLVE_IN_ROOT;
  } else {
    dirfd = acquire(ctx, rec, s.handle);
    if (dirfd < 0) return dirfd;
    if (ctx.foreign_root) rec.how.resolve |= RESOLVE_IN_ROOT;
  }
  rec.op.args = op::Openat2{.dir = dirfd, .path = rec.path.c_str(), .how = &rec.how};
  rec.finish = Finish::new_handle;
  return 0;
}

}  // namespace

int prepare_fs(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  switch (s.opcode) {
    case AIOD_OP_OPEN_AT:
      return prepare_open(s, ctx, rec, 0);
    case AIOD_OP_OPENAT2:
      return prepare_open(s, ctx, rec, s.off);
    case AIOD_OP_RENAME_AT: {
      if (s.off > 0xffffffffu) return -EBADF;
      if ((s.op_flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) != 0) return -EINVAL;
      if (int err = copy_path(ctx, s.addr, s.len, rec.path); err < 0) return err;
      if (int err = copy_path(ctx, s.addr2, s.len2, rec.path2); err < 0) return err;
      const int old_dir = path_dir(ctx, rec, s.handle, rec.path);
      if (old_dir < 0) return old_dir;
      const int new_dir = path_dir(ctx, rec, static_cast<std::uint32_t>(s.off), rec.path2);
      if (new_dir < 0) return new_dir;
      rec.op.args = op::Renameat{.old_dir = old_dir,
                                 .old_path = rec.path.c_str(),
                                 .new_dir = new_dir,
                                 .new_path = rec.path2.c_str(),
                                 .flags = s.op_flags};
      return 0;
    }
    case AIOD_OP_UNLINK_AT: {
      if ((s.op_flags & ~static_cast<std::uint32_t>(AT_REMOVEDIR)) != 0) return -EINVAL;
      if (int err = copy_path(ctx, s.addr, s.len, rec.path); err < 0) return err;
      const int dir = path_dir(ctx, rec, s.handle, rec.path);
      if (dir < 0) return dir;
      rec.op.args = op::Unlinkat{.dir = dir, .path = rec.path.c_str(), .flags = static_cast<int>(s.op_flags)};
      return 0;
    }
    case AIOD_OP_MKDIR_AT: {
      if (int err = copy_path(ctx, s.addr, s.len, rec.path); err < 0) return err;
      const int dir = path_dir(ctx, rec, s.handle, rec.path);
      if (dir < 0) return dir;
      rec.op.args = op::Mkdirat{.dir = dir, .path = rec.path.c_str(), .mode = s.mode & 07777 & ~ctx.umask};
      return 0;
    }
    case AIOD_OP_SYMLINK_AT: {
      // The target is stored as it is, never resolved by this op.
      if (int err = copy_path(ctx, s.addr, s.len, rec.path); err < 0) return err;
      if (int err = copy_path(ctx, s.addr2, s.len2, rec.path2); err < 0) return err;
      const int dir = path_dir(ctx, rec, s.handle, rec.path2);
      if (dir < 0) return dir;
      rec.op.args = op::Symlinkat{.target = rec.path.c_str(), .dir = dir, .link_path = rec.path2.c_str()};
      return 0;
    }
    case AIOD_OP_STATX: {
      constexpr std::uint32_t kAtFlags =
          AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_SYMLINK_NOFOLLOW | AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC;
      if ((s.op_flags & ~kAtFlags) != 0) return -EINVAL;
      if (s.len2 < sizeof(struct statx)) return -EINVAL;
      std::byte* out = arena_ptr(ctx, s.addr2, sizeof(struct statx));
      if (out == nullptr) return -EFAULT;
      const bool empty_ok = (s.op_flags & AT_EMPTY_PATH) != 0;
      if (int err = copy_path(ctx, s.addr, s.len, rec.path, empty_ok); err < 0) return err;
      // An empty path: statx of the directory handle itself (or of the cwd).
      const int dir = path_dir(ctx, rec, s.handle, rec.path);
      if (dir < 0) return dir;
      rec.op.args = op::Statx{.dir = dir,
                              .path = rec.path.c_str(),
                              .flags = static_cast<int>(s.op_flags),
                              .mask = s.mode,
                              .out = reinterpret_cast<struct statx*>(out)};
      return 0;
    }
    default:
      return -EINVAL;
  }
}

}  // namespace aiod::daemon::prep
