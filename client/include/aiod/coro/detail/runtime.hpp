// SPDX-License-Identifier: MIT
// detail/runtime.hpp — what the coroutine headers need from the runtime in
// libaiod: an opaque Frame (one per spawned task), the intrusive list that
// waiters link into, and the calls awaiters make when they suspend and resume.
//
// Not for applications. Every function here is called on the thread that runs
// the frame's Scheduler, except post_ready(), which any thread may call.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <system_error>

#include "aiod/handle.hpp"
#include "aiod/ops.hpp"

namespace aiod::coro {

// How SpawnedTask::complete() and Scheduler::run() finish tasks.
enum class CompleteMode {
  wait,    // until the task returns by itself
  cancel,  // cancel it first, then wait until it returns
};

namespace detail {

// The runtime's record of one spawned task: its scheduler, its status, where
// to resume it, what it waits on. Defined in libaiod (client/src/coro/).
struct Frame;

// Intrusive, circular and doubly linked: unlinking needs no list head, so a
// node can leave whatever list holds it. An unlinked node points at itself.
struct ListNode {
  ListNode* prev = this;
  ListNode* next = this;

  ListNode() noexcept = default;
  ListNode(const ListNode&) = delete;
  ListNode& operator=(const ListNode&) = delete;
  ~ListNode() { unlink(); }

  [[nodiscard]] bool linked() const noexcept { return next != this; }
  void unlink() noexcept {
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
};

// A list of nodes behind a sentinel. Not copyable or movable (the nodes point
// at the sentinel).
class List {
 public:
  List() noexcept = default;
  List(const List&) = delete;
  List& operator=(const List&) = delete;
  ~List() {
    while (!empty()) head_.next->unlink();
  }

  [[nodiscard]] bool empty() const noexcept { return head_.next == &head_; }
  [[nodiscard]] ListNode* front() noexcept { return empty() ? nullptr : head_.next; }
  [[nodiscard]] ListNode* back() noexcept { return empty() ? nullptr : head_.prev; }
  void push_back(ListNode& n) noexcept {
    n.prev = head_.prev;
    n.next = &head_;
    head_.prev->next = &n;
    head_.prev = &n;
  }
  // The node after `n`, or nullptr at the end.
  [[nodiscard]] ListNode* next(const ListNode& n) noexcept { return n.next == &head_ ? nullptr : n.next; }
  ListNode* pop_front() noexcept {
    ListNode* n = front();
    if (n != nullptr) n->unlink();
    return n;
  }
  // Moves every node of `other` to the end of this list.
  void splice(List& other) noexcept {
    while (ListNode* n = other.pop_front()) push_back(*n);
  }

 private:
  ListNode head_;
};

// A task or a thread blocked in a synchronisation primitive. It lives in the
// awaiter (so in the coroutine frame) or on the blocked thread's stack, and is
// linked into the primitive's waiter list while it waits. For the thread-safe
// primitives every field is guarded by the primitive's lock.
struct Waiter {
  ListNode node;           // first member: a ListNode* is a Waiter*
  Frame* frame = nullptr;  // nullptr: a thread blocked outside any task
  bool granted = false;    // the primitive handed over what was waited for
  bool exclusive = false;  // RwLock: a writer

