// SPDX-License-Identifier: MIT
// queue.hpp — Queue<T>: an unbounded multi-producer multi-consumer FIFO for
// tasks and threads (zig-aio's coro.Queue).
//
//   aiod::coro::Queue<Job> jobs;
//   jobs.send(job);                         // any thread, never blocks
//   auto job = co_await jobs.recv();        // a task: Result<Job>
//   if (!job) co_return;                    // cancelled
//
// Each item goes to exactly one receiver. A sender hands its item straight to
// the oldest waiting receiver, if any; a receiving task parks without
// blocking its thread and its scheduler resumes it in its next tick. A task
// cancelled while waiting leaves the queue and recv() returns
// std::errc::operation_canceled; if an item was handed to it before the
// cancellation arrived, recv() returns the item (nothing is lost).
#pragma once

#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"
#include "aiod/result.hpp"

namespace aiod::coro {

template <class T>
class Queue {
  // A receiver, task or thread: where send() puts the item it hands over.
  struct ItemWaiter : detail::Waiter {
    std::optional<T> item;
  };

 public:
  class Awaiter : ItemWaiter {
   public:
    explicit Awaiter(Queue& q) noexcept : queue_(q) {}
    Awaiter(const Awaiter&) = delete;
    Awaiter& operator=(const Awaiter&) = delete;
    ~Awaiter() {
      if (parked_) {  // destroyed while waiting (its task was destroyed)
        std::lock_guard lock(queue_.mu_);
        this->node.unlink();
      }
    }

    [[nodiscard]] bool await_ready() const noexcept { return false; }
    template <class P>
    requires std::is_base_of_v<detail::PromiseBase, P>
    bool await_suspend(std::coroutine_handle<P> h) {
      detail::Frame* f = h.promise().frame;
      if (f == nullptr) {
        result_ = std::make_error_code(std::errc::operation_not_permitted);
        return false;
      }
      if (detail::canceled(f)) {
        result_ = std::make_error_code(std::errc::operation_canceled);
        return false;
      }
      std::lock_guard lock(queue_.mu_);
      if (!queue_.items_.empty()) {
        this->item.emplace(std::move(queue_.items_.front()));
        queue_.items_.pop_front();
        return false;
      }
      this->frame = f;
      queue_.waiters_.push_back(this->node);
      detail::park_remote(f, h, this, &Awaiter::on_cancel);
      parked_ = true;
      return true;
    }
    Result<T> await_resume() {
      parked_ = false;
      if (this->item) return std::move(*this->item);
      return result_;
    }

   private:
    static void on_cancel(detail::Frame& f, void* self) {
      auto& a = *static_cast<Awaiter*>(self);
      {
        std::lock_guard lock(a.queue_.mu_);
        if (!a.node.linked()) return;  // an item is on its way: recv() returns it
        a.node.unlink();
      }
      a.result_ = std::make_error_code(std::errc::operation_canceled);
      a.parked_ = false;
      detail::resume_remote_now(&f);
    }

    Queue& queue_;
    std::error_code result_ = std::make_error_code(std::errc::operation_canceled);
    bool parked_ = false;
  };

  Queue() = default;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Appends `value`, or hands it to the oldest waiting receiver.
  void send(T value) {
    std::unique_lock lock(mu_);
    detail::ListNode* n = waiters_.pop_front();
    if (n == nullptr) {
      items_.push_back(std::move(value));
      return;
    }
    auto& w = static_cast<ItemWaiter&>(detail::Waiter::of(*n));
    w.item.emplace(std::move(value));
    w.granted = true;
    if (w.frame == nullptr) {
      cv_.notify_all();  // under the lock: the receiving thread may return at once
      return;
    }
    detail::Frame* f = w.frame;
    lock.unlock();
    detail::post_ready(f);
  }

  // From a task: the oldest item, waiting for one if needed.
  [[nodiscard]] Awaiter recv() noexcept { return Awaiter(*this); }

  [[nodiscard]] std::optional<T> try_recv() {
    std::lock_guard lock(mu_);
    if (items_.empty()) return std::nullopt;
    std::optional<T> v(std::move(items_.front()));
    items_.pop_front();
    return v;
  }

  // From a thread outside tasks: blocks the thread until an item comes.
  T recv_blocking() {
    std::unique_lock lock(mu_);
    if (!items_.empty()) {
      T v = std::move(items_.front());
      items_.pop_front();
      return v;
    }
    ItemWaiter w;
    waiters_.push_back(w.node);
    cv_.wait(lock, [&] { return w.granted; });
    return std::move(*w.item);
  }

  // Items waiting to be received.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  // Drops every waiting item.
  void clear() {
    std::lock_guard lock(mu_);
    items_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  detail::List waiters_;
  std::deque<T> items_;
};

}  // namespace aiod::coro
