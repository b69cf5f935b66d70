// SPDX-License-Identifier: MIT
// Linked chains: soft links cancel the rest of a chain after a failure, hard
// links go on; linked ops run in order.
#include <fcntl.h>

#include <gtest/gtest.h>

#include <aiod/aiod.hpp>
#include <chrono>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

const std::error_code kCanceled(ECANCELED, std::system_category());
const std::error_code kBadf(EBADF, std::system_category());

using Links = OpTest;

TEST_F(Links, SoftChainFailureCancelsTheRest) {
  // The second op fails in the kernel: reading a write-only file.
  Handle wo;
  ASSERT_FALSE(client_->single(OpenAt{
      .path = (daemon_.directory() + "/soft").c_str(), .flags = O_WRONLY | O_CREAT, .mode = 0600, .out_file = &wo}));
  char buf[4];
  std::size_t n = 0;
  std::error_code e1, e2, e3, e4;
  auto failed = client_->complete(Nop{.link = Link::soft, .out_error = &e1},
                                  Read{.file = wo, .buffer = buf, .out_read = &n, .link = Link::soft, .out_error = &e2},
                                  Nop{.link = Link::soft, .out_error = &e3}, Nop{.out_error = &e4});
  ASSERT_TRUE(failed) << failed.message();
  EXPECT_EQ(*failed, 3u);
  EXPECT_FALSE(e1);
  EXPECT_EQ(e2, kBadf);
  EXPECT_EQ(e3, kCanceled);
  EXPECT_EQ(e4, kCanceled);
}

TEST_F(Links, HardChainGoesOnAfterAFailure) {
  Handle f;
  ASSERT_FALSE(client_->single(OpenAt{
      .path = (daemon_.directory() + "/hard").c_str(), .flags = O_RDWR | O_CREAT, .mode = 0600, .out_file = &f}));
  // The first op fails in the kernel (reading a write-only file), not in
  // validation, so the chain has started when it fails.
  Handle wo;
  ASSERT_FALSE(
      client_->single(OpenAt{.path = (daemon_.directory() + "/hard").c_str(), .flags = O_WRONLY, .out_file = &wo}));
  char buf[4];
  std::size_t n = 0, written = 0;
  std::error_code e1, e2, e3;
  auto failed = client_->complete(
      Read{.file = wo, .buffer = buf, .offset = 0, .out_read = &n, .link = Link::hard, .out_error = &e1},
      Write{.file = f, .buffer = "go on", .offset = 0, .out_written = &written, .link = Link::hard, .out_error = &e2},
      Nop{.out_error = &e3});
  ASSERT_TRUE(failed);
  EXPECT_EQ(*failed, 1u);
  EXPECT_EQ(e1, kBadf);
  EXPECT_FALSE(e2);
  EXPECT_EQ(written, 5u);
  EXPECT_FALSE(e3);
}

TEST_F(Links, LinkedOpsRunInOrder) {
  // A 30 ms timeout linked before a nop: the nop cannot complete first.
  Dynamic q(*client_, 4);
  std::vector<std::uint64_t> order;
  q.set_callback([&](OpId, std::uint64_t userdata, bool) { order.push_back(userdata); });
  ASSERT_FALSE(q.queue(Timeout{.duration = std::chrono::milliseconds(30), .link = Link::soft, .userdata = 1},
                       Nop{.userdata = 2}));
  ASSERT_TRUE(q.complete_all());
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], 1u);
  EXPECT_EQ(order[1], 2u);
}

TEST_F(Links, UnlinkedOpsRunConcurrently) {
  // Two 400 ms timeouts, unlinked: together they take about 400 ms, not 800
  // (the margin leaves room for a loaded machine and sanitizer builds).
  const auto start = std::chrono::steady_clock::now();
  ASSERT_FALSE(client_->multi(Timeout{.duration = std::chrono::milliseconds(400)},
                              Timeout{.duration = std::chrono::milliseconds(400)}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(790));
}

TEST_F(Links, ShortReadBreaksASoftChain) {
  // io_uring's rule, kept everywhere: a short transfer is an unexpected result.
  Handle f;
  ASSERT_FALSE(client_->single(OpenAt{
      .path = (daemon_.directory() + "/short").c_str(), .flags = O_RDWR | O_CREAT, .mode = 0600, .out_file = &f}));
  ASSERT_FALSE(client_->single(Write{.file = f, .buffer = "ab", .offset = 0}));
  char buf[8];
  std::size_t n = 0;
  std::error_code e1, e2;
  auto failed = client_->complete(
      Read{.file = f, .buffer = buf, .offset = 0, .out_read = &n, .link = Link::soft, .out_error = &e1},
      Nop{.out_error = &e2});
  ASSERT_TRUE(failed);
  EXPECT_FALSE(e1);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(e2, kCanceled);
}

TEST_F(Links, InvalidDescriptorFailsTheWholeChainBeforeItStarts) {
  const std::string p = daemon_.directory() + "/untouched";
  Handle f;
  ASSERT_FALSE(client_->single(OpenAt{.path = p.c_str(), .flags = O_RDWR | O_CREAT, .mode = 0600, .out_file = &f}));
  std::error_code e1, e2, e3;
  auto failed =
      client_->complete(Write{.file = f, .buffer = "never", .offset = 0, .link = Link::hard, .out_error = &e1},
                        CloseFile{.file = Handle{999}, .link = Link::hard, .out_error = &e2}, Nop{.out_error = &e3});
  ASSERT_TRUE(failed);
  EXPECT_EQ(*failed, 3u);
  EXPECT_EQ(e1, kCanceled);
  EXPECT_EQ(e2, kBadf);
  EXPECT_EQ(e3, kCanceled);
  char buf[8];
  std::size_t n = 99;
  ASSERT_FALSE(client_->single(Read{.file = f, .buffer = buf, .offset = 0, .out_read = &n}));
  EXPECT_EQ(n, 0u) << "an op of a chain that never started has run";
}

TEST_F(Links, LongChainFailureInTheKernelCancelsOnlyWhatFollows) {
  const std::string p = daemon_.directory() + "/wo";
  Handle wo;
  ASSERT_FALSE(client_->single(OpenAt{.path = p.c_str(), .flags = O_WRONLY | O_CREAT, .mode = 0600, .out_file = &wo}));
  char buf[4];
  std::size_t n = 0;
  std::vector<Op> ops;
  std::vector<std::error_code> errors(200);
  for (int i = 0; i < 200; ++i) {
    const Link link = i == 199 ? Link::unlinked : Link::soft;
    if (i == 150) {
      ops.push_back(
          Read{.file = wo, .buffer = buf, .offset = 0, .out_read = &n, .link = link, .out_error = &errors[i]});
    } else {
      ops.push_back(Nop{.link = link, .out_error = &errors[i]});
    }
  }
  auto failed = client_->run_batch(ops);
  ASSERT_TRUE(failed) << failed.message();
  EXPECT_EQ(*failed, 50u);
  for (int i = 0; i < 150; ++i) EXPECT_FALSE(errors[i]) << i;
  EXPECT_EQ(errors[150], kBadf);
  for (int i = 151; i < 200; ++i) EXPECT_EQ(errors[i], kCanceled) << i;
}

}  // namespace
}  // namespace aiod::test
