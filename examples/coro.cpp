// SPDX-License-Identifier: MIT
// coro — zig-aio's examples/coro.zig, through aiod: a server task and a
// client task in one scheduler talk over TCP on the loopback interface.
//
// Every socket call (socket, bind, listen, accept, connect, send, recv,
// close) is an op that the daemon runs; the two tasks' ops are submitted
// together, one batch per scheduler tick. The server sends three soft-linked
// messages and posts a recv in the same batch; the client reads until the
// last message has arrived, replies, and reads the server's final words; both
// close their sockets.
//
//   AIOD_SOCKET=/tmp/aiod.sock ./coro [spin-microseconds]
//
// The optional argument (default 5000) sets how long the client library
// spins on the completion ring before it sleeps (ClientOptions::spin;
// docs/coroutines.md measures its effect on system calls).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <aiod/coro.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using aiod::coro::ResetEvent;
using aiod::coro::Task;
namespace io = aiod::coro::io;

// zig-aio listens on port 1327 and sets SO_REUSEADDR, so that a new run can
// bind while the previous run's connection lingers in TIME_WAIT. aiod has no
// setsockopt op: each run starts at a port of its own (from its pid) above
// 1327, and moves on to the next one while binding fails with EADDRINUSE.
constexpr std::uint16_t kBasePort = 1327;
constexpr int kPortRange = 4096;
constexpr int kPortsToTry = 64;

sockaddr_in ipv4(in_addr_t addr, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(addr);
  return a;
}

Task<std::error_code> server(ResetEvent& startup, std::uint16_t first_port, std::uint16_t& port) {
  aiod::Handle socket;
  if (auto ec = co_await io::single(
          aiod::Socket{.domain = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .out_socket = &socket})) {
    co_return ec;
  }

  sockaddr_in address{};
  for (int i = 0;; ++i) {
    port = static_cast<std::uint16_t>(kBasePort + (first_port - kBasePort + i) % kPortRange);
    address = ipv4(INADDR_LOOPBACK, port);
    std::error_code bind_error;
    const std::error_code ec = co_await io::multi(aiod::Bind{.socket = socket,
                                                             .addr = reinterpret_cast<const sockaddr*>(&address),
                                                             .addrlen = sizeof(address),
                                                             .link = aiod::Link::soft,
                                                             .out_error = &bind_error},
                                                  aiod::Listen{.socket = socket, .backlog = 128});
    if (!ec) break;
    if (bind_error != std::errc::address_in_use || i + 1 == kPortsToTry) co_return bind_error ? bind_error : ec;
  }

  startup.set();  // runs the client right away: it queues its connect

  aiod::Handle client_sock;
  if (auto ec = co_await io::single(aiod::Accept{.socket = socket, .out_socket = &client_sock})) co_return ec;

  char buf[1024];
  std::size_t len = 0;
  if (auto ec = co_await io::multi(
          aiod::Send{.socket = client_sock, .buffer = "hey ", .link = aiod::Link::soft},
          aiod::Send{.socket = client_sock, .buffer = "I'm doing multiple IO ops at once ", .link = aiod::Link::soft},
          aiod::Send{.socket = client_sock, .buffer = "how cool is that?", .link = aiod::Link::soft},
          aiod::Recv{.socket = client_sock, .buffer = buf, .out_read = &len})) {
    co_return ec;
  }
  std::printf("got reply from client: %.*s\n", static_cast<int>(len), buf);

  co_return co_await io::multi(aiod::Send{.socket = client_sock, .buffer = "ok bye", .link = aiod::Link::soft},
                               aiod::CloseSocket{.socket = client_sock, .link = aiod::Link::soft},
                               aiod::CloseSocket{.socket = socket});
}

Task<std::error_code> client(ResetEvent& startup, const std::uint16_t& port) {
  aiod::Handle socket;
  if (auto ec = co_await io::single(
          aiod::Socket{.domain = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .out_socket = &socket})) {
    co_return ec;
  }

  if (auto ec = co_await startup.wait()) co_return ec;

  const sockaddr_in address = ipv4(INADDR_LOOPBACK, port);
  if (auto ec = co_await io::single(aiod::Connect{
          .socket = socket, .addr = reinterpret_cast<const sockaddr*>(&address), .addrlen = sizeof(address)})) {
    co_return ec;
  }

  for (;;) {
    char buf[1024];
    std::size_t len = 0;
    if (auto ec = co_await io::single(aiod::Recv{.socket = socket, .buffer = buf, .out_read = &len})) co_return ec;
    std::printf("got reply from server: %.*s\n", static_cast<int>(len), buf);
    if (len == 0) co_return std::make_error_code(std::errc::connection_aborted);  // the server left early
    if (std::string_view(buf, len).find("how cool is that?") != std::string_view::npos) break;
  }

  if (auto ec = co_await io::single(aiod::Send{.socket = socket, .buffer = "dude, I don't care"})) co_return ec;

  char buf[1024];
  std::size_t len = 0;
  if (auto ec = co_await io::single(aiod::Recv{.socket = socket, .buffer = buf, .out_read = &len})) co_return ec;
  std::printf("got final words from server: %.*s\n", static_cast<int>(len), buf);

  co_return co_await io::single(aiod::CloseSocket{.socket = socket});
}

}  // namespace

int main(int argc, char** argv) {
  const auto first_port = static_cast<std::uint16_t>(kBasePort + ::getpid() % kPortRange);
  // Spin up to 5 ms on the completion ring before sleeping (the library's
  // default is 50 us): every wait here is a loopback round trip through the
  // daemon, and each sleep would cost a poll and a read (docs/coroutines.md).
  aiod::ClientOptions options{.spin = std::chrono::milliseconds(5), .name = "coro example"};
  if (argc > 1) options.spin = std::chrono::microseconds(std::strtol(argv[1], nullptr, 10));
  auto aio = aiod::Client::connect(options);
  if (!aio) {
    std::fprintf(stderr, "connect: %s\n", aio.message().c_str());
    return 1;
  }

  aiod::coro::Scheduler scheduler(*aio);
  ResetEvent startup;
  std::uint16_t port = 0;
  auto client_task = scheduler.spawn(client(startup, port));
  auto server_task = scheduler.spawn(server(startup, first_port, port));
  if (const std::error_code ec = scheduler.run()) {
    std::fprintf(stderr, "scheduler: %s\n", ec.message().c_str());
    return 1;
  }
  const std::error_code server_error = server_task.complete();
  const std::error_code client_error = client_task.complete();
  if (server_error) std::fprintf(stderr, "server: %s\n", server_error.message().c_str());
  if (client_error) std::fprintf(stderr, "client: %s\n", client_error.message().c_str());
  return server_error || client_error ? 1 : 0;
}
