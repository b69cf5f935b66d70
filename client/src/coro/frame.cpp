// SPDX-License-Identifier: MIT
// frame.cpp — parking and resuming tasks, cancellation, and the life of a
// spawned task (finish, complete, join, detach, destroy).
//
// Cancellation is cooperative and sticky (zig-aio's): it sets `canceled`,
// which every later await of the task reports as operation_canceled, and
// wakes the task if it waits for something that can be abandoned — IO (after
// cancelling its ops), a synchronisation primitive, a yield. A task that joins
// another one passes the cancellation on to it. A running task, or one that
// waits for a ThreadPool job, notices at its next await.
#include <stdexcept>
#include <utility>

#include "coro/frame.hpp"

namespace aiod::coro::detail {
namespace {

void yield_cancel_hook(Frame& f, void*) {
  f.yield_state = 0;
  f.sched->resume(f);
}

// A task cancelled while it joins another cancels that one: it can only go on
// once that one has returned.
void join_cancel_hook(Frame&, void* target) {
  auto& t = *static_cast<Frame*>(target);
  t.sched->try_cancel(t);
}

}  // namespace

bool canceled(const Frame* f) noexcept { return f->canceled; }

bool set_cancelable(Frame* f, bool cancelable) noexcept {
  if (f->canceled) return false;
  f->cancelable = cancelable;
  // A cancellation that came while the task was not cancelable takes effect now.
  if (cancelable && f->cancel_requested) f->canceled = true;
  return true;
}

void park_local(Frame* f, std::coroutine_handle<> h, void* ctx, CancelHook on_cancel) noexcept {
  f->status = Status::waiting;
  f->resume_at = h;
  f->wait_ctx = ctx;
  f->on_cancel = on_cancel;
}

void park_remote(Frame* f, std::coroutine_handle<> h, void* ctx, CancelHook on_cancel) noexcept {
  f->status = Status::remote;
  f->resume_at = h;
  f->wait_ctx = ctx;
  f->on_cancel = on_cancel;
  ++f->sched->remote_waits;
}

void park_pinned(Frame* f, std::coroutine_handle<> h, void* ctx, CancelHook on_cancel) noexcept {
  park_remote(f, h, ctx, on_cancel);
  f->pinned = true;
  ++f->sched->pinned_waits;
}

void park_yield(Frame* f, std::coroutine_handle<> h, std::uint64_t state) noexcept {
  f->status = Status::yielded;
  f->yield_state = state;
  f->resume_at = h;
  f->wait_ctx = nullptr;
  f->on_cancel = &yield_cancel_hook;
}

void resume_now(Frame* f) { f->sched->resume(*f); }

void resume_remote_now(Frame* f) {
  --f->sched->remote_waits;
  f->sched->resume(*f);
}

void post_ready(Frame* f) noexcept { f->sched->post(*f); }

void SchedulerImpl::try_cancel(Frame& f) {
  if (f.status == Status::completed || f.status == Status::abandoned) return;
  if (!f.cancelable) {
    f.cancel_requested = true;
    return;
  }
  f.canceled = true;
  switch (f.status) {
    case Status::io:
    case Status::waiting:
    case Status::remote:
    case Status::yielded:
    case Status::joining:
      if (f.on_cancel != nullptr) f.on_cancel(f, f.wait_ctx);
      break;
    default:  // running, ready, already cancelling its IO
      break;
  }
}

void frame_finished(Frame* f) noexcept {
  SchedulerImpl& s = *f->sched;
  f->status = Status::completed;
  f->on_cancel = nullptr;
  f->link.unlink();
  s.completed.push_back(f->link);
  --s.running_count;
  if (Frame* joiner = std::exchange(f->joiner, nullptr)) s.make_ready(*joiner);
  if (f->detached) s.report_detached(*f);
}

bool frame_completed(const Frame* f) noexcept { return f != nullptr && f->status == Status::completed; }

void frame_complete(Frame* f, CompleteMode mode) {
  if (f == nullptr) throw std::logic_error("aiod::coro: an empty SpawnedTask");
  if (f->status == Status::completed) return;
  if (f->status == Status::abandoned) throw std::logic_error("aiod::coro: the task was destroyed with its scheduler");
  f->sched->complete(*f, mode);
}

void frame_destroy(Frame* f) noexcept {
  if (f == nullptr) return;
  f->link.unlink();
  if (f->root) f->root.destroy();
  delete f;
}

void frame_detach(Frame* f) noexcept {
  if (f->status == Status::completed || f->status == Status::abandoned) {
    // Its result will never be looked at: a failure is reported now.
    if (f->status == Status::completed && f->sched != nullptr) f->sched->report_detached(*f);
    frame_destroy(f);
  } else {
    f->detached = true;
  }
}

bool join_ready(Frame* target, CompleteMode mode) {
  if (target == nullptr) throw std::logic_error("aiod::coro: join() on an empty SpawnedTask");
  if (mode == CompleteMode::cancel && target->sched != nullptr) target->sched->try_cancel(*target);
  return target->status == Status::completed;
}

bool join_suspend(Frame* target, Frame* joiner, std::coroutine_handle<> h) {
  if (joiner == nullptr) throw std::logic_error("aiod::coro: join() outside a spawned task");
  if (target->sched != joiner->sched) throw std::logic_error("aiod::coro: join() across schedulers");
  if (target->status == Status::completed) return false;
  target->joiner = joiner;
  joiner->status = Status::joining;
  joiner->resume_at = h;
  joiner->wait_ctx = target;
  joiner->on_cancel = &join_cancel_hook;
  return true;
}

void join_abandon(Frame* target) noexcept {
  if (target != nullptr) target->joiner = nullptr;
}

std::uint64_t yield_state(const Frame* f) noexcept {
  return f != nullptr && f->status == Status::yielded ? f->yield_state : 0;
}

void wakeup(Frame* f) {
  if (f == nullptr || f->status != Status::yielded) {
    throw std::logic_error("aiod::coro: wakeup() of a task that is not parked in yield()");
  }
  f->yield_state = 0;
  f->sched->resume(*f);
}

}  // namespace aiod::coro::detail
