// SPDX-License-Identifier: MIT
// op_prepare.cpp — descriptor validation: the checks every opcode shares, the
// dispatch by the op table's group, and the control ops (timers, cancel,
// polls, closes, event sources).
#include "prepare/op_prepare.hpp"

#include <poll.h>

#include <cerrno>

#include "backend/backend.hpp"
#include "prepare/handle_table.hpp"
#include "prepare/op_prepare_util.hpp"
#include "os/timespec.hpp"

namespace aiod::daemon {
namespace {
using namespace prep;

// The value every eventfd notification adds.
const std::uint64_t kEventIncrement = 1;

int prepare_control(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  switch (s.opcode) {
    case AIOD_OP_NOP:
      rec.op.set<op::Nop>();
      return 0;
    case AIOD_OP_TIMEOUT:
    case AIOD_OP_LINK_TIMEOUT:
      rec.ts = timespec_from_ns<__kernel_timespec>(s.off);
      if (s.opcode == AIOD_OP_TIMEOUT) {
        rec.op.args = op::Timeout{.ts = &rec.ts};
        rec.finish = Finish::timer;
      } else {
        rec.op.args = op::LinkTimeout{.ts = &rec.ts};
        rec.finish = Finish::link_timer;
      }
      return 0;
    case AIOD_OP_CANCEL:
      // The target is looked up by the session (Session::resolve_cancel).
      rec.value = s.off;
      rec.op.set<op::Cancel>();
      rec.finish = Finish::cancel;
      return 0;
    case AIOD_OP_POLL: {
      constexpr std::uint32_t kEvents = POLLIN | POLLPRI | POLLOUT | POLLRDHUP | POLLRDNORM | POLLRDBAND | POLLWRNORM |
                                        POLLWRBAND | POLLERR | POLLHUP;
      if ((s.op_flags & ~kEvents) != 0) return -EINVAL;
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      rec.op.args = op::PollAdd{.fd = fd, .events = s.op_flags};
      return 0;
    }
    case AIOD_OP_CLOSE_FILE:
    case AIOD_OP_CLOSE_DIR:
    case AIOD_OP_CLOSE_SOCKET:
    case AIOD_OP_CLOSE_EVENT_SOURCE: {
      // The reference keeps the descriptor open until the close happens, when
      // the placeholder completes (after the ops it is linked behind).
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      rec.op.set<op::Nop>();
      rec.finish = s.opcode == AIOD_OP_CLOSE_SOCKET ? Finish::close_socket : Finish::close_handle;
      return 0;
    }
    case AIOD_OP_NOTIFY_EVENT_SOURCE:
    case AIOD_OP_WAIT_EVENT_SOURCE: {
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      // An eventfd moves exactly 8 bytes; with EFD_SEMAPHORE a read takes one unit.
      rec.value = 0;
      if (s.opcode == AIOD_OP_NOTIFY_EVENT_SOURCE) {
        rec.op.args = op::Write{.fd = fd, .buf = &kEventIncrement, .len = sizeof(std::uint64_t)};
      } else {
        rec.op.args = op::Read{.fd = fd, .buf = &rec.value, .len = sizeof(std::uint64_t)};
      }
      rec.finish = Finish::eventfd_rw;
      return 0;
    }
    case AIOD_OP_CHILD_EXIT: {
      if ((s.op_flags & ~AIOD_CHILD_EXIT_CLOSE) != 0) return -EINVAL;
      const int fd = acquire(ctx, rec, s.handle);
      if (fd < 0) return fd;
      // A pidfd polls readable once its process has exited.
      rec.op.args = op::PollAdd{.fd = fd, .events = POLLIN};
      rec.close_after = (s.op_flags & AIOD_CHILD_EXIT_CLOSE) != 0;
      rec.finish = Finish::child_exit;
      return 0;
    }
    default:
      return -EINVAL;
  }
}

}  // namespace

int prepare_record(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec) {
  rec.user_data = s.user_data;
  rec.opcode = s.opcode;
  rec.op.personality = ctx.personality;
  rec.op.owner = ctx.owner;

  if ((s.flags & ~AIOD_SQE_VALID_FLAGS) != 0 || s.reserved0 != 0 || s.reserved1 != 0) return -EINVAL;
  if ((s.flags & AIOD_SQE_LINK) && (s.flags & AIOD_SQE_HARDLINK)) return -EINVAL;
  rec.link = (s.flags & AIOD_SQE_LINK) ? Link::soft : (s.flags & AIOD_SQE_HARDLINK) ? Link::hard : Link::none;
  const proto::OpInfo* info = proto::op_info(s.opcode);
  if (info == nullptr) return -EINVAL;
  // A field the opcode does not use must be 0, so that a later protocol
  // version can give it meaning safely.
  if (!unused_fields_zero(s, info->used())) return -EINVAL;

  int err;
  switch (info->group) {
    case proto::Group::data:
      err = prep::prepare_io(s, ctx, rec);
      break;
    case proto::Group::file:
      err = prep::prepare_fs(s, ctx, rec);
      break;
    case proto::Group::socket:
      err = prep::prepare_net(s, ctx, rec);
      break;
    case proto::Group::control:
    default:
      err = prepare_control(s, ctx, rec);
      break;
  }
  if (err == 0 && !ctx.backend->supports(rec.op.opcode())) err = -EOPNOTSUPP;
  if (err < 0) {
    // A refused descriptor holds nothing.
    if (rec.handle != 0) ctx.handles->release(rec.handle);
    if (rec.handle2 != 0) ctx.handles->release(rec.handle2);
    for (std::uint32_t h : rec.passed) ctx.handles->release(h);
    rec.handle = rec.handle2 = 0;
    rec.passed.clear();
  }
  return err;
}

}  // namespace aiod::daemon
