// SPDX-License-Identifier: MIT
// event.hpp — a one-shot event that one coroutine waits on.
//
// Belongs to one shard thread and is not thread-safe.
#pragma once

#include <coroutine>
#include <utility>

#include "runtime/scheduler.hpp"

namespace aiod::daemon {

// An event with at most one waiter. set() schedules the waiter; a co_await
// after set() does not suspend, until reset() (which must not be called while
// a waiter is suspended on it).
class Event {
 public:
  explicit Event(Scheduler& sched) : sched_(sched) {}
  void set() {
    if (is_set_) return;
    is_set_ = true;
    if (waiter_) sched_.schedule(std::exchange(waiter_, {}));
  }
  void reset() noexcept { is_set_ = false; }
  [[nodiscard]] bool is_set() const noexcept { return is_set_; }

  bool await_ready() const noexcept { return is_set_; }
  void await_suspend(std::coroutine_handle<> h) noexcept { waiter_ = h; }
  void await_resume() const noexcept {}

 private:
  Scheduler& sched_;
  std::coroutine_handle<> waiter_;
  bool is_set_ = false;
};

}  // namespace aiod::daemon
