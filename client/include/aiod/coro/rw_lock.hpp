// SPDX-License-Identifier: MIT
// rw_lock.hpp — a readers-writer lock for tasks and threads (zig-aio's
// coro.RwLock).
//
//   co_await rw.lock_shared();  ... read ...  rw.unlock_shared();
//   co_await rw.lock();         ... write ... rw.unlock();
//
// Thread-safe, fair: waiters are served in arrival order, and a waiting
// writer makes later readers wait (no writer starvation); consecutive readers
// at the head of the queue are admitted together. Blocking and cancellation
// behave as for Mutex.
#pragma once

#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <mutex>
#include <system_error>
#include <type_traits>

#include "aiod/coro/detail/parking_awaiter.hpp"
#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

class RwLock {
 public:
  class Awaiter : public detail::ParkingAwaiter<Awaiter> {
   public:
    Awaiter(RwLock& rw, bool exclusive_lock) noexcept : rw_(rw) { exclusive = exclusive_lock; }
    ~Awaiter();

   private:
    friend class RwLock;
    friend class detail::ParkingAwaiter<Awaiter>;
    bool suspend(detail::Frame* f, std::coroutine_handle<> h);
    static void on_cancel(detail::Frame& f, void* self);

    RwLock& rw_;
  };

  RwLock() = default;
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  // From a task. Return {} holding the lock, or operation_canceled.
  [[nodiscard]] Awaiter lock() noexcept { return Awaiter(*this, true); }
  [[nodiscard]] Awaiter lock_shared() noexcept { return Awaiter(*this, false); }
  [[nodiscard]] bool try_lock();
  [[nodiscard]] bool try_lock_shared();
  // From threads outside tasks.
  void lock_blocking();
  void lock_shared_blocking();
  void unlock();
  void unlock_shared();

 private:
  // Admits what the head of the queue allows. Tasks move to `granted`, to be
  // posted once mu_ is released; threads are notified. Under mu_.
  void dispatch(detail::List& granted);
  static void wake(detail::List& granted);
  bool can_take(bool exclusive) const noexcept;
  void take(bool exclusive) noexcept;
  void blocking(bool exclusive);

  std::mutex mu_;
  std::condition_variable cv_;
  detail::List waiters_;
  std::size_t readers_ = 0;
  bool writer_ = false;
};

}  // namespace aiod::coro
