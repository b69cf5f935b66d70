// SPDX-License-Identifier: MIT
#include "live_fixture.hpp"

#include <cstdlib>
#include <filesystem>
#include <regex>

namespace aiod::fuzz {

void LiveFuzz::SetUp() {
  ASSERT_TRUE(daemon_.running());
  char tmpl[] = "/tmp/aiod-fuzz-root-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  std::filesystem::create_directory(dir_ + "/sub");
}

void LiveFuzz::TearDown() {
  if (honest_) honest_->stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::chrono::steady_clock::time_point LiveFuzz::budget(std::chrono::seconds fallback) {
  const char* v = std::getenv("AIOD_FUZZ_SECONDS");
  const auto secs = v != nullptr && *v != '\0' ? std::chrono::seconds(std::atoi(v)) : fallback;
  return std::chrono::steady_clock::now() + secs;
}

int LiveFuzz::sessions_active() {
  const auto r = test::run_command({AIOCTL_PATH, "--socket", daemon_.socket_path(), "stats", "--json"});
  if (r.exit_code != 0) return -1;
  std::smatch m;
  static const std::regex re("\"sessions_active\":([0-9]+)");
  if (!std::regex_search(r.out, m, re)) return -1;
  return std::stoi(m[1].str());
}

void LiveFuzz::start_honest_client() {
  honest_ = std::make_unique<HonestClient>(daemon_.socket_path());
  // The baseline is taken once the honest client has done a round.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (honest_->rounds() == 0 && honest_->error().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_GT(honest_->rounds(), 0u) << "the well-behaved client did not start: " << honest_->error();
  baseline_sessions_ = sessions_active();
  ASSERT_GT(baseline_sessions_, 0);
  baseline_fds_ = test::process_usage(daemon_.pid()).fds;
  ASSERT_GT(baseline_fds_, 0u);
}

void LiveFuzz::stop_honest_client() {
  ASSERT_TRUE(honest_);
  const std::uint64_t before = honest_->ops_completed();
  honest_->stop();
  EXPECT_EQ(honest_->error(), "");
  EXPECT_GT(before, 0u);
  RecordProperty("honest_ops", static_cast<int>(honest_->ops_completed()));
}

void LiveFuzz::expect_back_to_baseline() {
  const auto ping = test::run_command({AIOCTL_PATH, "--socket", daemon_.socket_path(), "ping"});
  EXPECT_EQ(ping.exit_code, 0) << "aioctl ping: " << ping.out;
  // Sessions end asynchronously (in-flight ops are cancelled and reaped
  // first): wait, bounded, for the count and the descriptors to come back.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int sessions = sessions_active();
  while (sessions != baseline_sessions_ && std::chrono::steady_clock::now() < deadline) sessions = sessions_active();
  EXPECT_EQ(sessions, baseline_sessions_) << "sessions did not return to the baseline";
  std::size_t fds = test::process_usage(daemon_.pid()).fds;
  while (fds > baseline_fds_ && std::chrono::steady_clock::now() < deadline) {
    fds = test::process_usage(daemon_.pid()).fds;
  }
  EXPECT_LE(fds, baseline_fds_) << "the daemon's descriptors did not return to the baseline";
}

}  // namespace aiod::fuzz
