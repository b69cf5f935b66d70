// SPDX-License-Identifier: MIT
// error.hpp — how libaiod reports failure.
//
// An operation's own failure is the kernel's: a std::error_code in
// std::system_category() made from the completion's -errno (ECANCELED: the op
// was cancelled). Failures of the library or of the daemon connection are
// aiod::errc values in aiod::category(), so they can never be confused with an
// operation's errno. In particular errc::daemon_gone means the daemon died or
// closed the session: it is returned instead of hanging.
#pragma once

#include <string>
#include <system_error>

namespace aiod {

enum class errc {
  daemon_not_running = 1,  // nothing listens on the socket path
  daemon_gone,             // the connection to the daemon was lost
  protocol_error,          // the daemon sent something this library does not understand
  rejected,                // the daemon refused the request (see the message)
  queue_full,              // no room in the submission ring, the op table or a Dynamic
  arena_exhausted,         // no arena space to copy an ordinary buffer through
  invalid_batch,           // e.g. the last op of a batch is linked to nothing
  some_operation_failed,   // multi(): at least one op failed (see each out_error)
  timed_out,               // the daemon did not answer a control request in time
};

[[nodiscard]] const std::error_category& category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

// The error of a completion result: {} for res >= 0, else the errno.
[[nodiscard]] inline std::error_code result_error(int res) noexcept {
  return res < 0 ? std::error_code(-res, std::system_category()) : std::error_code();
}

}  // namespace aiod

template <>
struct std::is_error_code_enum<aiod::errc> : std::true_type {};
