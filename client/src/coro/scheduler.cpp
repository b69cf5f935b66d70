// SPDX-License-Identifier: MIT
// scheduler.cpp — the tick: one batch to the daemon, then every ready task.
//
// A task becomes ready in three ways: its IO completes (the Batch callback,
// while the tick reaps), another thread posts it (post(): a lock-free stack
// drained by the tick), or a task of this scheduler finishes while it joins
// that task. Ready tasks are resumed in the order they became ready. Wake-ups
// by ResetEvent, Semaphore, wakeup() and cancellation do not go through the
// queue: they resume the task on the spot (frame.cpp).
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "coro/frame.hpp"

namespace aiod::coro::detail {

SchedulerImpl::SchedulerImpl(Client* c, const SchedulerOptions& options) : client(c) {
  if (client != nullptr) {
    conn = &client->connection();
    batch.capacity = options.max_outstanding_ops == 0 ? ~std::size_t{0} : options.max_outstanding_ops;
    max_backlog_ops = options.max_backlog_ops;
    max_await_ops = std::min<std::size_t>(batch.capacity, client->info().sq_entries);
    batch.callback = [this](OpId, std::uint64_t userdata, bool failed) { on_io_complete(userdata, failed); };
  } else if (!use_own_wake_fd()) {
    throw std::system_error(errno, std::system_category(), "aiod::coro::Scheduler: eventfd");
  }
}

void SchedulerImpl::make_ready(Frame& f) noexcept {
  f.status = Status::ready;
  f.on_cancel = nullptr;
  f.ready_next = nullptr;
  if (ready_tail != nullptr) {
    ready_tail->ready_next = &f;
  } else {
    ready_head = &f;
  }
  ready_tail = &f;
}

void SchedulerImpl::resume(Frame& f) {
  f.status = Status::active;
  f.on_cancel = nullptr;
  f.wait_ctx = nullptr;
  ++stats.resumes;
  ++depth;
  f.resume_at.resume();
  --depth;
}

void SchedulerImpl::run_ready() {
  while (Frame* f = ready_head) {
    ready_head = f->ready_next;
    if (ready_head == nullptr) ready_tail = nullptr;
    resume(*f);
  }
}

void SchedulerImpl::post(Frame& f) noexcept {
  posting.fetch_add(1, std::memory_order_relaxed);
  Frame* head = remote_head.load(std::memory_order_relaxed);
  do {
    f.remote_next = head;
    // seq_cst: ordered against our load of `sleeping` below, as the scheduler
    // orders its store of `sleeping` against its load of remote_head (Dekker).
  } while (!remote_head.compare_exchange_weak(head, &f, std::memory_order_seq_cst, std::memory_order_relaxed));
  // From here on the frame may already run, return and be freed: only the
  // scheduler is touched, and `posting` keeps it alive.
  if (sleeping.load(std::memory_order_seq_cst)) wake();  // then own_wake, seq_cst too
  posting.fetch_sub(1, std::memory_order_release);
}

void SchedulerImpl::drain_remote() noexcept {
  if (remote_head.load(std::memory_order_relaxed) == nullptr) return;
  // Acquire: what the poster wrote into the task before post().
  Frame* f = remote_head.exchange(nullptr, std::memory_order_acquire);
  Frame* fifo = nullptr;  // the stack is newest first
  while (f != nullptr) {
    Frame* next = f->remote_next;
    f->remote_next = fifo;
    fifo = f;
    f = next;
  }
  while (fifo != nullptr) {
    Frame* next = fifo->remote_next;
    --remote_waits;
    if (fifo->pinned) {
      fifo->pinned = false;
      --pinned_waits;
    }
    make_ready(*fifo);
    fifo = next;
  }
}

void SchedulerImpl::wake() const noexcept {
  // Acquire: wake_fd is set before own_wake.
  if (own_wake.load(std::memory_order_acquire)) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd.get(), &one, sizeof(one));
  } else {
    client->wake();
  }
}

