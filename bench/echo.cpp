// SPDX-License-Identifier: MIT
// echo — many connections at once: --conns loopback TCP connections (16 by
// default); on each, a client sends a 64-byte message and waits for its echo,
// and a server echoes whatever it reads; --round-trips in all. Both sides of
// every connection run in one thread. Reported: aggregate round trips/s and
// CPU per round trip (this process's plus the daemon's).
//
//   uring   one in-process io_uring drives both sides: each client's send is
//           hard-linked to its recv; each server's recv and send alternate
//   epoll   non-blocking sockets and one level-triggered epoll loop serve
//           both sides
//   aiod    the sockets are handed to aiod with Client::register_fds; one
//           Dynamic queue keeps every connection's Send/Recv ops in flight at
//           once (the client's Send hard-linked to its Recv), on arena buffers
//
// The connections are made with plain syscalls in every mode (loopback.hpp).
// Every echo is checked, length and bytes: each connection sends a pattern of
// its own. A failed or short operation ends the program with a message.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "bench.hpp"
#include "loopback.hpp"
#include "uring.hpp"

namespace aiod::bench {
namespace {

struct Options {
  CommonOptions common;
  unsigned conns = 16;
  std::uint64_t round_trips = 250'000;
  std::uint64_t warmup = 10'000;
};

constexpr std::size_t kMessage = 64;
// Client::register_fds takes at most this many descriptors per call.
constexpr std::size_t kMaxFdsPerRegister = 16;

// The connections of one run, and their buffers in one block of 3 * kMessage
// bytes each (the caller's memory: arena memory in the aiod mode): the message
// a client sends, where it receives the echo, and where its server receives.
class Connections {
 public:
  Connections(unsigned n, char* memory) : pairs_(std::make_unique<TcpPair[]>(n)), mem_(memory) {
    for (unsigned i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < kMessage; ++j) message(i)[j] = static_cast<char>('A' + (i + j) % 58);
    }
  }
  [[nodiscard]] int client_fd(unsigned i) const noexcept { return pairs_[i].client; }
  [[nodiscard]] int server_fd(unsigned i) const noexcept { return pairs_[i].server; }
  [[nodiscard]] char* message(unsigned i) const noexcept { return mem_ + i * bytes_per_connection; }
  [[nodiscard]] char* echo(unsigned i) const noexcept { return message(i) + kMessage; }
  [[nodiscard]] char* server_buf(unsigned i) const noexcept { return message(i) + 2 * kMessage; }
  // Dies unless connection i's echo is its message.
  void check_echo(unsigned i) const {
    if (std::memcmp(echo(i), message(i), kMessage) != 0) die("connection %u: the echo differs from the message", i);
  }
  static constexpr std::size_t bytes_per_connection = 3 * kMessage;

