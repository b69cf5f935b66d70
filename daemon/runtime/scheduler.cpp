// SPDX-License-Identifier: MIT
// scheduler.cpp — one round of the run queue: resuming what is ready.
#include "runtime/scheduler.hpp"

#include <cstddef>

namespace aiod::daemon {

std::size_t Scheduler::run_ready() {
  std::size_t n = ready_.size();
  for (std::size_t i = 0; i < n; ++i) {
    auto h = ready_.front();
    ready_.pop_front();
    h.resume();
  }
  return n;
}

}  // namespace aiod::daemon
