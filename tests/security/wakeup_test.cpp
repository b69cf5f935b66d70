// SPDX-License-Identifier: MIT
// A client that asks to be woken and holds its completion eventfd at its
// maximum makes every wake-up write of the daemon wait for room that never
// comes. Those writes must neither pile up (on the posix backend each would
// hold a worker) nor keep the session, or the daemon's stop, from ending.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>

#include "raw_session.hpp"
#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

TEST(Wakeups, AClientsFullEventfdNeitherPilesUpWritesNorBlocksTheStop) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  {
    RawSession s(daemon.socket_path());
    ASSERT_TRUE(s.ok()) << s.error();
    s.ask_to_be_woken_with_a_full_eventfd();
    // One nop at a time: each completion is published alone, and each
    // publication finds the client asking to be woken.
    constexpr std::uint32_t kOps = 64;
    for (std::uint32_t i = 0; i < kOps; ++i) {
      aiod_sqe sqe{};
      sqe.opcode = AIOD_OP_NOP;
      sqe.user_data = i;
      s.push(sqe);
      s.publish();
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (std::atomic_ref<std::uint32_t>(s.header()->cq_tail).load(std::memory_order_acquire) != i + 1) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "nop " << i << " did not complete";
      }
    }
    // Another client is served meanwhile.
    auto other = Client::connect(daemon.client_options());
    ASSERT_TRUE(other) << other.message();
    EXPECT_FALSE(other->single(Nop{}));
  }  // the hostile session closes with its wake-up write still waiting
  daemon.signal(SIGTERM);
  const std::optional<int> status = daemon.wait_exit(20s);
  ASSERT_TRUE(status.has_value()) << "the daemon did not stop: a wake-up write kept a session from closing";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

}  // namespace
}  // namespace aiod::test::sec
