// SPDX-License-Identifier: MIT
// The rules of a soft link that depend on the op (docs/protocol.md 6.5,
// "Breaking"), one test each, named after the rule. They are io_uring's: a
// short READ, WRITE, READ_TTY, READV or WRITEV fails a soft link; a short
// RECV or RECV_MSG fails it only with MSG_WAITALL, a short SEND never (it
// takes no MSG_WAITALL); NOTIFY and WAIT of an event source and an expired
// TIMEOUT succeed like any op.
// The general rules (order, failure, hard links, invalid descriptors) are in
// links_test.cpp. Both files run on both backends.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <aiod/aiod.hpp>
#include <array>
#include <chrono>
#include <string>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;

const std::error_code kCanceled(ECANCELED, std::system_category());

class LinkRules : public OpTest {
 protected:
  // A pipe holding at most 4096 bytes, its write end non-blocking: a write of
  // more than that is short. Returns {read handle, write handle}.
  std::array<Handle, 2> small_pipe() {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    EXPECT_GE(::fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
    EXPECT_EQ(::fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    auto h = client_->register_fds(std::array<int, 2>{p[0], p[1]});
    ::close(p[0]);
    ::close(p[1]);
    EXPECT_TRUE(h) << h.message();
    return {(*h)[0], (*h)[1]};
  }

  // A connected socket pair: {the daemon's handle of one end, our end's fd}.
  std::pair<Handle, int> socket_pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    auto h = client_->register_fd(sv[0]);
    ::close(sv[0]);
    EXPECT_TRUE(h) << h.message();
    return {*h, sv[1]};
  }

  // Runs `first` soft-linked to a NOP; returns the NOP's error.
  template <class Op>
  std::error_code nop_after(Op first, std::error_code& first_error) {
    std::error_code nop_error;
    first.link = Link::soft;
    first.out_error = &first_error;
    (void)client_->complete(first, Nop{.out_error = &nop_error});
    return nop_error;
  }
};

TEST_F(LinkRules, AShortWriteBreaksASoftChain) {
  const auto [r, w] = small_pipe();
  const std::string data(8192, 'w');
  std::size_t written = 0;
  std::error_code e;
  EXPECT_EQ(nop_after(Write{.file = w, .buffer = data, .out_written = &written}, e), kCanceled);
  EXPECT_FALSE(e);
  EXPECT_EQ(written, 4096u);
}

TEST_F(LinkRules, AShortReadvBreaksASoftChain) {
  Handle f;
  ASSERT_FALSE(client_->single(OpenAt{
      .path = (daemon_.directory() + "/short").c_str(), .flags = O_RDWR | O_CREAT, .mode = 0600, .out_file = &f}));
  ASSERT_FALSE(client_->single(Write{.file = f, .buffer = "abc", .offset = 0}));
  char a[2], b[8];
  const iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
  std::size_t n = 0;
  std::error_code e;
  EXPECT_EQ(nop_after(Readv{.file = f, .iov = iov, .offset = 0, .out_read = &n}, e), kCanceled);
  EXPECT_FALSE(e);
  EXPECT_EQ(n, 3u);
}

TEST_F(LinkRules, AShortWritevBreaksASoftChain) {
  const auto [r, w] = small_pipe();
  static char data[2][4096];
  const iovec iov[2] = {{data[0], sizeof(data[0])}, {data[1], sizeof(data[1])}};
  std::size_t written = 0;
  std::error_code e;
  EXPECT_EQ(nop_after(Writev{.file = w, .iov = iov, .out_written = &written}, e), kCanceled);
  EXPECT_FALSE(e);
  EXPECT_EQ(written, 4096u);
}

TEST_F(LinkRules, AShortRecvWithoutWaitAllGoesOn) {
  auto [s, peer] = socket_pair();
  ASSERT_EQ(::write(peer, "ab", 2), 2);
  char buf[8];
  std::size_t n = 0;
  std::error_code e;
  EXPECT_FALSE(nop_after(Recv{.socket = s, .buffer = buf, .out_read = &n}, e));
  EXPECT_FALSE(e);
  EXPECT_EQ(n, 2u);
  ::close(peer);
}

TEST_F(LinkRules, AShortRecvWithWaitAllBreaksASoftChain) {
  auto [s, peer] = socket_pair();
  ASSERT_EQ(::write(peer, "ab", 2), 2);
  ASSERT_EQ(::shutdown(peer, SHUT_WR), 0);  // MSG_WAITALL then stops at the end of the stream
  char buf[8];
  std::size_t n = 0;
  std::error_code e;
  EXPECT_EQ(nop_after(Recv{.socket = s, .buffer = buf, .flags = MSG_WAITALL, .out_read = &n}, e), kCanceled);
  EXPECT_FALSE(e);
  EXPECT_EQ(n, 2u);
  ::close(peer);
}

TEST_F(LinkRules, AShortRecvMsgWithWaitAllBreaksASoftChain) {
  auto [s, peer] = socket_pair();
  ASSERT_EQ(::write(peer, "ab", 2), 2);
  ASSERT_EQ(::shutdown(peer, SHUT_WR), 0);
  char buf[8];
  iovec iov{buf, sizeof(buf)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::size_t n = 0;
  std::error_code e;
  EXPECT_EQ(nop_after(RecvMsg{.socket = s, .msg = &msg, .flags = MSG_WAITALL, .out_read = &n}, e), kCanceled);
  EXPECT_FALSE(e);
  EXPECT_EQ(n, 2u);
  ::close(peer);
}

TEST_F(LinkRules, AShortSendWithoutWaitAllGoesOn) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  const int small = 4096;
  ASSERT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  auto h = client_->register_fd(sv[0]);
  ASSERT_TRUE(h) << h.message();
  // Far more than the socket buffers hold: a non-blocking send is short.
  const std::string data(1 << 20, 's');
  std::size_t written = 0;
  std::error_code e;
  EXPECT_FALSE(nop_after(Send{.socket = *h, .buffer = data, .out_written = &written}, e));
  EXPECT_FALSE(e);
  EXPECT_GT(written, 0u);
  EXPECT_LT(written, data.size());
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST_F(LinkRules, NotifyAndWaitOfAnEventSourceGoOnLikeAnyOp) {
  auto source = EventSource::create(*client_);
  ASSERT_TRUE(source) << source.message();
  std::error_code e;
  EXPECT_FALSE(nop_after(NotifyEventSource{.source = source->handle()}, e));
  EXPECT_FALSE(e);
  EXPECT_FALSE(nop_after(WaitEventSource{.source = source->handle()}, e));
  EXPECT_FALSE(e);
}

TEST_F(LinkRules, AnExpiredTimeoutGoesOn) {
  std::error_code e;
  EXPECT_FALSE(nop_after(Timeout{.duration = 1ms}, e));
  EXPECT_FALSE(e);
}

}  // namespace
}  // namespace aiod::test
