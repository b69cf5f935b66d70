// SPDX-License-Identifier: MIT
// posix_op.hpp — one operation inside the posix backend, and the function
// that executes it as blocking system calls.
//
// A PosixOp is created by the shard thread at flush() and freed by it after
// its Completion has been told the result. In between it may sit in the
// worker pool (queued, running, finished) or in the timer queue. Fields are
// grouped by who may touch them.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "os/peer_creds.hpp"
#include "backend/backend.hpp"

namespace aiod::daemon::posix {

struct PosixOp {
  // --- immutable once handed to a worker -------------------------------------
  BackendOp op;
  Completion* done = nullptr;
  // The identity to run under; null: the daemon's own.
  std::shared_ptr<const PeerCreds> creds;

  // --- guarded by the worker pool's mutex ------------------------------------
  enum class State : std::uint8_t { idle, queued, running, finished };
  State state = State::idle;
  int result = 0;
  pthread_t worker{};  // valid while state == running
  // Set (under the mutex) before the worker is signalled; the worker reads it
  // without the lock after a system call returns EINTR.
  std::atomic<bool> cancelled{false};

  // --- shard thread only -----------------------------------------------------
  PosixOp* link_timer = nullptr;   // the link timeout guarding this op
  PosixOp* link_target = nullptr;  // for a link timeout: the op it guards
  bool target_done = false;        // a link timeout whose op ended before it started
  bool timer_armed = false;        // in the timer queue (timeout, link_timeout)
  std::multimap<std::uint64_t, PosixOp*>::iterator timer_pos;
  bool resignal = false;   // running, cancel requested: signalled until it ends
  bool held_back = false;  // waits for a worker share of its owner (PosixBackend::Share)
  bool in_share = false;   // counted in its owner's share (with the workers or held back)
};

// Runs `p.op` on the calling (worker) thread, under `p.creds` when set (the
// thread alone switches, with no effective capabilities, and switches back):
// the system call(s) the opcode
// stands for, blocking, with io_uring's conventions — the result is >= 0 or
// -errno; a descriptor that is non-blocking is waited for with poll() instead
// of failing with -EAGAIN; a system call interrupted because `p.cancelled` was
// set ends the op with -ECANCELED (other interruptions are retried). Adds the
// system calls made to `syscalls`.
int execute(const PosixOp& p, std::uint64_t& syscalls);

// Tries `op` on the calling (shard) thread without blocking, as io_uring
// first issues an op non-blocking: socket transfers with MSG_DONTWAIT, reads
// and writes with RWF_NOWAIT (or, for a file without RWF_NOWAIT that is not a
// regular file or block device, when the descriptor itself is non-blocking),
// poll with a zero timeout. Returns the result, or nullopt when the op would
// block (or is of a kind never tried here) and must go to a worker.
std::optional<int> try_now(const BackendOp& op, std::uint64_t& syscalls);

// The signal that interrupts a worker's blocking system call. Its handler is
// installed (once per process, without SA_RESTART) by install_cancel_signal().
int cancel_signal();
void install_cancel_signal();

}  // namespace aiod::daemon::posix
