// SPDX-License-Identifier: MIT
// ping_pongs — loopback TCP echo (zig-aio's ping_pongs): a client task sends
// "PING" and reads the echo, a server task reads and writes back what it got,
// --round-trips times. Both tasks run in one thread, as zig-aio's coroutines
// do; the connection is set up with plain syscalls and is not timed.
//
//   uring             one in-process io_uring: the client's send is hard-linked
//                     to its recv; the server's recv and send alternate
//   syscalls          blocking send/recv, both tasks interleaved in one thread
//   syscalls (2 thr)  blocking send/recv, client and server in their own threads
//   epoll             non-blocking sockets and one level-triggered epoll loop:
//                     the event-loop way to serve both tasks in one thread
//   aiod              the sockets are handed to aiod with Client::register_fds
//                     and driven with Send/Recv ops on arena buffers, the
//                     client's Send hard-linked to its Recv
// The connection is made with plain syscalls in every mode, so that all modes
// run the same TCP_NODELAY sockets and only the timed loop differs. Every
// mode also reports CPU per round trip: this process's plus the daemon's.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <cstring>
#include <thread>

#include "bench.hpp"
#include "loopback.hpp"
#include "uring.hpp"

namespace aiod::bench {
namespace {

struct Options {
  CommonOptions common;
  std::uint64_t round_trips = 200'000;
  std::uint64_t warmup = 5'000;
};

constexpr char kPing[] = "PING";
constexpr std::size_t kPingLen = 4;
constexpr std::size_t kBufLen = 1024;

// The client's accounting, as zig-aio's: pongs are counted in 4-byte units of
// whatever came back.
struct Pongs {
  std::uint64_t state = 0;
  std::uint64_t count = 0;
  void got(std::size_t n) {
    state += n;
    count += state / kPingLen;
    state %= kPingLen;
  }
};

enum Tag : std::uint64_t { kClientSend = 1, kClientRecv, kServerRecv, kServerSend };

double uring_ping_pongs(std::uint64_t round_trips) {
  TcpPair c;
  Ring ring(64);
  char cbuf[kBufLen], sbuf[kBufLen];
  auto client_turn = [&] {
    io_uring_sqe* s = ring.sqe();
    io_uring_prep_send(s, c.client, kPing, kPingLen, 0);
    io_uring_sqe_set_data64(s, kClientSend);
    s->flags |= IOSQE_IO_HARDLINK;
    s = ring.sqe();
    io_uring_prep_recv(s, c.client, cbuf, kBufLen, 0);
    io_uring_sqe_set_data64(s, kClientRecv);
  };
  auto server_recv = [&] {
    io_uring_sqe* s = ring.sqe();
    io_uring_prep_recv(s, c.server, sbuf, kBufLen, 0);
    io_uring_sqe_set_data64(s, kServerRecv);
  };
  Pongs pongs;
  const auto t0 = Clock::now();
  server_recv();
  client_turn();
  io_uring_cqe* cqes[16];
  while (pongs.count < round_trips) {
    if (const int r = io_uring_submit_and_wait(ring.get(), 1); r < 0) die("io_uring_submit_and_wait: %d", r);
    const unsigned n = io_uring_peek_batch_cqe(ring.get(), cqes, 16);
    for (unsigned i = 0; i < n; ++i) {
      const int res = cqes[i]->res;
      switch (io_uring_cqe_get_data64(cqes[i])) {
        case kClientSend:
          if (res < 0) die("client send: %s", std::strerror(-res));
          break;
        case kClientRecv:
          if (res <= 0) die("client recv: %d", res);
          pongs.got(static_cast<std::size_t>(res));
          if (pongs.count < round_trips) client_turn();
          break;
        case kServerRecv: {
          if (res <= 0) die("server recv: %d", res);
          io_uring_sqe* s = ring.sqe();
          io_uring_prep_send(s, c.server, sbuf, static_cast<std::size_t>(res), 0);
          io_uring_sqe_set_data64(s, kServerSend);
          break;
        }
        case kServerSend:
          if (res < 0) die("server send: %s", std::strerror(-res));
          server_recv();
          break;
        default:
          break;
      }
    }
    io_uring_cq_advance(ring.get(), n);
  }
  const double rate = static_cast<double>(pongs.count) / seconds_between(t0, Clock::now());
  return rate;  // the ring's exit cancels the server's pending recv
}

double syscall_ping_pongs(std::uint64_t round_trips) {
  TcpPair c;
  char cbuf[kBufLen], sbuf[kBufLen];
  Pongs pongs;
  const auto t0 = Clock::now();
  while (pongs.count < round_trips) {
    if (::send(c.client, kPing, kPingLen, 0) != static_cast<ssize_t>(kPingLen)) die("client send");
    const ssize_t n = ::recv(c.server, sbuf, kBufLen, 0);
    if (n <= 0 || ::send(c.server, sbuf, static_cast<std::size_t>(n), 0) != n) die("server recv/send");
    const ssize_t m = ::recv(c.client, cbuf, kBufLen, 0);
    if (m <= 0) die("client recv");
    pongs.got(static_cast<std::size_t>(m));
  }
  return static_cast<double>(pongs.count) / seconds_between(t0, Clock::now());
}

double threaded_ping_pongs(std::uint64_t round_trips) {
  TcpPair c;
  std::thread server([&] {
    char sbuf[kBufLen];
    for (;;) {
      const ssize_t n = ::recv(c.server, sbuf, kBufLen, 0);
      if (n <= 0) return;
      if (::send(c.server, sbuf, static_cast<std::size_t>(n), 0) != n) return;
    }
  });
  char cbuf[kBufLen];
  Pongs pongs;
  const auto t0 = Clock::now();
  while (pongs.count < round_trips) {
    if (::send(c.client, kPing, kPingLen, 0) != static_cast<ssize_t>(kPingLen)) die("client send");
    const ssize_t m = ::recv(c.client, cbuf, kBufLen, 0);
    if (m <= 0) die("client recv");
    pongs.got(static_cast<std::size_t>(m));
  }
  const double rate = static_cast<double>(pongs.count) / seconds_between(t0, Clock::now());
  ::shutdown(c.client, SHUT_WR);  // the server reads end-of-stream and returns
  server.join();
  return rate;
}

// Both sockets are registered once, level-triggered, and never modified: the
// client sends, then whichever socket is readable is served — the server
// echoes what it read, the client counts it and sends the next ping.
double epoll_ping_pongs(std::uint64_t round_trips) {
  TcpPair c;
  set_nonblocking(c.client);
  set_nonblocking(c.server);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1: %s", std::strerror(errno));
  for (const int fd : {c.client, c.server}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl: %s", std::strerror(errno));
  }
  // One ping is in flight at a time: a send never finds the socket buffer full.
  auto send_all = [](int fd, const char* buf, std::size_t len, const char* who) {
    if (::send(fd, buf, len, 0) != static_cast<ssize_t>(len)) die("%s send: %s", who, std::strerror(errno));
  };
  auto recv_some = [](int fd, char* buf, const char* who) -> std::size_t {
    const ssize_t n = ::recv(fd, buf, kBufLen, 0);
    if (n < 0 && errno == EAGAIN) return 0;
    if (n <= 0) die("%s recv: %s", who, n == 0 ? "end of stream" : std::strerror(errno));
    return static_cast<std::size_t>(n);
  };
  char cbuf[kBufLen], sbuf[kBufLen];
  Pongs pongs;
  epoll_event events[2];
  const auto t0 = Clock::now();
  send_all(c.client, kPing, kPingLen, "client");
  while (pongs.count < round_trips) {
    const int n = ::epoll_wait(ep, events, 2, -1);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", std::strerror(errno));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == c.server) {
        if (const std::size_t got = recv_some(c.server, sbuf, "server")) send_all(c.server, sbuf, got, "server");
      } else if (const std::size_t got = recv_some(c.client, cbuf, "client")) {
        pongs.got(got);
        if (pongs.count < round_trips) send_all(c.client, kPing, kPingLen, "client");
      }
    }
  }
  const double rate = static_cast<double>(pongs.count) / seconds_between(t0, Clock::now());
  ::close(ep);
  return rate;
}

