// SPDX-License-Identifier: MIT
// thread_pool.hpp — running blocking code on worker threads while a task
// waits (zig-aio's coro.ThreadPool).
//
//   aiod::coro::ThreadPool pool;
//   int n = co_await pool.yield_for_completion(count_lines, path);   // a task
//   auto t = pool.spawn_for_completion(sched, count_lines, path);    // a new task
//
// yield_for_completion(f, args...) runs f(args...) on a worker (the arguments
// are copied, as by std::thread; use std::ref to pass references) and parks the
// task; the worker's completion wakes the scheduler, even from a blocking
// tick, and the await returns f's result or rethrows its exception.
//
// Cancellation never abandons the worker: if f takes a std::stop_token first,
// cancelling the task requests a stop on it; either way the task keeps
// waiting until f returns and the await returns f's real result (zig-aio's
// semantics). The task's later awaits see the cancellation.
//
// Workers start on demand, up to max_threads, and exit after idle_timeout
// without work. Destroying the pool runs the jobs already submitted and joins
// the workers: destroy it after the tasks that use it have returned.
#pragma once

#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/scheduler.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

namespace detail {

// A job on the pool's queue; lives in its awaiter.
struct PoolJob {
  PoolJob* next = nullptr;
  void (*run)(PoolJob& job) = nullptr;
};

class PoolImpl;

// f(stop_token, args...) if f takes a token first, else f(args...).
template <class F, class... A>
inline constexpr bool kTakesStopToken = std::is_invocable_v<F&, std::stop_token, A&...>;

template <class F, class... A>
struct PoolResultOf {
  using type = std::invoke_result_t<F&, A&...>;
};
template <class F, class... A>
requires kTakesStopToken<F, A...>
struct PoolResultOf<F, A...> {
  using type = std::invoke_result_t<F&, std::stop_token, A&...>;
};
template <class F, class... A>
using PoolResult = typename PoolResultOf<F, A...>::type;

}  // namespace detail

struct ThreadPoolOptions {
  unsigned max_threads = 0;  // 0: std::thread::hardware_concurrency()
  std::chrono::milliseconds idle_timeout{5000};
};

class ThreadPool {
 public:
  template <class F, class... A>
  class Awaiter;

  explicit ThreadPool(ThreadPoolOptions options = {});
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

  // From a task: runs f(args...) on a worker and returns its result.
  template <class F, class... A>
  requires std::is_invocable_v < std::decay_t<F>
  &, std::decay_t<A>&... > ||
         detail::kTakesStopToken<std::decay_t<F>, std::decay_t<A>...> [[nodiscard]] Awaiter<std::decay_t<F>,
                                                                                            std::decay_t<A>...>
         yield_for_completion(F&& f, A&&... args) {
    return Awaiter<std::decay_t<F>, std::decay_t<A>...>(*this, std::forward<F>(f), std::forward<A>(args)...);
  }

  // Spawns a task on `sched` that runs f(args...) on a worker.
  template <class F, class... A>
  auto spawn_for_completion(Scheduler& sched, F f, A... args) {
    return sched.spawn(run_for_completion(*this, std::move(f), std::move(args)...));
  }

  // Workers currently alive (for tests).
  [[nodiscard]] unsigned threads() const;

  // Queues a job (detail of Awaiter).
  void submit(detail::PoolJob& job);

 private:
  template <class F, class... A>
  static Task<detail::PoolResult<F, A...>> run_for_completion(ThreadPool& pool, F f, A... args) {
    if constexpr (std::is_void_v<detail::PoolResult<F, A...>>) {
      co_await pool.yield_for_completion(std::move(f), std::move(args)...);
    } else {
      co_return co_await pool.yield_for_completion(std::move(f), std::move(args)...);
    }
  }

  std::unique_ptr<detail::PoolImpl> impl_;
};

template <class F, class... A>
class ThreadPool::Awaiter : detail::PoolJob {
 public:
  using result_type = detail::PoolResult<F, A...>;

  template <class G, class... B>
  Awaiter(ThreadPool& pool, G&& f, B&&... args)
      : pool_(pool), fn_(std::forward<G>(f)), args_(std::forward<B>(args)...) {}
  Awaiter(const Awaiter&) = delete;
  Awaiter& operator=(const Awaiter&) = delete;

  [[nodiscard]] bool await_ready() const noexcept { return false; }
  template <class P>
  requires std::is_base_of_v<detail::PromiseBase, P>
  bool await_suspend(std::coroutine_handle<P> h) {
    detail::Frame* f = h.promise().frame;
    if constexpr (detail::kTakesStopToken<F, A...>) {
      stop_.emplace();
      if (f != nullptr && detail::canceled(f)) stop_->request_stop();
    }
    if (f == nullptr) {  // not in a spawned task: run it here
      execute();
      return false;
    }
    frame_ = f;
    run = &Awaiter::run_job;
    detail::park_pinned(f, h, this, &Awaiter::on_cancel);
    pool_.submit(*this);
    return true;
  }
  result_type await_resume() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<result_type>) return std::move(*value_);
  }

 private:
  void execute() noexcept {
    try {
      if constexpr (std::is_void_v<result_type>) {
        call();
      } else {
        value_.emplace(call());
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  decltype(auto) call() {
    return std::apply(
        [this](auto&... a) -> decltype(auto) {
          if constexpr (detail::kTakesStopToken<F, A...>) {
            return std::invoke(fn_, stop_->get_token(), a...);
          } else {
            return std::invoke(fn_, a...);
          }
        },
        args_);
  }
  // On a worker.
  static void run_job(detail::PoolJob& job) {
    auto& self = static_cast<Awaiter&>(job);
    self.execute();
    detail::post_ready(self.frame_);  // last touch: the task may be gone right after
  }
  // On the scheduler's thread; the task keeps waiting for the worker.
  static void on_cancel(detail::Frame&, void* self) {
    if constexpr (detail::kTakesStopToken<F, A...>) static_cast<Awaiter*>(self)->stop_->request_stop();
  }

  using Value = std::conditional_t<std::is_void_v<result_type>, std::monostate, result_type>;

  ThreadPool& pool_;
  F fn_;
  std::tuple<A...> args_;
  std::optional<std::stop_source> stop_;
  std::optional<Value> value_;
  std::exception_ptr error_;
  detail::Frame* frame_ = nullptr;
};

}  // namespace aiod::coro
