// SPDX-License-Identifier: MIT
// scheduler.hpp — runs tasks on one thread and batches their IO through aiod.
//
//   auto client = aiod::Client::connect();
//   aiod::coro::Scheduler sched(*client);
//   auto t = sched.spawn(serve(...));      // runs serve() until it first suspends
//   sched.run();                           // ticks until every task has returned
//   t.complete();                          // its result (or exception)
//
// A tick submits every op the tasks queued since the previous tick to the
// daemon as one batch, reaps completions, and resumes each task whose ops have
// all completed (and each task another thread made ready: a Mutex, Queue or
// ThreadPool). A blocking tick sleeps in the client's wait until one of them
// is ready; it never spins beyond the client's configured spin. Ops that find
// no room in the rings wait in a backlog and go out as room frees up
// (SchedulerOptions::max_backlog_ops). A detached task that fails is reported
// to a handler (on_detached_failure()).
//
// Threading: a Scheduler and its tasks belong to the thread that ticks it
// (one at a time). Only Mutex, RwLock, Queue and ThreadPool wake its tasks
// from other threads. The Client must outlive the Scheduler, and every
// SpawnedTask handle must be completed, cancelled, detached or destroyed
// before the Scheduler is destroyed.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <source_location>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "aiod/client.hpp"
#include "aiod/dynamic.hpp"  // CompletionMode
#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

template <class T>
class SpawnedTask;

struct SchedulerOptions {
  // The most ops the tasks may have in the rings (queued or in flight) at
  // once; 0: as many as the session's rings allow. Awaits beyond that wait
  // in the backlog.
  std::size_t max_outstanding_ops = 0;
  // The backlog: awaits whose ops find no room in the submission ring, the
  // client's op table, the arena (while ops of this scheduler are in flight
  // and will free some) or under max_outstanding_ops wait here, in await
  // order and each await whole, and go to the daemon as room frees up. This
  // is the most ops it holds; an await that would take it beyond fails with
  // errc::queue_full. 0: no backlog (every await that finds no room fails).
  std::size_t max_backlog_ops = kDefaultMaxBacklogOps;

  static constexpr std::size_t kDefaultMaxBacklogOps = 65536;
};

struct SpawnOptions {
  // Free the task as soon as it returns, dropping its result (see detach()).
  bool detached = false;
  // A name for the task (copied), given to the detached-failure handler.
  std::string_view name{};
};

// A detached task that failed: what Scheduler::on_detached_failure() handlers get.
struct DetachedFailure {
  std::string_view name;            // SpawnOptions::name; empty if none was given
  std::source_location spawned_at;  // where spawn() or spawn_detached() was called
  std::exception_ptr exception;     // the exception that escaped the task, or null
  std::error_code error;            // else the error it returned (std::error_code or Result)
};
using DetachedFailureHandler = std::function<void(const DetachedFailure&)>;

// Counters, for tests and tuning.
struct SchedulerStats {
  std::uint64_t ticks = 0;
  std::uint64_t batches = 0;     // ticks that published ops to the daemon
  std::uint64_t ops_queued = 0;  // into the rings, including the cancel ops of cancelled tasks
  std::uint64_t ops_completed = 0;
  std::uint64_t ops_backlogged = 0;  // ops that waited in the backlog before going out
  std::uint64_t resumes = 0;         // tasks resumed (spawns included)
  std::uint64_t sleeps = 0;          // blocking ticks that had to wait
  std::uint64_t detached_failures = 0;  // detached tasks that threw or returned an error
};

class Scheduler {
 public:
  // A scheduler without IO: tasks, yields and the synchronisation primitives
  // work; IO awaits fail with errc::daemon_not_running.
  Scheduler();
  // Tasks do their IO through `client`, which must outlive the scheduler.
  explicit Scheduler(Client& client, SchedulerOptions options = {});
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  // run(CompleteMode::cancel), then frees every task.
  ~Scheduler();

