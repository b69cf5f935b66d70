// session_complete.cpp — the completion side: turning backend results into the
// client's completions, exactly one per consumed descriptor.
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "op_table.hpp"
#include "os/control_data.hpp"
#include "os/fd_policy.hpp"
#include "session/session.hpp"

namespace aiod::daemon {

void OpRecord::complete(int res) { session->on_record_complete(*this, res); }

OpRecord* Session::alloc_record() {
  // Never empty: the pump admits a chain only when in_flight_ + its length
  // fits max_in_flight_, the size of the pool.
  OpRecord* rec = free_records_;
  free_records_ = rec->next_free;
  rec->next_free = nullptr;
  rec->chain = nullptr;
  rec->chain_index = 0;
  rec->in_backend = false;
  rec->live = true;
  rec->handle = 0;
  rec->handle2 = 0;
  ++in_flight_;
  return rec;
}

void Session::free_record(OpRecord& rec) {
  rec.path.clear();
  rec.path2.clear();
  // Large control buffers go back to the allocator: a record must not pin
  // what one message needed.
  control_in_flight_ -= rec.control_charged;
  rec.control_charged = 0;
  if (rec.control.capacity() > kKeptControlBytes) std::vector<std::uint8_t>().swap(rec.control);
  rec.chain = nullptr;
  rec.live = false;
  rec.next_free = free_records_;
  free_records_ = &rec;
  --in_flight_;
}

void Session::release_record(OpRecord& rec) {
  if (rec.handle != 0) handles_.release(rec.handle);
  if (rec.handle2 != 0) handles_.release(rec.handle2);
  for (std::uint32_t h : rec.passed) handles_.release(h);
  rec.handle = rec.handle2 = 0;
  rec.passed.clear();
  free_record(rec);
}

int Session::finish_result(OpRecord& rec, int res) {
  switch (rec.finish) {
    case Finish::plain:
      break;
    case Finish::timer:
      if (res == -ETIME) res = 0;  // expiry is the timer's success
      break;
    case Finish::link_timer:
      // Cancelled: its op finished first, which is the link timeout's success.
      if (res == -ECANCELED) res = 0;
      break;
    case Finish::new_handle:
    case Finish::accept:
      if (res >= 0) {
        const std::int64_t h = handles_.insert(UniqueFd(res));
        res = static_cast<int>(h);  // a handle (< 2^31) or -EMFILE
        if (res >= 0 && rec.finish == Finish::accept && rec.out_offset != OpRecord::kNoOffset) write_peer_address(rec);
      }
      break;
    case Finish::close_socket:
      // This session's ops still pending on the handle end with -ECANCELED;
      // their references keep the descriptor open until they have.
      if (res >= 0) cancel_backend_ops_on(rec.handle);
      [[fallthrough]];
    case Finish::close_handle:
      if (res >= 0) res = handles_.close(rec.handle);
      break;
    case Finish::recv_msg:
      if (res >= 0) write_back_message(rec);
      break;
    case Finish::eventfd_rw:
      if (res == sizeof(std::uint64_t)) res = 0;
      break;
    case Finish::child_exit:
      // The close flag takes the handle only from a wait that succeeded: a
      // failed or cancelled one leaves it with the client, to wait again or
      // to close.
      if (res >= 0) {
        res = 0;
        if (rec.close_after) (void)handles_.close(rec.handle);
      }
      break;
    case Finish::cancel:
      if (rec.op.is<op::Nop>() && res >= 0) res = rec.preset;
      break;
  }
  if (res > 0) {
    switch (proto::op_info(rec.opcode)->bytes) {
      case proto::Bytes::in:
        counters.bytes_in.add(static_cast<std::uint64_t>(res));
        break;
      case proto::Bytes::out:
        counters.bytes_out.add(static_cast<std::uint64_t>(res));
        break;
      case proto::Bytes::none:
        break;
    }
  }
  return res;
}

// Cancelling by descriptor would reach further than this close may: io_uring
// matches IORING_ASYNC_CANCEL_FD by open file description, which another
// session (handed the same socket) or another handle of this one may share.
// So only the ops of this session that name this handle are cancelled, each
// by its own record.
void Session::cancel_backend_ops_on(std::uint32_t handle) {
  Backend& backend = host_.backend();
  for (OpRecord& r : records_) {
    if (!r.in_backend || (r.handle != handle && r.handle2 != handle)) continue;
    if (backend.cancel(&r) == -EAGAIN) {
      backend.flush();
      (void)backend.cancel(&r);
    }
  }
}

void Session::write_peer_address(const OpRecord& rec) {
  aiod_sockaddr_out out{};
  out.len = rec.addr_len;
  std::memcpy(out.addr, &rec.addr, std::min<std::size_t>(rec.addr_len, sizeof(out.addr)));
  std::memcpy(prepare_ctx_.arena.data() + rec.out_offset, &out, sizeof(out));
}

// After RECV_MSG: descriptors that arrived become handles of this session (the
// daemon's descriptor numbers mean nothing to the client), then the message's
// lengths, flags and control data are written back to the arena.
void Session::write_back_message(OpRecord& rec) {
  msghdr& m = rec.msg;
  if (m.msg_controllen > rec.control.size()) m.msg_controllen = rec.control.size();
  // Walked by the kernel's rules (control_data.hpp), so that every descriptor
  // the kernel installed becomes a handle (or is closed): none stays behind
  // in the daemon.
  (void)for_each_control_header(std::span(rec.control.data(), m.msg_controllen), [&](cmsghdr& c) {
    if (c.cmsg_level != SOL_SOCKET || c.cmsg_type != SCM_RIGHTS) return 0;
    const std::size_t n = (c.cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(&c) + i * sizeof(int), sizeof(fd));
      UniqueFd owned(fd);
      // A descriptor the daemon will not hold (fd_policy.hpp) is closed, as
      // one past a full table is.
      const std::int64_t h = refused_as_handle(fd) ? -EPERM : handles_.insert(std::move(owned));
      const std::uint32_t value = h < 0 ? AIOD_HANDLE_INVALID : static_cast<std::uint32_t>(h);
      if (h < 0) m.msg_flags |= MSG_CTRUNC;
      std::memcpy(CMSG_DATA(&c) + i * sizeof(int), &value, sizeof(value));
    }
    return 0;
  });
  std::byte* arena = prepare_ctx_.arena.data();
  if (m.msg_controllen > 0 && rec.out_offset2 != OpRecord::kNoOffset) {
    std::memcpy(arena + rec.out_offset2, rec.control.data(), m.msg_controllen);
  }
  aiod_msghdr h;
  std::memcpy(&h, arena + rec.out_offset, sizeof(h));
  h.name_len = m.msg_namelen;
  h.flags = static_cast<std::uint32_t>(m.msg_flags);
  h.control_len = m.msg_controllen;
  std::memcpy(arena + rec.out_offset, &h, sizeof(h));
}