bool SchedulerImpl::use_own_wake_fd() noexcept {
  wake_fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd) return false;
  // seq_cst: ordered before our next look at remote_head, as a waker's push is
  // before its look at own_wake (see post()).
  own_wake.store(true, std::memory_order_seq_cst);
  return true;
}

bool SchedulerImpl::can_progress() const noexcept {
  return ready_head != nullptr || remote_head.load(std::memory_order_relaxed) != nullptr || batch.outstanding > 0 ||
         remote_waits > 0 || !backlog.empty();
}

void SchedulerImpl::collect() noexcept {
  ListNode* n = completed.front();
  while (n != nullptr) {
    ListNode* next = completed.next(*n);
    Frame& f = Frame::of(*n);
    if (f.detached) frame_destroy(&f);
    n = next;
  }
}

std::error_code SchedulerImpl::wait_for_work() {
  ++stats.sleeps;
  // seq_cst: see post().
  sleeping.store(true, std::memory_order_seq_cst);
  // Each wake-up (the client's wait calls this after reaping) also moves what
  // fits from the backlog into the ring: the tick then publishes it.
  const auto work = [this] {
    return ready_head != nullptr || remote_head.load(std::memory_order_seq_cst) != nullptr ||
           (!backlog.empty() && drain_backlog());
  };
  std::error_code ec;
  if (!own_wake.load(std::memory_order_relaxed)) {
    ec = conn->wait(work);
    // The daemon is gone (every op has completed with daemon_gone) while
    // tasks still wait for other threads: from now on they wake us through
    // an eventfd of our own.
    if (!ec || remote_waits == 0 || !use_own_wake_fd()) {
      sleeping.store(false, std::memory_order_relaxed);
      return ec;
    }
  }
  while (!work()) {
    pollfd p{wake_fd.get(), POLLIN, 0};
    if (::poll(&p, 1, -1) > 0) {
      std::uint64_t value;
      (void)!::read(wake_fd.get(), &value, sizeof(value));
    }
  }
  sleeping.store(false, std::memory_order_relaxed);
  return ec;
}

void SchedulerImpl::submit_queued() {
  if (conn != nullptr && conn->queued_unsubmitted() > 0) {
    ++stats.batches;
    conn->submit();
  }
}

Result<std::size_t> SchedulerImpl::tick(CompletionMode mode) {
  if (depth > 0) throw std::logic_error("aiod::coro::Scheduler::tick() called from one of its tasks");
  ++stats.ticks;
  sleeping.store(false, std::memory_order_relaxed);
  collect();
  if (!backlog.empty()) (void)drain_backlog();
  submit_queued();
  drain_remote();
  std::error_code ec;
  if (mode == CompletionMode::blocking && ready_head == nullptr &&
      (batch.outstanding > 0 || remote_waits > 0 || !backlog.empty())) {
    for (;;) {
      ec = wait_for_work();
      // Woken only because backlogged ops moved into the ring: publish them
      // and wait on.
      if (ec || ready_head != nullptr || remote_head.load(std::memory_order_relaxed) != nullptr ||
          (batch.outstanding == 0 && backlog.empty())) {
        break;
      }
      submit_queued();
    }
  } else if (conn != nullptr) {
    if (conn->dead() && batch.outstanding > 0) {
      ec = conn->wait([] { return false; });  // completes every op with daemon_gone
    } else {
      conn->reap();
    }
  }
  drain_remote();
  run_ready();
  retry_cancels();
  if (!backlog.empty()) (void)drain_backlog();
  collect();
  batch.completed = 0;
  batch.errors = 0;
  if (ec) return ec;
  return running_count;
}

