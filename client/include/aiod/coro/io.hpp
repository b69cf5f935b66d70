// SPDX-License-Identifier: MIT
// io.hpp — IO from a task: co_await io::single / io::multi / io::complete.
//
//   std::size_t n = 0;
//   std::error_code ec = co_await io::single(aiod::Recv{.socket = s, .buffer = buf, .out_read = &n});
//   ec = co_await io::multi(aiod::Send{.socket = s, .buffer = "a", .link = aiod::Link::soft},
//                           aiod::Recv{.socket = s, .buffer = buf, .out_read = &n});
//
// The ops are queued on the scheduler's client and the task suspends; the next
// tick submits them to the daemon together with every other task's ops, and
// the task resumes once all of its ops have completed. Same rules as the
// Client's calls of the same names: links work within one call, the last op
// must be unlinked, buffers and out-pointers must stay valid until the await
// returns (locals of the task are fine). Each op's out_error and out_id are
// honoured; its userdata is taken over by the runtime.
//
// Results:
//   single    the op's error ({} on success)
//   multi     {} or errc::some_operation_failed (see each op's out_error)
//   complete  the number of failed ops
// and, for all three, std::errc::operation_canceled (ECANCELED, system
// category) if the task is or gets cancelled — its ops still in flight are
// cancelled first and the await returns only once every op has completed —
// errc::daemon_not_running in a scheduler without a client, or the error that
// kept the ops from being queued (errc::invalid_batch, errc::queue_full when
// the scheduler's backlog is full or the await has more ops than the ring
// holds...). Ops that find no room in the rings wait in the scheduler's
// backlog, in await order and each await whole (SchedulerOptions); an op's
// out_id is written when it leaves the backlog for the ring.
//
// Awaiters live in the coroutine frame: an await allocates nothing.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <span>
#include <system_error>
#include <type_traits>

#include "aiod/error.hpp"
#include "aiod/ops.hpp"
#include "aiod/result.hpp"
#include "aiod/coro/detail/runtime.hpp"
#include "aiod/coro/task.hpp"

namespace aiod::coro {

namespace detail {

// Ops and their contexts: in the awaiter when their number is known, else the
// caller's span plus contexts of our own.
template <std::size_t N>
class IoAwaiterBase {
 public:
  template <class... O>
  explicit IoAwaiterBase(const O&... ops) : ops_{Op(ops)...} {}
  IoAwaiterBase(const IoAwaiterBase&) = delete;
  IoAwaiterBase& operator=(const IoAwaiterBase&) = delete;

  [[nodiscard]] bool await_ready() const noexcept { return false; }
  template <class P>
  requires std::is_base_of_v<PromiseBase, P>
  bool await_suspend(std::coroutine_handle<P> h) {
    wait_.ops = ops_;
    wait_.contexts = contexts_;
    return io_suspend(wait_, h.promise().frame, h);
  }

 protected:
  std::array<Op, N> ops_;
  std::array<IoOpContext, N> contexts_{};
  IoWait wait_{};
};

class SingleAwaiter : public IoAwaiterBase<1> {
 public:
  using IoAwaiterBase<1>::IoAwaiterBase;
  [[nodiscard]] std::error_code await_resume() const noexcept {
    if (wait_.error) return wait_.error;
    return *contexts_[0].result;
  }
};

template <std::size_t N>
class MultiAwaiter : public IoAwaiterBase<N> {
 public:
  using IoAwaiterBase<N>::IoAwaiterBase;
  [[nodiscard]] std::error_code await_resume() const noexcept {
    if (this->wait_.error) return this->wait_.error;
    return this->wait_.errors == 0 ? std::error_code() : make_error_code(errc::some_operation_failed);
  }
};

template <std::size_t N>
class CompleteAwaiter : public IoAwaiterBase<N> {
 public:
  using IoAwaiterBase<N>::IoAwaiterBase;
  [[nodiscard]] Result<std::size_t> await_resume() const {
    if (this->wait_.error) return this->wait_.error;
    return this->wait_.errors;
  }
};

// io::complete over ops the caller keeps (any number; the contexts are the
// one allocation of this form).
class SpanAwaiter {
 public:
  explicit SpanAwaiter(std::span<Op> ops) : contexts_(std::make_unique<IoOpContext[]>(ops.size())) {
    wait_.ops = ops;
    wait_.contexts = {contexts_.get(), ops.size()};
  }
  SpanAwaiter(const SpanAwaiter&) = delete;
  SpanAwaiter& operator=(const SpanAwaiter&) = delete;

  [[nodiscard]] bool await_ready() const noexcept { return false; }
  template <class P>
  requires std::is_base_of_v<PromiseBase, P>
  bool await_suspend(std::coroutine_handle<P> h) { return io_suspend(wait_, h.promise().frame, h); }
  [[nodiscard]] Result<std::size_t> await_resume() const {
    if (wait_.error) return wait_.error;
    return wait_.errors;
  }

 private:
  std::unique_ptr<IoOpContext[]> contexts_;
  IoWait wait_{};
};

template <class O>
concept Operation = std::is_constructible_v<Op, const O&>;

}  // namespace detail

namespace io {

// One op; returns its error.
template <detail::Operation O>
[[nodiscard]] detail::SingleAwaiter single(const O& op) {
  return detail::SingleAwaiter(op);
}

// A batch; returns {} or errc::some_operation_failed.
template <detail::Operation... O>
requires(sizeof...(O) > 0) [[nodiscard]] detail::MultiAwaiter<sizeof...(O)> multi(const O&... ops) {
  return detail::MultiAwaiter<sizeof...(O)>(ops...);
}

// A batch; returns the number of failed ops.
template <detail::Operation... O>
requires(sizeof...(O) > 0) [[nodiscard]] detail::CompleteAwaiter<sizeof...(O)> complete(const O&... ops) {
  return detail::CompleteAwaiter<sizeof...(O)>(ops...);
}

// A batch of any size held by the caller until the await returns (the ops'
// userdata and out_id fields are overwritten); returns the number of failed ops.
[[nodiscard]] inline detail::SpanAwaiter complete(std::span<Op> ops) { return detail::SpanAwaiter(ops); }

}  // namespace io
}  // namespace aiod::coro
