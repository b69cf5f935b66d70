// SPDX-License-Identifier: MIT
// mini_coro.hpp — the smallest coroutine scheduler that can drive a task over
// an IO source: a FIFO of ready coroutines and a function that blocks until IO
// completes and schedules the coroutines waiting for it.
//
// It is the in-process reference for coro_nops, standing where zig-aio's coro
// scheduler stands in its benchmark. It is not libaiod's coroutine runtime;
// coro_nops measures that one against this once it exists.
#pragma once

#include <coroutine>
#include <deque>
#include <exception>
#include <functional>
#include <utility>

namespace aiod::bench {

class Loop {
 public:
  void schedule(std::coroutine_handle<> h) { ready_.push_back(h); }
  // Blocks until at least one IO completion and schedules its waiters.
  std::function<void()> poll_io;

  // Runs `h` and everything it schedules until `h` is done.
  void run_until_done(std::coroutine_handle<> h) {
    schedule(h);
    while (!h.done()) {
      if (ready_.empty()) {
        poll_io();
        continue;
      }
      auto next = ready_.front();
      ready_.pop_front();
      next.resume();
    }
  }

 private:
  std::deque<std::coroutine_handle<>> ready_;
};

// A task that starts suspended (the loop starts it) and stays suspended at the
// end, so that the loop can see it is done; the Task frees its frame.
class Task {
 public:
  struct promise_type {
    Task get_return_object() { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() { std::terminate(); }
  };
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  Task& operator=(Task&&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }
  [[nodiscard]] std::coroutine_handle<> handle() const noexcept { return h_; }

 private:
  explicit Task(std::coroutine_handle<promise_type> h) : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

}  // namespace aiod::bench
