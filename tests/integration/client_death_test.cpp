// SPDX-License-Identifier: MIT
// Sessions that end while the kernel still holds work of theirs. A session is
// freed only after every backend operation that refers to it has completed —
// the wake-up it owes a client that sleeps in its wait included — so that no
// completion reaches freed memory and no write reaches a descriptor number
// the session has given back (and someone else may have been given).
//
// Under -DAIOD_SANITIZE=address,undefined a late completion is a
// heap-use-after-free that kills the daemon; in any build the daemon must
// survive, serve, and give back every descriptor.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "op_fixture.hpp"
#include "raw_session.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using Regression = OpTest;

// Dirty page cache per cycle: fsyncing it takes tens of milliseconds on the
// test machines' disks — far longer than the daemon takes to notice a death.
constexpr std::size_t kDirtyBytes = 32u << 20;
constexpr std::uint32_t kFsyncs = 4;
constexpr int kCycles = 24;

std::atomic_ref<std::uint32_t> shared_word(std::uint32_t& w) { return std::atomic_ref<std::uint32_t>(w); }

// The client raises NEED_WAKEUP as its wait does before it sleeps: from then
// on, every completion the daemon publishes comes with an eventfd write.
void ask_to_be_woken(RawSession& s) {
  shared_word(s.header()->client_flags).store(AIOD_CLIENT_NEED_WAKEUP, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Waits (bounded) until the daemon has consumed everything published.
bool consumed(RawSession& s, std::uint32_t tail) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (shared_word(s.header()->sq_head).load(std::memory_order_acquire) != tail) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

// The forked client: dirties a file of its own, has the daemon fsync it
// kFsyncs times, says so on `ready_fd` once the fsyncs are with the kernel,
// and sleeps in its wait for them. It never returns; the parent kills it.
[[noreturn]] void fsync_and_sleep(const std::string& socket, const std::string& path, int ready_fd) {
  RawSession s(socket);
  if (!s.ok()) ::_exit(1);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) ::_exit(2);
  static char chunk[1 << 20];
  std::memset(chunk, 'd', sizeof(chunk));
  for (std::size_t done = 0; done < kDirtyBytes; done += sizeof(chunk)) {
    if (::write(fd, chunk, sizeof(chunk)) != static_cast<ssize_t>(sizeof(chunk))) ::_exit(3);
  }
  const auto h = s.register_fd(fd);
  if (!h) ::_exit(4);
  for (std::uint32_t i = 0; i < kFsyncs; ++i) s.push(aiod_sqe{.opcode = AIOD_OP_FSYNC, .handle = *h, .user_data = i});
  ask_to_be_woken(s);
  s.publish();
  if (!consumed(s, kFsyncs)) ::_exit(5);
  (void)!::write(ready_fd, "x", 1);
  (void)s.wait(kFsyncs, 60s);  // sleeps with NEED_WAKEUP raised
  for (;;) ::pause();
}

// One cycle: the client above is killed with SIGKILL while its fsyncs run.
void kill_mid_fsync(const DaemonProcess& daemon, int cycle) {
  const std::string path = daemon.directory() + "/dirty-" + std::to_string(cycle);
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    fsync_and_sleep(daemon.socket_path(), path, ready[1]);
  }
  ::close(ready[1]);
  pollfd p{ready[0], POLLIN, 0};
  char byte = 0;
  const bool got_ready = ::poll(&p, 1, 20'000) == 1 && ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  // Let it fall asleep in its wait, then kill it mid-fsync.
  if (got_ready) std::this_thread::sleep_for(2ms);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::unlink(path.c_str());  // the daemon's handle keeps the inode until the session ends
  ASSERT_TRUE(got_ready) << "the client never got its fsyncs in flight (exit status " << status << ")";
}

// Empty while the daemon runs; how it ended once it has (it is our child: a
// crash leaves a status — and the sanitizer's report on its stderr).
std::string death(DaemonProcess& daemon) {
  const std::optional<int> status = daemon.wait_exit(0ms);
  if (!status) return {};
  return WIFSIGNALED(*status) ? "signal " + std::to_string(WTERMSIG(*status))
                              : "exit status " + std::to_string(WEXITSTATUS(*status));
}

void expect_alive(DaemonProcess& daemon, const std::string& when) {
  const std::string how = death(daemon);
  ASSERT_TRUE(how.empty()) << "the daemon died " << when << ": " << how;
}

// Waits (bounded) until `sessions` sessions are left (the fixture's client;
// the aioctl asking is a control session, not counted) and nothing is in flight.
void wait_until_idle(DaemonProcess& daemon, int sessions) {
  const std::string want = "\"sessions_active\":" + std::to_string(sessions) + ",";
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    ASSERT_NO_FATAL_FAILURE(expect_alive(daemon, "while its sessions closed"));
    const CommandResult s = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    if (s.out.find(want) != std::string::npos && s.out.find("\"ops_in_flight\":0,") != std::string::npos) return;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the daemon did not clean up: " << s.out;
    std::this_thread::sleep_for(10ms);
  }
}

