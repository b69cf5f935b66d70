// SPDX-License-Identifier: MIT
// The conversation of examples/coro (zig-aio's examples/coro.zig) as a test:
// a server task and a client task in one scheduler, every socket call through
// the daemon; the server's three soft-linked sends and its recv go out in one
// batch, the client reads until the last message, replies, and both close.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <aiod/coro.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using coro::ResetEvent;
using coro::Task;
namespace io = coro::io;

using CoroConversation = OpTest;

// A loopback port nobody listens on right now (bound and released here).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Transcript {
  std::vector<std::string> server;  // what the server received
  std::vector<std::string> client;  // what the client received, recv by recv
};

Task<std::error_code> server(ResetEvent& startup, const sockaddr_in& address, Transcript& t) {
  Handle socket;
  if (auto ec = co_await io::single(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &socket}))
    co_return ec;
  if (auto ec = co_await io::multi(Bind{.socket = socket,
                                        .addr = reinterpret_cast<const sockaddr*>(&address),
                                        .addrlen = sizeof(address),
                                        .link = Link::soft},
                                   Listen{.socket = socket, .backlog = 128})) {
    co_return ec;
  }
  startup.set();
  Handle client_sock;
  if (auto ec = co_await io::single(Accept{.socket = socket, .out_socket = &client_sock})) co_return ec;
  char buf[1024];
  std::size_t len = 0;
  if (auto ec = co_await io::multi(
          Send{.socket = client_sock, .buffer = "hey ", .link = Link::soft},
          Send{.socket = client_sock, .buffer = "I'm doing multiple IO ops at once ", .link = Link::soft},
          Send{.socket = client_sock, .buffer = "how cool is that?", .link = Link::soft},
          Recv{.socket = client_sock, .buffer = buf, .out_read = &len})) {
    co_return ec;
  }
  t.server.emplace_back(buf, len);
  co_return co_await io::multi(Send{.socket = client_sock, .buffer = "ok bye", .link = Link::soft},
                               CloseSocket{.socket = client_sock, .link = Link::soft}, CloseSocket{.socket = socket});
}

Task<std::error_code> client(ResetEvent& startup, const sockaddr_in& address, Transcript& t) {
  Handle socket;
  if (auto ec = co_await io::single(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &socket}))
    co_return ec;
  if (auto ec = co_await startup.wait()) co_return ec;
  if (auto ec = co_await io::single(
          Connect{.socket = socket, .addr = reinterpret_cast<const sockaddr*>(&address), .addrlen = sizeof(address)})) {
    co_return ec;
  }
  for (;;) {
    char buf[1024];
    std::size_t len = 0;
    if (auto ec = co_await io::single(Recv{.socket = socket, .buffer = buf, .out_read = &len})) co_return ec;
    t.client.emplace_back(buf, len);
    if (len == 0) co_return std::make_error_code(std::errc::connection_aborted);
    if (std::string_view(buf, len).find("how cool is that?") != std::string_view::npos) break;
  }
  if (auto ec = co_await io::single(Send{.socket = socket, .buffer = "dude, I don't care"})) co_return ec;
  char buf[1024];
  std::size_t len = 0;
  if (auto ec = co_await io::single(Recv{.socket = socket, .buffer = buf, .out_read = &len})) co_return ec;
  t.client.emplace_back(buf, len);
  co_return co_await io::single(CloseSocket{.socket = socket});
}

TEST_F(CoroConversation, ServerAndClientTalkThroughTheDaemon) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(free_port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  coro::Scheduler sched(*client_);
  ResetEvent startup;
  Transcript t;
  auto c = sched.spawn(client(startup, address, t));
  auto s = sched.spawn(server(startup, address, t));
  ASSERT_FALSE(sched.run());
  EXPECT_FALSE(s.complete());
  EXPECT_FALSE(c.complete());

  // The client's recvs end with the last message; TCP may split the three
  // sends in any way, but they arrive whole and in order (soft links).
  ASSERT_GE(t.client.size(), 2u);
  std::string greeting;
  for (std::size_t i = 0; i + 1 < t.client.size(); ++i) greeting += t.client[i];
  EXPECT_EQ(greeting, "hey I'm doing multiple IO ops at once how cool is that?");
  EXPECT_EQ(t.client.back(), "ok bye");
  EXPECT_EQ(t.server, std::vector<std::string>{"dude, I don't care"});

  // Both tasks' first ops (the two sockets) went out in the first batch, and
  // the server's sends went out with its recv: far fewer batches than ops.
  EXPECT_LT(sched.stats().batches, sched.stats().ops_queued);
}

}  // namespace
}  // namespace aiod::test