std::error_code SchedulerImpl::run(CompleteMode mode) {
  if (mode == CompleteMode::cancel) {
    while (ListNode* n = running.back()) {
      Frame& f = Frame::of(*n);
      // Not collected by the ticks inside complete(): freed here.
      const bool detached = std::exchange(f.detached, false);
      try {
        complete(f, CompleteMode::cancel);
      } catch (const std::system_error& e) {
        f.detached = detached;
        return e.code();
      }
      if (detached) {
        report_detached(f);
        frame_destroy(&f);
      }
    }
    collect();
    return {};
  }
  for (;;) {
    if (running_count == 0) {
      collect();
      return {};
    }
    if (!can_progress()) return std::make_error_code(std::errc::resource_deadlock_would_occur);
    auto r = tick(CompletionMode::blocking);
    if (!r) return r.error();
  }
}

void SchedulerImpl::complete(Frame& f, CompleteMode mode) {
  if (f.status == Status::completed) return;
  if (f.status == Status::abandoned) throw std::logic_error("aiod::coro: the task was destroyed with its scheduler");
  if (depth > 0) throw std::logic_error("aiod::coro: SpawnedTask::complete() inside a task: co_await join() instead");
  for (;;) {
    if (mode == CompleteMode::cancel) try_cancel(f);
    if (f.status == Status::completed) return;
    if (!can_progress()) {
      throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                              "aiod::coro: nothing can wake the task");
    }
    (void)tick(CompletionMode::blocking);  // a dead daemon fails the task's IO: it moves on
  }
}

bool SchedulerImpl::arm_poll_fd() {
  if (!backlog.empty()) (void)drain_backlog();
  submit_queued();
  // seq_cst: see post().
  sleeping.store(true, std::memory_order_seq_cst);
  if (ready_head != nullptr || remote_head.load(std::memory_order_seq_cst) != nullptr) return true;
  if (conn != nullptr) {
    if (client->arm_completion_fd()) return true;
  } else {
    std::uint64_t value;
    (void)!::read(wake_fd.get(), &value, sizeof(value));
  }
  // A post that came before the fd was cleared above left no signal behind.
  return remote_head.load(std::memory_order_seq_cst) != nullptr;
}

namespace {

bool is_cancellation(const TaskFailure& failure) {
  const std::error_code canceled = std::make_error_code(std::errc::operation_canceled);
  if (!failure.exception) return failure.error == canceled;
  try {
    std::rethrow_exception(failure.exception);
  } catch (const std::system_error& e) {
    return e.code() == canceled;
  } catch (...) {  // NOLINT(bugprone-empty-catch): any other exception is a failure
  }
  return false;
}

// The default handler: one line on stderr.
void print_failure(const DetachedFailure& f) {
  std::string what;
  if (f.exception) {
    try {
      std::rethrow_exception(f.exception);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "an exception not derived from std::exception";
    }
  } else {
    what = f.error.message() + " (" + f.error.category().name() + ":" + std::to_string(f.error.value()) + ")";
  }
  std::string line = "aiod::coro: detached task ";
  if (!f.name.empty()) line.append("\"").append(f.name).append("\" ");
  line.append("spawned at ")
      .append(f.spawned_at.file_name())
      .append(":")
      .append(std::to_string(f.spawned_at.line()))
      .append(" failed: ")
      .append(what);
  // Newlines inside the message would break the one-line promise.
  std::replace(line.begin(), line.end(), '\n', ' ');
  line.push_back('\n');
  (void)std::fputs(line.c_str(), stderr);
}

}  // namespace

void SchedulerImpl::report_detached(Frame& f) noexcept {
  if (f.probe == nullptr || !f.root) return;
  try {
    const TaskFailure failure = f.probe(f.root);
    if (!failure.exception && !failure.error) return;
    if (f.canceled && is_cancellation(failure)) return;
    ++stats.detached_failures;
    const DetachedFailure report{f.name != nullptr ? std::string_view(*f.name) : std::string_view(), f.spawned_at,
                                 failure.exception, failure.error};
    if (on_detached_failure) {
      on_detached_failure(report);
    } else {
      print_failure(report);
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): a handler's exception has nowhere to go
  }
}

