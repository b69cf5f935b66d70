// SPDX-License-Identifier: MIT
// Stats are served by the shard of the session that asks, which reads every
// other shard's sessions. A session's identity (name, credentials, kind) is
// written by its own shard during the handshake; another shard may read it
// only once it is final, and only with the shard's lock taken in between.
//
// Run under -DAIOD_SANITIZE=thread, a read without that ordering is a data
// race report, and the daemon exits with ThreadSanitizer's status instead of 0.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "aiod_shm.h"
#include "op_fixture.hpp"
#include "wire.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using Regression = OpTest;

// A control session that asks for stats, with every session listed, as fast
// as the daemon answers. Returns the number of replies, or -1 on a failure.
int ask_for_stats(const std::string& socket_path, const std::atomic<bool>& stop) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) return -1;
  auto exchange = [&](flatbuffers::FlatBufferBuilder& b) {
    wire::ReceivedMessage in;
    pollfd p{sock.get(), POLLIN, 0};
    return wire::send_message(sock.get(), wire::view(b)) == 0 && ::poll(&p, 1, 10'000) == 1 &&
           wire::recv_message(sock.get(), in) > 0 && wire::verify(in.bytes) != nullptr;
  };
  flatbuffers::FlatBufferBuilder hello(128);
  hello.Finish(wire::CreateMessage(hello, 1, wire::Body::Hello,
                                   wire::CreateHelloDirect(hello, AIOD_PROTOCOL_VERSION, wire::SessionKind::Control, 0,
                                                           0, "stats-reader")
                                       .Union()),
               wire::MessageIdentifier());
  if (!exchange(hello)) return -1;
  int replies = 0;
  for (std::uint64_t id = 2; !stop.load(std::memory_order_relaxed); ++id) {
    flatbuffers::FlatBufferBuilder b(64);
    b.Finish(wire::CreateMessage(b, id, wire::Body::StatsRequest, wire::CreateStatsRequest(b, true, 0).Union()),
             wire::MessageIdentifier());
    if (!exchange(b)) return -1;
    ++replies;
  }
  return replies;
}

// Shard::collect() read the name, credentials and kind of other shards'
// sessions while their handshakes were writing them, with nothing ordering
// the writes before the reads.
TEST_F(Regression, StatsReadOtherShardsSessionsOnlyOnceTheirHandshakeIsDone) {
  DaemonProcess daemon({"--threads", "2"});
  ASSERT_TRUE(daemon.running());
  std::atomic<bool> stop{false};
  int replies = 0;
  std::thread reader([&] { replies = ask_for_stats(daemon.socket_path(), stop); });
  // Sessions go to the shard with the fewest: while the reader's session
  // stays, each of these handshakes runs on the other shard.
  const auto until = std::chrono::steady_clock::now() + 2s;
  int handshakes = 0;
  while (std::chrono::steady_clock::now() < until) {
    ClientOptions options = daemon.client_options();
    options.name = "handshake-" + std::to_string(handshakes);
    auto c = Client::connect(options);
    ASSERT_TRUE(c) << c.message();
    ++handshakes;
  }
  stop = true;
  reader.join();
  EXPECT_GT(replies, 0) << "the stats reader failed";
  EXPECT_GT(handshakes, 0);
  EXPECT_EQ(daemon.stop(), 0) << "the daemon's exit status reports a failure (a sanitizer's report?)";
}

}  // namespace
}  // namespace aiod::test
