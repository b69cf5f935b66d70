// SPDX-License-Identifier: MIT
// semaphore.hpp — a counting semaphore for the tasks of one thread.
//
//   aiod::coro::Semaphore slots(4);
//   if (auto ec = co_await slots.acquire()) co_return;  // cancelled
//   ... at most 4 tasks here ...
//   slots.release();
//
// zig-aio's coro.Semaphore is binary; Semaphore(1) (the default) behaves like
// it, except that release() on a free semaphore adds a permit. release()
// hands the permit to the oldest waiter and runs that task right now, until it
// suspends again. Not thread-safe (see Mutex).
#pragma once

#include <coroutine>
#include <cstddef>
#include <system_error>
#include <type_traits>

#include "aiod/coro/detail/parking_awaiter.hpp"
#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

class Semaphore {
 public:
  class Awaiter : public detail::ParkingAwaiter<Awaiter> {
   public:
    explicit Awaiter(Semaphore& sem) noexcept : sem_(sem) {}

   private:
    friend class Semaphore;
    friend class detail::ParkingAwaiter<Awaiter>;
    bool suspend(detail::Frame* f, std::coroutine_handle<> h) noexcept;
    static void on_cancel(detail::Frame& f, void* self);

    Semaphore& sem_;
  };

  explicit Semaphore(std::size_t permits = 1) noexcept : permits_(permits) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Returns {} with a permit, or std::errc::operation_canceled (no permit) if
  // the task is or gets cancelled.
  [[nodiscard]] Awaiter acquire() noexcept { return Awaiter(*this); }
  [[nodiscard]] bool try_acquire() noexcept;
  void release();
  [[nodiscard]] std::size_t available() const noexcept { return permits_; }

 private:
  detail::List waiters_;
  std::size_t permits_;
};

}  // namespace aiod::coro