 private:
  std::unique_ptr<TcpPair[]> pairs_;
  char* mem_;
};

// The round trips of all connections: a connection starts another while fewer
// than `total` have started, so that exactly `total` complete.
struct RoundTrips {
  std::uint64_t total = 0;
  std::uint64_t started = 0;
  std::uint64_t done = 0;
  bool start() {
    if (started == total) return false;
    ++started;
    return true;
  }
};

// What a completion is for, with its connection: userdata = conn << 2 | kind.
enum Kind : std::uint64_t { kClientSend = 0, kClientRecv, kServerRecv, kServerSend };
constexpr const char* kKindNames[] = {"client send", "client recv", "server recv", "server send"};
constexpr std::uint64_t tag(unsigned conn, Kind kind) { return std::uint64_t{conn} << 2 | kind; }
constexpr unsigned conn_of(std::uint64_t tag) { return static_cast<unsigned>(tag >> 2); }
constexpr Kind kind_of(std::uint64_t tag) { return static_cast<Kind>(tag & 3); }

double uring_echo(unsigned n, std::uint64_t round_trips) {
  std::vector<char> mem(n * Connections::bytes_per_connection);
  Connections c(n, mem.data());
  Ring ring(4 * n);  // up to 3 ops per connection in flight
  RoundTrips rt{.total = round_trips};
  std::vector<std::size_t> received(n), echoing(n);
  auto prep = [&](unsigned i, Kind kind) {
    io_uring_sqe* s = ring.sqe();
    io_uring_sqe_set_data64(s, tag(i, kind));
    return s;
  };
  auto client_turn = [&](unsigned i) {
    io_uring_sqe* s = prep(i, kClientSend);
    io_uring_prep_send(s, c.client_fd(i), c.message(i), kMessage, 0);
    s->flags |= IOSQE_IO_HARDLINK;
    io_uring_prep_recv(prep(i, kClientRecv), c.client_fd(i), c.echo(i), kMessage, 0);
  };
  auto server_recv = [&](unsigned i) {
    io_uring_prep_recv(prep(i, kServerRecv), c.server_fd(i), c.server_buf(i), kMessage, 0);
  };

  const auto t0 = Clock::now();
  for (unsigned i = 0; i < n; ++i) {
    server_recv(i);
    if (rt.start()) client_turn(i);
  }
  io_uring_cqe* cqes[64];
  while (rt.done < rt.total) {
    if (const int r = io_uring_submit_and_wait(ring.get(), 1); r < 0) die("io_uring_submit_and_wait: %d", r);
    const unsigned got = io_uring_peek_batch_cqe(ring.get(), cqes, 64);
    for (unsigned k = 0; k < got; ++k) {
      const std::uint64_t t = io_uring_cqe_get_data64(cqes[k]);
      const unsigned i = conn_of(t);
      const int res = cqes[k]->res;
      if (res < 0) die("connection %u: %s: %s", i, kKindNames[kind_of(t)], std::strerror(-res));
      const auto bytes = static_cast<std::size_t>(res);
      switch (kind_of(t)) {
        case kClientSend:
          if (bytes != kMessage) die("connection %u: client sent %zu of %zu bytes", i, bytes, kMessage);
          break;
        case kClientRecv:
          if (bytes == 0) die("connection %u: client recv: end of stream", i);
          received[i] += bytes;
          if (received[i] < kMessage) {  // the rest of the echo
            io_uring_prep_recv(prep(i, kClientRecv), c.client_fd(i), c.echo(i) + received[i], kMessage - received[i],
                               0);
            break;
          }
          c.check_echo(i);
          received[i] = 0;
          ++rt.done;
          if (rt.start()) client_turn(i);
          break;
        case kServerRecv:
          if (bytes == 0) die("connection %u: server recv: end of stream", i);
          echoing[i] = bytes;
          io_uring_prep_send(prep(i, kServerSend), c.server_fd(i), c.server_buf(i), bytes, 0);
          break;
        case kServerSend:
          if (bytes != echoing[i]) die("connection %u: server sent %zu of %zu bytes", i, bytes, echoing[i]);
          server_recv(i);
          break;
      }
    }
    io_uring_cq_advance(ring.get(), got);
  }
  // The ring's exit (before `c` closes the sockets) cancels the servers' pending recvs.
  return static_cast<double>(rt.done) / seconds_between(t0, Clock::now());
}

// Every socket is registered once, level-triggered, and never modified; each
// readable socket gets one recv per wake-up. A send never finds the socket
// buffer full: one message per connection is in flight.
double epoll_echo(unsigned n, std::uint64_t round_trips) {
  std::vector<char> mem(n * Connections::bytes_per_connection);
  Connections c(n, mem.data());
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1: %s", std::strerror(errno));
  for (unsigned i = 0; i < n; ++i) {
    set_nonblocking(c.client_fd(i));
    set_nonblocking(c.server_fd(i));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag(i, kClientRecv);
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, c.client_fd(i), &ev) < 0) die("epoll_ctl: %s", std::strerror(errno));
    ev.data.u64 = tag(i, kServerRecv);
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, c.server_fd(i), &ev) < 0) die("epoll_ctl: %s", std::strerror(errno));
  }
  auto send_all = [](int fd, const char* buf, std::size_t len, unsigned i, const char* who) {
    const ssize_t r = ::send(fd, buf, len, 0);
    if (r != static_cast<ssize_t>(len)) {
      die("connection %u: %s send: %s", i, who, r < 0 ? std::strerror(errno) : "short");
    }
  };
  // Bytes read, 0 if none were there (a level-triggered wake-up may be stale).
  auto recv_some = [](int fd, char* buf, std::size_t len, unsigned i, const char* who) -> std::size_t {
    const ssize_t r = ::recv(fd, buf, len, 0);
    if (r < 0 && errno == EAGAIN) return 0;
    if (r <= 0) die("connection %u: %s recv: %s", i, who, r == 0 ? "end of stream" : std::strerror(errno));
    return static_cast<std::size_t>(r);
  };

  RoundTrips rt{.total = round_trips};
  std::vector<std::size_t> received(n);
  std::vector<epoll_event> events(2 * n);
  const auto t0 = Clock::now();
  for (unsigned i = 0; i < n && rt.start(); ++i) send_all(c.client_fd(i), c.message(i), kMessage, i, "client");
  while (rt.done < rt.total) {
    const int ready = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (ready < 0 && errno != EINTR) die("epoll_wait: %s", std::strerror(errno));
    for (int k = 0; k < ready; ++k) {
      const unsigned i = conn_of(events[k].data.u64);
      if (kind_of(events[k].data.u64) == kServerRecv) {
        if (const std::size_t got = recv_some(c.server_fd(i), c.server_buf(i), kMessage, i, "server")) {
          send_all(c.server_fd(i), c.server_buf(i), got, i, "server");
        }
        continue;
      }
      received[i] += recv_some(c.client_fd(i), c.echo(i) + received[i], kMessage - received[i], i, "client");
      if (received[i] < kMessage) continue;
      c.check_echo(i);
      received[i] = 0;
      ++rt.done;
      if (rt.start()) send_all(c.client_fd(i), c.message(i), kMessage, i, "client");
    }
  }
  const double rate = static_cast<double>(rt.done) / seconds_between(t0, Clock::now());
  ::close(ep);
  return rate;
}

