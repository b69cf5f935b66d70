// SPDX-License-Identifier: MIT
// timespec.hpp — nanosecond counts to and from the kernel's timespecs, and the
// monotonic clock in nanoseconds.
//
// Descriptors carry times as unsigned nanoseconds (aiod_sqe.off); the kernel
// and io_uring take timespec / __kernel_timespec. Works for either type (both
// have tv_sec and tv_nsec). Header-only, no state, thread-safe.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <limits>

namespace aiod::daemon {

inline constexpr std::uint64_t kNsPerSecond = 1'000'000'000;

// Any count of nanoseconds: even UINT64_MAX fits a 64-bit tv_sec.
template <class Timespec>
[[nodiscard]] constexpr Timespec timespec_from_ns(std::uint64_t ns) noexcept {
  Timespec ts{};
  ts.tv_sec = static_cast<decltype(ts.tv_sec)>(ns / kNsPerSecond);
  ts.tv_nsec = static_cast<decltype(ts.tv_nsec)>(ns % kNsPerSecond);
  return ts;
}

// A duration; a negative one is already over, so it becomes zero.
template <class Timespec>
[[nodiscard]] constexpr Timespec timespec_from_ns(std::chrono::nanoseconds d) noexcept {
  return timespec_from_ns<Timespec>(d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count()));
}

// A relative time as nanoseconds: a negative field reads as zero (already
// expired), and a time beyond UINT64_MAX nanoseconds (584 years) saturates.
template <class Timespec>
[[nodiscard]] constexpr std::uint64_t ns_from_timespec(const Timespec& ts) noexcept {
  if (ts.tv_sec < 0 || ts.tv_nsec < 0) return 0;
  const auto sec = static_cast<std::uint64_t>(ts.tv_sec);
  const auto nsec = static_cast<std::uint64_t>(ts.tv_nsec);
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (sec > (kMax - nsec) / kNsPerSecond) return kMax;
  return sec * kNsPerSecond + nsec;
}

// CLOCK_MONOTONIC in nanoseconds (since boot: far from saturating).
[[nodiscard]] inline std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ns_from_timespec(ts);
}

}  // namespace aiod::daemon
