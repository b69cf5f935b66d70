// SPDX-License-Identifier: MIT
// echo_client — sends messages to an echo server and checks what comes back,
// every socket operation through aiod: socket, connect, then a soft-linked
// send → recv pair per message, then shutdown and close.
//
//   AIOD_SOCKET=/tmp/aiod.sock ./echo_client [port] [messages]
#include <aiod/aiod.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 7777);
  const int messages = argc > 2 ? std::atoi(argv[2]) : 5;
  auto client = aiod::Client::connect({.name = "echo_client"});
  if (!client) {
    std::fprintf(stderr, "connect to aiod: %s\n", client.message().c_str());
    return 1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  aiod::Handle sock;
  if (auto ec = client->single(aiod::Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &sock})) {
    std::fprintf(stderr, "socket: %s\n", ec.message().c_str());
    return 1;
  }
  if (auto ec = client->single(
          aiod::Connect{.socket = sock, .addr = reinterpret_cast<sockaddr*>(&addr), .addrlen = sizeof(addr)})) {
    std::fprintf(stderr, "connect 127.0.0.1:%u: %s\n", port, ec.message().c_str());
    return 1;
  }
  std::vector<double> rtts_us;
  for (int i = 0; i < messages; ++i) {
    const std::string out = "message " + std::to_string(i) + " through aiod";
    char in[256] = {};
    std::size_t sent = 0, got = 0;
    const auto start = std::chrono::steady_clock::now();
    // TCP may deliver the echo in pieces: read until all of it is back.
    auto ec =
        client->multi(aiod::Send{.socket = sock, .buffer = out, .out_written = &sent, .link = aiod::Link::soft},
                      aiod::Recv{.socket = sock, .buffer = aiod::MutableBuffer(in, out.size()), .out_read = &got});
    while (!ec && got > 0 && got < out.size()) {
      std::size_t more = 0;
      ec = client->single(
          aiod::Recv{.socket = sock, .buffer = aiod::MutableBuffer(in + got, out.size() - got), .out_read = &more});
      if (more == 0) break;
      got += more;
    }
    rtts_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    if (ec || got != out.size() || std::memcmp(in, out.data(), got) != 0) {
      std::fprintf(stderr, "echo %d: %s\n", i, ec ? ec.message().c_str() : "wrong bytes");
      return 1;
    }
    std::printf("echoed: %.*s\n", static_cast<int>(got), in);
  }
  (void)client->multi(aiod::Shutdown{.socket = sock, .how = SHUT_WR, .link = aiod::Link::hard},
                      aiod::CloseSocket{.socket = sock});
  std::sort(rtts_us.begin(), rtts_us.end());
  if (!rtts_us.empty()) {
    std::printf("%d round trips, median %.1f us\n", messages, rtts_us[rtts_us.size() / 2]);
  }
  return 0;
}
