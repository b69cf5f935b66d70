// SPDX-License-Identifier: MIT
// 200 concurrent clients doing mixed IO for a bounded time: every op completes
// exactly once with the right result, across two shards. Also: a client that
// stops reaping its completions stalls only itself.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "op_fixture.hpp"
#include "raw_session.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;

struct ClientReport {
  std::string failure;  // empty: all good
  std::uint64_t ops = 0;
};

// One client's life: rounds of a mixed batch, each op tagged with a unique
// userdata; the callback counts completions per tag, and results are checked.
ClientReport run_client(const ClientOptions& options, int index, std::chrono::steady_clock::time_point until) {
  ClientReport report;
  auto fail = [&](std::string why) {
    if (report.failure.empty()) report.failure = "client " + std::to_string(index) + ": " + std::move(why);
  };
  auto c = Client::connect(options);
  if (!c) {
    fail("connect: " + c.message());
    return report;
  }
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    fail("pipe");
    return report;
  }
  auto h = c->register_fds(std::array<int, 2>{p[0], p[1]});
  ::close(p[0]);
  ::close(p[1]);
  if (!h) {
    fail("register: " + h.message());
    return report;
  }
  const Handle rd = (*h)[0], wr = (*h)[1];
  std::map<std::uint64_t, int> seen;
  Dynamic q(*c, 64);
  q.set_callback([&](OpId, std::uint64_t userdata, bool failed) {
    ++seen[userdata];
    if (failed) fail("op " + std::to_string(userdata) + " failed");
  });
  std::uint64_t tag = 0;
  for (int round = 0; round == 0 || std::chrono::steady_clock::now() < until; ++round) {  // at least one round
    char out[32], in[32] = {};
    const int n = std::snprintf(out, sizeof(out), "c%d-r%d", index, round);
    std::size_t written = 0, got = 0;
    const std::uint64_t first = tag;
    std::error_code e = q.queue(
        Write{.file = wr,
              .buffer = ConstBuffer(out, static_cast<std::size_t>(n)),
              .out_written = &written,
              .link = Link::soft,
              .userdata = tag++},
        Read{
            .file = rd, .buffer = MutableBuffer(in, static_cast<std::size_t>(n)), .out_read = &got, .userdata = tag++});
    for (int i = 0; !e && i < 6; ++i) e = q.queue(Nop{.userdata = tag++});
    if (!e) e = q.queue(Timeout{.duration = std::chrono::microseconds(50 + index % 7), .userdata = tag++});
    if (e) {
      fail("queue: " + e.message());
      break;
    }
    auto r = q.complete_all();
    if (!r) {
      fail("complete: " + r.message());
      break;
    }
    if (written != static_cast<std::size_t>(n) || got != static_cast<std::size_t>(n) ||
        std::memcmp(in, out, static_cast<std::size_t>(n)) != 0) {
      fail("round " + std::to_string(round) + ": the data did not round-trip");
    }
    for (std::uint64_t t = first; t < tag; ++t) {
      if (seen[t] != 1) fail("op " + std::to_string(t) + " completed " + std::to_string(seen[t]) + " times");
    }
    report.ops += tag - first;
  }
  return report;
}

TEST(Stress, TwoHundredClientsEveryOpExactlyOnce) {
  // Every client is this test's uid: its share must hold them all.
  DaemonProcess daemon({"--threads", "2", "--max-sessions-per-uid", "256"});
  ASSERT_TRUE(daemon.running());
  ClientOptions options = daemon.client_options();
  options.sq_entries = 32;
  options.arena_bytes = 64 * 1024;
  constexpr int kClients = 200;
  const auto until = std::chrono::steady_clock::now() + 3s;
  std::vector<ClientReport> reports(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] { reports[i] = run_client(options, i, until); });
  }
  for (auto& t : threads) t.join();
  std::uint64_t total = 0;
  for (const ClientReport& r : reports) {
    EXPECT_TRUE(r.failure.empty()) << r.failure;
    EXPECT_GT(r.ops, 0u);
    total += r.ops;
  }
  // The daemon's own count agrees: everything submitted was completed.
  const CommandResult s = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
  EXPECT_NE(s.out.find("\"ops_in_flight\":0,"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("\"ops_submitted\":" + std::to_string(total) + ","), std::string::npos)
      << "clients completed " << total << " ops: " << s.out;
  EXPECT_NE(s.out.find("\"ops_completed\":" + std::to_string(total) + ","), std::string::npos) << s.out;
}

TEST(Stress, AClientThatStopsReapingStallsOnlyItself) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  RawSession lazy(daemon.socket_path(), 8);  // 8 submission slots, 16 completion slots
  ASSERT_TRUE(lazy.ok()) << lazy.error();
  // A full completion ring plus a full submission ring of nops, never
  // reaped: the daemon can take exactly the first cq_entries of them.
  const std::uint32_t total = lazy.cq_entries() + lazy.sq_entries();
  std::uint32_t pushed = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (pushed < total) {
    const std::uint32_t head = std::atomic_ref<std::uint32_t>(lazy.header()->sq_head).load();
    if (pushed - head == lazy.sq_entries()) {  // no room: wait for the daemon to take some
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the daemon stopped before the ring filled";
      continue;
    }
    aiod_sqe nop{};
    nop.opcode = AIOD_OP_NOP;
    nop.user_data = pushed++;
    lazy.push(nop);
    lazy.publish();
  }
  auto cq_tail = [&] { return std::atomic_ref<std::uint32_t>(lazy.header()->cq_tail).load(); };
  auto sq_head = [&] { return std::atomic_ref<std::uint32_t>(lazy.header()->sq_head).load(); };
  while (cq_tail() < lazy.cq_entries()) ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  // Others are served meanwhile.
  auto other = Client::connect(daemon.client_options());
  ASSERT_TRUE(other);
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(other->single(Nop{}));
  const CommandResult s = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
  const std::string totals =
      s.out.substr(s.out.find("\"totals\""), s.out.find("\"opcodes\"") - s.out.find("\"totals\""));
  EXPECT_EQ(totals.find("\"ring_full_events\":0,"), std::string::npos) << "the stall was not counted: " << totals;
  // Meanwhile the stalled client's rings never overflowed.
  EXPECT_EQ(cq_tail(), lazy.cq_entries());
  EXPECT_EQ(sq_head(), lazy.cq_entries());
  // Once it reaps, it gets the rest, each exactly once and in order.
  const auto cqes = lazy.wait(pushed, 10s);
  ASSERT_EQ(cqes.size(), pushed);
  for (std::uint32_t i = 0; i < pushed; ++i) {
    EXPECT_EQ(cqes[i].user_data, i);
    EXPECT_EQ(cqes[i].res, 0);
  }
}

}  // namespace
}  // namespace aiod::test
