// SPDX-License-Identifier: MIT
// posix_workers.hpp — the posix backend's worker threads: they run queued
// operations as blocking system calls and queue the results for the shard.
//
// Workers are started on demand, one more whenever an op is queued and no
// worker is idle (an op such as recv or accept may block forever, so a fixed
// pool could deadlock), up to `max_threads`; a worker idle for `idle_exit`
// ends. A finished op goes to the finished list, and the shard's wake eventfd
// is written when (and only when) the shard has said it is going to sleep.
//
// Thread-safety: submit(), cancel(), signal_if_running(), take_finished(),
// prepare_sleep() and end_sleep() are the shard thread's; the workers are the
// pool's own. One mutex guards the queue, the finished list and each
// PosixOp's state.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <vector>

#include "unique_fd.hpp"
#include "backend/posix/posix_op.hpp"

namespace aiod::daemon::posix {

class WorkerPool {
 public:
  WorkerPool(unsigned max_threads, std::chrono::milliseconds idle_exit);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  // Interrupts running ops (their results are dropped), drops queued ones and
  // waits until every worker has ended.
  ~WorkerPool();

  // Returns 0 or -errno (the wake eventfd could not be created).
  int init();

  // Queues `ops` and wakes or starts workers for them.
  void submit(std::span<PosixOp* const> ops);

  enum class CancelOutcome {
    dequeued,   // was still queued: removed, never ran; the caller completes it
    signalled,  // is running: flagged and its worker signalled; it will finish
    finished,   // already finished (its result waits in the finished list)
  };
  CancelOutcome cancel(PosixOp& op);
  // Signals the op's worker again if the op is still running (the first
  // signal may have arrived before the worker entered its system call).
  // Returns whether it was running.
  bool signal_if_running(PosixOp& op);

  // Moves every finished op to `out`. Cheap when there are none.
  void take_finished(std::vector<PosixOp*>& out);

  // Before the shard sleeps on wake_fd(): returns false (do not sleep) when
  // results are already waiting; otherwise the next finishing op writes the
  // eventfd. end_sleep() after waking.
  bool prepare_sleep();
  void end_sleep();
  [[nodiscard]] int wake_fd() const noexcept { return wake_efd_.get(); }

  // System calls made by the workers, for stats.
  [[nodiscard]] std::uint64_t syscalls() const noexcept { return syscalls_.load(std::memory_order_relaxed); }
  // Workers alive now (for tests and logs).
  [[nodiscard]] unsigned threads() const;
  // Ops a worker has taken and not finished.
  [[nodiscard]] unsigned running() const;

 private:
  struct Worker {
    std::condition_variable cv;
    bool claimed = false;  // handed work by submit(); guarded by mutex_
  };
  static void* thread_entry(void* self);
  void run_worker();
  void finish(PosixOp& op, int result);  // mutex_ held
  bool spawn();                          // mutex_ held

  const unsigned max_threads_;
  const std::chrono::milliseconds idle_exit_;
  UniqueFd wake_efd_;
  std::atomic<std::uint64_t> syscalls_{0};
  std::atomic<bool> has_finished_{false};  // hint: finished_ is not empty

  mutable std::mutex mutex_;
  std::condition_variable exited_;  // a worker ended (for the destructor)
  std::deque<PosixOp*> queue_;
  std::vector<PosixOp*> finished_;
  std::vector<Worker*> idle_;  // waiting for work, most recent last
  unsigned threads_ = 0;
  bool shard_sleeping_ = false;
  bool stopping_ = false;
  std::vector<PosixOp*> running_;  // for the destructor's interruption
};

}  // namespace aiod::daemon::posix
