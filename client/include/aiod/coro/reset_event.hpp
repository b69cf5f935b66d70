// SPDX-License-Identifier: MIT
// reset_event.hpp — a flag tasks wait for (zig-aio's coro.ResetEvent).
//
//   aiod::coro::ResetEvent ready;
//   co_await ready.wait();   // in one task
//   ready.set();             // in another: every waiter runs right now
//
// set() wakes every waiting task synchronously: each runs until it suspends
// again, then set() returns. Cooperative, for the tasks of one thread: not
// thread-safe (use Mutex, Queue or a ThreadPool to cross threads).
#pragma once

#include <coroutine>
#include <system_error>
#include <type_traits>

#include "aiod/coro/detail/parking_awaiter.hpp"
#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

class ResetEvent {
 public:
  class Awaiter : public detail::ParkingAwaiter<Awaiter> {
   public:
    explicit Awaiter(ResetEvent& event) noexcept : event_(event) {}

   private:
    friend class ResetEvent;
    friend class detail::ParkingAwaiter<Awaiter>;
    bool suspend(detail::Frame* f, std::coroutine_handle<> h) noexcept;
    static void on_cancel(detail::Frame& f, void* self);

    ResetEvent& event_;
  };

  ResetEvent() noexcept = default;
  ResetEvent(const ResetEvent&) = delete;
  ResetEvent& operator=(const ResetEvent&) = delete;

  // Returns {} once the event is set (at once if it is), or
  // std::errc::operation_canceled if the task is or gets cancelled.
  [[nodiscard]] Awaiter wait() noexcept { return Awaiter(*this); }
  // Sets the event and runs every waiting task now.
  void set();
  void reset() noexcept { set_ = false; }
  [[nodiscard]] bool is_set() const noexcept { return set_; }

 private:
  detail::List waiters_;
  bool set_ = false;
};

}  // namespace aiod::coro
