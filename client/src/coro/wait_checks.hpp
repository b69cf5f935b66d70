// SPDX-License-Identifier: MIT
// wait_checks.hpp — what every blocking primitive checks before it parks a
// task, said once.
#pragma once

#include <system_error>

#include "aiod/coro/detail/runtime.hpp"

namespace aiod::coro::detail {

inline std::error_code not_in_task_error() { return std::make_error_code(std::errc::operation_not_permitted); }
inline std::error_code cancelled_error() { return std::make_error_code(std::errc::operation_canceled); }

// Outside a task there is nothing to park (EPERM), and a cancelled task does
// not start waiting (ECANCELED). Returns true, with `result` set, when the
// wait must not start.
inline bool refuse_wait(const Frame* f, std::error_code& result) {
  if (f == nullptr) {
    result = not_in_task_error();
    return true;
  }
  if (canceled(f)) {
    result = cancelled_error();
    return true;
  }
  return false;
}

}  // namespace aiod::coro::detail
