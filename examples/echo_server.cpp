// SPDX-License-Identifier: MIT
// echo_server — a TCP echo server whose every socket operation goes through
// aiod: socket, bind, listen, accept, recv, send, close. One Dynamic queue
// serves all connections; completions drive a small state machine.
//
//   AIOD_SOCKET=/tmp/aiod.sock ./echo_server [port] [connections-to-serve]
#include <aiod/aiod.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

namespace {

// What a completion was for: the connection and the step, packed in userdata.
enum class Step : std::uint64_t { accept = 0, recv = 1, send = 2, close = 3 };
std::uint64_t tag(std::uint64_t conn, Step step) { return conn << 2 | static_cast<std::uint64_t>(step); }

struct Connection {
  aiod::Handle socket;
  char buf[4096];
  std::size_t received = 0;
  std::size_t sent = 0;
  std::error_code error;
};

}  // namespace

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 7777);
  const long serve = argc > 2 ? std::atol(argv[2]) : -1;  // -1: for ever
  auto client = aiod::Client::connect({.name = "echo_server"});
  if (!client) {
    std::fprintf(stderr, "connect to aiod: %s\n", client.message().c_str());
    return 1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  aiod::Handle listener;
  if (auto ec = client->single(aiod::Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &listener})) {
    std::fprintf(stderr, "socket: %s\n", ec.message().c_str());
    return 1;
  }
  if (auto ec = client->multi(aiod::Bind{.socket = listener,
                                         .addr = reinterpret_cast<sockaddr*>(&addr),
                                         .addrlen = sizeof(addr),
                                         .link = aiod::Link::soft},
                              aiod::Listen{.socket = listener, .backlog = 64})) {
    std::fprintf(stderr, "bind/listen 127.0.0.1:%u: %s\n", port, ec.message().c_str());
    return 1;
  }
  std::printf("echo server on 127.0.0.1:%u\n", port);
  std::fflush(stdout);

  aiod::Dynamic queue(*client, 1024);
  std::vector<std::uint64_t> done;  // userdata of completed ops, handled after each reap
  queue.set_callback([&](aiod::OpId, std::uint64_t userdata, bool) { done.push_back(userdata); });
  std::map<std::uint64_t, std::unique_ptr<Connection>> conns;
  std::uint64_t next_conn = 1;
  long accepted = 0, closed = 0;

  aiod::Handle incoming;
  std::error_code accept_error;
  auto accept_next = [&] {
    return queue.queue(aiod::Accept{
        .socket = listener, .out_socket = &incoming, .userdata = tag(0, Step::accept), .out_error = &accept_error});
  };
  if (auto ec = accept_next()) {
    std::fprintf(stderr, "queue accept: %s\n", ec.message().c_str());
    return 1;
  }
  while (serve < 0 || closed < serve) {
    done.clear();
    auto r = queue.complete(aiod::CompletionMode::blocking);
    if (!r) {
      std::fprintf(stderr, "aiod: %s\n", r.message().c_str());
      return 1;
    }
    for (std::uint64_t ud : done) {
      const std::uint64_t id = ud >> 2;
      const auto step = static_cast<Step>(ud & 3);
      if (step == Step::accept) {
        if (accept_error) {
          std::fprintf(stderr, "accept: %s\n", accept_error.message().c_str());
          return 1;
        }
        auto conn = std::make_unique<Connection>();
        conn->socket = incoming;
        Connection& c = *conn;
        conns.emplace(next_conn, std::move(conn));
        (void)queue.queue(aiod::Recv{.socket = c.socket,
                                     .buffer = c.buf,
                                     .out_read = &c.received,
                                     .userdata = tag(next_conn, Step::recv),
                                     .out_error = &c.error});
        ++next_conn;
        ++accepted;
        if (serve < 0 || accepted < serve) (void)accept_next();
        continue;
      }
      Connection& c = *conns.at(id);
      if (step == Step::close) {
        conns.erase(id);
        ++closed;
        continue;
      }
      const bool finished = c.error || (step == Step::recv && c.received == 0);
      if (finished) {  // the peer closed (or failed): close our end
        (void)queue.queue(aiod::CloseSocket{.socket = c.socket, .userdata = tag(id, Step::close)});
      } else if (step == Step::recv) {
        (void)queue.queue(aiod::Send{.socket = c.socket,
                                     .buffer = aiod::ConstBuffer(c.buf, c.received),
                                     .out_written = &c.sent,
                                     .userdata = tag(id, Step::send),
                                     .out_error = &c.error});
      } else {
        (void)queue.queue(aiod::Recv{.socket = c.socket,
                                     .buffer = c.buf,
                                     .out_read = &c.received,
                                     .userdata = tag(id, Step::recv),
                                     .out_error = &c.error});
      }
    }
  }
  (void)client->single(aiod::CloseSocket{.socket = listener});
  std::printf("served %ld connection%s\n", closed, closed == 1 ? "" : "s");
  return 0;
}