double aiod_ping_pongs(Client& client, std::uint64_t round_trips) {
  // No round trip at all (--warmup 0): a client recv queued with nothing to
  // answer it would keep the queue's destructor waiting for ever.
  if (round_trips == 0) return 0;
  TcpPair c;
  const int fds[] = {c.client, c.server};
  auto handles = client.register_fds(fds);
  if (!handles) die("register_fds: %s", handles.message().c_str());
  const Handle ch = (*handles)[0], sh = (*handles)[1];
  auto mem = client.arena_alloc(kPingLen + 2 * kBufLen);
  if (!mem) die("arena_alloc: %s", mem.message().c_str());
  char* ping = reinterpret_cast<char*>(mem->data());
  char* cbuf = ping + kPingLen;
  char* sbuf = cbuf + kBufLen;
  std::memcpy(ping, kPing, kPingLen);
  std::size_t cn = 0, sn = 0;

  Pongs pongs;
  std::uint64_t events[8];
  std::size_t nevents = 0;
  bool failed = false;
  {
    Dynamic q(client, 8);
    q.set_callback([&](OpId, std::uint64_t tag, bool err) {
      failed |= err;
      if (nevents < 8) events[nevents++] = tag;
    });
    auto client_turn = [&] {
      (void)q.queue(
          Send{.socket = ch, .buffer = ConstBuffer(ping, kPingLen), .link = Link::hard, .userdata = kClientSend},
          Recv{.socket = ch, .buffer = MutableBuffer(cbuf, kBufLen), .out_read = &cn, .userdata = kClientRecv});
    };
    auto server_recv = [&] {
      (void)q.queue(
          Recv{.socket = sh, .buffer = MutableBuffer(sbuf, kBufLen), .out_read = &sn, .userdata = kServerRecv});
    };
    const auto t0 = Clock::now();
    server_recv();
    client_turn();
    while (pongs.count < round_trips) {
      nevents = 0;
      auto r = q.complete(CompletionMode::blocking);
      if (!r) die("complete: %s", r.message().c_str());
      if (failed) die("an aiod socket op failed");
      for (std::size_t i = 0; i < nevents; ++i) {
        switch (events[i]) {
          case kClientRecv:
            if (cn == 0) die("client recv: end of stream");
            pongs.got(cn);
            if (pongs.count < round_trips) client_turn();
            break;
          case kServerRecv:
            if (sn == 0) die("server recv: end of stream");
            (void)q.queue(Send{.socket = sh, .buffer = ConstBuffer(sbuf, sn), .userdata = kServerSend});
            break;
          case kServerSend:
            server_recv();
            break;
          default:
            break;
        }
      }
    }
    const double rate = static_cast<double>(pongs.count) / seconds_between(t0, Clock::now());
    // End of stream completes the server's pending recv; the queue's
    // destructor then finds nothing outstanding.
    ::shutdown(c.client, SHUT_WR);
    (void)q.complete_all();
    client.arena_free(*mem);
    (void)client.unregister(*handles);
    return rate;
  }
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"ping_pongs: loopback TCP echo round trips, uring vs syscalls vs epoll vs aiod"};
  add_common_options(app, o.common);
  app.add_option("--round-trips", o.round_trips, "round trips per run");
  app.add_option("--warmup", o.warmup, "untimed round trips before each measurement");
  parse_or_exit(app, argc, argv);

  std::optional<Daemon> daemon;
  std::optional<aiod::Client> client;
  if (o.common.wants(kAiod)) {
    daemon.emplace(o.common);
    auto c = aiod::Client::connect({.socket_path = daemon->socket(), .name = "bench ping_pongs"});
    if (!c) die("connect: %s", c.message().c_str());
    client.emplace(std::move(*c));
  }

  const std::string bench = "ping_pongs";
  Report report;
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "ping_pongs: run %u/%u", run + 1, o.common.runs);
    // Adds the throughput and CPU per round trip of `measure` (round trips/s).
    auto row = [&](const char* mode, const Daemon* d, auto&& measure) {
      const CpuMeter cpu(d);
      report.add(bench, mode, "throughput", "round trips/s", measure());
      add_cpu_per_op(report, bench, mode, cpu, o.round_trips);
    };
    if (o.common.wants(kUring)) {
      (void)uring_ping_pongs(o.warmup);
      row(kUring, nullptr, [&] { return uring_ping_pongs(o.round_trips); });
    }
    if (o.common.wants(kSyscalls)) {
      (void)syscall_ping_pongs(o.warmup);
      row(kSyscalls, nullptr, [&] { return syscall_ping_pongs(o.round_trips); });
      (void)threaded_ping_pongs(o.warmup);
      row("syscalls (2 threads)", nullptr, [&] { return threaded_ping_pongs(o.round_trips); });
    }
    if (o.common.wants(kEpoll)) {
      (void)epoll_ping_pongs(o.warmup);
      row(kEpoll, nullptr, [&] { return epoll_ping_pongs(o.round_trips); });
    }
    if (client) {
      (void)aiod_ping_pongs(*client, o.warmup);
      row(kAiod, &*daemon, [&] { return aiod_ping_pongs(*client, o.round_trips); });
    }
  }
  report.print();
  return 0;
}