// Descriptors return to `baseline` (boundedly: the last aioctl session may
// still be closing).
void expect_fds_at(const DaemonProcess& daemon, std::size_t baseline) {
  std::size_t fds = process_usage(daemon.pid()).fds;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (fds > baseline && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    fds = process_usage(daemon.pid()).fds;
  }
  EXPECT_LE(fds, baseline) << "descriptors leaked";
}

// The daemon serves a client correctly: a file written and read back.
void expect_serves(Client& client, const std::string& path) {
  Handle f;
  ASSERT_FALSE(
      client.single(OpenAt{.path = path.c_str(), .flags = O_RDWR | O_CREAT | O_TRUNC, .mode = 0600, .out_file = &f}));
  const std::string text = "still serving";
  std::size_t n = 0;
  ASSERT_FALSE(client.single(Write{.file = f, .buffer = text, .offset = 0, .out_written = &n}));
  EXPECT_EQ(n, text.size());
  char back[32] = {};
  ASSERT_FALSE(client.single(Read{.file = f, .buffer = back, .offset = 0, .out_read = &n}));
  EXPECT_EQ(std::string(back, n), text);
  EXPECT_FALSE(client.single(CloseFile{.file = f}));
}

// A client killed while the daemon fsyncs its dirty file, asleep in its wait.
// The daemon saw the death, cancelled what it could (an fsync cannot be
// interrupted) and waited for the rest; when the last fsync completed, the
// session counted as quiet — and in the same loop turn the shard published
// that completion and prepared the eventfd write that wakes the client. The
// session was freed before that write completed: its completion ran on freed
// memory, and the write went to a closed descriptor number, which another
// session could have been given meanwhile.
TEST_F(Regression, ClientKilledMidFsyncDoesNotFreeItsSessionEarly) {
  ASSERT_NO_FATAL_FAILURE(kill_mid_fsync(daemon_, -1));  // warms up before the baseline
  ASSERT_NO_FATAL_FAILURE(expect_alive(daemon_, "in the warm-up cycle"));
  ASSERT_NO_FATAL_FAILURE(wait_until_idle(daemon_, 1));
  const std::size_t baseline = process_usage(daemon_.pid()).fds;
  ASSERT_GT(baseline, 0u);

  for (int i = 0; i < kCycles; ++i) {
    ASSERT_NO_FATAL_FAILURE(kill_mid_fsync(daemon_, i)) << "cycle " << i;
    ASSERT_NO_FATAL_FAILURE(expect_alive(daemon_, "in cycle " + std::to_string(i)));
  }
  ASSERT_NO_FATAL_FAILURE(wait_until_idle(daemon_, 1));
  ASSERT_NO_FATAL_FAILURE(expect_alive(daemon_, "after the last cycle"));
  expect_fds_at(daemon_, baseline);
  expect_serves(*client_, path("after-the-deaths"));
}

// The same late wake-up without a death and without a slow disk: a session
// closed for corrupting its ring while its client sleeps. The session's pump
// ends at once, the control receive and then the ops in flight are cancelled;
// the last cancellation completes in the same loop turn in which its
// completion is published and the client's wake-up prepared.
TEST_F(Regression, SessionClosedWhileItsClientSleepsOutlivesTheWakeup) {
  for (int i = 0; i < 10; ++i) {
    RawSession s(daemon_.socket_path());
    ASSERT_TRUE(s.ok()) << s.error();
    s.push(aiod_sqe{.opcode = AIOD_OP_TIMEOUT, .off = 60'000'000'000, .user_data = 1});
    s.publish();
    ASSERT_TRUE(consumed(s, 1));
    ask_to_be_woken(s);
    s.publish_raw_tail(1 + s.sq_entries() * 4);  // more than a ring ahead: the session is closed
    ASSERT_TRUE(s.disconnected(10s)) << "round " << i;
    ASSERT_NO_FATAL_FAILURE(expect_alive(daemon_, "in round " + std::to_string(i)));
  }
  expect_serves(*client_, path("after-the-closes"));
}

}  // namespace
}  // namespace aiod::test
