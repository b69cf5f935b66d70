// SPDX-License-Identifier: MIT
// Shared memory is hostile: every malformed descriptor gets its own error, a
// client that corrupts ring indices is disconnected, and other clients never
// notice. Descriptors are written by hand into the ring (RawSession).
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <aiod/aiod.hpp>
#include <cerrno>
#include <cstring>

#include "daemon_process.hpp"
#include "raw_session.hpp"

namespace aiod::test {
namespace {

class HostileClient : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.running());
    raw_ = std::make_unique<RawSession>(daemon_.socket_path());
    ASSERT_TRUE(raw_->ok()) << raw_->error();
  }

  // Submits one descriptor and returns its completion result.
  int submit_one(aiod_sqe sqe) {
    sqe.user_data = ++next_ud_;
    raw_->push(sqe);
    raw_->publish();
    auto cqes = raw_->wait(1);
    if (cqes.size() != 1) {
      ADD_FAILURE() << "no completion";
      return 1;
    }
    EXPECT_EQ(cqes[0].user_data, sqe.user_data);
    return cqes[0].res;
  }

  // A healthy second client keeps doing real IO.
  void expect_other_client_unaffected() {
    auto c = Client::connect(daemon_.client_options());
    ASSERT_TRUE(c) << c.message();
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    auto h = c->register_fds(std::array<int, 2>{p[0], p[1]});
    ::close(p[0]);
    ::close(p[1]);
    ASSERT_TRUE(h);
    char buf[8] = {};
    std::size_t got = 0;
    ASSERT_FALSE(
        c->multi(Write{.file = (*h)[1], .buffer = "alive"}, Read{.file = (*h)[0], .buffer = buf, .out_read = &got}));
    EXPECT_EQ(std::string(buf, got), "alive");
  }

  DaemonProcess daemon_;
  std::unique_ptr<RawSession> raw_;
  std::uint64_t next_ud_ = 0;
};

TEST_F(HostileClient, ValidNopSucceeds) { EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_NOP}), 0); }

TEST_F(HostileClient, UnknownOpcodeIsEinval) {
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = 200}), -EINVAL);
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_LAST}), -EINVAL);
  expect_other_client_unaffected();
}

TEST_F(HostileClient, UnknownFlagsAndReservedFieldsAreEinval) {
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_NOP, .flags = 0x80}), -EINVAL);
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_NOP, .reserved0 = 1}), -EINVAL);
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_NOP, .reserved1 = 1}), -EINVAL);
  // A field the opcode does not use must be zero.
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_NOP, .len = 5}), -EINVAL);
}

TEST_F(HostileClient, BothLinkFlagsAreEinvalAndFailTheirChain) {
  // Either link bit continues the chain, so the chain is ended by a plain nop.
  raw_->push(aiod_sqe{.opcode = AIOD_OP_NOP, .flags = AIOD_SQE_LINK | AIOD_SQE_HARDLINK, .user_data = 1});
  raw_->push(aiod_sqe{.opcode = AIOD_OP_NOP, .user_data = 2});
  raw_->publish();
  const auto cqes = raw_->wait(2);
  ASSERT_EQ(cqes.size(), 2u);
  EXPECT_EQ(cqes[0].user_data, 1u);
  EXPECT_EQ(cqes[0].res, -EINVAL);
  EXPECT_EQ(cqes[1].user_data, 2u);
  EXPECT_EQ(cqes[1].res, -ECANCELED);
}

TEST_F(HostileClient, BufferOutsideTheArenaIsEfault) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const auto h = raw_->register_fd(p[1]);
  ASSERT_TRUE(h);
  const std::uint64_t size = raw_->arena_size();
  aiod_sqe w{.opcode = AIOD_OP_WRITE, .handle = *h, .addr = size, .len = 1};
  EXPECT_EQ(submit_one(w), -EFAULT);
  w.addr = size - 4;
  w.len = 8;
  EXPECT_EQ(submit_one(w), -EFAULT);
  ::close(p[0]);
  ::close(p[1]);
  expect_other_client_unaffected();
}

