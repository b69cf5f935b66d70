// task.hpp — the daemon's coroutine scheduler: detached tasks, a FIFO run queue,
// and awaiters for backend operations, yielding and one-shot events.
//
// Everything here belongs to one shard thread and is not thread-safe.
//
// Lifetimes: a DetachedTask starts eagerly and destroys its own frame when its
// body returns. Its owner (a Session, a Shard) must make sure every task it
// spawned has returned before the objects the task references are destroyed —
// see Session::shutdown(), which cancels a session's pending operations and
// waits for its tasks.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <type_traits>
#include <utility>

#include "backend/backend.hpp"
#include "runtime/intrusive_list.hpp"
#include "os/timespec.hpp"

namespace aiod::daemon {

// A coroutine that runs until its first suspension when called and frees
// itself when done. Exceptions must not escape its body: they are bugs, and
// terminate the daemon with a log line rather than corrupting state silently.
struct DetachedTask {
  struct promise_type {
    DetachedTask get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept;
  };
};

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

// An event with at most one waiter. set() schedules the waiter; a co_await
// after set() does not suspend, until reset() (which must not be called while
// a waiter is suspended on it).
class Event {
 public:
  explicit Event(Scheduler& sched) : sched_(sched) {}
  void set() {
    if (is_set_) return;
    is_set_ = true;
    if (waiter_) sched_.schedule(std::exchange(waiter_, {}));
  }
  void reset() noexcept { is_set_ = false; }
  [[nodiscard]] bool is_set() const noexcept { return is_set_; }

  bool await_ready() const noexcept { return is_set_; }
  void await_suspend(std::coroutine_handle<> h) noexcept { waiter_ = h; }
  void await_resume() const noexcept {}

 private:
  Scheduler& sched_;
  std::coroutine_handle<> waiter_;
  bool is_set_ = false;
};

// Pending internal operations that can be cancelled together (a session's
// control-socket receive, for instance).
class BackendCall;
using CancelScope = IntrusiveList<BackendCall>;

// co_await BackendCall{...}: runs one backend operation and resumes with its
// result (>= 0 or -errno). The awaiter lives in the coroutine frame, which is
// what keeps it valid until the backend reports the result.
class BackendCall final : public Completion, public IntrusiveListNode<BackendCall> {
 public:
  BackendCall(Backend& backend, Scheduler& sched, const BackendOp& op, CancelScope* scope = nullptr)
      : backend_(backend), sched_(sched), op_(op), scope_(scope) {}
  // With a time limit: the op is cancelled (-ECANCELED) if it has not
  // finished by then.
  BackendCall(Backend& backend, Scheduler& sched, const BackendOp& op, CancelScope* scope,
              std::chrono::nanoseconds limit)
      : backend_(backend), sched_(sched), op_(op), scope_(scope), has_limit_(true),
        limit_(timespec_from_ns<__kernel_timespec>(limit)) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  int await_resume() const noexcept { return result_; }

  void complete(int res) override;
  // Asks the backend to cancel this call; it still completes exactly once.
  void cancel() { (void)backend_.cancel(this); }

 private:
  Backend& backend_;
  Scheduler& sched_;
  BackendOp op_;
  CancelScope* scope_;
  bool has_limit_ = false;
  __kernel_timespec limit_{};
  std::coroutine_handle<> waiter_;
  int result_ = 0;
};

// Cancels every call pending in `scope`.
void cancel_all(CancelScope& scope);

}  // namespace aiod::daemon

namespace aiod::daemon {

// A lazy coroutine with a result, awaited by exactly one parent. The parent is
// resumed by symmetric transfer when the task finishes (no stack growth, no
// trip through the run queue). Exceptions propagate to the awaiting parent.
template <class T = void>
class [[nodiscard]] Task {
 public:
  struct promise_type;
  using Handle = std::coroutine_handle<promise_type>;

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(Handle h) noexcept { return h.promise().continuation; }
    void await_resume() const noexcept {}
  };

  struct PromiseBase {
    std::coroutine_handle<> continuation;
    std::exception_ptr error;
    std::suspend_always initial_suspend() noexcept { return {}; }
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  template <class U>
  struct ValuePromise : PromiseBase {
    U value{};
    void return_value(U v) { value = std::move(v); }
  };
  struct VoidPromise : PromiseBase {
    void return_void() noexcept {}
  };

  struct promise_type : std::conditional_t<std::is_void_v<T>, VoidPromise, ValuePromise<T>> {
    Task get_return_object() noexcept { return Task(Handle::from_promise(*this)); }
  };

  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  Task& operator=(Task&&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> parent) noexcept {
    h_.promise().continuation = parent;
    return h_;
  }
  T await_resume() {
    if (h_.promise().error) std::rethrow_exception(h_.promise().error);
    if constexpr (!std::is_void_v<T>) return std::move(h_.promise().value);
  }

 private:
  explicit Task(Handle h) : h_(h) {}
  Handle h_;
};

}  // namespace aiod::daemon
