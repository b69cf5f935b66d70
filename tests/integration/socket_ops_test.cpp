// SPDX-License-Identifier: MIT
// Socket operations through aiod: socket, bind, listen, accept (with the peer
// address), connect, send/recv (flags honoured), message IO with descriptors
// travelling as handles, shutdown, and close_socket cancelling pending ops.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "loopback.hpp"
#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using SocketOps = OpTest;

TEST_F(SocketOps, TcpPingPongWithPeerAddress) {
  const sockaddr_in addr = loopback(free_port());
  Handle server, client;
  ASSERT_FALSE(client_->multi(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &server},
                              Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &client}));
  ASSERT_FALSE(client_->multi(Bind{.socket = server,
                                   .addr = reinterpret_cast<const sockaddr*>(&addr),
                                   .addrlen = sizeof(addr),
                                   .link = Link::soft},
                              Listen{.socket = server, .backlog = 4}));
  Handle conn;
  sockaddr_in peer{};
  socklen_t peer_len = sizeof(peer);
  ASSERT_FALSE(client_->multi(
      Accept{.socket = server,
             .out_addr = reinterpret_cast<sockaddr*>(&peer),
             .inout_addrlen = &peer_len,
             .out_socket = &conn},
      Connect{.socket = client, .addr = reinterpret_cast<const sockaddr*>(&addr), .addrlen = sizeof(addr)}));
  EXPECT_TRUE(conn);
  EXPECT_EQ(peer_len, sizeof(sockaddr_in));
  EXPECT_EQ(peer.sin_family, AF_INET);
  EXPECT_EQ(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);

  char a[8] = {}, b[8] = {};
  std::size_t w1 = 0, r1 = 0, w2 = 0, r2 = 0;
  ASSERT_FALSE(client_->multi(Send{.socket = client, .buffer = "PING", .out_written = &w1, .link = Link::soft},
                              Recv{.socket = conn, .buffer = a, .out_read = &r1, .link = Link::soft},
                              Send{.socket = conn, .buffer = "PONG", .out_written = &w2, .link = Link::soft},
                              Recv{.socket = client, .buffer = b, .out_read = &r2}));
  EXPECT_EQ(w1, 4u);
  EXPECT_EQ(r1, 4u);
  EXPECT_EQ(w2, 4u);
  EXPECT_EQ(r2, 4u);
  EXPECT_EQ(std::string(a, r1), "PING");
  EXPECT_EQ(std::string(b, r2), "PONG");

  // Orderly shutdown: the peer's recv returns 0 bytes, successfully.
  std::size_t got = 99;
  ASSERT_FALSE(client_->multi(Shutdown{.socket = client, .how = SHUT_WR, .link = Link::soft},
                              Recv{.socket = conn, .buffer = a, .out_read = &got}));
  EXPECT_EQ(got, 0u);
  EXPECT_FALSE(
      client_->multi(CloseSocket{.socket = client}, CloseSocket{.socket = conn}, CloseSocket{.socket = server}));
}

TEST_F(SocketOps, RecvFlagsAreHonoured) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto h = client_->register_fds(std::array<int, 2>{sv[0], sv[1]});
  ::close(sv[0]);
  ::close(sv[1]);
  ASSERT_TRUE(h);
  ASSERT_FALSE(client_->single(Send{.socket = (*h)[0], .buffer = "peek"}));
  char buf[8] = {};
  std::size_t n = 0;
  // MSG_PEEK leaves the data in the socket: two reads see the same bytes.
  ASSERT_FALSE(client_->single(Recv{.socket = (*h)[1], .buffer = buf, .flags = MSG_PEEK, .out_read = &n}));
  EXPECT_EQ(std::string(buf, n), "peek");
  std::memset(buf, 0, sizeof(buf));
  ASSERT_FALSE(client_->single(Recv{.socket = (*h)[1], .buffer = buf, .out_read = &n}));
  EXPECT_EQ(std::string(buf, n), "peek");
  // MSG_DONTWAIT on an empty socket fails at once instead of waiting.
  EXPECT_EQ(client_->single(Recv{.socket = (*h)[1], .buffer = buf, .flags = MSG_DONTWAIT, .out_read = &n}),
            sys(EAGAIN));
  // Unknown flags are refused.
  EXPECT_EQ(client_->single(Recv{.socket = (*h)[1], .buffer = buf, .flags = 0x40000000, .out_read = &n}), sys(EINVAL));
}

TEST_F(SocketOps, SendToAClosedPeerFailsWithEpipeAndTheDaemonLives) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto h = client_->register_fd(sv[0]);
  ::close(sv[0]);
  ::close(sv[1]);  // the peer is gone
  ASSERT_TRUE(h);
  EXPECT_EQ(client_->single(Send{.socket = *h, .buffer = "x"}), sys(EPIPE));
  EXPECT_FALSE(client_->single(Nop{}));  // no SIGPIPE killed the daemon
}

TEST_F(SocketOps, CloseSocketCancelsPendingOps) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto h = client_->register_fd(sv[0]);
  ::close(sv[0]);
  ASSERT_TRUE(h);
  Dynamic q(*client_, 4);
  char buf[8];
  std::size_t n = 0;
  std::error_code recv_error;
  ASSERT_FALSE(q.queue(Recv{.socket = *h, .buffer = buf, .out_read = &n, .out_error = &recv_error}));
  auto r = q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num_completed, 0u);
  std::error_code close_error = sys(EIO);
  ASSERT_FALSE(q.queue(CloseSocket{.socket = *h, .out_error = &close_error}));
  auto all = q.complete_all();
  ASSERT_TRUE(all) << all.message();
  EXPECT_EQ(*all, 1u);
  EXPECT_EQ(recv_error, sys(ECANCELED));
  EXPECT_FALSE(close_error);
  ::close(sv[1]);
}

