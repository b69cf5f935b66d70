// SPDX-License-Identifier: MIT
// posix_timers.cpp — see posix_timers.hpp.
#include "backend/posix/posix_timers.hpp"

#include "os/timespec.hpp"

namespace aiod::daemon::posix {

std::uint64_t TimerQueue::now_ns() { return monotonic_ns(); }

void TimerQueue::arm(PosixOp& op, std::uint64_t relative_ns) {
  const std::uint64_t now = now_ns();
  // Saturate: a timer too far away to represent never expires in practice.
  const std::uint64_t deadline = relative_ns > UINT64_MAX - now ? UINT64_MAX : now + relative_ns;
  op.timer_pos = timers_.emplace(deadline, &op);
  op.timer_armed = true;
}

bool TimerQueue::disarm(PosixOp& op) {
  if (!op.timer_armed) return false;
  timers_.erase(op.timer_pos);
  op.timer_armed = false;
  return true;
}

void TimerQueue::take_expired(std::uint64_t now, std::vector<PosixOp*>& out) {
  while (!timers_.empty() && timers_.begin()->first <= now) {
    PosixOp* op = timers_.begin()->second;
    timers_.erase(timers_.begin());
    op->timer_armed = false;
    out.push_back(op);
  }
}

std::optional<std::uint64_t> TimerQueue::next_deadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

}  // namespace aiod::daemon::posix