void Session::post(const OpRecord& rec, int res) {
  rings_.post(rec.user_data, res);
  counters.ops_completed.add();
  // An unknown opcode counts in neither table, only as a failed op.
  const bool known = rec.opcode < AIOD_OP_LAST;
  if (known) {
    host_.opcode_counters.count[rec.opcode].add();
    counters.opcode_count[rec.opcode].add();
  }
  if (res < 0) {
    counters.ops_failed.add();
    if (known) {
      host_.opcode_counters.errors[rec.opcode].add();
      counters.opcode_errors[rec.opcode].add();
    }
  }
  const std::uint64_t latency = host_.turn_ns() - rec.start_ns;
  host_.latency.record(latency);
  counters.latency.record(latency);
  if (!dirty_) {
    dirty_ = true;
    host_.mark_dirty(*this);
  }
}

// io_uring breaks a soft-linked chain on any failure — a short read or write
// (READ, WRITE, READ_TTY, READV, WRITEV) included, an expired timer or a link
// timeout whose op won excluded — and the chain logic applies the same rule.
// `res` is the result the client sees.
static bool breaks_soft_link(const OpRecord& rec, int res) {
  return res < 0 || static_cast<std::uint64_t>(res) < rec.expected;
}

bool Session::settle(OpRecord& rec, int res) {
  rec.in_backend = false;
  res = finish_result(rec, res);
  post(rec, res);
  // An expired link timeout cancels what follows whatever its own link says.
  const bool breaks = (rec.link == Link::soft && breaks_soft_link(rec, res)) ||
                      (rec.finish == Finish::link_timer && res < 0);
  release_record(rec);
  return breaks;
}

void Session::on_record_complete(OpRecord& rec, int res) {
  Chain* chain = rec.chain;
  const bool in_segment = chain != nullptr && rec.chain_index < chain->segment_end;
  const bool breaks = settle(rec, res);
  if (chain != nullptr) {
    chain->broken |= breaks;
    ++chain->completed;
    if (in_segment) --chain->outstanding;
    if (chain->outstanding == 0 && chain->next < chain->ops.size()) submit_next_segment(*chain);
    if (chain->completed == chain->ops.size()) delete chain;
  }
  maybe_quiet();
}

void Session::publish_completions() {
  dirty_ = false;
  rings_.set_daemon_cpu(host_.cpu());  // fresh for the client's next wait
  if (rings_.publish()) wake_client();
  // The last completion of a closing session may have been the one published.
  maybe_quiet();
}

void Session::wake_client() {
  // One write in flight is enough: until it lands the client will be woken
  // anyway, and once it is stuck (the client holds its eventfd at its
  // maximum) it is readable already. More would pile up, each one waiting
  // (on the posix backend holding a worker) for room that may never come.
  if (waker_.in_flight > 0) return;
  // The client sleeps (or is about to): write its completion eventfd, batched
  // with the shard's other submissions.
  static const std::uint64_t kOne = 1;  // only read by the kernel
  const BackendOp op(op::Write{.fd = complete_efd_.get(), .buf = &kOne, .len = sizeof(kOne)});
  Backend& backend = host_.backend();
  if (backend.space() == 0) backend.flush();
  if (backend.prepare(op, &waker_) == 0) {
    ++waker_.in_flight;
    counters.wakeups_sent.add();
  }
}

}  // namespace aiod::daemon
