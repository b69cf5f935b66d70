// SPDX-License-Identifier: MIT
// The io_uring backend on the kernels users run (--emulate-kernel): every
// run of the suite is on the backend and kernel its name says, a TCP server
// works where io_uring lacks SOCKET, BIND or LISTEN (those run emulated, and
// aioctl stats says so), and below the 5.10 floor auto runs posix, saying why.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "loopback.hpp"
#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;

std::string stats_json(const DaemonProcess& daemon) {
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return r.out;
}

// "5.15" < "6.1", by number.
bool older(const std::string& a, const std::string& b) {
  auto split = [](const std::string& v) {
    const std::size_t dot = v.find('.');
    return std::pair{std::stoi(v.substr(0, dot)), std::stoi(v.substr(dot + 1))};
  };
  return split(a) < split(b);
}

// What aioctl stats --json says of one kind of backend op.
std::string backend_op(const std::string& name, const std::string& runs, int ring, int posix) {
  return "\"" + name + "\":{\"runs\":\"" + runs + "\",\"ring\":" + std::to_string(ring) +
         ",\"posix\":" + std::to_string(posix) + "}";
}

TEST(KernelEmulation, TheDaemonRunsOnTheBackendAndKernelThisRunNames) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string json = stats_json(daemon);
  if (testing_posix_backend()) {
    EXPECT_NE(json.find("\"backend\":\"posix\""), std::string::npos) << json;
    return;
  }
  EXPECT_NE(json.find("\"backend\":\"io_uring\""), std::string::npos) << json;
  const auto kernel = emulated_kernel_arg();
  const std::string emulated = kernel ? "\"" + *kernel + "\"" : "null";
  EXPECT_NE(json.find("\"emulated\":" + emulated), std::string::npos) << json;
}

// A TCP server and its client on an older kernel's io_uring (this run's, or
// 5.15): SOCKET (5.19), BIND and LISTEN (6.11) run emulated where it lacks
// them, with the same results, and the stats count where each ran.
TEST(KernelEmulation, ATcpServerRunsWhereIoUringLacksSocketBindAndListen) {
  if (testing_posix_backend()) GTEST_SKIP() << "about the io_uring backend";
  // This run's kernel comes with the suite's arguments (given twice, the
  // option would be refused).
  const std::optional<std::string> run_kernel = emulated_kernel_arg();
  const std::string kernel = run_kernel.value_or("5.15");
  DaemonProcess daemon(run_kernel ? std::vector<std::string>{} : std::vector<std::string>{"--emulate-kernel", kernel});
  ASSERT_TRUE(daemon.running());
  auto c = Client::connect(daemon.client_options());
  ASSERT_TRUE(c) << c.message();

  Handle server, client, conn;
  ASSERT_FALSE(c->multi(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &server},
                        Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &client}));
  const sockaddr_in addr = loopback(free_port());
  ASSERT_FALSE(c->multi(Bind{.socket = server,
                             .addr = reinterpret_cast<const sockaddr*>(&addr),
                             .addrlen = sizeof(addr),
                             .link = Link::soft},
                        Listen{.socket = server, .backlog = 4}));
  // A second bind of a bound socket fails as bind(2) does.
  EXPECT_EQ(
      c->single(Bind{.socket = server, .addr = reinterpret_cast<const sockaddr*>(&addr), .addrlen = sizeof(addr)}),
      sys(EINVAL));
  ASSERT_FALSE(
      c->multi(Accept{.socket = server, .out_socket = &conn},
               Connect{.socket = client, .addr = reinterpret_cast<const sockaddr*>(&addr), .addrlen = sizeof(addr)}));
  char buf[8] = {};
  std::size_t got = 0;
  ASSERT_FALSE(c->multi(Send{.socket = client, .buffer = "ping", .link = Link::soft},
                        Recv{.socket = conn, .buffer = buf, .out_read = &got}));
  EXPECT_EQ(std::string(buf, got), "ping");
  const std::string json = stats_json(daemon);
  // Where an op of `release` runs: emulated on an older emulated kernel; on
  // the ring otherwise, unless this host itself is older (then its io_uring
  // may or may not have it, by backport, and the route is not checked).
  utsname host{};
  ASSERT_EQ(::uname(&host), 0);
  auto expect_route = [&](const std::string& name, const std::string& release, int count) {
    if (older(host.release, release)) return;
    const std::string want =
        older(kernel, release) ? backend_op(name, "emulated", 0, count) : backend_op(name, "ring", count, 0);
    EXPECT_NE(json.find(want), std::string::npos) << want << " in " << json;
  };
  expect_route("socket", "5.19", 2);
  expect_route("bind", "6.11", 2);
  expect_route("listen", "6.11", 1);
  EXPECT_NE(json.find(backend_op("accept", "ring", 1, 0)), std::string::npos) << json;
  EXPECT_FALSE(c->multi(CloseSocket{.socket = conn}, CloseSocket{.socket = client}, CloseSocket{.socket = server}));
}

TEST(KernelEmulation, BelowTheFloorAutoRunsPosixAndSaysWhy) {
  // The daemon cannot bind here, so it exits right after choosing its backend.
  const CommandResult r =
      run_command({AIOD_DAEMON_PATH, "--socket", "/nonexistent-aiod-dir/s", "--emulate-kernel", "5.4"}, 20s, true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("Linux 5.4 (--emulate-kernel) is older than the io_uring backend's floor, 5.10"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("using the posix backend (worker threads) instead"), std::string::npos) << r.out;
}

TEST(KernelEmulation, BelowTheFloorIoUringDemandedDoesNotStart) {
  char tmpl[] = "/tmp/aiod-test-floor-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string socket = std::string(tmpl) + "/s";
  const CommandResult r = run_command(
      {AIOD_DAEMON_PATH, "--socket", socket, "--backend", "io_uring", "--emulate-kernel", "5.9"}, 20s, true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("older than the io_uring backend's floor, 5.10"), std::string::npos) << r.out;
  EXPECT_EQ(::access(socket.c_str(), F_OK), -1);  // failed before binding
  ::rmdir(tmpl);
}

TEST(KernelEmulation, AnEmulatedKernelMustBeARelease) {
  const CommandResult r =
      run_command({AIOD_DAEMON_PATH, "--socket", "/nonexistent-aiod-dir/s", "--emulate-kernel", "six"}, 20s, true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("--emulate-kernel: must be a Linux release such as 5.15 or 6.1, not 'six'"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace aiod::test
