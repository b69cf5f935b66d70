// SPDX-License-Identifier: MIT
// task.hpp — the daemon's coroutine types: Task<T> and DetachedTask.
//
// Task<T> is awaited by one parent; a DetachedTask runs on its own.
//
// Everything here belongs to one shard thread and is not thread-safe.
//
// Lifetimes: a DetachedTask starts eagerly and destroys its own frame when its
// body returns. Its owner (a Session, a Shard) must make sure every task it
// spawned has returned before the objects the task references are destroyed —
// see Session::shutdown(), which cancels a session's pending operations and
// waits for its tasks.
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

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
