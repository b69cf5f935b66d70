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

#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

class ResetEvent {
 public:
  class Awaiter : detail::Waiter {
   public:
    explicit Awaiter(ResetEvent& event) noexcept : event_(event) {}
    Awaiter(const Awaiter&) = delete;
    Awaiter& operator=(const Awaiter&) = delete;

    [[nodiscard]] bool await_ready() const noexcept { return false; }
    template <class P>
      requires std::is_base_of_v<detail::PromiseBase, P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
      return suspend(h.promise().frame, h);
    }
    [[nodiscard]] std::error_code await_resume() const noexcept { return result_; }

   private:
    friend class ResetEvent;
    bool suspend(detail::Frame* f, std::coroutine_handle<> h) noexcept;
    static void on_cancel(detail::Frame& f, void* self);

    ResetEvent& event_;
    std::error_code result_{};
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
