// SPDX-License-Identifier: MIT
// Unit tests of tests/support/memory_backend: the in-memory backend the
// session rule tests run on must itself follow io_uring's rules, or those
// tests would prove nothing. Driven directly, as a shard drives a backend
// (prepare, flush, drain), with the virtual clock moved by hand.
#include "memory_backend.hpp"

#include <fcntl.h>
#include <linux/openat2.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "unique_fd.hpp"

namespace aiod::test {
namespace {
using daemon::BackendOp;
using daemon::Link;
namespace op = daemon::op;
using namespace std::chrono_literals;

// Every result delivered to it, in order.
struct Results final : public daemon::Completion {
  void complete(int res) override { got.push_back(res); }
  std::vector<int> got;
};

class MemoryBackendTest : public ::testing::Test {
 protected:
  // Opens the memory file at `path`; the descriptor is closed with the test.
  int open(const char* path) {
    const open_how how{.flags = O_RDWR, .mode = 0, .resolve = 0};
    Results r;
    EXPECT_EQ(b.prepare(BackendOp(op::Openat2{.dir = AT_FDCWD, .path = path, .how = &how}), &r), 0);
    run();
    EXPECT_EQ(r.got.size(), 1u);
    if (r.got.size() != 1 || r.got[0] < 0) return -1;
    return fds_.emplace_back(r.got[0]).get();
  }
  void prepare(const BackendOp& o, Results& r, Link link = Link::none) {
    BackendOp linked = o;
    linked.link = link;
    ASSERT_EQ(b.prepare(linked, &r), 0);
  }
  // One turn of a shard's loop.
  void run() {
    b.flush();
    b.drain();
  }
  static BackendOp read(int fd, char* buf, std::uint32_t len, std::uint64_t offset = op::kCurrentPosition) {
    return BackendOp(op::Read{.fd = fd, .buf = buf, .len = len, .offset = offset});
  }
  static BackendOp write(int fd, const char* s, std::uint64_t offset = op::kCurrentPosition) {
    return BackendOp(
        op::Write{.fd = fd, .buf = s, .len = static_cast<std::uint32_t>(std::strlen(s)), .offset = offset});
  }