  // Starts `task` right away: it runs until it first suspends (or returns).
  template <class T>
  SpawnedTask<T> spawn(Task<T> task, SpawnOptions options = {},
                       std::source_location where = std::source_location::current());
  // spawn() with options.detached: the task is freed when it returns. If it
  // fails (throws, or returns an error), the detached-failure handler is called.
  template <class T>
  void spawn_detached(Task<T> task, SpawnOptions options = {},
                      std::source_location where = std::source_location::current()) {
    options.detached = true;
    (void)spawn(std::move(task), options, where);
  }

  // Called on the scheduler's thread when a detached task returns having
  // thrown an exception or returned an error (not when it was cancelled and
  // reports operation_canceled), and counted in stats().detached_failures.
  // A task whose handle is detached or destroyed counts as detached. nullptr:
  // the default, one line on stderr with the task's name and spawn site.
  // Exceptions thrown by the handler are dropped.
  void on_detached_failure(DetachedFailureHandler handler);

  // Submits queued IO as one batch, reaps completions and resumes the tasks
  // that are ready. blocking: waits until at least one task is ready, unless
  // nothing can make one ready (no IO outstanding, no task waiting on another
  // thread). Returns how many tasks have not returned yet. Not from a task.
  Result<std::size_t> tick(CompletionMode mode = CompletionMode::blocking);

  // wait: ticks until every task has returned. Returns
  // std::errc::resource_deadlock_would_occur if tasks remain that nothing can
  // wake (parked in yield() or a ResetEvent with nothing else going on).
  // cancel: cancels and completes the tasks, newest first.
  // Returns errc::daemon_gone if the daemon died (the tasks saw their IO fail).
  std::error_code run(CompleteMode mode = CompleteMode::wait);

  // --- integration with another event loop ---------------------------------------
  //   for (;;) {
  //     if (!sched.arm_poll_fd()) poll(... {sched.poll_fd(), POLLIN} ...);
  //     sched.tick(aiod::CompletionMode::nonblocking);
  //   }
  // A descriptor that becomes readable when a tick has work: completions to
  // reap or tasks woken by other threads.
  [[nodiscard]] int poll_fd() const noexcept;
  // Submits queued IO and arms poll_fd(). Returns true when a tick has work
  // already: do not block on poll_fd() then.
  [[nodiscard]] bool arm_poll_fd();

  // Tasks that have not returned yet.
  [[nodiscard]] std::size_t running() const noexcept;
  [[nodiscard]] const SchedulerStats& stats() const noexcept;
  // nullptr for a scheduler without IO.
  [[nodiscard]] Client* client() const noexcept;

 private:
  detail::Frame* spawn_frame(std::coroutine_handle<> root, detail::PromiseBase& promise, const SpawnOptions& options,
                             detail::FailureProbe probe, const std::source_location& where);
  std::unique_ptr<detail::SchedulerImpl> impl_;
};

// The handle of a spawned task (zig-aio's Task): complete it, cancel it,
// detach it, wake it from a yield. Move-only; destroying a handle detaches
// the task. Use it on the scheduler's thread.
template <class T>
class [[nodiscard]] SpawnedTask {
 public:
  using handle_type = typename Task<T>::handle_type;

