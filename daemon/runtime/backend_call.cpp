// SPDX-License-Identifier: MIT
// backend_call.cpp — running a BackendCall's op and resuming its coroutine.
#include "runtime/backend_call.hpp"

#include <cerrno>

namespace aiod::daemon {

namespace {
// The link timeout's own result is of no interest: its op reports -ECANCELED.
class IgnoredResult final : public Completion {
 public:
  void complete(int) override {}
};
IgnoredResult g_ignored;
}  // namespace

bool BackendCall::await_suspend(std::coroutine_handle<> h) {
  const unsigned need = has_limit_ ? 2 : 1;
  if (backend_.space() < need) backend_.flush();
  BackendOp op = op_;
  if (has_limit_) op.link = Link::soft;
  int ret = backend_.space() < need ? -EAGAIN : backend_.prepare(op, this);
  if (ret == 0 && has_limit_) {
    const BackendOp timer(op::LinkTimeout{.ts = &limit_});
    if (backend_.prepare(timer, &g_ignored) < 0) {
      // The op is already with the backend and will complete into this call:
      // go on waiting for it, without the limit. Flushing ends its link, so
      // the next op prepared is not linked behind it.
      backend_.flush();
    }
  }
  if (ret < 0) {
    result_ = ret;
    return false;  // resume at once with the error
  }
  waiter_ = h;
  if (scope_ != nullptr) scope_->push_back(*this);
  return true;
}

void BackendCall::complete(int res) {
  result_ = res;
  if (scope_ != nullptr) scope_->remove(*this);
  sched_.schedule(waiter_);
}

void cancel_all(CancelScope& scope) {
  for (BackendCall* c = scope.front(); c != nullptr; c = CancelScope::next(*c)) c->cancel();
}

}  // namespace aiod::daemon
