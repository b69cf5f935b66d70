// SPDX-License-Identifier: MIT
// live_fixture.hpp — what every live-daemon fuzz test sets up and checks: a
// private aiod, a temporary directory a hostile session gets as its cwd and
// root (so its paths stay inside it), a well-behaved client doing IO beside
// it, and, at the end, a daemon that answers `aioctl ping` and `aioctl
// stats` with its descriptor count and session count back at their baseline.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "daemon_process.hpp"
#include "honest_client.hpp"

namespace aiod::fuzz {

class LiveFuzz : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts the well-behaved client and takes the baseline (descriptors and
  // sessions) once it is connected.
  void start_honest_client();
  // Stops it and expects that all its ops completed exactly once and correctly.
  void stop_honest_client();
  // After every hostile session is gone: aioctl ping and stats answer, and the
  // session count and the daemon's descriptors return to the baseline (bounded wait).
  void expect_back_to_baseline();
  // sessions_active from `aioctl stats --json`, or -1.
  int sessions_active();

  // A time budget for a test's loop, so the whole label stays short on slow
  // (sanitizer) builds: AIOD_FUZZ_SECONDS overrides it.
  static std::chrono::steady_clock::time_point budget(std::chrono::seconds fallback);

  test::DaemonProcess daemon_;
  std::string dir_;
  std::unique_ptr<HonestClient> honest_;
  std::size_t baseline_fds_ = 0;
  int baseline_sessions_ = -1;
};

}  // namespace aiod::fuzz
