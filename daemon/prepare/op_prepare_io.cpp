// op_prepare_io.cpp — validation of descriptor-based data ops: read, write,
// vectored IO, fsync, splice and the file-range ops.
#include <fcntl.h>
#include <linux/time_types.h>
#include <liburing/io_uring.h>

#include <cerrno>
#include <cstring>

#include "prepare/op_prepare_util.hpp"

namespace aiod::daemon::prep {
namespace {

int prepare_rw(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec, BackendOpcode op, bool offset) {
  if (!unused_fields_zero(s, kHandle | kAddr | kLen | (offset ? kOff : 0u))) return -EINVAL;
  std::byte* buf = arena_ptr(ctx, s.addr, s.len);
  if (buf == nullptr) return -EFAULT;
  const int fd = acquire(ctx, rec, s.handle);
  if (fd < 0) return fd;
  rec.op.opcode = op;
  rec.op.fd = fd;
  rec.op.addr = buf;
  rec.op.len = s.len;
  rec.expected = s.len;
  // AIOD_OFFSET_CURRENT is io_uring's -1 ("the file position") as well.
  rec.op.offset = offset ? s.off : AIOD_OFFSET_CURRENT;
  return 0;
}

// Copies an aiod_iovec array out of the arena and turns each entry into an
// iovec into the arena, checking every range.
int prepare_vectored(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec, BackendOpcode op) {
  if (!unused_fields_zero(s, kHandle | kOff | kAddr | kLen)) return -EINVAL;
  if (s.len == 0 || s.len > AIOD_IOV_MAX) return -EINVAL;
  if (const int err = copy_iovecs(ctx, s.addr, s.len, rec); err < 0) return err;
  const int fd = acquire(ctx, rec, s.handle);
  if (fd < 0) return fd;
  rec.op.opcode = op;
  rec.op.fd = fd;
  rec.op.addr = rec.iov.data();
  rec.op.len = s.len;
  rec.op.offset = s.off;
  return 0;
}

int prepare_handle_only(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec, unsigned used,
                        BackendOpcode op) {
  if (!unused_fields_zero(s, kHandle | used)) return -EINVAL;
  const int fd = acquire(ctx, rec, s.handle);
  if (fd < 0) return fd;
  rec.op.opcode = op;
  rec.op.fd = fd;
  rec.op.offset = s.off;
  rec.op.len = s.len;
  rec.op.op_flags = s.op_flags;
  return 0;
}

}  // namespace

int prepare_io(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  switch (s.opcode) {
    case AIOD_OP_READ:
      return prepare_rw(s, ctx, rec, BackendOpcode::read, true);
    case AIOD_OP_WRITE:
      return prepare_rw(s, ctx, rec, BackendOpcode::write, true);
    case AIOD_OP_READ_TTY:
      return prepare_rw(s, ctx, rec, BackendOpcode::read, false);
    case AIOD_OP_READV:
      return prepare_vectored(s, ctx, rec, BackendOpcode::readv);
    case AIOD_OP_WRITEV:
      return prepare_vectored(s, ctx, rec, BackendOpcode::writev);
    case AIOD_OP_FSYNC: {
      if ((s.op_flags & ~AIOD_FSYNC_DATASYNC) != 0) return -EINVAL;
      const int err = prepare_handle_only(s, ctx, rec, kOpFlags, BackendOpcode::fsync);
      rec.op.op_flags = (s.op_flags & AIOD_FSYNC_DATASYNC) ? IORING_FSYNC_DATASYNC : 0;
      return err;
    }
    case AIOD_OP_SPLICE: {
      if (!unused_fields_zero(s, kHandle | kOff | kLen | kOpFlags | kAddr2 | kMode)) return -EINVAL;
      constexpr std::uint32_t kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;
      if ((s.op_flags & ~kFlags) != 0) return -EINVAL;
      const int in = acquire(ctx, rec, s.handle);
      if (in < 0) return in;
      const int out = acquire(ctx, rec, s.mode);
      if (out < 0) return out;
      rec.op.opcode = BackendOpcode::splice;
      rec.op.fd2 = in;
      rec.op.offset2 = s.off;
      rec.op.fd = out;
      rec.op.offset = s.addr2;
      rec.op.len = s.len;
      rec.op.op_flags = s.op_flags;
      return 0;
    }
    case AIOD_OP_FALLOCATE: {
      const int err = prepare_handle_only(s, ctx, rec, kOff | kOpFlags | kAddr2, BackendOpcode::fallocate);
      rec.op.offset2 = s.addr2;
      return err;
    }
    case AIOD_OP_FADVISE:
      return prepare_handle_only(s, ctx, rec, kOff | kLen | kOpFlags, BackendOpcode::fadvise);
    case AIOD_OP_FTRUNCATE:
      return prepare_handle_only(s, ctx, rec, kOff, BackendOpcode::ftruncate);
    case AIOD_OP_SYNC_FILE_RANGE:
      return prepare_handle_only(s, ctx, rec, kOff | kLen | kOpFlags, BackendOpcode::sync_file_range);
    default:
      return -EINVAL;
  }
}

}  // namespace aiod::daemon::prep
