// SPDX-License-Identifier: MIT
#include "prepare/op_prepare_util.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/limits.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "prepare/handle_table.hpp"
#include "os/protected_sockets.hpp"
#include "unix_address.hpp"

namespace aiod::daemon::prep {

bool unused_fields_zero(const aiod_sqe& s, unsigned used) {
  return ((used & kHandle) || s.handle == 0) && ((used & kOff) || s.off == 0) && ((used & kAddr) || s.addr == 0) &&
         ((used & kLen) || s.len == 0) && ((used & kOpFlags) || s.op_flags == 0) && ((used & kAddr2) || s.addr2 == 0) &&
         ((used & kLen2) || s.len2 == 0) && ((used & kMode) || s.mode == 0);
}

std::byte* arena_ptr(const PrepareContext& ctx, std::uint64_t off, std::uint64_t len) {
  if (!arena_range_ok(off, len, ctx.arena.size())) return nullptr;
  return ctx.arena.data() + off;
}

int copy_path(const PrepareContext& ctx, std::uint64_t off, std::uint32_t len, std::string& out, bool allow_empty) {
  out.clear();
  if (len == 0) return allow_empty ? 0 : -ENOENT;
  if (len >= PATH_MAX) return -ENAMETOOLONG;
  const std::byte* p = arena_ptr(ctx, off, len);
  if (p == nullptr) return -EFAULT;
  out.assign(reinterpret_cast<const char*>(p), len);
  if (out.find('\0') != std::string::npos) return -EINVAL;
  return 0;
}

int copy_iovecs(const PrepareContext& ctx, std::uint64_t table, std::uint32_t count, OpRecord& rec) {
  const std::byte* entries = arena_ptr(ctx, table, std::uint64_t{count} * sizeof(aiod_iovec));
  if (entries == nullptr) return -EFAULT;
  rec.iov.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    aiod_iovec v;
    std::memcpy(&v, entries + i * sizeof(aiod_iovec), sizeof(v));  // the one read of each entry
    std::byte* p = arena_ptr(ctx, v.offset, v.len);
    if (p == nullptr) return -EFAULT;
    rec.iov[i] = {p, static_cast<std::size_t>(v.len)};
    rec.expected += v.len;
  }
  return 0;
}

int acquire(const PrepareContext& ctx, OpRecord& rec, std::uint32_t handle) {
  const int fd = ctx.handles->acquire(handle);
  if (fd < 0) return fd;
  // Whatever the op, on a pipe it never runs on the shard thread (its mutex).
  if (ctx.handles->is_pipe(handle)) rec.op.never_inline = true;
  if (rec.handle == 0) {
    rec.handle = handle;
  } else {
    rec.handle2 = handle;
  }
  return fd;
}

int path_dir(const PrepareContext& ctx, OpRecord& rec, std::uint32_t handle, const std::string& path) {
  // In a foreign root every walk is RESOLVE_IN_ROOT: absolute paths start at
  // the client's root, relative ones are confined to their starting directory.
  if (ctx.foreign_root) rec.op.resolve = RESOLVE_IN_ROOT;
  if (ctx.foreign_root && !path.empty() && path.front() == '/') return ctx.root_fd;
  if (handle == AIOD_HANDLE_CWD) return ctx.cwd_fd;
  return acquire(ctx, rec, handle);
}

int unix_root(const PrepareContext& ctx) { return ctx.foreign_root ? ctx.root_fd : -1; }

int fix_unix_address(const PrepareContext& ctx, OpRecord& rec, sockaddr_storage& addr, socklen_t& len) {
  if (addr.ss_family != AF_UNIX) return 0;
  auto& un = reinterpret_cast<sockaddr_un&>(addr);
  if (proto::unix_path_room(len) == 0) return 0;  // unnamed
  if (proto::unix_is_abstract(un, len)) return is_protected_abstract(proto::unix_abstract_name(un, len)) ? -EACCES : 0;
  const std::string path(proto::unix_path(un, len));
  // The backend walks socket paths from the client's root (-1: the daemon's,
  // which is the client's unless foreign). Nothing names the client's cwd
  // there, so relative paths are refused (libaiod makes them absolute).
  if (path.front() != '/') return -EINVAL;
  if (ctx.foreign_root) rec.op.resolve = RESOLVE_IN_ROOT;
  return 0;
}

}  // namespace aiod::daemon::prep