TEST_F(SocketOps, MessagesCarryAddressesAndHandles) {
  // Two UDP sockets: a datagram with its sender's address.
  const sockaddr_in a_addr = loopback(free_port()), b_addr = loopback(free_port());
  Handle a, b;
  ASSERT_FALSE(client_->multi(Socket{.domain = AF_INET, .type = SOCK_DGRAM, .out_socket = &a},
                              Socket{.domain = AF_INET, .type = SOCK_DGRAM, .out_socket = &b}));
  ASSERT_FALSE(
      client_->multi(Bind{.socket = a, .addr = reinterpret_cast<const sockaddr*>(&a_addr), .addrlen = sizeof(a_addr)},
                     Bind{.socket = b, .addr = reinterpret_cast<const sockaddr*>(&b_addr), .addrlen = sizeof(b_addr)}));
  char out[] = "PING";
  iovec out_iov{out, 4};
  msghdr send{};
  send.msg_name = const_cast<sockaddr_in*>(&b_addr);
  send.msg_namelen = sizeof(b_addr);
  send.msg_iov = &out_iov;
  send.msg_iovlen = 1;
  char in[16] = {};
  iovec in_iov{in, sizeof(in)};
  sockaddr_in from{};
  msghdr recv{};
  recv.msg_name = &from;
  recv.msg_namelen = sizeof(from);
  recv.msg_iov = &in_iov;
  recv.msg_iovlen = 1;
  std::size_t sent = 0, got = 0;
  ASSERT_FALSE(client_->multi(SendMsg{.socket = a, .msg = &send, .out_written = &sent, .link = Link::soft},
                              RecvMsg{.socket = b, .msg = &recv, .out_read = &got}));
  EXPECT_EQ(sent, 4u);
  EXPECT_EQ(got, 4u);
  EXPECT_EQ(std::string(in, got), "PING");
  EXPECT_EQ(recv.msg_namelen, sizeof(sockaddr_in));
  EXPECT_EQ(from.sin_port, a_addr.sin_port);
}

TEST_F(SocketOps, DescriptorsTravelAsHandlesBothWays) {
  // A unix socket pair inside the daemon; a pipe's write end is sent over it
  // as a handle and arrives as a new, working handle.
  int sv[2], p[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto h = client_->register_fds(std::array<int, 4>{sv[0], sv[1], p[0], p[1]});
  for (int fd : {sv[0], sv[1], p[0], p[1]}) ::close(fd);
  ASSERT_TRUE(h);
  const Handle tx = (*h)[0], rx = (*h)[1], pipe_rd = (*h)[2], pipe_wr = (*h)[3];

  char byte = 'x';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr send{};
  send.msg_iov = &iov;
  send.msg_iovlen = 1;
  send.msg_control = control;
  send.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&send);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &pipe_wr.value, sizeof(int));

  char in_byte = 0;
  iovec in_iov{&in_byte, 1};
  alignas(cmsghdr) char in_control[CMSG_SPACE(sizeof(int))] = {};
  msghdr recv{};
  recv.msg_iov = &in_iov;
  recv.msg_iovlen = 1;
  recv.msg_control = in_control;
  recv.msg_controllen = sizeof(in_control);
  ASSERT_FALSE(
      client_->multi(SendMsg{.socket = tx, .msg = &send, .link = Link::soft}, RecvMsg{.socket = rx, .msg = &recv}));
  cmsghdr* rc = CMSG_FIRSTHDR(&recv);
  ASSERT_NE(rc, nullptr);
  ASSERT_EQ(rc->cmsg_type, SCM_RIGHTS);
  std::uint32_t received = 0;
  std::memcpy(&received, CMSG_DATA(rc), sizeof(received));
  ASSERT_NE(received, 0u);
  EXPECT_NE(received, pipe_wr.value);  // a new handle for the same pipe end
  char buf[8] = {};
  std::size_t n = 0;
  ASSERT_FALSE(client_->multi(Write{.file = Handle{received}, .buffer = "via", .link = Link::soft},
                              Read{.file = pipe_rd, .buffer = buf, .out_read = &n}));
  EXPECT_EQ(std::string(buf, n), "via");
  // An unknown handle in SCM_RIGHTS is refused, not passed as a raw number.
  const std::uint32_t bogus = 0x7ff00001;
  std::memcpy(CMSG_DATA(c), &bogus, sizeof(int));
  EXPECT_EQ(client_->single(SendMsg{.socket = tx, .msg = &send}), sys(EBADF));
}

TEST_F(SocketOps, UnixSocketsWithRelativePaths) {
  // bind/connect on relative paths resolve against the client's cwd.
  char old[4096];
  ASSERT_NE(::getcwd(old, sizeof(old)), nullptr);
  ASSERT_EQ(::chdir(daemon_.directory().c_str()), 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, "rel.sock");
  Handle server, client;
  std::error_code ec = client_->multi(Socket{.domain = AF_UNIX, .type = SOCK_STREAM, .out_socket = &server},
                                      Socket{.domain = AF_UNIX, .type = SOCK_STREAM, .out_socket = &client});
  if (!ec) {
    ec = client_->multi(
        Bind{.socket = server, .addr = reinterpret_cast<sockaddr*>(&addr), .addrlen = sizeof(addr), .link = Link::soft},
        Listen{.socket = server});
  }
  Handle conn;
  if (!ec) {
    ec = client_->multi(Accept{.socket = server, .out_socket = &conn},
                        Connect{.socket = client, .addr = reinterpret_cast<sockaddr*>(&addr), .addrlen = sizeof(addr)});
  }
  ASSERT_EQ(::chdir(old), 0);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(::access((daemon_.directory() + "/rel.sock").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace aiod::test
