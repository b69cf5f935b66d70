#include "op_prepare.hpp"

#include <fcntl.h>
#include <linux/limits.h>
#include <liburing/io_uring.h>

#include <cerrno>
#include <cstring>

#include "backend/backend.hpp"
#include "handle_table.hpp"

namespace aiod::daemon {
namespace {

// The generic descriptor fields an opcode uses; every other one must be zero,
// so that a later protocol version can give them meaning safely.
enum Field : unsigned {
  kHandle = 1u << 0,
  kOff = 1u << 1,
  kAddr = 1u << 2,
  kLen = 1u << 3,
  kOpFlags = 1u << 4,
  kAddr2 = 1u << 5,
  kLen2 = 1u << 6,
  kMode = 1u << 7,
};

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

// Copies a path out of the arena into the record (the kernel reads it later;
// the client could change the shared copy meanwhile).
int copy_path(const PrepareContext& ctx, std::uint64_t off, std::uint32_t len, std::string& out) {
  if (len == 0) return -ENOENT;
  if (len >= PATH_MAX) return -ENAMETOOLONG;
  const std::byte* p = arena_ptr(ctx, off, len);
  if (p == nullptr) return -EFAULT;
  out.assign(reinterpret_cast<const char*>(p), len);
  if (out.find('\0') != std::string::npos) return -EINVAL;
  return 0;
}

int prepare_rw(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec, BackendOpcode op) {
  if (!unused_fields_zero(s, kHandle | kOff | kAddr | kLen)) return -EINVAL;
  std::byte* buf = arena_ptr(ctx, s.addr, s.len);
  if (buf == nullptr) return -EFAULT;
  const int fd = ctx.handles->acquire(s.handle);
  if (fd < 0) return fd;
  rec.handle = s.handle;
  rec.op.opcode = op;
  rec.op.fd = fd;
  rec.op.addr = buf;
  rec.op.len = s.len;
  rec.op.offset = s.off;  // AIOD_OFFSET_CURRENT is io_uring's -1 as well
  return 0;
}

int prepare_open_at(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  if (!unused_fields_zero(s, kHandle | kAddr | kLen | kOpFlags | kMode)) return -EINVAL;
  if (const int err = copy_path(ctx, s.addr, s.len, rec.path); err < 0) return err;
  const std::uint32_t flags = s.op_flags;
  const bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
  if (!creates && s.mode != 0) return -EINVAL;
  rec.how = {};
  // O_CLOEXEC: the daemon's descriptors never leak into a child. O_NOCTTY: a
  // terminal a client opens must not become the daemon's controlling terminal.
  rec.how.flags = flags | O_CLOEXEC | O_NOCTTY;
  rec.how.mode = creates ? (s.mode & 07777 & ~ctx.umask) : 0;
  int dirfd;
  if (rec.path.front() == '/') {
    // Absolute paths resolve inside the client's root, whatever the daemon's is.
    dirfd = ctx.root_fd;
    rec.how.resolve = RESOLVE_IN_ROOT;
  } else if (s.handle == AIOD_HANDLE_CWD) {
    dirfd = ctx.cwd_fd;
  } else {
    dirfd = ctx.handles->acquire(s.handle);
    if (dirfd < 0) return dirfd;
    rec.handle = s.handle;
  }
  rec.op.opcode = BackendOpcode::openat2;
  rec.op.fd = dirfd;
  rec.op.path = rec.path.c_str();
  rec.op.how = &rec.how;
  rec.finish = Finish::new_handle;
  return 0;
}

}  // namespace

int prepare_record(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  rec.user_data = s.user_data;
  rec.opcode = s.opcode;
  rec.handle = 0;
  rec.finish = Finish::plain;
  rec.op = BackendOp{};
  rec.op.personality = ctx.personality;

  if ((s.flags & ~AIOD_SQE_VALID_FLAGS) != 0 || s.reserved0 != 0 || s.reserved1 != 0) return -EINVAL;
  if ((s.flags & AIOD_SQE_LINK) && (s.flags & AIOD_SQE_HARDLINK)) return -EINVAL;
  rec.link = (s.flags & AIOD_SQE_LINK) ? Link::soft : (s.flags & AIOD_SQE_HARDLINK) ? Link::hard : Link::none;

  int err;
  switch (s.opcode) {
    case AIOD_OP_NOP:
      if (!unused_fields_zero(s, 0)) return -EINVAL;
      rec.op.opcode = BackendOpcode::nop;
      err = 0;
      break;
    case AIOD_OP_READ:
      err = prepare_rw(s, ctx, rec, BackendOpcode::read);
      break;
    case AIOD_OP_WRITE:
      err = prepare_rw(s, ctx, rec, BackendOpcode::write);
      break;
    case AIOD_OP_FSYNC: {
      if (!unused_fields_zero(s, kHandle | kOpFlags)) return -EINVAL;
      if ((s.op_flags & ~AIOD_FSYNC_DATASYNC) != 0) return -EINVAL;
      const int fd = ctx.handles->acquire(s.handle);
      if (fd < 0) return fd;
      rec.handle = s.handle;
      rec.op.opcode = BackendOpcode::fsync;
      rec.op.fd = fd;
      rec.op.op_flags = (s.op_flags & AIOD_FSYNC_DATASYNC) ? IORING_FSYNC_DATASYNC : 0;
      err = 0;
      break;
    }
    case AIOD_OP_TIMEOUT:
      if (!unused_fields_zero(s, kOff)) return -EINVAL;
      rec.ts.tv_sec = static_cast<std::int64_t>(s.off / 1'000'000'000u);
      rec.ts.tv_nsec = static_cast<long long>(s.off % 1'000'000'000u);
      rec.op.opcode = BackendOpcode::timeout;
      rec.op.ts = &rec.ts;
      rec.finish = Finish::timer;
      err = 0;
      break;
    case AIOD_OP_OPEN_AT:
      err = prepare_open_at(s, ctx, rec);
      break;
    case AIOD_OP_CLOSE_FILE: {
      if (!unused_fields_zero(s, kHandle)) return -EINVAL;
      // The reference keeps the descriptor open until the close happens, when
      // the placeholder completes (after the ops it is linked behind).
      const int fd = ctx.handles->acquire(s.handle);
      if (fd < 0) return fd;
      rec.handle = s.handle;
      rec.op.opcode = BackendOpcode::nop;
      rec.finish = Finish::close_handle;
      err = 0;
      break;
    }
    default:
      return s.opcode < AIOD_OP_LAST ? -EOPNOTSUPP : -EINVAL;
  }
  if (err == 0 && !ctx.backend->supports(rec.op.opcode)) err = -EOPNOTSUPP;
  if (err < 0 && rec.handle != 0) {
    ctx.handles->release(rec.handle);
    rec.handle = 0;
  }
  return err;
}

}  // namespace aiod::daemon
