// SPDX-License-Identifier: MIT
// posix_workers.cpp — see posix_workers.hpp.
#include "backend/posix/posix_workers.hpp"

#include <signal.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace aiod::daemon::posix {

WorkerPool::WorkerPool(unsigned max_threads, std::chrono::milliseconds idle_exit)
    : max_threads_(max_threads), idle_exit_(idle_exit) {}

int WorkerPool::init() {
  wake_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  return wake_efd_ ? 0 : -errno;
}

WorkerPool::~WorkerPool() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  queue_.clear();  // never started: nobody waits for these results any more
  for (Worker* w : idle_) w->cv.notify_one();
  while (threads_ > 0) {
    // Re-signal until every running op has seen its cancellation: a signal can
    // land just before its worker enters the system call it should interrupt.
    for (PosixOp* op : running_) {
      op->cancelled.store(true, std::memory_order_relaxed);
      ::pthread_kill(op->worker, cancel_signal());
    }
    exited_.wait_for(lock, std::chrono::milliseconds(1));
  }
}

unsigned WorkerPool::threads() const {
  std::lock_guard lock(mutex_);
  return threads_;
}

unsigned WorkerPool::running() const {
  std::lock_guard lock(mutex_);
  return static_cast<unsigned>(running_.size());
}

void WorkerPool::submit(std::span<PosixOp* const> ops) {
  if (ops.empty()) return;
  std::lock_guard lock(mutex_);
  for (PosixOp* op : ops) {
    op->state = PosixOp::State::queued;
    queue_.push_back(op);
    if (!idle_.empty()) {
      Worker* w = idle_.back();
      idle_.pop_back();
      w->claimed = true;
      w->cv.notify_one();
      syscalls_.fetch_add(1, std::memory_order_relaxed);  // futex wake
    } else if (threads_ < max_threads_) {
      spawn();
    }
    // Else the op waits for a worker to finish what it runs.
  }
}

bool WorkerPool::spawn() {
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  // Workers run system calls, not deep code: a small stack keeps thousands
  // of blocked workers cheap.
  ::pthread_attr_setstacksize(&attr, 256 * 1024);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  const int err = ::pthread_create(&t, &attr, &WorkerPool::thread_entry, this);
  ::pthread_attr_destroy(&attr);
  syscalls_.fetch_add(1, std::memory_order_relaxed);  // clone
  if (err != 0) return false;
  ++threads_;
  return true;
}

void* WorkerPool::thread_entry(void* self) {
  // Process signals go to other threads; only the cancel signal reaches a worker.
  sigset_t all;
  ::sigfillset(&all);
  ::sigdelset(&all, cancel_signal());
  ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
  ::pthread_setname_np(::pthread_self(), "aiod-worker");
  // A root, cwd and umask of the worker's own (see confined_path.hpp: a
  // socket file is created with the client's umask by changing this
  // thread's). Cannot fail for a thread without CLONE_NEWNS.
  (void)::unshare(CLONE_FS);
  static_cast<WorkerPool*>(self)->run_worker();
  return nullptr;
}

void WorkerPool::run_worker() {
  Worker me;
  std::uint64_t calls = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!queue_.empty()) {
      PosixOp* op = queue_.front();
      queue_.pop_front();
      op->state = PosixOp::State::running;
      op->worker = ::pthread_self();
      running_.push_back(op);
      lock.unlock();
      calls = 0;
      const int res = execute(*op, calls);
      syscalls_.fetch_add(calls, std::memory_order_relaxed);
      lock.lock();
      std::erase(running_, op);
      finish(*op, res);
      continue;
    }
    if (stopping_) break;
    me.claimed = false;
    idle_.push_back(&me);
    const bool woken = me.cv.wait_for(lock, idle_exit_, [&] { return me.claimed || stopping_; });
    if (!me.claimed) std::erase(idle_, &me);
    if (!woken && queue_.empty()) break;  // idle too long
  }
  --threads_;
  exited_.notify_all();
  // Nothing of the pool is touched after the lock is released: the pool may
  // be destroyed as soon as threads_ reaches 0.
}

void WorkerPool::finish(PosixOp& op, int result) {
  op.state = PosixOp::State::finished;
  op.result = result;
  finished_.push_back(&op);
  has_finished_.store(true, std::memory_order_release);
  if (shard_sleeping_) {
    shard_sleeping_ = false;
    const std::uint64_t one = 1;
    (void)!::write(wake_efd_.get(), &one, sizeof(one));
    syscalls_.fetch_add(1, std::memory_order_relaxed);
  }
}

WorkerPool::CancelOutcome WorkerPool::cancel(PosixOp& op) {
  std::lock_guard lock(mutex_);
  switch (op.state) {
    case PosixOp::State::queued:
      std::erase(queue_, &op);
      op.state = PosixOp::State::idle;
      return CancelOutcome::dequeued;
    case PosixOp::State::running:
      op.cancelled.store(true, std::memory_order_seq_cst);
      ::pthread_kill(op.worker, cancel_signal());  // the worker cannot end while we hold the mutex
      syscalls_.fetch_add(1, std::memory_order_relaxed);
      return CancelOutcome::signalled;
    case PosixOp::State::idle:
    case PosixOp::State::finished:
      break;
  }
  return CancelOutcome::finished;
}

bool WorkerPool::signal_if_running(PosixOp& op) {
  std::lock_guard lock(mutex_);
  if (op.state != PosixOp::State::running) return false;
  ::pthread_kill(op.worker, cancel_signal());
  syscalls_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void WorkerPool::take_finished(std::vector<PosixOp*>& out) {
  if (!has_finished_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(mutex_);
  out.insert(out.end(), finished_.begin(), finished_.end());
  finished_.clear();
  has_finished_.store(false, std::memory_order_relaxed);
}

bool WorkerPool::prepare_sleep() {
  std::lock_guard lock(mutex_);
  if (!finished_.empty()) return false;
  shard_sleeping_ = true;
  return true;
}

void WorkerPool::end_sleep() {
  std::lock_guard lock(mutex_);
  shard_sleeping_ = false;
}

}  // namespace aiod::daemon::posix
