// SPDX-License-Identifier: MIT
// task.cpp — a DetachedTask whose body throws stops the daemon.
#include "runtime/task.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <exception>

namespace aiod::daemon {

void DetachedTask::promise_type::unhandled_exception() noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    spdlog::critical("daemon task failed: {}", e.what());
  } catch (...) {
    spdlog::critical("daemon task failed with an unknown exception");
  }
  std::abort();
}

}  // namespace aiod::daemon
