// SPDX-License-Identifier: MIT
// The config file: applied at start, reloaded on SIGHUP, and a bad file is
// refused with its line and reason while the old settings stay in force.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A session, retried until the daemon accepts one or 10 s pass (a reload is
// applied asynchronously to the signal, and a closed session frees its slot
// asynchronously to the client's close).
std::optional<Client> connect_eventually(const DaemonProcess& d) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    auto c = Client::connect(d.client_options());
    if (c) return std::move(*c);
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
  }
}

TEST(Config, MaxSessionsFromTheFileAndReloadedOnSighup) {
  char tmpl[] = "/tmp/aiod-test-conf-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string conf = std::string(tmpl) + "/aiod.conf";
  write_file(conf, "# two sessions at most\nmax-sessions = 2\nlog-level = warn\n");
  DaemonProcess daemon({"--config", conf});
  ASSERT_TRUE(daemon.running());
  auto a = Client::connect(daemon.client_options());
  auto b = Client::connect(daemon.client_options());
  ASSERT_TRUE(a && b);
  auto c = Client::connect(daemon.client_options());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), make_error_code(errc::rejected));
  EXPECT_NE(c.message().find("too many sessions"), std::string::npos) << c.message();

  write_file(conf, "max-sessions = 3\n");
  daemon.signal(SIGHUP);
  auto third = connect_eventually(daemon);
  ASSERT_TRUE(third);

  // A bad file is refused; the settings in force (3) stay. Release one
  // session first so that a wrongly applied max-sessions = 1 would show.
  { Client gone = std::move(*b); }
  write_file(conf, "max-sessions = 1\nno-such-setting = 4\n");
  daemon.signal(SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {  // the refusal is counted: wait for it before judging
    const CommandResult s = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    if (s.out.find("\"config_reload_failures\":1") != std::string::npos) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << s.out;
  }
  EXPECT_TRUE(connect_eventually(daemon)) << "a rejected reload changed the limits";
  ::unlink(conf.c_str());
  ::rmdir(tmpl);
}

TEST(Config, BadFileAtStartIsRefusedWithLineAndReason) {
  char tmpl[] = "/tmp/aiod-test-conf-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string conf = std::string(tmpl) + "/aiod.conf";
  write_file(conf, "threads = 1\n\n# fine so far\npoll-us = fast\n");
  const CommandResult r = run_command({AIOD_DAEMON_PATH, "--socket", std::string(tmpl) + "/s", "--config", conf},
                                      std::chrono::seconds(20), true);
  EXPECT_EQ(r.exit_code, 1) << "a bad config file is a configuration error, not a usage error";
  EXPECT_NE(r.out.find(conf + ":4: poll-us"), std::string::npos) << r.out;
  write_file(conf, "threads 2\n");
  const CommandResult r2 = run_command({AIOD_DAEMON_PATH, "--socket", std::string(tmpl) + "/s", "--config", conf},
                                       std::chrono::seconds(20), true);
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.out.find(":1: expected 'name = value'"), std::string::npos) << r2.out;
  const CommandResult r3 =
      run_command({AIOD_DAEMON_PATH, "--config", std::string(tmpl) + "/missing"}, std::chrono::seconds(20), true);
  EXPECT_EQ(r3.exit_code, 1);
  ::unlink(conf.c_str());
  ::rmdir(tmpl);
}

TEST(Config, BackendIsValidatedAndTakenFromTheFile) {
  char tmpl[] = "/tmp/aiod-test-conf-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const CommandResult bad = run_command({AIOD_DAEMON_PATH, "--socket", std::string(tmpl) + "/s", "--backend", "epoll"},
                                        std::chrono::seconds(20), true);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("--backend: must be auto, io_uring or posix; not 'epoll'"), std::string::npos) << bad.out;
  const std::string conf = std::string(tmpl) + "/aiod.conf";
  write_file(conf, "backend = posix\n");
  {
    DaemonProcess daemon({"--config", conf});
    ASSERT_TRUE(daemon.running());
    const CommandResult s = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    ASSERT_EQ(s.exit_code, 0);
    EXPECT_NE(s.out.find("\"backend\":\"posix\""), std::string::npos) << s.out;
    // Ops run there too.
    auto c = Client::connect(daemon.client_options());
    ASSERT_TRUE(c) << c.message();
    EXPECT_FALSE(c->single(Nop{}));
  }
  ::unlink(conf.c_str());
  ::rmdir(tmpl);
}

TEST(Config, CommandLineOverridesTheFile) {
  char tmpl[] = "/tmp/aiod-test-conf-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string conf = std::string(tmpl) + "/aiod.conf";
  write_file(conf, "max-sessions = 1\n");
  DaemonProcess daemon({"--config", conf, "--max-sessions", "3"});
  ASSERT_TRUE(daemon.running());
  auto a = Client::connect(daemon.client_options());
  auto b = Client::connect(daemon.client_options());
  EXPECT_TRUE(a && b);
  ::unlink(conf.c_str());
  ::rmdir(tmpl);
}

TEST(Config, SilentConnectionIsClosedAfterTheHandshakeTimeout) {
  DaemonProcess daemon({"--handshake-timeout-ms", "100"});
  ASSERT_TRUE(daemon.running());
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, daemon.socket_path().c_str());
  const auto start = std::chrono::steady_clock::now();  // the daemon may accept before connect() returns
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "the daemon kept a silent connection";
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, MSG_DONTWAIT), 0);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 90ms);
  ::close(fd);
}

}  // namespace
}  // namespace aiod::test