TEST_F(HostileClient, LengthOverflowIsEfault) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const auto h = raw_->register_fd(p[1]);
  ASSERT_TRUE(h);
  // offset + length wraps around 2^64: must not pass a naive bounds check.
  aiod_sqe w{.opcode = AIOD_OP_WRITE, .handle = *h, .addr = ~std::uint64_t{0} - 2, .len = 16};
  EXPECT_EQ(submit_one(w), -EFAULT);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(HostileClient, UnknownHandleIsEbadf) {
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_FSYNC, .handle = 12345}), -EBADF);
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_CLOSE_FILE, .handle = AIOD_HANDLE_CWD}), -EBADF);
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_READ, .handle = 0, .len = 0}), -EBADF);
  expect_other_client_unaffected();
}

TEST_F(HostileClient, AnotherClientsHandleIsNotReachable) {
  auto c = Client::connect(daemon_.client_options());
  ASSERT_TRUE(c);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto theirs = c->register_fd(p[1]);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_FSYNC, .handle = theirs->value}), -EBADF);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(HostileClient, BadPathsAreRefused) {
  const char name[] = "a\0b";
  std::memcpy(raw_->arena(), name, sizeof(name));
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_OPEN_AT, .handle = AIOD_HANDLE_CWD, .addr = 0, .len = 3}), -EINVAL);
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_OPEN_AT, .handle = AIOD_HANDLE_CWD, .addr = 0, .len = 0}), -ENOENT);
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_OPEN_AT, .handle = AIOD_HANDLE_CWD, .addr = 0, .len = 5000}),
            -ENAMETOOLONG);
}

TEST_F(HostileClient, CorruptSubmissionTailDisconnectsOnlyThatClient) {
  auto other = Client::connect(daemon_.client_options());
  ASSERT_TRUE(other);
  raw_->publish_raw_tail(raw_->sq_entries() * 4 + 3);  // more than a ring ahead
  EXPECT_TRUE(raw_->disconnected(std::chrono::seconds(5)));
  EXPECT_FALSE(other->single(Nop{}));
  expect_other_client_unaffected();
}

TEST_F(HostileClient, CompletionHeadMovedPastTheTailDisconnects) {
  EXPECT_EQ(submit_one(aiod_sqe{.opcode = AIOD_OP_NOP}), 0);
  std::atomic_ref<std::uint32_t>(raw_->header()->cq_head).store(1000, std::memory_order_release);
  aiod_sqe nop{.opcode = AIOD_OP_NOP, .user_data = 7};
  raw_->push(nop);
  raw_->publish();
  EXPECT_TRUE(raw_->disconnected(std::chrono::seconds(5)));
  expect_other_client_unaffected();
}

TEST_F(HostileClient, GarbageDescriptorsNeverCrashTheDaemon) {
  // Random bytes in every field, a full ring at a time: each gets exactly one
  // completion (most of them errors) and the daemon lives on.
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const std::uint32_t n = raw_->sq_entries();
  for (int round = 0; round < 20; ++round) {
    for (std::uint32_t i = 0; i < n; ++i) {
      aiod_sqe sqe;
      auto* words = reinterpret_cast<std::uint64_t*>(&sqe);
      for (int w = 0; w < 8; ++w) words[w] = next();
      sqe.opcode = static_cast<std::uint8_t>(sqe.opcode % (AIOD_OP_LAST + 2));
      if (sqe.opcode == AIOD_OP_TIMEOUT) sqe.off %= 1'000'000;  // keep timers short
      sqe.flags &= 0x3;                                         // mostly links, some invalid (both bits)
      if (i == n - 1) sqe.flags = 0;                            // end the last chain: an open chain waits for its end
      sqe.user_data = i;
      raw_->push(sqe);
    }
    raw_->publish();
    const auto cqes = raw_->wait(n, std::chrono::seconds(20));
    ASSERT_EQ(cqes.size(), n) << "round " << round;
  }
  expect_other_client_unaffected();
}

}  // namespace
}  // namespace aiod::test
