// aioctl against a real daemon: ping, stats as a table and as JSON, exit codes.
#include <gtest/gtest.h>

#include <aiod/aiod.hpp>

#include "daemon_process.hpp"

namespace aiod::test {
namespace {

TEST(Aioctl, PingAnswers) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "ping"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("alive"), std::string::npos) << r.out;
}

TEST(Aioctl, StatsJsonShowsTheOpsAClientCompleted) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  {
    auto c = Client::connect(daemon.client_options());
    ASSERT_TRUE(c);
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(c->single(Nop{}));
    EXPECT_TRUE(c->single(Fsync{.file = Handle{77}}));  // one failure
  }
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("\"version\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"ops_completed\":6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"ops_failed\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"nop\":{\"count\":5,\"errors\":0}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"fsync\":{\"count\":1,\"errors\":1}"), std::string::npos) << r.out;
}

TEST(Aioctl, StatsTableIsReadable) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("ops completed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("io_uring"), std::string::npos) << r.out;
}

TEST(Aioctl, ClientsListsIoSessions) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  ClientOptions o = daemon.client_options();
  o.name = "listed-client";
  auto c = Client::connect(o);
  ASSERT_TRUE(c);
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "clients"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("listed-client"), std::string::npos) << r.out;
}

TEST(Aioctl, ExitCodes) {
  EXPECT_EQ(run_command({AIOCTL_PATH, "--socket", "/tmp/aiod-test-nothing-here", "ping"}).exit_code, 3);
  EXPECT_EQ(run_command({AIOCTL_PATH, "no-such-command"}).exit_code, 2);
  EXPECT_EQ(run_command({AIOCTL_PATH}).exit_code, 2);
}

}  // namespace
}  // namespace aiod::test
