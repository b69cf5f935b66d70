// SPDX-License-Identifier: MIT
// yield.hpp — parking the running task with an application-defined state, and
// making it immune to cancellation for a while.
//
//   enum class Phase { idle = 1, flushing };
//   if (auto ec = co_await aiod::coro::yield(Phase::idle)) co_return;  // cancelled
//   ...
//   handle.wakeup_if(Phase::idle);   // elsewhere: resumes it right away
//
// A yielded task is resumed only by SpawnedTask::wakeup()/wakeup_if() or by
// being cancelled (the await then returns std::errc::operation_canceled).
// State 0 is reserved ("not yielded"): give the enum no zero enumerator.
#pragma once

#include <coroutine>
#include <cstdint>
#include <stdexcept>
#include <system_error>
#include <type_traits>

#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

namespace detail {

struct YieldAwaiter {
  std::uint64_t state;
  std::error_code result{};

  [[nodiscard]] bool await_ready() const noexcept { return false; }
  template <class P>
  requires std::is_base_of_v<PromiseBase, P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    Frame* f = h.promise().frame;
    if (f == nullptr) {
      result = std::make_error_code(std::errc::operation_not_permitted);
      return false;
    }
    if (canceled(f)) {
      result = std::make_error_code(std::errc::operation_canceled);
      return false;
    }
    park_yield(f, h, state);
    frame = f;
    return true;
  }
  std::error_code await_resume() const noexcept {
    if (frame != nullptr && canceled(frame)) return std::make_error_code(std::errc::operation_canceled);
    return result;
  }

  Frame* frame = nullptr;
};

struct SetCancelableAwaiter {
  bool cancelable;
  std::error_code result{};

  [[nodiscard]] bool await_ready() const noexcept { return false; }
  template <class P>
  requires std::is_base_of_v<PromiseBase, P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    Frame* f = h.promise().frame;
    if (f == nullptr) {
      result = std::make_error_code(std::errc::operation_not_permitted);
    } else if (!set_cancelable(f, cancelable)) {
      result = std::make_error_code(std::errc::operation_canceled);
    }
    return false;  // never suspends
  }
  std::error_code await_resume() const noexcept { return result; }
};

}  // namespace detail

// Parks the running task until SpawnedTask::wakeup(). Returns {} when woken,
// std::errc::operation_canceled if the task is (or gets) cancelled.
template <class E>
requires std::is_enum_v<E>
[[nodiscard]] detail::YieldAwaiter yield(E state) {
  const auto value = static_cast<std::uint64_t>(state);
  if (value == 0) throw std::invalid_argument("aiod::coro::yield: state 0 is reserved");
  return detail::YieldAwaiter{value};
}

// co_await set_cancelable(false): cancelling the task now waits until it is
// cancelable again (zig-aio's setCancelable). Returns operation_canceled,
// changing nothing, if the task is already cancelled.
[[nodiscard]] inline detail::SetCancelableAwaiter set_cancelable(bool cancelable) noexcept {
  return detail::SetCancelableAwaiter{cancelable};
}

}  // namespace aiod::coro
