// SPDX-License-Identifier: MIT
// io.cpp — a task's ops on the scheduler's batch, the backlog of awaits that
// wait for room in the rings, completions, and cancelling them.
//
// Each op's userdata is the address of its IoOpContext (in the awaiter, so in
// the suspended coroutine's frame); a cancel op's userdata is the same address
// with kCancelTag set. Every op completes exactly once, so the awaiter's
// `outstanding` reaching zero means nothing refers to it any more: only then
// is the task made ready.
#include <cstdint>
#include <variant>
#include <vector>

#include "coro/frame.hpp"

namespace aiod::coro::detail {
namespace {

std::uint64_t userdata_of(IoOpContext& ctx, bool cancel) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&ctx)) | (cancel ? kCancelTag : 0);
}

// The runtime takes over userdata, out_id and (when unset) out_error while the
// ops are queued, and gives the application's values back afterwards.
struct Saved {
  std::uint64_t userdata;
  std::error_code* out_error;
};

}  // namespace

std::error_code queue_await(SchedulerImpl& s, IoWait& w) {
  // Few ops per await: keep the saved fields on the stack when they fit.
  Saved small[8];
  std::vector<Saved> large;
  Saved* saved = small;
  if (w.ops.size() > std::size(small)) {
    large.resize(w.ops.size());
    saved = large.data();
  }
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    IoOpContext& ctx = w.contexts[i];
    ctx = IoOpContext{};
    ctx.whole = &w;
    std::visit(
        [&](auto& op) {
          saved[i] = {op.userdata, op.out_error};
          ctx.user_out_id = op.out_id;
          ctx.result = op.out_error != nullptr ? op.out_error : &ctx.error;
          op.out_error = ctx.result;
          op.out_id = &ctx.id;
          op.userdata = userdata_of(ctx, false);
        },
        w.ops[i]);
  }
  const std::error_code ec = s.conn->queue(w.ops, s.batch);
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    IoOpContext& ctx = w.contexts[i];
    std::visit(
        [&](auto& op) {
          op.userdata = saved[i].userdata;
          op.out_error = saved[i].out_error;
          op.out_id = ctx.user_out_id;
        },
        w.ops[i]);
    if (!ec && ctx.user_out_id != nullptr) *ctx.user_out_id = ctx.id;
  }
  if (ec) return ec;
  w.outstanding = w.ops.size();
  s.stats.ops_queued += w.ops.size();
  return {};
}

void fail_await(SchedulerImpl& s, IoWait& w, std::error_code ec) {
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    IoOpContext& ctx = w.contexts[i];
    ctx = IoOpContext{};
    ctx.whole = &w;
    std::visit([&](auto& op) { ctx.result = op.out_error != nullptr ? op.out_error : &ctx.error; }, w.ops[i]);
    *ctx.result = ec;
  }
  w.error = ec;
  s.make_ready(*w.frame);
}

bool io_suspend(IoWait& w, Frame* f, std::coroutine_handle<> h) {
  w.frame = f;
  w.outstanding = 0;
  w.errors = 0;
  w.canceled = false;
  w.error = {};
  if (f == nullptr) {
    w.error = std::make_error_code(std::errc::operation_not_permitted);  // not in a spawned task
    return false;
  }
  if (f->canceled) {
    w.error = std::make_error_code(std::errc::operation_canceled);
    return false;
  }
  SchedulerImpl& s = *f->sched;
  if (s.conn == nullptr) {
    w.error = make_error_code(errc::daemon_not_running);
    return false;
  }
  if (w.ops.empty()) return false;
  // More ops than the ring (or max_outstanding_ops) holds: no wait makes room.
  if (w.ops.size() > s.max_await_ops) {
    w.error = make_error_code(errc::queue_full);
    return false;
  }
  // Awaits go out in the order they were made: behind the backlog if there is one.
  if (s.backlog.empty()) {
    const std::error_code ec = queue_await(s, w);
    if (ec && !s.no_room(ec)) {
      w.error = ec;
      return false;
    }
    if (!ec) {
      f->status = Status::io;
      f->resume_at = h;
      f->wait_ctx = &w;
      f->on_cancel = &io_cancel_hook;
      return true;
    }
  }
  if (s.backlog_ops + w.ops.size() > s.max_backlog_ops) {
    w.error = make_error_code(errc::queue_full);
    return false;
  }
  s.backlog.push_back(w.backlog_link);
  s.backlog_ops += w.ops.size();
  s.stats.ops_backlogged += w.ops.size();
  f->status = Status::io;
  f->resume_at = h;
  f->wait_ctx = &w;
  f->on_cancel = &io_cancel_hook;
  return true;
}

