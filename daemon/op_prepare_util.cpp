#include "op_prepare_util.hpp"

#include <fcntl.h>
#include <linux/limits.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "handle_table.hpp"
#include "protected_sockets.hpp"

namespace aiod::daemon::prep {

bool unused_fields_zero(const aiod_sqe& s, unsigned used) {
  return ((used & kHandle) || s.handle == 0) && ((used & kOff) || s.off == 0) &&
         ((used & kAddr) || s.addr == 0) && ((used & kLen) || s.len == 0) &&
         ((used & kOpFlags) || s.op_flags == 0) && ((used & kAddr2) || s.addr2 == 0) &&
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
  if (rec.handle == 0) {
    rec.handle = handle;
  } else {
    rec.handle2 = handle;
  }
  return fd;
}

int path_dir(const PrepareContext& ctx, OpRecord& rec, std::uint32_t handle) {
  // The kernel resolves absolute paths from the daemon's root, and nothing
  // confines "..": for a client in another root that would be an escape.
  if (ctx.foreign_root) return -EXDEV;
  if (handle == AIOD_HANDLE_CWD) return ctx.cwd_fd;
  return acquire(ctx, rec, handle);
}

int fix_unix_address(const PrepareContext& ctx, sockaddr_storage& addr, socklen_t& len) {
  if (addr.ss_family != AF_UNIX) return 0;
  auto& un = reinterpret_cast<sockaddr_un&>(addr);
  const std::size_t path_room = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
  if (path_room == 0) return 0;  // unnamed
  if (un.sun_path[0] == '\0') {
    const std::string_view name(un.sun_path + 1, std::min(path_room, sizeof(un.sun_path)) - 1);
    return is_protected_abstract(name) ? -EACCES : 0;
  }
  const std::string path(un.sun_path, strnlen(un.sun_path, std::min(path_room, sizeof(un.sun_path))));
  // The kernel resolves socket paths from the daemon's root and cwd. The root
  // is the client's too unless it is foreign; the cwd never is, and there is
  // no connectat(), so relative paths are refused (libaiod makes them absolute).
  if (ctx.foreign_root) return -EXDEV;
  return path.front() == '/' ? 0 : -EINVAL;
}

}  // namespace aiod::daemon::prep
