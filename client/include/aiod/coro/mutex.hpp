// SPDX-License-Identifier: MIT
// mutex.hpp — mutual exclusion for tasks and threads (zig-aio's coro.Mutex).
//
//   if (auto ec = co_await m.lock()) co_return;   // cancelled: not locked
//   ... critical section, may await IO ...
//   m.unlock();
//
// Thread-safe: tasks of any scheduler and plain threads (lock_blocking) share
// it. A blocked task parks without blocking its thread; unlock() hands the
// mutex to the oldest waiter (FIFO), whose scheduler resumes it in its next
// tick — woken from its sleep if needed. A task cancelled while it waits
// leaves the queue and its lock() returns std::errc::operation_canceled; if
// the mutex was handed to it before the cancellation arrived, lock() succeeds
// (it must unlock) and the cancellation shows at its next await.
#pragma once

#include <condition_variable>
#include <coroutine>
#include <mutex>
#include <system_error>
#include <type_traits>

#include "aiod/coro/detail/parking_awaiter.hpp"
#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

class Mutex {
 public:
  class Awaiter : public detail::ParkingAwaiter<Awaiter> {
   public:
    explicit Awaiter(Mutex& m) noexcept : mutex_(m) {}
    ~Awaiter();

   private:
    friend class Mutex;
    friend class detail::ParkingAwaiter<Awaiter>;
    bool suspend(detail::Frame* f, std::coroutine_handle<> h);
    static void on_cancel(detail::Frame& f, void* self);

    Mutex& mutex_;
  };

  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  ~Mutex() = default;

  // From a task. Returns {} holding the mutex, or operation_canceled.
  [[nodiscard]] Awaiter lock() noexcept { return Awaiter(*this); }
  [[nodiscard]] bool try_lock();
  // From a thread outside tasks: blocks the thread.
  void lock_blocking();
  void unlock();

 private:
  std::mutex mu_;
  std::condition_variable cv_;  // threads in lock_blocking()
  detail::List waiters_;
  bool locked_ = false;
};

}  // namespace aiod::coro
