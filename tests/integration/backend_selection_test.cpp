// SPDX-License-Identifier: MIT
// --backend: auto takes the posix backend (with a warning) where io_uring is
// unavailable, io_uring refuses to start there, and either way the backend in
// use is the one aioctl names. "Unavailable" is made real with without_syscall, a
// launcher whose seccomp filter fails io_uring_setup with ENOSYS. Where openat2
// fails so (systemd's RestrictSUIDSGID=), aiod refuses to start: it could
// serve no path operation.
#include <unistd.h>

#include <chrono>
#include <string>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;

TEST(BackendSelection, IoUringDemandedWhereItIsUnavailableIsAClearError) {
  char tmpl[] = "/tmp/aiod-test-backend-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const CommandResult r = run_command({WITHOUT_SYSCALL_PATH, "io_uring_setup", AIOD_DAEMON_PATH, "--socket",
                                       std::string(tmpl) + "/s", "--backend", "io_uring"},
                                      20s, true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("io_uring is disabled on this system"), std::string::npos) << r.out;
  EXPECT_EQ(::access((std::string(tmpl) + "/s").c_str(), F_OK), -1);  // failed before binding
  ::rmdir(tmpl);
}

TEST(BackendSelection, AutoFallsBackToPosixWithAWarning) {
  // The daemon cannot bind here, so it exits right after choosing its backend
  // and its log is complete.
  const CommandResult r = run_command(
      {WITHOUT_SYSCALL_PATH, "io_uring_setup", AIOD_DAEMON_PATH, "--socket", "/nonexistent-aiod-dir/s"}, 20s, true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("warn"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("using the posix backend (worker threads) instead"), std::string::npos) << r.out;
}

TEST(BackendSelection, AutoWithoutIoUringServesClientsOnPosix) {
  if (testing_posix_backend()) GTEST_SKIP() << "this run asks for --backend posix, which overrides auto";
  DaemonProcess daemon({}, {}, {WITHOUT_SYSCALL_PATH, "io_uring_setup"});
  ASSERT_TRUE(daemon.running());
  const CommandResult s = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats"});
  ASSERT_EQ(s.exit_code, 0);
  EXPECT_NE(s.out.find("(posix backend)"), std::string::npos) << s.out;
  auto c = Client::connect(daemon.client_options());
  ASSERT_TRUE(c) << c.message();
  EXPECT_FALSE(c->single(Nop{}));
  EXPECT_FALSE(c->single(Timeout{.duration = 1ms}));
}

TEST(BackendSelection, WithoutOpenat2TheDaemonRefusesToStartAndSaysWhy) {
  char tmpl[] = "/tmp/aiod-test-backend-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const CommandResult r =
      run_command({WITHOUT_SYSCALL_PATH, "openat2", AIOD_DAEMON_PATH, "--socket", std::string(tmpl) + "/s"}, 20s, true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("openat2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RestrictSUIDSGID"), std::string::npos) << r.out;
  EXPECT_EQ(::access((std::string(tmpl) + "/s").c_str(), F_OK), -1);  // failed before binding
  ::rmdir(tmpl);
}

}  // namespace
}  // namespace aiod::test
