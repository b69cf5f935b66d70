// SPDX-License-Identifier: MIT
// op_prepare_io.cpp — validation of descriptor-based data ops: read, write,
// vectored IO, fsync, splice and the file-range ops.
#include <fcntl.h>
#include <linux/time_types.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "prepare/handle_table.hpp"
#include "prepare/op_prepare_util.hpp"

namespace aiod::daemon::prep {
namespace {

// Read or Write: a buffer in the arena; READ_TTY uses the file position.
template <class Op>
int prepare_rw(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec, bool offset) {
  std::byte* buf = arena_ptr(ctx, s.addr, s.len);
  if (buf == nullptr) return -EFAULT;
  const int fd = acquire(ctx, rec, s.handle);
  if (fd < 0) return fd;
  rec.expected = s.len;
  // AIOD_OFFSET_CURRENT is op::kCurrentPosition (io_uring's -1) as well.
  rec.op.args = Op{.fd = fd, .buf = buf, .len = s.len, .offset = offset ? s.off : op::kCurrentPosition};
  if constexpr (std::is_same_v<Op, op::Read>) {
    // Only at an offset: at the file position the kernel takes the
    // description's position lock first, which RWF_NOWAIT does not cover.
    if (offset && s.off != op::kCurrentPosition && ctx.handles->may_read_at_once(s.handle)) {
      auto& read = rec.op.as<op::Read>();
      read.try_at_once = true;
      read.at_once_refused = &rec.at_once_refused;
    }
  }
  return 0;
}

// Copies an aiod_iovec array out of the arena and turns each entry into an
// iovec into the arena, checking every range.
template <class Op>
int prepare_vectored(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  if (s.len == 0 || s.len > AIOD_IOV_MAX) return -EINVAL;
  if (const int err = copy_iovecs(ctx, s.addr, s.len, rec); err < 0) return err;
  const int fd = acquire(ctx, rec, s.handle);
  if (fd < 0) return fd;
  rec.op.args = Op{.fd = fd, .iov = rec.iov.data(), .count = s.len, .offset = s.off};
  return 0;
}

}  // namespace

int prepare_io(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  switch (s.opcode) {
    case AIOD_OP_READ:
      return prepare_rw<op::Read>(s, ctx, rec, true);
    case AIOD_OP_WRITE:
      return prepare_rw<op::Write>(s, ctx, rec, true);
    case AIOD_OP_READ_TTY:
      return prepare_rw<op::Read>(s, ctx, rec, false);
    case AIOD_OP_READV:
      return prepare_vectored<op::Readv>(s, ctx, rec);
    case AIOD_OP_WRITEV:
      return prepare_vectored<op::Writev>(s, ctx, rec);
    case AIOD_OP_FSYNC: {
      if ((s.op_flags & ~AIOD_FSYNC_DATASYNC) != 0) return -EINVAL;
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      rec.op.args = op::Fsync{.fd = fd, .datasync = (s.op_flags & AIOD_FSYNC_DATASYNC) != 0};
      return 0;
    }
    case AIOD_OP_SPLICE: {
      constexpr std::uint32_t kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;
      if ((s.op_flags & ~kFlags) != 0) return -EINVAL;
      const int in = acquire(ctx, rec, s.handle);
      if (in < 0) return in;
      const int out = acquire(ctx, rec, s.mode);
      if (out < 0) return out;
      rec.op.args = op::Splice{
          .in = in, .in_offset = s.off, .out = out, .out_offset = s.addr2, .len = s.len, .flags = s.op_flags};
      return 0;
    }
    case AIOD_OP_FALLOCATE: {
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      rec.op.args = op::Fallocate{.fd = fd, .mode = static_cast<int>(s.op_flags), .offset = s.off, .length = s.addr2};
      return 0;
    }
    case AIOD_OP_FADVISE: {
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      rec.op.args = op::Fadvise{.fd = fd, .offset = s.off, .len = s.len, .advice = static_cast<int>(s.op_flags)};
      return 0;
    }
    case AIOD_OP_FTRUNCATE: {
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      rec.op.args = op::Ftruncate{.fd = fd, .length = s.off};
      return 0;
    }
    case AIOD_OP_SYNC_FILE_RANGE: {
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      rec.op.args = op::SyncFileRange{.fd = fd, .offset = s.off, .len = s.len, .flags = s.op_flags};
      return 0;
    }
    default:
      return -EINVAL;
  }
}

}  // namespace aiod::daemon::prep
