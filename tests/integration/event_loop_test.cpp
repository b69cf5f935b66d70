// SPDX-License-Identifier: MIT
// Integrating a client into an existing event loop: completion_fd() becomes
// readable when armed completions arrive, and stays quiet otherwise.
#include <poll.h>

#include <chrono>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using EventLoop = OpTest;

TEST_F(EventLoop, CompletionFdBecomesReadable) {
  Dynamic q(*client_, 4);
  // Before the submission: the daemon may start the timer before this thread
  // runs again.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_FALSE(q.queue(Timeout{.duration = 30ms}));
  ASSERT_TRUE(q.complete(CompletionMode::nonblocking));  // submits
  std::size_t completed = 0;
  while (completed == 0) {
    if (!client_->arm_completion_fd()) {
      pollfd p{client_->completion_fd(), POLLIN, 0};
      ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the completion fd never became readable";
    }
    auto r = q.complete(CompletionMode::nonblocking);
    ASSERT_TRUE(r);
    completed += r->num_completed;
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
  // Nothing pending: armed again, the fd stays quiet.
  EXPECT_FALSE(client_->arm_completion_fd());
  pollfd p{client_->completion_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 50), 0);
}

}  // namespace
}  // namespace aiod::test
