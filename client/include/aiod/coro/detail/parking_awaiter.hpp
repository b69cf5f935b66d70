// SPDX-License-Identifier: MIT
// detail/parking_awaiter.hpp — the awaiter shape shared by the blocking
// primitives (ResetEvent, Semaphore, Mutex, RwLock).
//
// Never ready: await_suspend() hands the task's frame to Derived::suspend(),
// which either takes what was waited for at once (returns false: no
// suspension) or links the waiter into its primitive and parks the task
// (returns true). await_resume() returns what the primitive or the cancel hook
// wrote to result_: {} granted, operation_canceled not.
//
// Derived declares `friend class detail::ParkingAwaiter<Derived>;` so that its
// suspend() may stay private. Not for applications.
#pragma once

#include <coroutine>
#include <system_error>
#include <type_traits>
#include <utility>

#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro::detail {

template <class Derived>
class ParkingAwaiter : protected Waiter {
 public:
  ParkingAwaiter() = default;
  ParkingAwaiter(const ParkingAwaiter&) = delete;
  ParkingAwaiter& operator=(const ParkingAwaiter&) = delete;

  [[nodiscard]] bool await_ready() const noexcept { return false; }
  template <class P>
  requires std::is_base_of_v<PromiseBase, P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept(
      noexcept(std::declval<Derived&>().suspend(std::declval<Frame*>(), std::coroutine_handle<>{}))) {
    return static_cast<Derived&>(*this).suspend(h.promise().frame, h);
  }
  [[nodiscard]] std::error_code await_resume() noexcept {
    parked_ = false;
    return result_;
  }

 protected:
  ~ParkingAwaiter() = default;

  std::error_code result_{};
  bool parked_ = false;  // linked into a primitive shared with other threads (Mutex, RwLock)
};

}  // namespace aiod::coro::detail
