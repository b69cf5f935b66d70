// SPDX-License-Identifier: MIT
// backend_call.hpp — BackendCall, the awaitable that runs one backend op.
//
// A CancelScope holds pending calls so that they can be cancelled together.
//
// Belongs to one shard thread and is not thread-safe. A call completes exactly
// once, also when cancelled; its coroutine must not end before it has.
#pragma once

#include <chrono>
#include <coroutine>

#include "backend/backend.hpp"
#include "os/timespec.hpp"
#include "runtime/intrusive_list.hpp"
#include "runtime/scheduler.hpp"

namespace aiod::daemon {

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
      : backend_(backend),
        sched_(sched),
        op_(op),
        scope_(scope),
        has_limit_(true),
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
