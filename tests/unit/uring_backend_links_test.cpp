// SPDX-License-Identifier: MIT
// Unit tests of the io_uring backend (daemon/backend/uring_backend.cpp) on a
// real ring: links between ring ops (soft, hard), an op and its link timeout
// both ways, on the ring and in its posix part (the only link the Backend
// contract promises across them), and cancellation — each op completing
// exactly once.
// Single ops: uring_backend_ops_test.cpp.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "backend/backend.hpp"
#include "uring_backend_fixture.hpp"

namespace aiod::daemon::uring_test {
namespace {

class UringBackendLinksTest : public UringBackendFixture {
 protected:
  // Prepares `a` linked (`link`) to `b`; both results go to their recorders.
  void prepare_pair(const BackendOp& a, Link link, Recorder& ra, const BackendOp& b, Recorder& rb) {
    ASSERT_EQ(backend_->prepare(linked(a, link), &ra), 0);
    ASSERT_EQ(backend_->prepare(b, &rb), 0);
  }
  void run_pair(const BackendOp& a, Link link, Recorder& ra, const BackendOp& b, Recorder& rb) {
    ASSERT_NO_FATAL_FAILURE(prepare_pair(a, link, ra, b, rb));
    ASSERT_TRUE(finish(ra, rb)) << "the pair did not complete within " << kLimit.count() << " s";
    settle();
    EXPECT_EQ(ra.count, 1);
    EXPECT_EQ(rb.count, 1);
  }
  static sockaddr_un unix_address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    return a;
  }
};

// A soft-linked op starts after the one before it has completed.
TEST_F(UringBackendLinksTest, SoftLinkedRingOpsRunInOrder) {
  const int fd = file("f");
  int sequence = 0;
  Recorder w(&sequence), r(&sequence);
  char buf[8] = {};
  ASSERT_NO_FATAL_FAILURE(run_pair(write_op(fd, "abc", 3), Link::soft, w,
                                   BackendOp(op::Read{.fd = fd, .buf = buf, .len = sizeof(buf), .offset = 0}), r));
  EXPECT_EQ(w.result, 3);
  EXPECT_EQ(r.result, 3) << "the read ran before the write";
  EXPECT_STREQ(buf, "abc");
  EXPECT_LT(w.order, r.order);
}

// A soft link: the first op's failure cancels the next, which never runs.
TEST_F(UringBackendLinksTest, SoftLinkFailureCancelsTheNextOp) {
  const int read_only = file("ro", O_RDONLY);
  const int target = file("target");
  Recorder first, second;
  ASSERT_NO_FATAL_FAILURE(run_pair(write_op(read_only, "x", 1), Link::soft, first, write_op(target, "abc", 3), second));
  EXPECT_EQ(first.result, -EBADF);
  EXPECT_EQ(second.result, -ECANCELED);
  EXPECT_EQ(size_of(target), 0) << "the cancelled write ran";
}

// A hard link: the chain goes on after a failure.
TEST_F(UringBackendLinksTest, HardLinkGoesOnAfterAFailure) {
  const int read_only = file("ro", O_RDONLY);
  const int target = file("target");
  Recorder first, second;
  ASSERT_NO_FATAL_FAILURE(run_pair(write_op(read_only, "x", 1), Link::hard, first, write_op(target, "abc", 3), second));
  EXPECT_EQ(first.result, -EBADF);
  EXPECT_EQ(second.result, 3);
  EXPECT_EQ(contents(target), "abc");
}

// An expired timer ends with -ETIME (the session reads it as success) and
// its link timeout is disarmed, like any guarded op's that finished first.
TEST_F(UringBackendLinksTest, ExpiredTimerEndsWithEtimeAndDisarmsItsLinkTimeout) {
  const __kernel_timespec ts{0, 1'000'000};
  const __kernel_timespec later{5, 0};
  Recorder timer, guard;
  ASSERT_NO_FATAL_FAILURE(run_pair(BackendOp(op::Timeout{.ts = &ts}), Link::soft, timer, link_timer_op(later), guard));
  EXPECT_EQ(timer.result, -ETIME);
  EXPECT_EQ(guard.result, -ECANCELED);
}

// A link timeout that expires cancels its blocked recv (-ECANCELED) and ends
// with -ETIME; the recv consumed nothing.
TEST_F(UringBackendLinksTest, LinkTimeoutExpiresAndCancelsABlockedRecv) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char buf[1] = {};
  const __kernel_timespec ts{0, 10'000'000};
  Recorder r, t;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(run_pair(recv_op(sv[0], buf, 1), Link::soft, r, link_timer_op(ts), t));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 10ms);
  EXPECT_EQ(r.result, -ECANCELED);
  EXPECT_EQ(t.result, -ETIME);
  ASSERT_EQ(::write(sv[1], "d", 1), 1);
  EXPECT_EQ(::recv(sv[0], buf, 1, MSG_DONTWAIT), 1) << "the cancelled recv took the byte";
}

