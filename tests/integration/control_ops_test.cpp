// SPDX-License-Identifier: MIT
// Timers, link timeouts (zig-aio's six cases), cancellation, child exit and
// event sources through aiod.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using ControlOps = OpTest;

// zig-aio's LinkTimeout cases, in milliseconds instead of seconds: the number
// of failed ops for each (op, link timeout, optional third op) chain.
TEST_F(ControlOps, LinkTimeoutFiresFirst) {
  std::error_code op, lt;
  auto r = client_->complete(Timeout{.duration = 200ms, .link = Link::soft, .out_error = &op},
                             LinkTimeout{.duration = 20ms, .out_error = &lt});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(op, sys(ECANCELED));
  EXPECT_EQ(lt, sys(ETIME));
}

TEST_F(ControlOps, LinkTimeoutFiresFirstAndCancelsWhatFollows) {
  auto r = client_->complete(Timeout{.duration = 200ms, .link = Link::soft},
                             LinkTimeout{.duration = 20ms, .link = Link::soft}, Timeout{.duration = 10ms});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 3u);
}

TEST_F(ControlOps, OpFinishesBeforeItsLinkTimeout) {
  std::error_code op, lt;
  auto r = client_->complete(Timeout{.duration = 10ms, .link = Link::soft, .out_error = &op},
                             LinkTimeout{.duration = 500ms, .out_error = &lt});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
  EXPECT_FALSE(op);
  EXPECT_FALSE(lt);
}

TEST_F(ControlOps, OpFinishesBeforeItsLinkTimeoutAndTheChainGoesOn) {
  auto r = client_->complete(Timeout{.duration = 10ms, .link = Link::soft},
                             LinkTimeout{.duration = 500ms, .link = Link::soft}, Timeout{.duration = 10ms});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
}

TEST_F(ControlOps, HardLinkedLinkTimeoutDoesNotSaveWhatFollows) {
  auto r = client_->complete(Timeout{.duration = 200ms, .link = Link::soft},
                             LinkTimeout{.duration = 20ms, .link = Link::hard}, Timeout{.duration = 10ms});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 3u);
}

TEST_F(ControlOps, HardLinkedOpWithALinkTimeoutThatDoesNotFire) {
  auto r = client_->complete(Timeout{.duration = 10ms, .link = Link::hard},
                             LinkTimeout{.duration = 500ms, .link = Link::soft}, Timeout{.duration = 10ms});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
}

