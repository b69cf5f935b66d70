// SPDX-License-Identifier: MIT
// local_sync.cpp — ResetEvent and Semaphore: cooperative primitives for the
// tasks of one thread. Wake-ups are synchronous: the woken task runs inside
// set()/release() until it suspends again (zig-aio's semantics).
#include "wait_checks.hpp"
#include "aiod/coro/reset_event.hpp"
#include "aiod/coro/semaphore.hpp"

namespace aiod::coro {
namespace {

std::error_code cancelled() { return detail::cancelled_error(); }

}  // namespace

// --- ResetEvent -----------------------------------------------------------------------

bool ResetEvent::Awaiter::suspend(detail::Frame* f, std::coroutine_handle<> h) noexcept {
  if (detail::refuse_wait(f, result_)) return false;
  if (event_.set_) return false;
  frame = f;
  event_.waiters_.push_back(node);
  detail::park_local(f, h, this, &Awaiter::on_cancel);
  return true;
}

void ResetEvent::Awaiter::on_cancel(detail::Frame& f, void* self) {
  auto& a = *static_cast<Awaiter*>(self);
  a.node.unlink();
  a.result_ = cancelled();
  detail::resume_now(&f);
}

void ResetEvent::set() {
  set_ = true;
  // Only the tasks waiting now: one that waits again after a reset() stays.
  detail::List woken;
  woken.splice(waiters_);
  while (detail::ListNode* n = woken.pop_front()) {
    detail::Frame* f = static_cast<Awaiter&>(detail::Waiter::of(*n)).frame;
    detail::resume_now(f);
  }
}

// --- Semaphore --------------------------------------------------------------------------

bool Semaphore::try_acquire() noexcept {
  if (permits_ == 0) return false;
  --permits_;
  return true;
}

bool Semaphore::Awaiter::suspend(detail::Frame* f, std::coroutine_handle<> h) noexcept {
  if (detail::refuse_wait(f, result_)) return false;
  if (sem_.try_acquire()) return false;
  frame = f;
  sem_.waiters_.push_back(node);
  detail::park_local(f, h, this, &Awaiter::on_cancel);
  return true;
}

void Semaphore::Awaiter::on_cancel(detail::Frame& f, void* self) {
  auto& a = *static_cast<Awaiter*>(self);
  a.node.unlink();
  a.result_ = cancelled();
  detail::resume_now(&f);
}

void Semaphore::release() {
  detail::ListNode* n = waiters_.pop_front();
  if (n == nullptr) {
    ++permits_;
    return;
  }
  // The permit goes straight to the oldest waiter.
  detail::resume_now(static_cast<Awaiter&>(detail::Waiter::of(*n)).frame);
}

}  // namespace aiod::coro
