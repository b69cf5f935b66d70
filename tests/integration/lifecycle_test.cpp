// SPDX-License-Identifier: MIT
// The daemon's life and death as clients see it: a clear error instead of a
// hang when it dies, completions for what it cancels when it stops, a clean
// exit, and refusal to start when it cannot serve.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <aiod/aiod.hpp>
#include <chrono>
#include <cstring>
#include <thread>

#include "daemon_process.hpp"

namespace aiod::test {
namespace {

TEST(Lifecycle, DaemonKilledDuringAWaitGivesDaemonGoneWithinASecond) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  auto client = Client::connect(daemon.client_options());
  ASSERT_TRUE(client) << client.message();
  std::error_code op_error;
  std::error_code result;
  std::chrono::steady_clock::time_point returned;
  std::thread waiter([&] {
    result = client->single(Timeout{.duration = std::chrono::seconds(30), .out_error = &op_error});
    returned = std::chrono::steady_clock::now();
  });
  // Kill only once the op is in flight in the daemon: its stats say so.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    const CommandResult stats = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    if (stats.out.find("\"ops_in_flight\":1") != std::string::npos) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the timeout never reached the daemon";
  }
  const auto killed = std::chrono::steady_clock::now();
  daemon.signal(SIGKILL);
  waiter.join();
  EXPECT_EQ(result, make_error_code(errc::daemon_gone));
  EXPECT_EQ(op_error, make_error_code(errc::daemon_gone));
  EXPECT_LT(returned - killed, std::chrono::seconds(1));
  ASSERT_TRUE(daemon.wait_exit(std::chrono::seconds(5)));
  // Every later call fails the same way, at once.
  EXPECT_EQ(client->single(Nop{}), make_error_code(errc::daemon_gone));
}

TEST(Lifecycle, SigtermCancelsInFlightOpsDeliversTheirCompletionsAndExitsZero) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  auto client = Client::connect(daemon.client_options());
  ASSERT_TRUE(client);
  Dynamic q(*client, 4);
  std::error_code op_error;
  ASSERT_FALSE(q.queue(Timeout{.duration = std::chrono::seconds(30), .out_error = &op_error}));
  ASSERT_TRUE(q.complete(CompletionMode::nonblocking));  // submitted
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    const CommandResult stats = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    if (stats.out.find("\"ops_in_flight\":1") != std::string::npos) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  }
  daemon.signal(SIGTERM);
  auto r = q.complete(CompletionMode::blocking);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->num_completed, 1u);
  EXPECT_EQ(op_error, std::error_code(ECANCELED, std::system_category()));
  const auto status = daemon.wait_exit(std::chrono::seconds(10));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_EQ(client->single(Nop{}), make_error_code(errc::daemon_gone));
}

TEST(Lifecycle, ConnectWithoutADaemonSaysItIsNotRunning) {
  ClientOptions o;
  o.socket_path = "/tmp/aiod-test-no-such-socket";
  auto c = Client::connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), make_error_code(errc::daemon_not_running));
}

TEST(Lifecycle, SecondDaemonOnTheSameSocketRefusesToStart) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const CommandResult second = run_command({AIOD_DAEMON_PATH, "--socket", daemon.socket_path()});
  EXPECT_NE(second.exit_code, 0);
  // The first one still serves.
  auto c = Client::connect(daemon.client_options());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->single(Nop{}));
}

TEST(Lifecycle, StaleSocketFileIsReplaced) {
  char tmpl[] = "/tmp/aiod-test-stale-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/aiod.sock";
  {
    // A socket file nobody listens on any more.
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  DaemonProcess daemon({}, path);
  ASSERT_TRUE(daemon.running());
  ClientOptions o;
  o.socket_path = path;
  auto c = Client::connect(o);
  ASSERT_TRUE(c) << c.message();
  EXPECT_FALSE(c->single(Nop{}));
  EXPECT_EQ(daemon.stop(), 0);
  ::unlink(path.c_str());
  ::rmdir(tmpl);
}

TEST(Lifecycle, BadCommandLineIsRefusedWithAMessage) {
  EXPECT_NE(run_command({AIOD_DAEMON_PATH, "--threads", "0"}).exit_code, 0);
  EXPECT_NE(run_command({AIOD_DAEMON_PATH, "--poll-us", "banana"}).exit_code, 0);
  EXPECT_NE(run_command({AIOD_DAEMON_PATH, "--socket-mode", "999"}).exit_code, 0);
  EXPECT_NE(run_command({AIOD_DAEMON_PATH, "--no-such-flag"}).exit_code, 0);
  EXPECT_EQ(run_command({AIOD_DAEMON_PATH, "--version"}).exit_code, 0);
}

TEST(Lifecycle, ClientKilledWithOpsInFlightIsCleanedUp) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    // The client: eight long timeouts in flight, then it waits to be killed.
    auto c = Client::connect(daemon.client_options());
    if (!c) ::_exit(1);
    Dynamic q(*c, 16);
    for (int i = 0; i < 8; ++i) (void)q.queue(Timeout{.duration = std::chrono::seconds(60)});
    (void)q.complete(CompletionMode::nonblocking);
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1);
  ::close(ready[0]);
  auto stats_contain = [&](const std::string& a, const std::string& b) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      const CommandResult stats = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
      if (stats.out.find(a) != std::string::npos && stats.out.find(b) != std::string::npos) return true;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "stats never showed " << a << " and " << b << ": " << stats.out;
        return false;
      }
    }
  };
  ASSERT_TRUE(stats_contain("\"ops_in_flight\":8", "\"sessions_active\":1,"));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // The daemon cancels and reaps them; no session remains (aioctl's own is
  // a control session, not counted).
  EXPECT_TRUE(stats_contain("\"ops_in_flight\":0", "\"sessions_active\":0,"));
}

}  // namespace
}  // namespace aiod::test