  MemoryBackend b;
  std::vector<UniqueFd> fds_;
  const __kernel_timespec ms_{.tv_sec = 0, .tv_nsec = 1'000'000};
};

using V = std::vector<int>;

TEST_F(MemoryBackendTest, ReadsAndWritesAtOffsetsOrTheFilePosition) {
  b.add_file("f", "abcdef");
  const int fd = open("f");
  char buf[8] = {};
  Results r1, r2, r3, r4, r5;
  prepare(read(fd, buf, 2), r1);
  prepare(read(fd, buf + 2, 2), r2);  // the position moved on
  prepare(write(fd, "XY", 4), r3);    // at an offset: the position stays
  prepare(read(fd, buf + 4, 4), r4);  // from 4: "XY", a short read
  prepare(BackendOp(op::Ftruncate{.fd = fd, .length = 3}), r5);
  run();
  EXPECT_EQ(r1.got, V{2});
  EXPECT_EQ(r2.got, V{2});
  EXPECT_EQ(r3.got, V{2});
  EXPECT_EQ(r4.got, V{2});
  EXPECT_EQ(r5.got, V{0});
  EXPECT_EQ(std::string(buf, 6), "abcdXY");
  EXPECT_EQ(b.contents("f"), "abc");
}

TEST_F(MemoryBackendTest, ARefusedOpcodeIsNotSupported) {
  Results r;
  EXPECT_FALSE(b.supports(daemon::BackendOpcode::socket));
  EXPECT_EQ(b.prepare(BackendOp(op::Socket{}), &r), -EOPNOTSUPP);
  EXPECT_TRUE(b.supports(daemon::BackendOpcode::read));
}

TEST_F(MemoryBackendTest, APipeReadWaitsForData) {
  b.add_pipe("p");
  const int fd = open("p");
  char buf[4] = {};
  Results r;
  prepare(read(fd, buf, 4), r);
  run();
  run();
  EXPECT_TRUE(r.got.empty());
  EXPECT_EQ(b.pending(), 1u);
  b.feed("p", "hi");
  run();
  EXPECT_EQ(r.got, V{2});
  EXPECT_EQ(std::string(buf, 2), "hi");
  EXPECT_EQ(b.pending(), 0u);
}

TEST_F(MemoryBackendTest, ATimeoutExpiresOnTheVirtualClockOnly) {
  Results r;
  prepare(BackendOp(op::Timeout{.ts = &ms_}), r);
  run();
  b.advance(999us);
  run();
  EXPECT_TRUE(r.got.empty());
  b.advance(1us);
  run();
  EXPECT_EQ(r.got, V{-ETIME});
}

TEST_F(MemoryBackendTest, ASoftLinkFailureCancelsTheRestOfTheSegment) {
  b.add_pipe("p");
  const int pipe = open("p");
  Results r1, r2, r3;
  prepare(BackendOp(op::Nop{}), r1, Link::soft);
  prepare(BackendOp(op::Fsync{.fd = pipe}), r2, Link::soft);  // -EINVAL on a pipe
  prepare(BackendOp(op::Nop{}), r3);
  run();
  EXPECT_EQ(r1.got, V{0});
  EXPECT_EQ(r2.got, V{-EINVAL});
  EXPECT_EQ(r3.got, V{-ECANCELED});
}

TEST_F(MemoryBackendTest, AShortReadBreaksASoftLinkButNotAHardOne) {
  b.add_file("f", "abc");
  const int fd = open("f");
  char buf[8];
  Results r1, r2, r3, r4;
  prepare(read(fd, buf, 8, 0), r1, Link::soft);
  prepare(write(fd, "Z", 0), r2);
  prepare(read(fd, buf, 8, 0), r3, Link::hard);
  prepare(write(fd, "Q", 0), r4);
  run();
  EXPECT_EQ(r1.got, V{3});
  EXPECT_EQ(r2.got, V{-ECANCELED});
  EXPECT_EQ(r3.got, V{3});
  EXPECT_EQ(r4.got, V{1});
  EXPECT_EQ(b.contents("f"), "Qbc");
}

TEST_F(MemoryBackendTest, ALinkedOpWaitsForItsTurn) {
  b.add_pipe("p");
  b.add_file("f");
  const int pipe = open("p");
  const int fd = open("f");
  char buf[2];
  Results r1, r2;
  prepare(read(pipe, buf, 2), r1, Link::soft);
  prepare(write(fd, "Z"), r2);
  run();
  EXPECT_EQ(b.contents("f"), "");
  b.feed("p", "hi");
  run();
  EXPECT_EQ(r1.got, V{2});
  EXPECT_EQ(r2.got, V{1});
  EXPECT_EQ(b.contents("f"), "Z");
}

TEST_F(MemoryBackendTest, AnExpiredLinkTimeoutCancelsItsOpAndTheRest) {
  b.add_pipe("p");
  const int pipe = open("p");
  char buf[2];
  Results op, timer, rest;
  prepare(read(pipe, buf, 2), op, Link::soft);
  prepare(BackendOp(op::LinkTimeout{.ts = &ms_}), timer, Link::soft);
  prepare(BackendOp(op::Nop{}), rest);
  run();
  b.advance(1ms);
  run();
  EXPECT_EQ(op.got, V{-ECANCELED});
  EXPECT_EQ(timer.got, V{-ETIME});
  EXPECT_EQ(rest.got, V{-ECANCELED});
}

TEST_F(MemoryBackendTest, ALinkTimeoutThatLosesIsCancelledAndTheChainGoesOn) {
  b.add_pipe("p");
  const int pipe = open("p");
  char buf[2];
  Results op, timer, rest;
  prepare(read(pipe, buf, 2), op, Link::soft);
  prepare(BackendOp(op::LinkTimeout{.ts = &ms_}), timer, Link::soft);
  prepare(BackendOp(op::Nop{}), rest);
  run();
  b.feed("p", "hi");
  run();
  b.advance(1s);
  run();
  EXPECT_EQ(op.got, V{2});
  EXPECT_EQ(timer.got, V{-ECANCELED});
  EXPECT_EQ(rest.got, V{0});
}

TEST_F(MemoryBackendTest, CancelAnswersAsIoUringDoes) {
  b.add_pipe("p");
  const int pipe = open("p");
  char buf[2];
  Results pending, waiting, done;
  prepare(read(pipe, buf, 2), pending, Link::soft);
  prepare(BackendOp(op::Nop{}), waiting);  // its turn comes after the read
  prepare(BackendOp(op::Nop{}), done);
  run();
  EXPECT_EQ(done.got, V{0});
  // Finished, its result not delivered yet: too late.
  Results late, unknown, behind, running, nobody;
  prepare(BackendOp(op::Nop{}), done);
  b.flush();
  prepare(BackendOp(op::Cancel{.target = &done}), late);
  prepare(BackendOp(op::Cancel{.target = &nobody}), unknown);
  prepare(BackendOp(op::Cancel{.target = &waiting}), behind);
  prepare(BackendOp(op::Cancel{.target = &pending}), running);
  run();
  EXPECT_EQ(late.got, V{-EALREADY});
  EXPECT_EQ(unknown.got, V{-ENOENT});
  EXPECT_EQ(behind.got, V{-ENOENT});  // io_uring cannot reach a linked op before its turn
  EXPECT_EQ(running.got, V{0});
  EXPECT_EQ(pending.got, V{-ECANCELED});
  EXPECT_EQ(waiting.got, V{-ECANCELED});  // the rest of the soft-linked segment
  EXPECT_EQ(b.pending(), 0u);
}

TEST_F(MemoryBackendTest, CancellingALinkTimeoutLeavesItsOpUnbounded) {
  b.add_pipe("p");
  const int pipe = open("p");
  char buf[2];
  Results op, timer, rest, cancel;
  prepare(read(pipe, buf, 2), op, Link::soft);
  prepare(BackendOp(op::LinkTimeout{.ts = &ms_}), timer, Link::soft);
  prepare(BackendOp(op::Nop{}), rest);
  run();
  prepare(BackendOp(op::Cancel{.target = &timer}), cancel);
  run();
  EXPECT_EQ(cancel.got, V{0});
  EXPECT_EQ(timer.got, V{-ECANCELED});
  b.advance(1s);
  run();
  EXPECT_TRUE(op.got.empty());
  b.feed("p", "hi");
  run();
  EXPECT_EQ(op.got, V{2});
  EXPECT_EQ(rest.got, V{0});
}

TEST_F(MemoryBackendTest, BackendCancelEndsAPendingOpExactlyOnce) {
  Results r;
  prepare(BackendOp(op::Timeout{.ts = &ms_}), r);
  run();
  EXPECT_EQ(b.cancel(&r), 0);
  EXPECT_EQ(b.cancel(&r), 0);  // the second finds it finished
  run();
  b.advance(1s);
  run();
  EXPECT_EQ(r.got, V{-ECANCELED});
}

}  // namespace
}  // namespace aiod::test
