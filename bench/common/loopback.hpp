// SPDX-License-Identifier: MIT
// loopback.hpp — connected TCP pairs over 127.0.0.1 for the socket
// benchmarks (ping_pongs, echo). They are made with plain syscalls in every
// mode, so that all modes run identical TCP_NODELAY sockets and only the
// timed loop differs.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench.hpp"

namespace aiod::bench {

// A client socket connected to a server socket, both blocking, TCP_NODELAY.
struct TcpPair {
  int client = -1;
  int server = -1;

  TcpPair() {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if (listener < 0 || ::bind(listener, sa, len) < 0 || ::listen(listener, 1) < 0 ||
        ::getsockname(listener, sa, &len) < 0) {
      die("listening on 127.0.0.1: %s", std::strerror(errno));
    }
    client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0 || ::connect(client, sa, len) < 0) die("connect: %s", std::strerror(errno));
    server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (server < 0) die("accept: %s", std::strerror(errno));
    ::close(listener);
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  TcpPair(const TcpPair&) = delete;
  TcpPair& operator=(const TcpPair&) = delete;
  ~TcpPair() {
    ::close(client);
    ::close(server);
  }
};

inline void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die("O_NONBLOCK: %s", std::strerror(errno));
}

}  // namespace aiod::bench