TEST_F(ControlOps, NopGuardedByALinkTimeoutFinishesFirst) {
  // The daemon completes nops itself; their link timeout still loses the race.
  std::error_code lt = sys(EIO), last = sys(EIO);
  const auto start = std::chrono::steady_clock::now();
  auto r = client_->complete(Nop{.link = Link::soft}, LinkTimeout{.duration = 2s, .link = Link::soft, .out_error = &lt},
                             Nop{.out_error = &last});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
  EXPECT_FALSE(lt);
  EXPECT_FALSE(last);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_F(ControlOps, LinkTimeoutMustFollowALinkedOp) {
  EXPECT_EQ(client_->single(LinkTimeout{.duration = 1ms}), sys(EINVAL));
  std::error_code e1, e2;
  auto r = client_->complete(Nop{.out_error = &e1}, LinkTimeout{.duration = 1ms, .out_error = &e2});
  ASSERT_TRUE(r);
  EXPECT_FALSE(e1);  // unlinked: its own chain
  EXPECT_EQ(e2, sys(EINVAL));
}

TEST_F(ControlOps, LinkTimeoutBoundsARealOperation) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto rd = client_->register_fd(p[0]);
  ASSERT_TRUE(rd);
  char buf[4];
  std::size_t n = 0;
  std::error_code read_error;
  const auto start = std::chrono::steady_clock::now();
  auto r =
      client_->complete(Read{.file = *rd, .buffer = buf, .out_read = &n, .link = Link::soft, .out_error = &read_error},
                        LinkTimeout{.duration = 30ms});
  ASSERT_TRUE(r);
  EXPECT_EQ(read_error, sys(ECANCELED));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(ControlOps, CancelARunningTimer) {
  Dynamic q(*client_, 8);
  OpId id;
  std::error_code timer_error;
  ASSERT_FALSE(q.queue(Timeout{.duration = 10s, .out_error = &timer_error, .out_id = &id}));
  auto none = q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->num_completed, 0u);
  std::error_code cancel_error = sys(EIO);
  ASSERT_FALSE(q.queue(Cancel{.id = id, .out_error = &cancel_error}));
  const auto start = std::chrono::steady_clock::now();
  auto errors = q.complete_all();
  ASSERT_TRUE(errors);
  EXPECT_EQ(*errors, 1u);  // only the timer failed
  EXPECT_EQ(timer_error, sys(ECANCELED));
  EXPECT_FALSE(cancel_error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // The id is stale now: cancelling again finds nothing.
  ASSERT_FALSE(q.queue(Cancel{.id = id, .out_error = &cancel_error}));
  errors = q.complete_all();
  ASSERT_TRUE(errors);
  EXPECT_EQ(*errors, 1u);
  EXPECT_EQ(cancel_error, sys(ENOENT));
}

TEST_F(ControlOps, CancelAnOpStillQueuedBehindItsChain) {
  // The nop waits for the 50 ms timer; the cancel (in another chain) reaches
  // it first, so it never starts.
  Dynamic q(*client_, 8);
  OpId nop_id;
  std::error_code timer_error, nop_error, cancel_error;
  ASSERT_FALSE(q.queue(Timeout{.duration = 50ms, .link = Link::hard, .out_error = &timer_error},
                       Nop{.out_error = &nop_error, .out_id = &nop_id}));
  ASSERT_FALSE(q.queue(Cancel{.id = nop_id, .out_error = &cancel_error}));
  auto errors = q.complete_all();
  ASSERT_TRUE(errors);
  EXPECT_FALSE(timer_error);
  EXPECT_EQ(nop_error, sys(ECANCELED));
  EXPECT_FALSE(cancel_error);
  EXPECT_EQ(*errors, 1u);
}

TEST_F(ControlOps, CancelOfAFinishedOpIsNotFound) {
  OpId id;
  ASSERT_FALSE(client_->single(Nop{.out_id = &id}));
  EXPECT_EQ(client_->single(Cancel{.id = id}), sys(ENOENT));
  EXPECT_EQ(client_->single(Cancel{.id = OpId{0x1234}}), sys(ENOENT));
}

TEST_F(ControlOps, ChildExitReportsTheExitCode) {
  const pid_t child = ::fork();
  if (child == 0) {
    std::this_thread::sleep_for(20ms);  // the child's own work, not synchronisation
    ::_exit(69);
  }
  ChildStatus status;
  ASSERT_FALSE(client_->single(ChildExit{.child = child, .out_status = &status}));
  EXPECT_EQ(status.kind, ChildStatus::Kind::exited);
  EXPECT_EQ(status.value, 69);
  // Reaped: the pid is no longer our child.
  EXPECT_EQ(::waitpid(child, nullptr, WNOHANG), -1);
}

TEST_F(ControlOps, ChildExitThroughAPidfdReportsASignal) {
  const pid_t child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  ASSERT_GE(pidfd, 0);
  Dynamic q(*client_, 2);
  ChildStatus status;
  ASSERT_FALSE(q.queue(ChildExit{.pidfd = pidfd, .out_status = &status}));
  auto none = q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->num_completed, 0u);  // still running
  ::kill(child, SIGTERM);
  auto errors = q.complete_all();
  ASSERT_TRUE(errors);
  EXPECT_EQ(*errors, 0u);
  EXPECT_EQ(status.kind, ChildStatus::Kind::signaled);
  EXPECT_EQ(status.value, SIGTERM);
  ::close(pidfd);
}

TEST_F(ControlOps, ChildExitOfANonChildFails) {
  EXPECT_TRUE(client_->single(ChildExit{.child = 1}));  // init is not our child
}

TEST_F(ControlOps, EventSourceIsACountingSemaphore) {
  auto es = EventSource::create(*client_);
  ASSERT_TRUE(es) << es.message();
  // Two notifies let exactly two waits through.
  ASSERT_FALSE(client_->multi(NotifyEventSource{.source = es->handle()}, NotifyEventSource{.source = es->handle()}));
  ASSERT_FALSE(client_->multi(WaitEventSource{.source = es->handle()}, WaitEventSource{.source = es->handle()}));
  EXPECT_FALSE(es->try_wait());
  // A wait blocks until a notify, here from this process directly.
  Dynamic q(*client_, 2);
  ASSERT_FALSE(q.queue(WaitEventSource{.source = es->handle()}));
  auto none = q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->num_completed, 0u);
  ASSERT_FALSE(es->notify());
  auto errors = q.complete_all();
  ASSERT_TRUE(errors);
  EXPECT_EQ(*errors, 0u);
  EXPECT_FALSE(client_->single(CloseEventSource{.source = es->handle()}));
  EXPECT_EQ(client_->single(NotifyEventSource{.source = es->handle()}), sys(EBADF));
}

TEST_F(ControlOps, EventSourceSharedAcrossClients) {
  auto es = EventSource::create(*client_);
  ASSERT_TRUE(es);
  auto other = Client::connect(daemon_.client_options());
  ASSERT_TRUE(other);
  auto shared = EventSource::adopt(*other, es->fd());
  ASSERT_TRUE(shared) << shared.message();
  Dynamic q(*client_, 2);
  ASSERT_FALSE(q.queue(WaitEventSource{.source = es->handle()}));
  auto none = q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->num_completed, 0u);
  ASSERT_FALSE(other->single(NotifyEventSource{.source = shared->handle()}));  // the other client
  auto errors = q.complete_all();
  ASSERT_TRUE(errors);
  EXPECT_EQ(*errors, 0u);
}

}  // namespace
}  // namespace aiod::test