  SpawnedTask() noexcept = default;
  SpawnedTask(detail::Frame* frame, handle_type h) noexcept : frame_(frame), h_(h) {}
  SpawnedTask(SpawnedTask&& other) noexcept
      : frame_(std::exchange(other.frame_, nullptr)), h_(std::exchange(other.h_, {})) {}
  SpawnedTask& operator=(SpawnedTask&& other) noexcept {
    if (this != &other) {
      detach();
      frame_ = std::exchange(other.frame_, nullptr);
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  SpawnedTask(const SpawnedTask&) = delete;
  SpawnedTask& operator=(const SpawnedTask&) = delete;
  ~SpawnedTask() { detach(); }

  [[nodiscard]] bool valid() const noexcept { return frame_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }
  // The task has returned (its result is waiting).
  [[nodiscard]] bool is_complete() const noexcept { return detail::frame_completed(frame_); }

  // Ticks the scheduler until the task returns (cancelling it first with
  // CompleteMode::cancel), frees it and returns its result — or rethrows its
  // exception. The handle is empty afterwards. Outside tasks only (inside one,
  // co_await join()). Throws std::system_error(resource_deadlock_would_occur)
  // if nothing can ever wake the task.
  T complete(CompleteMode mode = CompleteMode::wait) {
    detail::frame_complete(frame_, mode);
    return take_result();
  }
  // complete(CompleteMode::cancel), dropping the result and any exception.
  void cancel() {
    detail::frame_complete(frame_, CompleteMode::cancel);
    detail::frame_destroy(std::exchange(frame_, nullptr));
    h_ = {};
  }
  // The task runs on; it is freed when it returns and its result is dropped.
  void detach() noexcept {
    if (frame_ != nullptr) detail::frame_detach(std::exchange(frame_, nullptr));
    h_ = {};
  }

  // From another task of the same scheduler: co_await t.join() suspends until
  // the task returns (cancelling it first with CompleteMode::cancel) and gives
  // its result or rethrows its exception. Takes over the handle.
  [[nodiscard]] auto join(CompleteMode mode = CompleteMode::wait) noexcept {
    return JoinAwaiter{std::exchange(frame_, nullptr), std::exchange(h_, {}), mode};
  }

  // A task parked in coro::yield(state): the state it gave, or E{} (0).
  template <class E>
  requires std::is_enum_v<E>
  [[nodiscard]] E state() const noexcept { return static_cast<E>(detail::yield_state(frame_)); }
  // Resumes a task parked in coro::yield() right now; returns when it
  // suspends again. Throws std::logic_error if it is not parked in yield().
  void wakeup() { detail::wakeup(frame_); }
  // wakeup() if the task is parked in yield(state).
  template <class E>
  requires std::is_enum_v<E>
  void wakeup_if(E state) {
    if (this->template state<E>() == state && detail::yield_state(frame_) != 0) wakeup();
  }

 private:
  struct JoinAwaiter {
    detail::Frame* frame;
    handle_type h;
    CompleteMode mode;

    JoinAwaiter(detail::Frame* f, handle_type handle, CompleteMode m) noexcept : frame(f), h(handle), mode(m) {}
    JoinAwaiter(const JoinAwaiter&) = delete;
    JoinAwaiter& operator=(const JoinAwaiter&) = delete;
    ~JoinAwaiter() {
      if (frame != nullptr) {  // never resumed: the awaiting task was destroyed
        detail::join_abandon(frame);
        detail::frame_detach(frame);
      }
    }

    [[nodiscard]] bool await_ready() { return detail::join_ready(frame, mode); }
    template <class P>
    requires std::is_base_of_v<detail::PromiseBase, P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
      return detail::join_suspend(frame, awaiting.promise().frame, awaiting);
    }
    T await_resume() {
      Destroy guard{std::exchange(frame, nullptr)};
      return std::move(h.promise()).result();
    }
  };

  // Frees the task when the result has been moved out (or rethrown).
  struct Destroy {
    detail::Frame* frame;
    ~Destroy() { detail::frame_destroy(frame); }
  };

  T take_result() {
    Destroy guard{std::exchange(frame_, nullptr)};
    const handle_type h = std::exchange(h_, {});
    return std::move(h.promise()).result();
  }

  detail::Frame* frame_ = nullptr;
  handle_type h_{};
};

namespace detail {
template <class T>
TaskFailure probe_failure(std::coroutine_handle<> root) noexcept {
  return std::coroutine_handle<Promise<T>>::from_address(root.address()).promise().failure();
}
}  // namespace detail

template <class T>
SpawnedTask<T> Scheduler::spawn(Task<T> task, SpawnOptions options, std::source_location where) {
  const auto h = task.release();
  assert(h && "spawning an empty Task");
  detail::Frame* frame = spawn_frame(h, h.promise(), options, &detail::probe_failure<T>, where);
  if (options.detached) return {};
  return SpawnedTask<T>(frame, h);
}

}  // namespace aiod::coro