  static Waiter& of(ListNode& n) noexcept { return *reinterpret_cast<Waiter*>(&n); }
};

// Called on the scheduler's thread when the task waiting in `ctx` is cancelled.
using CancelHook = void (*)(Frame& frame, void* ctx);

// --- state of the running task ---------------------------------------------------
[[nodiscard]] bool canceled(const Frame* f) noexcept;
// coro::set_cancelable(): false if the task is already cancelled.
bool set_cancelable(Frame* f, bool cancelable) noexcept;

// --- suspending -------------------------------------------------------------------
// A wait that a task of the same thread ends (ResetEvent, Semaphore): the
// waker calls resume_now(). `on_cancel` unlinks the waiter and resumes it.
void park_local(Frame* f, std::coroutine_handle<> h, void* ctx, CancelHook on_cancel) noexcept;
// A wait that another thread may end (Mutex, RwLock, Queue, ThreadPool): the
// waker calls post_ready(); the scheduler resumes the task in its next tick,
// and a blocking tick wakes up for it.
void park_remote(Frame* f, std::coroutine_handle<> h, void* ctx, CancelHook on_cancel) noexcept;
// park_remote() for a ThreadPool call: the task must not be destroyed, even
// by its scheduler's teardown, until the worker has posted it.
void park_pinned(Frame* f, std::coroutine_handle<> h, void* ctx, CancelHook on_cancel) noexcept;
// A user yield with an application-defined state (not 0).
void park_yield(Frame* f, std::coroutine_handle<> h, std::uint64_t state) noexcept;

// --- resuming ----------------------------------------------------------------------
// Runs a task parked by park_local() or park_yield() right now, until it
// suspends again, then returns (zig-aio's synchronous wake-up).
void resume_now(Frame* f);
// Ends a park_remote() wait from the scheduler's thread (a cancel hook) and
// runs the task right now.
void resume_remote_now(Frame* f);
// Thread-safe: queues a task parked by park_remote() for its scheduler and
// wakes the scheduler if it sleeps. The last thing a waker does with the task.
void post_ready(Frame* f) noexcept;

// --- IO ------------------------------------------------------------------------------
struct IoWait;

// One op of an IO await. Its address (tagged) is the op's userdata.
struct IoOpContext {
  IoWait* whole = nullptr;
  OpId id{};
  OpId* user_out_id = nullptr;        // the application's out_id, written at queue time
  std::error_code* result = nullptr;  // where the op's result goes (its out_error, or `error`)
  std::error_code error{};
  bool completed = false;
};

// The part of every IO awaiter the runtime sees.
struct IoWait {
  ListNode backlog_link;  // first member: in the scheduler's backlog while it waits there
  Frame* frame = nullptr;
  std::span<Op> ops{};
  std::span<IoOpContext> contexts{};
  std::size_t outstanding = 0;  // ops (and cancel ops) not yet completed
  std::size_t errors = 0;       // ops that failed
  std::error_code error{};      // failed before suspending, or cancelled
  bool canceled = false;

  static IoWait& of(ListNode& n) noexcept { return *reinterpret_cast<IoWait*>(&n); }
};

// Queues the ops for the task in `f` (submitted by the next tick), or puts
// them in the scheduler's backlog when the rings have no room for them yet,
// and parks the task. Returns false, with `w.error` set, when the task must
// not suspend: it is cancelled, there is no daemon, or the ops can not be
// queued (the backlog is full, the await is bigger than the ring...).
bool io_suspend(IoWait& w, Frame* f, std::coroutine_handle<> h);

// --- spawned tasks ------------------------------------------------------------------
struct SchedulerImpl;
// How a task that has returned failed: the exception that escaped it, or the
// error it returned (a std::error_code, or a Result holding one). Empty if it
// succeeded.
struct TaskFailure {
  std::exception_ptr exception{};
  std::error_code error{};
};
// Reads the failure out of a returned task's promise, leaving the result in place.
using FailureProbe = TaskFailure (*)(std::coroutine_handle<> root) noexcept;
// Called from the root coroutine's final suspend point.
void frame_finished(Frame* f) noexcept;
[[nodiscard]] bool frame_completed(const Frame* f) noexcept;
// Blocks (ticking the scheduler) until the task has returned; outside tasks only.
void frame_complete(Frame* f, CompleteMode mode);
// Frees a returned task (its coroutine and its record).
void frame_destroy(Frame* f) noexcept;
// The handle is gone: free the task once it returns.
void frame_detach(Frame* f) noexcept;
// co_await SpawnedTask::join() from another task of the same scheduler.
bool join_ready(Frame* target, CompleteMode mode);
bool join_suspend(Frame* target, Frame* joiner, std::coroutine_handle<> h);
void join_abandon(Frame* target) noexcept;
// A task parked in a user yield: its state, and waking it.
[[nodiscard]] std::uint64_t yield_state(const Frame* f) noexcept;
void wakeup(Frame* f);

}  // namespace detail
}  // namespace aiod::coro
