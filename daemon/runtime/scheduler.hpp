// SPDX-License-Identifier: MIT
// scheduler.hpp — a shard's FIFO run queue of ready coroutines.
//
// Belongs to one shard thread and is not thread-safe.
#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>

namespace aiod::daemon {

// FIFO run queue. run_ready() resumes only what was ready when it started, so
// a task that yields goes behind every other ready task: round-robin.
class Scheduler {
 public:
  void schedule(std::coroutine_handle<> h) { ready_.push_back(h); }
  [[nodiscard]] bool has_ready() const noexcept { return !ready_.empty(); }

  // Returns the number of tasks resumed.
  std::size_t run_ready();

  struct YieldAwaiter {
    Scheduler& sched;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { sched.schedule(h); }
    void await_resume() const noexcept {}
  };
  // co_await sched.yield(): let every other ready task run first.
  YieldAwaiter yield() { return {*this}; }

 private:
  std::deque<std::coroutine_handle<>> ready_;
};

}  // namespace aiod::daemon
