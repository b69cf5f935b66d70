// SPDX-License-Identifier: MIT
// shared_sync.cpp — Mutex and RwLock: thread-safe, shared by tasks of any
// scheduler and by plain threads.
//
// A blocked task links its awaiter into the waiter list and parks; the
// releasing side hands the lock over (FIFO) under mu_, then posts the task to
// its scheduler after releasing mu_ — posting is the last thing it does with
// the task. A blocked thread waits on cv_, notified under mu_. Cancelling a
// task succeeds only while its awaiter is still linked: once it is unlinked
// the lock is on its way to it.
#include "wait_checks.hpp"
#include "aiod/coro/mutex.hpp"
#include "aiod/coro/rw_lock.hpp"

namespace aiod::coro {
namespace {

std::error_code cancelled() { return detail::cancelled_error(); }

}  // namespace

// --- Mutex ----------------------------------------------------------------------------

bool Mutex::try_lock() {
  std::lock_guard lock(mu_);
  if (locked_) return false;
  locked_ = true;
  return true;
}

bool Mutex::Awaiter::suspend(detail::Frame* f, std::coroutine_handle<> h) {
  if (detail::refuse_wait(f, result_)) return false;
  std::lock_guard lock(mutex_.mu_);
  if (!mutex_.locked_) {
    mutex_.locked_ = true;
    return false;
  }
  frame = f;
  mutex_.waiters_.push_back(node);
  detail::park_remote(f, h, this, &Awaiter::on_cancel);
  parked_ = true;
  return true;
}

Mutex::Awaiter::~Awaiter() {
  if (parked_) {  // destroyed while waiting: its task was destroyed
    std::lock_guard lock(mutex_.mu_);
    node.unlink();
  }
}

void Mutex::Awaiter::on_cancel(detail::Frame& f, void* self) {
  auto& a = *static_cast<Awaiter*>(self);
  {
    std::lock_guard lock(a.mutex_.mu_);
    if (!a.node.linked()) return;  // the mutex is on its way: lock() succeeds
    a.node.unlink();
  }
  a.result_ = cancelled();
  a.parked_ = false;
  detail::resume_remote_now(&f);
}

void Mutex::lock_blocking() {
  std::unique_lock lock(mu_);
  if (!locked_) {
    locked_ = true;
    return;
  }
  detail::Waiter w;
  waiters_.push_back(w.node);
  cv_.wait(lock, [&] { return w.granted; });
}

void Mutex::unlock() {
  std::unique_lock lock(mu_);
  detail::ListNode* n = waiters_.pop_front();
  if (n == nullptr) {
    locked_ = false;
    return;
  }
  detail::Waiter& w = detail::Waiter::of(*n);
  w.granted = true;  // locked_ stays true: ownership passes to w
  if (w.frame == nullptr) {
    cv_.notify_all();
    return;
  }
  detail::Frame* f = w.frame;
  lock.unlock();
  detail::post_ready(f);
}

// --- RwLock -----------------------------------------------------------------------------

bool RwLock::can_take(bool exclusive) const noexcept { return exclusive ? !writer_ && readers_ == 0 : !writer_; }

void RwLock::take(bool exclusive) noexcept {
  if (exclusive) {
    writer_ = true;
  } else {
    ++readers_;
  }
}

bool RwLock::try_lock() {
  std::lock_guard lock(mu_);
  if (!waiters_.empty() || !can_take(true)) return false;
  take(true);
  return true;
}

bool RwLock::try_lock_shared() {
  std::lock_guard lock(mu_);
  if (!waiters_.empty() || !can_take(false)) return false;
  take(false);
  return true;
}

void RwLock::dispatch(detail::List& granted) {
  bool notify = false;
  while (detail::ListNode* n = waiters_.front()) {
    detail::Waiter& w = detail::Waiter::of(*n);
    if (!can_take(w.exclusive)) break;
    take(w.exclusive);
    n->unlink();
    w.granted = true;
    if (w.frame != nullptr) {
      granted.push_back(*n);
    } else {
      notify = true;
    }
    if (w.exclusive) break;
  }
  if (notify) cv_.notify_all();
}

void RwLock::wake(detail::List& granted) {
  while (detail::ListNode* n = granted.pop_front()) detail::post_ready(detail::Waiter::of(*n).frame);
}

bool RwLock::Awaiter::suspend(detail::Frame* f, std::coroutine_handle<> h) {
  if (detail::refuse_wait(f, result_)) return false;
  std::lock_guard lock(rw_.mu_);
  if (rw_.waiters_.empty() && rw_.can_take(exclusive)) {
    rw_.take(exclusive);
    return false;
  }
  frame = f;
  rw_.waiters_.push_back(node);
  detail::park_remote(f, h, this, &Awaiter::on_cancel);
  parked_ = true;
  return true;
}

RwLock::Awaiter::~Awaiter() {
  if (parked_) {
    detail::List admitted;
    {
      std::lock_guard lock(rw_.mu_);
      node.unlink();
      rw_.dispatch(admitted);
    }
    wake(admitted);
  }
}

void RwLock::Awaiter::on_cancel(detail::Frame& f, void* self) {
  auto& a = *static_cast<Awaiter*>(self);
  detail::List admitted;
  {
    std::lock_guard lock(a.rw_.mu_);
    if (!a.node.linked()) return;
    a.node.unlink();
    // A cancelled writer at the head may have held back the readers behind it.
    a.rw_.dispatch(admitted);
  }
  wake(admitted);
  a.result_ = cancelled();
  a.parked_ = false;
  detail::resume_remote_now(&f);
}

void RwLock::blocking(bool exclusive) {
  std::unique_lock lock(mu_);
  if (waiters_.empty() && can_take(exclusive)) {
    take(exclusive);
    return;
  }
  detail::Waiter w;
  w.exclusive = exclusive;
  waiters_.push_back(w.node);
  cv_.wait(lock, [&] { return w.granted; });
}

void RwLock::lock_blocking() { blocking(true); }
void RwLock::lock_shared_blocking() { blocking(false); }

void RwLock::unlock() {
  detail::List granted;
  {
    std::lock_guard lock(mu_);
    writer_ = false;
    dispatch(granted);
  }
  wake(granted);
}

void RwLock::unlock_shared() {
  detail::List granted;
  {
    std::lock_guard lock(mu_);
    if (--readers_ == 0) dispatch(granted);
  }
  wake(granted);
}

}  // namespace aiod::coro
