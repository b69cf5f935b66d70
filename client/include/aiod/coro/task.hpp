// SPDX-License-Identifier: MIT
// task.hpp — Task<T>: a lazy coroutine that produces a T or throws.
//
//   aiod::coro::Task<std::size_t> read_some(aiod::Handle f, std::span<char> buf) {
//     std::size_t n = 0;
//     if (auto ec = co_await aiod::coro::io::single(aiod::Read{.file = f, .buffer = buf, .out_read = &n}))
//       throw std::system_error(ec);
//     co_return n;
//   }
//
// A Task does nothing until it is awaited (co_await task) or spawned on a
// Scheduler; it owns its coroutine and destroys it with itself. Awaiting a
// task transfers control to it directly and, when it finishes, straight back
// to the awaiting coroutine (symmetric transfer: no stack growth however long
// a chain of tasks completes synchronously). The awaiting coroutine gets the
// task's co_return value, or its exception rethrown. Move-only; a task is
// awaited at most once.
//
// A task awaited by another task runs in the same spawned task (its Frame):
// IO it awaits belongs to that task, and cancelling that task cancels it.
#pragma once

#include <cassert>
#include <concepts>
#include <coroutine>
#include <exception>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "aiod/coro/detail/runtime.hpp"

namespace aiod::coro {

template <class T = void>
class Task;

namespace detail {

// What every Task promise has: the spawned task it runs in, and who awaits it.
struct PromiseBase {
  Frame* frame = nullptr;                  // set when spawned or awaited by a task
  std::coroutine_handle<> continuation{};  // null for the root of a spawned task

  struct FinalAwaiter {
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      PromiseBase& p = h.promise();
      if (p.continuation) return p.continuation;  // symmetric transfer back to the awaiter
      if (p.frame != nullptr) frame_finished(p.frame);
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };

  [[nodiscard]] std::suspend_always initial_suspend() const noexcept { return {}; }
  [[nodiscard]] FinalAwaiter final_suspend() const noexcept { return {}; }
};

template <class T>
class Promise : public PromiseBase {
 public:
  Task<T> get_return_object() noexcept;

  template <class U = T>
  requires std::convertible_to<U&&, T>
  void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    result_.template emplace<1>(std::forward<U>(value));
  }
  void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }

  // What a detached task's failure handler is told: the exception, or an
  // error the task returned (a std::error_code, or a Result-like value with
  // ok() and error()).
  [[nodiscard]] TaskFailure failure() const noexcept {
    if (result_.index() == 2) return {std::get<2>(result_), {}};
    if (result_.index() == 1) {
      const T& v = std::get<1>(result_);
      if constexpr (std::is_same_v<T, std::error_code>) {
        return {nullptr, v};
      } else if constexpr (requires {
                             { v.ok() } -> std::convertible_to<bool>;
                             { v.error() } -> std::convertible_to<std::error_code>;
                           }) {
        if (!v.ok()) return {nullptr, v.error()};
      }
    }
    return {};
  }

  // The value, or the exception rethrown. Once.
  T result() && {
    if (result_.index() == 2) std::rethrow_exception(std::get<2>(result_));
    assert(result_.index() == 1 && "the task has not returned");
    return std::move(std::get<1>(result_));
  }

 private:
  std::variant<std::monostate, T, std::exception_ptr> result_;
};

template <>
class Promise<void> : public PromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }
  [[nodiscard]] TaskFailure failure() const noexcept { return {exception_, {}}; }
  void result() && {
    if (exception_) std::rethrow_exception(exception_);
  }

 private:
  std::exception_ptr exception_;
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
  static_assert(!std::is_reference_v<T>, "Task<T&>: return a pointer or std::reference_wrapper instead");

 public:
  using promise_type = detail::Promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(handle_type h) noexcept : h_(h) {}
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  // False for a moved-from or default-constructed task.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }
  explicit operator bool() const noexcept { return valid(); }

  auto operator co_await() & noexcept { return Awaiter{h_}; }
  auto operator co_await() && noexcept { return Awaiter{h_}; }

  // Gives up ownership of the coroutine (Scheduler::spawn takes it).
  [[nodiscard]] handle_type release() noexcept { return std::exchange(h_, {}); }

 private:
  struct Awaiter {
    handle_type h;

    [[nodiscard]] bool await_ready() const noexcept {
      assert(h && "awaiting an empty Task");
      return h.done();
    }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> awaiting) noexcept {
      if constexpr (std::is_base_of_v<detail::PromiseBase, P>) h.promise().frame = awaiting.promise().frame;
      h.promise().continuation = awaiting;
      return h;  // start the task; it transfers back when it finishes
    }
    T await_resume() { return std::move(h.promise()).result(); }
  };

  void reset() noexcept {
    if (h_) h_.destroy();
    h_ = {};
  }

  handle_type h_{};
};

namespace detail {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace aiod::coro
