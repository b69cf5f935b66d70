// SPDX-License-Identifier: MIT
// posix_backend.hpp — Backend without io_uring: blocking system calls on
// worker threads, timers on the shard thread.
//
// prepare() stages an op; flush() starts what is staged: nops and cancels are
// settled at once, timeouts and link timeouts go to the timer queue, reads,
// writes, socket transfers and polls are first tried without blocking on the
// shard thread (try_now()), and whatever would block goes to the worker pool. drain() fires expired timers, collects
// the workers' results and delivers them; wait() sleeps in ppoll() on the pool's eventfd, no longer than the nearest
// timer.
//
// Cancellation: a queued op is removed and completes -ECANCELED at once; a
// running op's worker is signalled (no SA_RESTART, so its system call returns
// EINTR and the op reports -ECANCELED), and signalled again every millisecond
// until the op has ended, because a signal can land just before the call.
// An op and the link timeout prepared right after it are a pair: whichever
// ends first cancels the other (linked_timeouts is true).
//
// Every op completes exactly once: an op leaves the pool either as a finished
// result or dequeued by a cancel, both decided under the pool's mutex; a
// timer leaves the timer queue either by expiring or by being disarmed, both
// on the shard thread; complete() is the only place results are queued for
// delivery, and it frees the op.
//
// Thread-safety: like every Backend, one shard thread calls all methods.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "os/peer_creds.hpp"
#include "backend/posix/posix_op.hpp"
#include "backend/posix/posix_timers.hpp"
#include "backend/posix/posix_workers.hpp"

namespace aiod::daemon::posix {

class PosixBackend final : public Backend {
 public:
  // Most worker threads, and how long an idle one lives.
  static constexpr unsigned kMaxWorkers = 4096;
  static constexpr std::chrono::milliseconds kIdleExit{10'000};
  // How often a running op whose cancellation is pending is signalled again.
  static constexpr std::uint64_t kResignalNs = 1'000'000;

  // Values other than the defaults are for tests (an op that must wait in
  // the queue; workers that exit soon).
  explicit PosixBackend(unsigned entries, unsigned max_workers = kMaxWorkers,
                        std::chrono::milliseconds idle_exit = kIdleExit);
  PosixBackend(const PosixBackend&) = delete;
  PosixBackend& operator=(const PosixBackend&) = delete;
  // Interrupts and waits for running ops; no completion is delivered.
  ~PosixBackend() override = default;

  // Returns 0 or -errno with `error` set.
  int init(std::string& error);

  [[nodiscard]] BackendInfo info() const override { return {"posix", true}; }
  [[nodiscard]] bool supports(BackendOpcode op) const override { return op < BackendOpcode::count; }
  [[nodiscard]] unsigned space() const override { return entries_ - static_cast<unsigned>(staged_.size()); }
  [[nodiscard]] int prepare(const BackendOp& op, Completion* done) override;
  [[nodiscard]] int cancel(Completion* target) override;
  int flush() override;
  int drain() override;
  int wait(std::optional<std::chrono::nanoseconds> timeout) override;
  [[nodiscard]] int register_personality() override;
  void unregister_personality(std::uint16_t id) override;
  [[nodiscard]] std::uint64_t syscalls() const override { return syscalls_ + pool_.syscalls(); }
  [[nodiscard]] BackendReport report() const override;

  // At most `per_owner` ops of one owner (BackendOp::owner, a client uid) are
  // with the workers at a time; the owner's others wait, in order, outside
  // the pool, so one uid's ops that block for ever (polls, FIFO opens, reads
  // of idle sockets) never keep another's from a worker.
  void set_worker_share(unsigned per_owner) { worker_share_ = per_owner == 0 ? 1 : per_owner; }

  // --- for a backend that hands some of its ops to this one (UringBackend) ----
  // Whether any op is staged, pending or waiting to be delivered.
  [[nodiscard]] bool busy() const { return !staged_.empty() || !live_.empty() || !ready_.empty(); }
  // Whether `target` is an op of this backend that has not completed yet.
  [[nodiscard]] bool holds(Completion* target) const;
  // The sleep protocol, which wait() follows too: begin_sleep() flushes and
  // says whether results wait already (then do not sleep) or until when the
  // caller may sleep at the latest for this backend's timers (deadline_ns on
  // TimerQueue::now_ns()'s clock; nullopt: no limit). When it says sleep, the
  // next op to finish writes wake_fd(), and end_sleep() must follow the sleep.
  struct SleepPlan {
    bool results_waiting = false;
    std::optional<std::uint64_t> deadline_ns;
  };
  [[nodiscard]] SleepPlan begin_sleep();
  void end_sleep() { pool_.end_sleep(); }
  [[nodiscard]] int wake_fd() const noexcept { return pool_.wake_fd(); }

  // Worker threads alive now, and ops a worker has started (for tests).
  [[nodiscard]] unsigned worker_threads() const { return pool_.threads(); }
  [[nodiscard]] unsigned running_ops() const { return pool_.running(); }

 private:
  PosixOp* alloc();
  void release(PosixOp& op);
  void start(PosixOp& op);
  // Queues op's result for delivery, settles its link partner, frees it.
  void complete(PosixOp& op, int res);
  // Cancels a live op: 0 when it will complete -ECANCELED, -ENOENT when it
  // has finished already (or is being cancelled).
  int cancel_op(PosixOp& op);
  PosixOp* find_live(Completion* target, const PosixOp* except);
  void submit_batch();
  // Hands `op` to the pool (batch_) within its owner's share, or holds it back.
  void dispatch(PosixOp& op);
  // Its owner's op `op` leaves the pool: the owner's next held-back op may go.
  void leave_share(PosixOp& op);
  void fire_timers();
  void resignal();

  const unsigned entries_;
  PeerCreds identity_;  // the daemon's, when the backend was made

  // --- shard thread only ---------------------------------------------------------
  std::vector<std::unique_ptr<PosixOp>> storage_;  // every op ever made; outlives pool_
  std::vector<PosixOp*> free_;
  std::vector<PosixOp*> staged_;
  std::vector<PosixOp*> flushing_;  // staged_'s contents during flush()
  PosixOp* last_linked_ = nullptr;  // staged op with a link, for a link timeout to guard
  std::vector<PosixOp*> batch_;     // worker ops of the flush in progress
  std::unordered_multimap<Completion*, PosixOp*> live_;
  std::vector<std::pair<Completion*, int>> ready_;  // results to deliver
  std::vector<std::pair<Completion*, int>> delivering_;
  std::vector<PosixOp*> scratch_;
  std::vector<PosixOp*> cancelling_;  // signalled, not finished yet
  std::uint64_t last_resignal_ns_ = 0;
  TimerQueue timers_;
  struct Share {
    unsigned with_workers = 0;     // the owner's ops in the pool
    std::deque<PosixOp*> waiting;  // held back, in submission order
  };
  std::unordered_map<std::uint32_t, Share> shares_;  // owners with ops in the pool or waiting
  unsigned worker_share_ = kMaxWorkers;
  // id -> identity; null: the daemon's own (no switch needed)
  std::map<std::uint16_t, std::shared_ptr<const PeerCreds>> personalities_;
  std::uint16_t next_personality_ = 1;
  std::uint64_t syscalls_ = 0;
  OpCounts prepared_;  // by kind, for report()

  WorkerPool pool_;  // last: destroyed first, while the ops it refers to exist
};

}  // namespace aiod::daemon::posix
