// SPDX-License-Identifier: MIT
// Clients that die with operations in flight: after 1000 kill -9 cycles the
// daemon's descriptor count and memory are back at their baseline, and it
// still serves.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;

// One cycle: a child connects, puts long operations in flight (timers, a read
// on a pipe nobody writes, a chain), says so, and is killed with SIGKILL.
void churn_once(const DaemonProcess& daemon) {
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    auto c = Client::connect(daemon.client_options());
    if (!c) ::_exit(1);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) ::_exit(1);
    auto rd = c->register_fd(p[0]);
    Dynamic q(*c, 16);
    static char buf[16];
    (void)q.queue(Timeout{.duration = 60s});
    (void)q.queue(Timeout{.duration = 60s, .link = Link::soft}, Nop{.link = Link::soft}, Nop{});
    if (rd) (void)q.queue(Read{.file = *rd, .buffer = buf});
    (void)q.complete(CompletionMode::nonblocking);
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1) << "the client never got its ops in flight";
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
}

// Waits (bounded) until no session remains (aioctl's own is a control
// session, not counted) and nothing is in flight.
void wait_until_idle(const DaemonProcess& daemon) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    const CommandResult s = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    if (s.out.find("\"sessions_active\":0,") != std::string::npos &&
        s.out.find("\"ops_in_flight\":0,") != std::string::npos) {
      return;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the daemon did not clean up: " << s.out;
  }
}

// A thousand cycles; a quarter of that under the sanitizers, whose every
// handshake and teardown is several times slower (the test has a time limit).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kChurnCycles = 250;
#else
constexpr int kChurnCycles = 1000;
#endif

TEST(Churn, ManyKilledClientsLeaveNoTrace) {
  DaemonProcess daemon({"--threads", "2"});
  ASSERT_TRUE(daemon.running());
  // Warm up allocators and caches before taking the baseline.
  for (int i = 0; i < 50; ++i) ASSERT_NO_FATAL_FAILURE(churn_once(daemon));
  ASSERT_NO_FATAL_FAILURE(wait_until_idle(daemon));
  const ProcessUsage baseline = process_usage(daemon.pid());
  ASSERT_GT(baseline.fds, 0u);

  for (int i = 0; i < kChurnCycles; ++i) ASSERT_NO_FATAL_FAILURE(churn_once(daemon)) << "cycle " << i;
  ASSERT_NO_FATAL_FAILURE(wait_until_idle(daemon));
  // The last aioctl session may still be closing: allow it to go, boundedly.
  ProcessUsage after = process_usage(daemon.pid());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (after.fds > baseline.fds && std::chrono::steady_clock::now() < deadline) after = process_usage(daemon.pid());
  EXPECT_LE(after.fds, baseline.fds) << "descriptors leaked";
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizers keep freed memory in quarantine: resident size says nothing
  // here, and their leak checker judges the daemon at exit instead.
  (void)after.rss_kib;
#else
  // Freed memory may stay in the allocator's caches; a leak of even a few
  // bytes of ring or record per session would show well above this.
  EXPECT_LE(after.rss_kib, baseline.rss_kib + 4096) << "resident memory grew from " << baseline.rss_kib << " KiB";
#endif

  auto c = Client::connect(daemon.client_options());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->single(Nop{}));
}

}  // namespace
}  // namespace aiod::test
