// SPDX-License-Identifier: MIT
// frame.hpp — the coroutine runtime's records: a Frame per spawned task and
// the scheduler's state. Private to libaiod.
//
// Threads: everything here belongs to the scheduler's thread except the
// members under "touched by other threads": remote_head (a lock-free stack of
// frames made ready elsewhere), sleeping and posting.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "aiod/coro/scheduler.hpp"
#include "connection.hpp"
#include "unique_fd.hpp"

namespace aiod::coro::detail {

enum class Status : std::uint8_t {
  active,     // running, or about to run
  ready,      // in the scheduler's ready queue
  io,         // waiting for its ops
  io_cancel,  // cancelled in IO: waiting for its ops and their cancel ops
  waiting,    // in a ResetEvent or a Semaphore
  remote,     // in a Mutex, RwLock, Queue or ThreadPool call
  yielded,    // in coro::yield()
  joining,    // in SpawnedTask::join()
  completed,  // returned: the result waits in the promise
  abandoned,  // destroyed with its scheduler before it returned
};

struct Frame {
  ListNode link;  // first member: in the scheduler's running or completed list
  SchedulerImpl* sched = nullptr;
  std::coroutine_handle<> root{};       // the spawned Task's coroutine
  std::coroutine_handle<> resume_at{};  // the innermost suspended coroutine
  Status status = Status::active;
  bool canceled = false;  // sticky
  bool cancelable = true;
  bool cancel_requested = false;  // cancelled while not cancelable
  bool detached = false;
  bool cancel_retry = false;  // in SchedulerImpl::cancel_retry
  bool pinned = false;        // a worker thread will post it
  std::uint64_t yield_state = 0;
  Frame* joiner = nullptr;   // the task in join() on this one
  void* wait_ctx = nullptr;  // the awaiter it is parked in
  CancelHook on_cancel = nullptr;
  Frame* ready_next = nullptr;   // ready queue
  Frame* remote_next = nullptr;  // SchedulerImpl::remote_head stack
  // For the detached-failure handler.
  FailureProbe probe = nullptr;
  std::string* name = nullptr;  // SpawnOptions::name, owned; null when none
  std::source_location spawned_at{};

  Frame() = default;
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
  ~Frame() { delete name; }

  static Frame& of(ListNode& n) noexcept { return *reinterpret_cast<Frame*>(&n); }
};
static_assert(std::is_standard_layout_v<Frame>, "Frame::of needs the node first in a standard-layout struct");

struct SchedulerImpl {
  SchedulerImpl(Client* c, const SchedulerOptions& options);
  SchedulerImpl(const SchedulerImpl&) = delete;
  SchedulerImpl& operator=(const SchedulerImpl&) = delete;

  // Scheduler thread.
  Result<std::size_t> tick(CompletionMode mode);
  std::error_code run(CompleteMode mode);
  bool arm_poll_fd();
  void make_ready(Frame& f) noexcept;
  void resume(Frame& f);
  void try_cancel(Frame& f);
  void complete(Frame& f, CompleteMode mode);
  [[nodiscard]] bool can_progress() const noexcept;
  void teardown() noexcept;
  // A detached task has returned: tells the handler if it failed.
  void report_detached(Frame& f) noexcept;
  // Moves awaits from the backlog into the rings while they fit. Returns
  // whether any moved (or failed, and so made its task ready).
  bool drain_backlog();
  // Whether an error of Connection::queue() means "no room yet".
  [[nodiscard]] bool no_room(std::error_code ec) const noexcept;
  // Any thread.
  void post(Frame& f) noexcept;

  // --- immutable after construction ------------------------------------------------
  Client* client = nullptr;
  aiod::detail::Connection* conn = nullptr;

  // --- the scheduler's thread ------------------------------------------------------
  aiod::detail::Batch batch;
  List running;
  List completed;
  std::size_t running_count = 0;
  Frame* ready_head = nullptr;
  Frame* ready_tail = nullptr;
  std::size_t remote_waits = 0;      // frames parked by park_remote() or park_pinned()
  std::size_t pinned_waits = 0;      // of those, by park_pinned()
  int depth = 0;                     // > 0 while one of our tasks runs
  std::vector<Frame*> cancel_retry;  // cancel ops that found no room yet
  // Awaits waiting for room in the rings (IoWait::backlog_link), oldest first.
  List backlog;
  std::size_t backlog_ops = 0;
  std::size_t max_backlog_ops = 0;
  std::size_t max_await_ops = 0;  // the most ops one await can ever have in the rings
  DetachedFailureHandler on_detached_failure;  // empty: the default
  SchedulerStats stats;

  // --- touched by other threads ------------------------------------------------------
  std::atomic<Frame*> remote_head{nullptr};
  std::atomic<bool> sleeping{false};  // a tick waits, or the poll fd is armed
  std::atomic<int> posting{0};        // post() calls in progress
  // Wake-ups from other threads go to wake_fd rather than to the client's
  // eventfd: always without a client, and once the daemon is gone. Set once,
  // by the scheduler's thread, after wake_fd.
  std::atomic<bool> own_wake{false};
  UniqueFd wake_fd;

 private:
  void drain_remote() noexcept;
  void run_ready();
  void collect() noexcept;
  void retry_cancels();
  void submit_queued();
  std::error_code wait_for_work();
  void wake() const noexcept;
  bool use_own_wake_fd() noexcept;
  void on_io_complete(std::uint64_t userdata, bool failed) noexcept;
};

// IO (io.cpp).
// Connection::queue() for the ops of `w`, with the runtime's userdata, out_id
// and out_error in place; on success the ops are outstanding.
std::error_code queue_await(SchedulerImpl& s, IoWait& w);
// Ends an await that never reached the rings: each op's out_error and the
// await's result become `ec`, and the task is made ready.
void fail_await(SchedulerImpl& s, IoWait& w, std::error_code ec);
bool queue_cancels(Frame& f, IoWait& w);
void io_cancel_hook(Frame& f, void* ctx);
// The userdata of an op (tagged for a cancel op) and back.
inline constexpr std::uint64_t kCancelTag = 1;

}  // namespace aiod::coro::detail