void SchedulerImpl::teardown() noexcept {
  // Tasks that could not be completed. Their ops, and the ThreadPool jobs they
  // wait for, must finish before their awaiters (in the coroutine frames) go.
  for (ListNode* n = running.front(); n != nullptr; n = running.next(*n)) {
    Frame& f = Frame::of(*n);
    if (f.status == Status::io) io_cancel_hook(f, f.wait_ctx);
  }
  // The cancel hooks took every await out of the backlog.
  while (conn != nullptr && batch.outstanding > 0) {
    retry_cancels();
    if (conn->queued_unsubmitted() > 0) conn->submit();
    const std::uint64_t before = stats.ops_completed;
    if (conn->wait([&] { return batch.outstanding == 0 || stats.ops_completed != before; })) break;
  }
  ready_head = ready_tail = nullptr;  // nothing runs any more
  while (pinned_waits > 0) {
    (void)wait_for_work();
    drain_remote();
    ready_head = ready_tail = nullptr;
  }
  while (ListNode* n = running.pop_front()) {
    Frame& f = Frame::of(*n);
    if (f.root) f.root.destroy();  // awaiters leave their waiter lists
    f.root = {};
    if (f.detached) {
      delete &f;
    } else {
      f.status = Status::abandoned;  // its handle frees it
      f.sched = nullptr;
    }
  }
  running_count = 0;
  while (ListNode* n = completed.pop_front()) {
    Frame& f = Frame::of(*n);
    if (f.detached) {
      if (f.root) f.root.destroy();
      delete &f;
    } else {
      f.sched = nullptr;  // its handle collects the result
    }
  }
  // A thread may still be inside post() for a task that is gone by now.
  while (posting.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

}  // namespace aiod::coro::detail

namespace aiod::coro {

Scheduler::Scheduler() : impl_(std::make_unique<detail::SchedulerImpl>(nullptr, SchedulerOptions{})) {}

Scheduler::Scheduler(Client& client, SchedulerOptions options)
    : impl_(std::make_unique<detail::SchedulerImpl>(&client, options)) {}

Scheduler::~Scheduler() {
  try {
    (void)impl_->run(CompleteMode::cancel);
  } catch (...) {  // NOLINT(bugprone-empty-catch): teardown() frees what is left
  }
  impl_->teardown();
}

detail::Frame* Scheduler::spawn_frame(std::coroutine_handle<> root, detail::PromiseBase& promise,
                                      const SpawnOptions& options, detail::FailureProbe probe,
                                      const std::source_location& where) {
  auto* f = new detail::Frame;
  f->sched = impl_.get();
  f->root = root;
  f->resume_at = root;
  f->detached = options.detached;
  f->probe = probe;
  f->spawned_at = where;
  if (!options.name.empty()) f->name = new std::string(options.name);
  promise.frame = f;
  impl_->running.push_back(f->link);
  ++impl_->running_count;
  impl_->resume(*f);
  return f;
}

void Scheduler::on_detached_failure(DetachedFailureHandler handler) { impl_->on_detached_failure = std::move(handler); }

Result<std::size_t> Scheduler::tick(CompletionMode mode) { return impl_->tick(mode); }

std::error_code Scheduler::run(CompleteMode mode) { return impl_->run(mode); }

int Scheduler::poll_fd() const noexcept {
  return impl_->client != nullptr ? impl_->client->completion_fd() : impl_->wake_fd.get();
}

bool Scheduler::arm_poll_fd() { return impl_->arm_poll_fd(); }

std::size_t Scheduler::running() const noexcept { return impl_->running_count; }

const SchedulerStats& Scheduler::stats() const noexcept { return impl_->stats; }

Client* Scheduler::client() const noexcept { return impl_->client; }

}  // namespace aiod::coro
