// SPDX-License-Identifier: MIT
// CHILD_EXIT with AIOD_CHILD_EXIT_CLOSE closes its pidfd handle only when the
// op succeeds (the process exited). A failed or cancelled wait leaves the
// handle with its owner, who may wait again or close it.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "op_fixture.hpp"
#include "raw_session.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using Regression = OpTest;

// A child that runs until killed, and a pidfd of it.
struct SleepingChild {
  SleepingChild() {
    pid = ::fork();
    if (pid == 0) {
      for (;;) ::pause();
    }
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  }
  ~SleepingChild() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (pidfd >= 0) ::close(pidfd);
  }
  SleepingChild(const SleepingChild&) = delete;
  SleepingChild& operator=(const SleepingChild&) = delete;
  pid_t pid = -1;
  int pidfd = -1;
};

// Submits one descriptor and returns its result.
int submit(RawSession& s, const aiod_sqe& sqe) {
  s.push(sqe);
  s.publish();
  const auto cqes = s.wait(1);
  return cqes.size() == 1 ? cqes[0].res : -ETIMEDOUT;
}

// Whether the session still has `handle` open: closing it succeeds.
bool closes(RawSession& s, std::uint32_t handle) {
  return submit(s, aiod_sqe{.opcode = AIOD_OP_CLOSE_FILE, .handle = handle, .user_data = 99}) == 0;
}

// A cancelled CHILD_EXIT closed its handle although the process had not
// exited: the documented "close once the child exited" held only on success.
TEST_F(Regression, ChildExitCloseKeepsTheHandleWhenCancelled) {
  SleepingChild child;
  ASSERT_GE(child.pidfd, 0);
  RawSession s(daemon_.socket_path());
  ASSERT_TRUE(s.ok()) << s.error();

  // By a link timeout.
  auto h = s.register_fd(child.pidfd);
  ASSERT_TRUE(h);
  s.push(aiod_sqe{.opcode = AIOD_OP_CHILD_EXIT,
                  .flags = AIOD_SQE_LINK,
                  .handle = *h,
                  .op_flags = AIOD_CHILD_EXIT_CLOSE,
                  .user_data = 1});
  s.push(aiod_sqe{.opcode = AIOD_OP_LINK_TIMEOUT, .off = 10'000'000, .user_data = 2});
  s.publish();
  auto cqes = s.wait(2);
  ASSERT_EQ(cqes.size(), 2u);
  for (const aiod_cqe& c : cqes) {
    if (c.user_data == 1) {
      EXPECT_EQ(c.res, -ECANCELED);
    }
  }
  EXPECT_TRUE(closes(s, *h)) << "the cancelled wait closed its handle";

  // By a CANCEL.
  h = s.register_fd(child.pidfd);
  ASSERT_TRUE(h);
  s.push(aiod_sqe{.opcode = AIOD_OP_CHILD_EXIT, .handle = *h, .op_flags = AIOD_CHILD_EXIT_CLOSE, .user_data = 3});
  s.push(aiod_sqe{.opcode = AIOD_OP_CANCEL, .off = 3, .user_data = 4});
  s.publish();
  cqes = s.wait(2);
  ASSERT_EQ(cqes.size(), 2u);
  for (const aiod_cqe& c : cqes) {
    EXPECT_EQ(c.res, c.user_data == 3 ? -ECANCELED : 0) << "user_data " << c.user_data;
  }
  EXPECT_TRUE(closes(s, *h)) << "the cancelled wait closed its handle";
}

TEST_F(Regression, ChildExitCloseClosesTheHandleOnceTheChildExited) {
  SleepingChild child;
  ASSERT_GE(child.pidfd, 0);
  RawSession s(daemon_.socket_path());
  ASSERT_TRUE(s.ok()) << s.error();
  auto h = s.register_fd(child.pidfd);
  ASSERT_TRUE(h);
  s.push(aiod_sqe{.opcode = AIOD_OP_CHILD_EXIT, .handle = *h, .op_flags = AIOD_CHILD_EXIT_CLOSE, .user_data = 1});
  s.publish();
  ::kill(child.pid, SIGKILL);
  const auto cqes = s.wait(1);
  ASSERT_EQ(cqes.size(), 1u);
  EXPECT_EQ(cqes[0].res, 0);
  EXPECT_EQ(submit(s, aiod_sqe{.opcode = AIOD_OP_CLOSE_FILE, .handle = *h, .user_data = 2}), -EBADF);
}

// libaiod registers a pidfd for every ChildExit: when the wait is cancelled,
// the daemon keeps that handle, and libaiod must drop it.
TEST_F(Regression, CancelledChildExitLeavesNoHandleBehind) {
  SleepingChild child;
  ASSERT_GE(child.pidfd, 0);
  ASSERT_FALSE(client_->single(Nop{}));
  const std::size_t baseline = process_usage(daemon_.pid()).fds;
  for (int i = 0; i < 3; ++i) {
    Dynamic q(*client_, 2);
    std::error_code error;
    ASSERT_FALSE(q.queue(ChildExit{.pidfd = child.pidfd, .link = Link::soft, .out_error = &error},
                         LinkTimeout{.duration = 10ms}));
    ASSERT_TRUE(q.complete_all());
    EXPECT_EQ(error, sys(ECANCELED));
  }
  EXPECT_EQ(process_usage(daemon_.pid()).fds, baseline) << "the daemon still holds the pidfds";
}

}  // namespace
}  // namespace aiod::test