double aiod_echo(Client& client, unsigned n, std::uint64_t round_trips) {
  auto mem = client.arena_alloc(n * Connections::bytes_per_connection);
  if (!mem) die("arena_alloc: %s", mem.message().c_str());
  Connections c(n, reinterpret_cast<char*>(mem->data()));
  std::vector<int> fds;
  for (unsigned i = 0; i < n; ++i) {
    fds.push_back(c.client_fd(i));
    fds.push_back(c.server_fd(i));
  }
  std::vector<Handle> handles;
  for (std::size_t at = 0; at < fds.size(); at += kMaxFdsPerRegister) {
    const std::span<const int> chunk(fds.data() + at, std::min(kMaxFdsPerRegister, fds.size() - at));
    auto h = client.register_fds(chunk);
    if (!h) die("register_fds: %s", h.message().c_str());
    handles.insert(handles.end(), h->begin(), h->end());
  }
  auto client_sock = [&](unsigned i) { return handles[2 * i]; };
  auto server_sock = [&](unsigned i) { return handles[2 * i + 1]; };

  // Each op's results, by its tag.
  std::vector<std::size_t> bytes(4 * n);
  std::vector<std::error_code> errors(4 * n);
  std::vector<std::size_t> received(n);
  std::vector<std::uint64_t> completed;  // the tags reaped by one complete()
  completed.reserve(4 * n);
  RoundTrips rt{.total = round_trips};
  double rate = 0;
  {
    Dynamic q(client, 4 * n);  // up to 3 ops per connection outstanding
    q.set_callback([&](OpId, std::uint64_t t, bool) { completed.push_back(t); });
    auto queue = [&](const auto&... ops) {
      if (const std::error_code ec = q.queue(ops...)) die("queueing aiod ops: %s", ec.message().c_str());
    };
    auto client_turn = [&](unsigned i) {
      queue(Send{.socket = client_sock(i),
                 .buffer = ConstBuffer(c.message(i), kMessage),
                 .out_written = &bytes[tag(i, kClientSend)],
                 .link = Link::hard,
                 .userdata = tag(i, kClientSend),
                 .out_error = &errors[tag(i, kClientSend)]},
            Recv{.socket = client_sock(i),
                 .buffer = MutableBuffer(c.echo(i), kMessage),
                 .out_read = &bytes[tag(i, kClientRecv)],
                 .userdata = tag(i, kClientRecv),
                 .out_error = &errors[tag(i, kClientRecv)]});
    };
    auto client_recv_rest = [&](unsigned i) {
      queue(Recv{.socket = client_sock(i),
                 .buffer = MutableBuffer(c.echo(i) + received[i], kMessage - received[i]),
                 .out_read = &bytes[tag(i, kClientRecv)],
                 .userdata = tag(i, kClientRecv),
                 .out_error = &errors[tag(i, kClientRecv)]});
    };
    auto server_recv = [&](unsigned i) {
      queue(Recv{.socket = server_sock(i),
                 .buffer = MutableBuffer(c.server_buf(i), kMessage),
                 .out_read = &bytes[tag(i, kServerRecv)],
                 .userdata = tag(i, kServerRecv),
                 .out_error = &errors[tag(i, kServerRecv)]});
    };
    auto server_send = [&](unsigned i) {
      queue(Send{.socket = server_sock(i),
                 .buffer = ConstBuffer(c.server_buf(i), bytes[tag(i, kServerRecv)]),
                 .out_written = &bytes[tag(i, kServerSend)],
                 .userdata = tag(i, kServerSend),
                 .out_error = &errors[tag(i, kServerSend)]});
    };

    const auto t0 = Clock::now();
    for (unsigned i = 0; i < n; ++i) {
      server_recv(i);
      if (rt.start()) client_turn(i);
    }
    while (rt.done < rt.total) {
      completed.clear();
      if (auto r = q.complete(CompletionMode::blocking); !r) die("complete: %s", r.message().c_str());
      for (const std::uint64_t t : completed) {
        const unsigned i = conn_of(t);
        if (errors[t]) die("connection %u: aiod %s: %s", i, kKindNames[kind_of(t)], errors[t].message().c_str());
        switch (kind_of(t)) {
          case kClientSend:
            if (bytes[t] != kMessage) die("connection %u: client sent %zu of %zu bytes", i, bytes[t], kMessage);
            break;
          case kClientRecv:
            if (bytes[t] == 0) die("connection %u: client recv: end of stream", i);
            received[i] += bytes[t];
            if (received[i] < kMessage) {
              client_recv_rest(i);
              break;
            }
            c.check_echo(i);
            received[i] = 0;
            ++rt.done;
            if (rt.start()) client_turn(i);
            break;
          case kServerRecv:
            if (bytes[t] == 0) die("connection %u: server recv: end of stream", i);
            server_send(i);
            break;
          case kServerSend:
            if (bytes[t] != bytes[tag(i, kServerRecv)]) {
              die("connection %u: server sent %zu of %zu bytes", i, bytes[t], bytes[tag(i, kServerRecv)]);
            }
            server_recv(i);
            break;
        }
      }
    }
    rate = static_cast<double>(rt.done) / seconds_between(t0, Clock::now());
    // End of stream completes the servers' pending recvs (and nothing is
    // queued after them): the queue then has nothing outstanding.
    for (unsigned i = 0; i < n; ++i) ::shutdown(c.client_fd(i), SHUT_WR);
    if (auto r = q.complete_all(); !r) die("complete_all: %s", r.message().c_str());
  }
  (void)client.unregister(handles);
  client.arena_free(*mem);
  return rate;
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"echo: round trips over many loopback TCP connections at once, uring vs epoll vs aiod"};
  add_common_options(app, o.common);
  app.add_option("--conns", o.conns, "connections, each with one 64-byte message in flight")
      ->check(CLI::Range(1u, 256u));
  app.add_option("--round-trips", o.round_trips, "round trips per run, all connections together");
  app.add_option("--warmup", o.warmup, "untimed round trips before each measurement");
  parse_or_exit(app, argc, argv);

  std::optional<Daemon> daemon;
  std::optional<aiod::Client> client;
  if (o.common.wants(kAiod)) {
    daemon.emplace(o.common);
    aiod::ClientOptions options{.socket_path = daemon->socket(), .name = "bench echo"};
    auto c = aiod::Client::connect(options);
    // Every connection's ops are queued before the first submit: ask for a
    // submission ring that holds them when the daemon's default does not.
    const std::uint32_t needed = 4 * o.conns;
    if (c && c->info().sq_entries < needed) {
      options.sq_entries = needed;
      c = aiod::Client::connect(options);
    }
    if (!c) die("connect: %s", c.message().c_str());
    if (c->info().sq_entries < needed)
      die("the daemon grants %u submission entries: too few for %u connections", c->info().sq_entries, o.conns);
    client.emplace(std::move(*c));
  }

  const std::string bench = "echo " + std::to_string(o.conns) + " conns";
  Report report;
  // Adds the throughput and CPU per round trip of `measure` (round trips/s).
  auto row = [&](const char* mode, const Daemon* d, auto&& measure) {
    const CpuMeter cpu(d);
    report.add(bench, mode, "throughput", "round trips/s", measure());
    add_cpu_per_op(report, bench, mode, cpu, o.round_trips);
  };
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "echo: run %u/%u", run + 1, o.common.runs);
    if (o.common.wants(kUring)) {
      (void)uring_echo(o.conns, o.warmup);
      row(kUring, nullptr, [&] { return uring_echo(o.conns, o.round_trips); });
    }
    if (o.common.wants(kEpoll)) {
      (void)epoll_echo(o.conns, o.warmup);
      row(kEpoll, nullptr, [&] { return epoll_echo(o.conns, o.round_trips); });
    }
    if (client) {
      (void)aiod_echo(*client, o.conns, o.warmup);
      row(kAiod, &*daemon, [&] { return aiod_echo(*client, o.conns, o.round_trips); });
    }
  }
  report.print();
  return 0;
}
