// SPDX-License-Identifier: MIT
// journal_stream.hpp — whether standard error is systemd's journal, and how a
// log line is written there.
//
// systemd connects a service's stderr to journald and sets JOURNAL_STREAM to
// "DEV:INODE" of that stream (sd-daemon(3)). journald stamps every line with
// the time, the pid and the unit itself, and reads a leading "<N>" as the
// line's syslog priority (0 emerg ... 7 debug). So on that stream aiod writes
// "<N>message" and nothing else; `journalctl -p warning` then filters by level.
//
// JOURNAL_STREAM is inherited by children whose stderr may be anything else
// (a shell started from the unit, a redirect to a file), so it counts only
// when it names the very file descriptor 2 is open on.
#pragma once

#include <spdlog/common.h>
#include <spdlog/formatter.h>

#include <cstdint>
#include <memory>
#include <string_view>

namespace aiod::daemon {

// True when `journal_stream` (JOURNAL_STREAM's value) is exactly two decimal
// numbers "DEV:INODE" equal to `dev` and `ino` (st_dev and st_ino of stderr).
// Anything else — empty, a missing or extra field, a sign, blanks, a number
// that does not fit 64 bits — is not the journal.
[[nodiscard]] bool is_journal_stream(std::string_view journal_stream, std::uint64_t dev, std::uint64_t ino) noexcept;

// is_journal_stream() for this process: JOURNAL_STREAM against fstat(2) of
// descriptor 2. False when either is missing.
[[nodiscard]] bool stderr_is_journal() noexcept;

// The syslog priority journald records for a message of `level`: trace and
// debug 7, info 6, warn 4, err 3, critical 2 (off never reaches a sink; 7).
[[nodiscard]] int syslog_priority(spdlog::level::level_enum level) noexcept;

// A formatter writing "<N>message\n", N = syslog_priority(level). A message of
// several lines gets "<N>" at the start of each, so journald gives every line
// the message's priority (without it, lines after the first would be info).
[[nodiscard]] std::unique_ptr<spdlog::formatter> make_journal_formatter();

}  // namespace aiod::daemon
