// SPDX-License-Identifier: MIT
// Fuzzes a real daemon's control socket: on an established session, mutated
// and truncated flatbuffers of every body type (client bodies, daemon-only
// bodies, unknown types), oversized datagrams, too many descriptors,
// credentials instead of descriptors; and on new connections, mutated Hellos
// (versions, kinds, ring and arena sizes at their boundaries, wrong
// descriptors) as the first message. A well-behaved client does IO beside it.
//
// Asserts: on a session, every non-empty datagram gets exactly one reply, a
// valid message of a type the daemon sends (never a Welcome), and the session
// goes on (a Ping gets its Pong, the ring still completes ops); a mutated
// Hello gets a Welcome or an Error, or the connection is closed — within a
// bounded time; afterwards sessions and descriptors return to the baseline
// and ping and stats answer.
#include <poll.h>
#include <sys/socket.h>

#include <iostream>

#include "message_gen.hpp"
#include "live_fixture.hpp"
#include "ring_client.hpp"

namespace aiod::fuzz {
namespace {

using wire::Body;

class ControlFuzz : public LiveFuzz {};

// The reply to one request: one datagram, verified, of a type the daemon sends.
const wire::Message* expect_reply(RingClient& c, std::optional<wire::ReceivedMessage>& in) {
  in = c.receive(std::chrono::seconds(5));
  EXPECT_TRUE(in.has_value()) << "no reply within 5 s";
  if (!in) return nullptr;
  const wire::Message* m = wire::verify(in->bytes);
  EXPECT_NE(m, nullptr) << "the daemon's reply does not verify";
  if (m == nullptr) return nullptr;
  const Body t = m->body_type();
  EXPECT_TRUE(t == Body::Error || t == Body::Pong || t == Body::StatsReply || t == Body::RegisterFdsReply ||
              t == Body::Ack)
      << "reply of type " << static_cast<int>(t);
  return m;
}

TEST_F(ControlFuzz, MutatedMessagesOnASession) {
  start_honest_client();
  ASSERT_FALSE(HasFailure());
  std::string err;
  auto c = RingClient::connect(daemon_.socket_path(), {.sq_entries = 8, .arena_bytes = 4096, .directory = dir_}, err);
  ASSERT_TRUE(c) << err;
  const int big = 512 * 1024;
  ASSERT_EQ(::setsockopt(c->control_fd(), SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
  const Params p = params(0xa10d0030, 4000);
  const auto stop_at = budget(std::chrono::seconds(8));
  const Body client_bodies[] = {Body::Ping, Body::StatsRequest, Body::RegisterFds, Body::UnregisterHandles};
  std::uint64_t ud = 1, n = 0;
  run(p, [&](Rng& rng, std::uint64_t i) {
    if (std::chrono::steady_clock::now() > stop_at) return;
    ++n;
    std::vector<std::uint8_t> bytes =
        rng.chance(2, 3) ? message_of(rng, client_bodies[rng.below(std::size(client_bodies))]) : valid_message(rng);
    if (rng.chance(1, 2)) mutate_bytes(rng, bytes);
    if (rng.chance(1, 32)) bytes.resize(wire::kMaxMessageBytes + 1 + rng.below(64), 0x41);
    if (bytes.empty()) bytes.push_back(0);  // an empty datagram means "disconnect"
    const std::size_t nfds = rng.chance(2, 3) ? 0 : rng.chance(1, 4) ? 17 + rng.below(4) : 1 + rng.below(16);
    const long sent = send_datagram(c->control_fd(), bytes, nfds, rng.chance(1, 16));
    ASSERT_EQ(sent, static_cast<long>(bytes.size()));
    std::optional<wire::ReceivedMessage> in;
    expect_reply(*c, in);
    if (i % 8 == 0) {  // the session goes on: a ping is answered in turn
      flatbuffers::FlatBufferBuilder b(64);
      const std::uint64_t nonce = rng.next();
      b.Finish(wire::CreateMessage(b, 99, Body::Ping, wire::CreatePing(b, nonce).Union()), wire::MessageIdentifier());
      ASSERT_EQ(c->send_raw(wire::view(b)), 0);
      const wire::Message* m = expect_reply(*c, in);
      ASSERT_NE(m, nullptr);
      ASSERT_NE(m->body_as_Pong(), nullptr) << "a Ping did not get its Pong";
      EXPECT_EQ(m->body_as_Pong()->nonce(), nonce);
    }
  });
  // And its ring still works.
  const aiod_sqe nop{.opcode = AIOD_OP_NOP, .user_data = ud};
  c->submit({&nop, 1});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<aiod_cqe> got;
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    got = c->reap();
    if (got.empty()) c->wait_for_completions(deadline);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_data, ud);
  EXPECT_EQ(got[0].res, 0);
  std::cout << "control fuzz: " << n << " datagrams\n";
  RecordProperty("datagrams", static_cast<int>(n));
  c.reset();
  expect_back_to_baseline();
  stop_honest_client();
}

TEST_F(ControlFuzz, MutatedHellos) {
  start_honest_client();
  ASSERT_FALSE(HasFailure());
  const Params p = params(0xa10d0031, 800);
  const auto stop_at = budget(std::chrono::seconds(8));
  int welcomed = 0, refused = 0, closed = 0, n = 0;
  run(p, [&](Rng& rng, std::uint64_t) {
    if (std::chrono::steady_clock::now() > stop_at) return;
    ++n;
    UniqueFd s = connect_socket(daemon_.socket_path());
    ASSERT_TRUE(s) << "connect failed";
    flatbuffers::FlatBufferBuilder b(256);
    const std::string name(rng.below(100), static_cast<char>(rng.below(256)));
    const auto hello = wire::CreateHelloDirect(
        b, rng.chance(3, 4) ? AIOD_PROTOCOL_VERSION : boundary32(rng, AIOD_PROTOCOL_VERSION),
        static_cast<wire::SessionKind>(rng.chance(3, 4) ? rng.below(2) : rng.below(256)),
        rng.chance(1, 2) ? static_cast<std::uint32_t>(rng.below(64)) : boundary32(rng, AIOD_MAX_SQ_ENTRIES),
        rng.chance(1, 2) ? rng.below(1 << 20) : boundary64(rng, std::uint64_t{1} << 26), name.c_str(),
        static_cast<std::uint32_t>(rng.next()));
    b.Finish(wire::CreateMessage(b, rng.next(), Body::Hello, hello.Union()), wire::MessageIdentifier());
    std::vector<std::uint8_t> bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    if (rng.chance(1, 3)) mutate_bytes(rng, bytes);
    if (bytes.empty()) bytes.push_back(0);
    // Two directories is what an Io Hello carries; give it anything.
    const std::size_t nfds = rng.chance(1, 2) ? 2 : rng.below(4);
    std::vector<UniqueFd> dirs;
    std::vector<int> raw;
    if (nfds == 2 && rng.chance(3, 4)) {
      dirs.emplace_back(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      dirs.emplace_back(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      for (auto& d : dirs) raw.push_back(d.get());
      ASSERT_EQ(wire::send_message(s.get(), bytes, raw), 0);
    } else {
      ASSERT_EQ(send_datagram(s.get(), bytes, nfds, rng.chance(1, 16)), static_cast<long>(bytes.size()));
    }
    if (rng.chance(1, 8)) return;  // leaves without reading the reply
    pollfd pf{s.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&pf, 1, 6000), 1) << "neither a reply nor a close within 6 s";
    wire::ReceivedMessage in;
    const int r = wire::recv_message(s.get(), in, MSG_DONTWAIT);
    if (r <= 0) {
      ++closed;
      return;
    }
    const wire::Message* m = wire::verify(in.bytes);
    ASSERT_NE(m, nullptr) << "the daemon's reply does not verify";
    if (m->body_as_Welcome() != nullptr) {
      ++welcomed;
      EXPECT_TRUE(in.fds.size() == 3 || in.fds.empty()) << in.fds.size() << " descriptors with a Welcome";
    } else {
      ASSERT_NE(m->body_as_Error(), nullptr) << "reply of type " << static_cast<int>(m->body_type());
      EXPECT_GT(m->body_as_Error()->code(), 0);
      ++refused;
    }
  });
  std::cout << "hello fuzz: " << n << " connections: " << welcomed << " welcomed, " << refused << " refused, " << closed
            << " closed\n";
  expect_back_to_baseline();
  stop_honest_client();
}

}  // namespace
}  // namespace aiod::fuzz