// A link timeout that loses to its op completes -ECANCELED; the op keeps its
// result.
TEST_F(UringBackendLinksTest, LinkTimeoutLosesToARecvThatFinishes) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  ASSERT_EQ(::write(sv[1], "d", 1), 1);
  char buf[1] = {};
  const __kernel_timespec ts{60, 0};
  Recorder r, t;
  ASSERT_NO_FATAL_FAILURE(run_pair(recv_op(sv[0], buf, 1), Link::soft, r, link_timer_op(ts), t));
  EXPECT_EQ(r.result, 1);
  EXPECT_EQ(buf[0], 'd');
  EXPECT_EQ(t.result, -ECANCELED);
}

// A link timeout goes where its op went: after an op of the posix part it
// guards that op (not -EINVAL on the ring) and loses when the op finishes.
TEST_F(UringBackendLinksTest, LinkTimeoutFollowsAnEmulatedOp) {
  const int d = dir_fd();
  const __kernel_timespec ts{60, 0};
  Recorder m, t;
  ASSERT_NO_FATAL_FAILURE(
      run_pair(BackendOp(op::Mkdirat{.dir = d, .path = "m", .mode = 0700}), Link::soft, m, link_timer_op(ts), t));
  EXPECT_EQ(m.result, 0);
  EXPECT_EQ(t.result, -ECANCELED);
  EXPECT_EQ(::access(path("m").c_str(), F_OK), 0);
}

// cancel() of a pending recv completes it exactly once, with -ECANCELED,
// and the recv consumed nothing.
TEST_F(UringBackendLinksTest, CancelOfAPendingRecvCompletesItOnce) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char buf[1] = {};
  Recorder r;
  ASSERT_EQ(backend_->prepare(recv_op(sv[0], buf, 1), &r), 0);
  backend_->flush();
  backend_->drain();
  ASSERT_EQ(r.count, 0) << "the recv had nothing to receive";
  ASSERT_EQ(backend_->cancel(&r), 0);
  ASSERT_TRUE(finish(r));
  settle();
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.result, -ECANCELED);
  ASSERT_EQ(::write(sv[1], "d", 1), 1);
  settle();
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(::recv(sv[0], buf, 1, MSG_DONTWAIT), 1);
}

// A Cancel op of a pending recv: the recv completes -ECANCELED, the cancel 0.
TEST_F(UringBackendLinksTest, CancelOpOfAPendingRecv) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char buf[1] = {};
  Recorder r, c;
  ASSERT_EQ(backend_->prepare(recv_op(sv[0], buf, 1), &r), 0);
  backend_->flush();
  ASSERT_EQ(backend_->prepare(BackendOp(op::Cancel{.target = &r}), &c), 0);
  ASSERT_TRUE(finish(r, c));
  settle();
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.result, -ECANCELED);
  EXPECT_EQ(c.count, 1);
  EXPECT_EQ(c.result, 0);
}

// A Cancel op whose target is unknown (never prepared, or finished) is -ENOENT.
TEST_F(UringBackendLinksTest, CancelOpOfAnUnknownTargetIsEnoent) {
  Recorder never_prepared;
  EXPECT_EQ(run(BackendOp(op::Cancel{.target = &never_prepared})), -ENOENT);
  EXPECT_EQ(never_prepared.count, 0);
  Recorder finished;
  ASSERT_EQ(backend_->prepare(BackendOp{}, &finished), 0);
  ASSERT_TRUE(finish(finished));
  EXPECT_EQ(run(BackendOp(op::Cancel{.target = &finished})), -ENOENT);
  EXPECT_EQ(finished.count, 1);
  EXPECT_EQ(finished.result, 0);
}

// cancel() reaches an op blocked in the posix part (a sendmsg to an AF_UNIX
// path whose receiver is full): it completes once, -ECANCELED.
TEST_F(UringBackendLinksTest, CancelReachesABlockedOpOfThePosixPart) {
  const sockaddr_un addr = unix_address(path("d"));
  const int receiver = keep(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::bind(receiver, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  const int sender = keep(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  int queued = 0;
  while (::sendto(sender, "q", 1, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 1) {
    ASSERT_LT(++queued, 100'000) << "the receiver never filled up";
  }
  ASSERT_EQ(errno, EAGAIN);
  char text[] = "x";
  iovec iov{text, 1};
  msghdr m{};
  m.msg_name = const_cast<sockaddr_un*>(&addr);
  m.msg_namelen = sizeof(addr);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  Recorder r;
  ASSERT_EQ(backend_->prepare(BackendOp(op::Sendmsg{.fd = sender, .msg = &m}), &r), 0);
  backend_->flush();
  backend_->drain();
  ASSERT_EQ(r.count, 0) << "the sendmsg did not block: " << r.result;
  ASSERT_EQ(backend_->cancel(&r), 0);
  ASSERT_TRUE(finish(r));
  settle();
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.result, -ECANCELED);
}

}  // namespace
}  // namespace aiod::daemon::uring_test