bool SchedulerImpl::no_room(std::error_code ec) const noexcept {
  // The arena frees up as this scheduler's ops complete; with none in
  // flight, waiting would not help.
  return ec == make_error_code(errc::queue_full) ||
         (ec == make_error_code(errc::arena_exhausted) && batch.outstanding > 0);
}

bool SchedulerImpl::drain_backlog() {
  bool moved = false;
  while (ListNode* n = backlog.front()) {
    IoWait& w = IoWait::of(*n);
    const std::error_code ec = queue_await(*this, w);
    if (ec && no_room(ec)) break;
    n->unlink();
    backlog_ops -= w.ops.size();
    moved = true;
    if (ec) fail_await(*this, w, ec);  // e.g. daemon_gone, or arena_exhausted with nothing in flight
  }
  return moved;
}

void SchedulerImpl::on_io_complete(std::uint64_t userdata, bool failed) noexcept {
  auto& ctx = *reinterpret_cast<IoOpContext*>(static_cast<std::uintptr_t>(userdata & ~kCancelTag));
  IoWait& w = *ctx.whole;
  if ((userdata & kCancelTag) == 0) {
    ctx.completed = true;
    if (failed) ++w.errors;
  }
  ++stats.ops_completed;
  if (--w.outstanding > 0) return;
  Frame& f = *w.frame;
  if (f.cancel_retry) {
    f.cancel_retry = false;
    std::erase(cancel_retry, &f);
  }
  make_ready(f);
}

bool queue_cancels(Frame& f, IoWait& w) {
  std::vector<Op> cancels;
  for (IoOpContext& ctx : w.contexts) {
    if (!ctx.completed) cancels.push_back(Cancel{.id = ctx.id, .userdata = userdata_of(ctx, true)});
  }
  if (cancels.empty()) return true;
  SchedulerImpl& s = *f.sched;
  if (s.conn->queue(cancels, s.batch)) return false;
  w.outstanding += cancels.size();
  s.stats.ops_queued += cancels.size();
  return true;
}

void io_cancel_hook(Frame& f, void* ctx) {
  IoWait& w = *static_cast<IoWait*>(ctx);
  if (w.backlog_link.linked()) {
    // Still in the backlog: nothing reached the daemon, nothing to wait for.
    w.backlog_link.unlink();
    f.sched->backlog_ops -= w.ops.size();
    w.canceled = true;
    fail_await(*f.sched, w, std::make_error_code(std::errc::operation_canceled));
    return;
  }
  w.canceled = true;
  w.error = std::make_error_code(std::errc::operation_canceled);
  f.status = Status::io_cancel;
  f.on_cancel = nullptr;
  if (!queue_cancels(f, w) && !f.cancel_retry) {
    // No room in the rings now; the next ticks try again after reaping.
    f.cancel_retry = true;
    f.sched->cancel_retry.push_back(&f);
  }
}

void SchedulerImpl::retry_cancels() {
  if (cancel_retry.empty()) return;
  std::vector<Frame*> frames;
  frames.swap(cancel_retry);
  for (Frame* f : frames) {
    f->cancel_retry = false;
    if (f->status != Status::io_cancel) continue;
    // A dead connection completes every op by itself (with daemon_gone).
    if (conn->dead() || queue_cancels(*f, *static_cast<IoWait*>(f->wait_ctx))) continue;
    f->cancel_retry = true;
    cancel_retry.push_back(f);
  }
}

}  // namespace aiod::coro::detail
