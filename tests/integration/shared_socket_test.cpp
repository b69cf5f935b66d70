// SPDX-License-Identifier: MIT
// One socket held by two sessions (passed to both with RegisterFds, so the
// daemon holds two descriptors of one open file description): what one
// session does to its handle must not reach the other session's ops.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using Regression = OpTest;

// Waits (bounded) until the daemon holds `n` ops: the receives are with the
// kernel before the close runs.
void wait_for_in_flight(const DaemonProcess& daemon, int n) {
  const std::string want = "\"ops_in_flight\":" + std::to_string(n) + ",";
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    const CommandResult s = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    if (s.out.find(want) != std::string::npos) return;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never " << n << " ops in flight: " << s.out;
  }
}

// CLOSE_SOCKET cancelled by descriptor (IORING_ASYNC_CANCEL_FD), and io_uring
// matches that by open file description: the close cancelled every op on the
// socket in the shard's ring, the other session's included.
TEST_F(Regression, CloseSocketCancelsOnlyItsOwnSessionsOps) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto other = Client::connect(daemon_.client_options());  // same shard: the daemon runs one
  ASSERT_TRUE(other) << other.message();
  auto mine = client_->register_fd(sv[0]);
  auto theirs = other->register_fd(sv[0]);
  ::close(sv[0]);
  ASSERT_TRUE(mine);
  ASSERT_TRUE(theirs);

  Dynamic their_q(*other, 2);
  char buf[8] = {};
  std::size_t n = 0;
  std::error_code their_error = sys(EIO);
  ASSERT_FALSE(their_q.queue(Recv{.socket = *theirs, .buffer = buf, .out_read = &n, .out_error = &their_error}));
  Dynamic my_q(*client_, 4);
  char my_buf[8];
  std::error_code my_error;
  ASSERT_FALSE(my_q.queue(Recv{.socket = *mine, .buffer = my_buf, .out_error = &my_error}));
  auto none = their_q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(none);
  ASSERT_EQ(none->num_completed, 0u);
  none = my_q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(none);
  ASSERT_EQ(none->num_completed, 0u);
  ASSERT_NO_FATAL_FAILURE(wait_for_in_flight(daemon_, 2));
  ASSERT_FALSE(my_q.queue(CloseSocket{.socket = *mine}));
  auto mine_done = my_q.complete_all();
  ASSERT_TRUE(mine_done) << mine_done.message();
  EXPECT_EQ(my_error, sys(ECANCELED)) << "the close cancels this session's receive";

  // The other session's receive is still waiting, and gets the data.
  auto still = their_q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->num_completed, 0u) << "the other session's receive ended: " << their_error.message();
  const std::string data = "hello";
  ASSERT_EQ(::write(sv[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  auto theirs_done = their_q.complete_all();
  ASSERT_TRUE(theirs_done) << theirs_done.message();
  EXPECT_FALSE(their_error) << their_error.message();
  EXPECT_EQ(std::string(buf, n), data);
  ::close(sv[1]);
}

// Two handles of one session on the same socket are two handles: closing one
// cancels the ops on it, not those on the other.
TEST_F(Regression, CloseSocketCancelsOnlyTheOpsOnThatHandle) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto first = client_->register_fd(sv[0]);
  auto second = client_->register_fd(sv[0]);
  ::close(sv[0]);
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  Dynamic q(*client_, 4);
  char a[8], b[8] = {};
  std::size_t n = 0;
  std::error_code first_error, second_error = sys(EIO);
  ASSERT_FALSE(q.queue(Recv{.socket = *first, .buffer = a, .out_error = &first_error}));
  ASSERT_FALSE(q.queue(Recv{.socket = *second, .buffer = b, .out_read = &n, .out_error = &second_error}));
  auto none = q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(none);
  ASSERT_EQ(none->num_completed, 0u);
  ASSERT_NO_FATAL_FAILURE(wait_for_in_flight(daemon_, 2));
  ASSERT_FALSE(q.queue(CloseSocket{.socket = *first}));
  // The close and the receive on its handle complete; the other receive waits.
  for (int done = 0; done < 2;) {
    auto r = q.complete(CompletionMode::blocking);
    ASSERT_TRUE(r) << r.message();
    done += static_cast<int>(r->num_completed);
  }
  EXPECT_EQ(first_error, sys(ECANCELED));
  EXPECT_EQ(q.outstanding(), 1u) << "the receive on the other handle ended: " << second_error.message();
  ASSERT_EQ(::write(sv[1], "x", 1), 1);
  ASSERT_TRUE(q.complete_all());
  EXPECT_FALSE(second_error) << second_error.message();
  EXPECT_EQ(n, 1u);
  ::close(sv[1]);
}

}  // namespace
}  // namespace aiod::test
