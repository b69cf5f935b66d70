// SPDX-License-Identifier: MIT
// Unit tests of proto/wire: control-message framing and verification, over a
// real SOCK_SEQPACKET socketpair. What must hold: nothing unverified is ever
// handed on (empty, random, foreign, truncated, oversized and amplifying
// buffers are refused); descriptors arrive close-on-exec and usable; sending
// more than the limits is refused before anything goes out; an oversized or
// over-stuffed datagram is an error on the receiving side that leaks no
// descriptor and does not desynchronise the socket; a closed peer reads as 0.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aiod/control_generated.h"
#include "unique_fd.hpp"
#include "wire.hpp"

namespace aiod::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes finish(flatbuffers::FlatBufferBuilder& b, flatbuffers::Offset<Message> m) {
  FinishMessageBuffer(b, m);
  return Bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

Bytes ping(std::uint64_t id, std::uint64_t nonce) {
  flatbuffers::FlatBufferBuilder b;
  const auto p = CreatePing(b, nonce);
  return finish(b, CreateMessage(b, id, Body::Ping, p.Union()));
}

Bytes hello_with_name(std::size_t name_len) {
  flatbuffers::FlatBufferBuilder b;
  const std::string name(name_len, 'n');
  const auto h = CreateHelloDirect(b, 1, SessionKind::Io, 64, 1 << 20, name.c_str(), 022);
  return finish(b, CreateMessage(b, 9, Body::Hello, h.Union()));
}

// A message with strings, vectors and nested tables.
Bytes stats_reply() {
  flatbuffers::FlatBufferBuilder b;
  const auto totals = CreateCounters(b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
  std::vector<flatbuffers::Offset<OpcodeCount>> ops = {CreateOpcodeCountDirect(b, 0, "nop", 5, 0),
                                                       CreateOpcodeCountDirect(b, 1, "read", 7, 1)};
  const std::vector<std::uint64_t> bounds = {1000, 2000, 4000};
  const std::vector<std::uint64_t> counts = {1, 2, 3, 4};
  const auto hist = CreateHistogramDirect(b, &bounds, &counts, 12345, 10);
  std::vector<flatbuffers::Offset<SessionStats>> sessions = {
      CreateSessionStatsDirect(b, 77, 1234, 1000, 1000, "client", 0, CreateCounters(b, 1, 1))};
  const auto reply = CreateStatsReplyDirect(b, 1, "1.2.3", "io_uring", 99, 2, 1, 5, totals, &ops, hist, &sessions, 42);
  return finish(b, CreateMessage(b, 3, Body::StatsReply, reply.Union()));
}

const Message* verify_bytes(const Bytes& bytes) { return verify(std::span<const std::uint8_t>(bytes)); }

int open_fd_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool is_cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags != -1 && (flags & FD_CLOEXEC) != 0;
}

struct SocketPair {
  SocketPair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
  UniqueFd a, b;
};

UniqueFd make_eventfd() { return UniqueFd(::eventfd(0, EFD_CLOEXEC)); }

// Sends `bytes` with `fds` attached without the library's limits.
ssize_t raw_send(int sock, const Bytes& bytes, const std::vector<int>& fds) {
  iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  msghdr hdr{};
  hdr.msg_iov = &iov;
  hdr.msg_iovlen = 1;
  std::vector<std::uint8_t> control(CMSG_SPACE(sizeof(int) * fds.size()) + sizeof(cmsghdr));
  if (!fds.empty()) {
    hdr.msg_control = control.data();
    hdr.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&hdr);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  return ::sendmsg(sock, &hdr, MSG_NOSIGNAL);
}

// ---------------------------------------------------------------------------
// verify()

TEST(WireVerify, AcceptsAValidMessage) {
  const Bytes bytes = ping(17, 0xfeedface);
  const Message* m = verify_bytes(bytes);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->id(), 17u);
  ASSERT_EQ(m->body_type(), Body::Ping);
  ASSERT_NE(m->body_as_Ping(), nullptr);
  EXPECT_EQ(m->body_as_Ping()->nonce(), 0xfeedfaceu);

  const Bytes stats = stats_reply();
  const Message* s = verify_bytes(stats);
  ASSERT_NE(s, nullptr);
  ASSERT_NE(s->body_as_StatsReply(), nullptr);
  EXPECT_EQ(s->body_as_StatsReply()->daemon_syscalls(), 42u);
}

TEST(WireVerify, RejectsEmptyAndTinyBuffers) {
  EXPECT_EQ(verify({}), nullptr);
  for (std::size_t n = 1; n <= 16; ++n) {
    const Bytes zeros(n, 0);
    EXPECT_EQ(verify_bytes(zeros), nullptr) << n << " zero bytes";
  }
  // A root offset pointing at the very end, with the right identifier.
  const Bytes header_only = {8, 0, 0, 0, 'A', 'I', 'O', 'D'};
  EXPECT_EQ(verify_bytes(header_only), nullptr);
}

TEST(WireVerify, RejectsRandomBytes) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 5000; ++i) {
    Bytes bytes(rng() % 600);
    for (auto& byte : bytes) byte = static_cast<std::uint8_t>(rng());
    EXPECT_EQ(verify_bytes(bytes), nullptr) << "random buffer " << i << " of " << bytes.size() << " bytes";
  }
}

TEST(WireVerify, RejectsAWrongOrMissingFileIdentifier) {
  Bytes bytes = ping(1, 2);
  ASSERT_NE(verify_bytes(bytes), nullptr);
  std::memcpy(bytes.data() + 4, "AIOE", 4);
  EXPECT_EQ(verify_bytes(bytes), nullptr);

  flatbuffers::FlatBufferBuilder b;
  const auto p = CreatePing(b, 2);
  b.Finish(CreateMessage(b, 1, Body::Ping, p.Union()));  // no identifier
  EXPECT_EQ(verify(view(b)), nullptr);
}

TEST(WireVerify, RejectsTruncatedBuffers) {
  for (const Bytes& full : {ping(5, 6), stats_reply(), hello_with_name(300)}) {
    ASSERT_NE(verify_bytes(full), nullptr);
    for (std::size_t len = 0; len < full.size(); ++len) {
      const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
      if (verify_bytes(prefix) == nullptr) continue;
      // Only alignment padding at the very end may be cut without harm.
      bool padding_only = full.size() - len < 8;
      for (std::size_t i = len; i < full.size(); ++i) padding_only = padding_only && full[i] == 0;
      EXPECT_TRUE(padding_only) << "a " << len << "-byte prefix of a " << full.size() << "-byte message verified";
    }
  }
}

TEST(WireVerify, RejectsOversizedBuffers) {
  const Bytes fits = hello_with_name(60000);
  ASSERT_LE(fits.size(), kMaxMessageBytes);
  EXPECT_NE(verify_bytes(fits), nullptr);

  const Bytes big = hello_with_name(kMaxMessageBytes);
  ASSERT_GT(big.size(), kMaxMessageBytes);
  EXPECT_EQ(verify_bytes(big), nullptr);
}

// One OpcodeCount table referenced `refs` times from a vector: a few bytes
// each, but the verifier has to visit the table once per reference.
Bytes shared_table_vector(std::size_t refs) {
  flatbuffers::FlatBufferBuilder b;
  const auto one = CreateOpcodeCountDirect(b, 1, "read", 1, 0);
  const std::vector<flatbuffers::Offset<OpcodeCount>> many(refs, one);
  const auto reply = CreateStatsReplyDirect(b, 1, nullptr, nullptr, 0, 0, 0, 0, 0, &many);
  return finish(b, CreateMessage(b, 1, Body::StatsReply, reply.Union()));
}

TEST(WireVerify, BoundsTheWorkOfAHostileBuffer) {
  const Bytes modest = shared_table_vector(1000);
  EXPECT_NE(verify_bytes(modest), nullptr);
  const Bytes bomb = shared_table_vector(15000);
  ASSERT_LE(bomb.size(), kMaxMessageBytes);
  EXPECT_EQ(verify_bytes(bomb), nullptr) << "15000 table visits accepted from a " << bomb.size() << "-byte buffer";
}

TEST(WireVerify, AUnionTypeWithoutABodyVerifiesWithANullBody) {
  // Verification accepts it (an absent table is legal flatbuffers): every
  // receiver must check body() / body_as_X() for null.
  flatbuffers::FlatBufferBuilder b;
  MessageBuilder mb(b);
  mb.add_id(4);
  mb.add_body_type(Body::Hello);
  const Bytes bytes = finish(b, mb.Finish());
  const Message* m = verify_bytes(bytes);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->body_type(), Body::Hello);
  EXPECT_EQ(m->body(), nullptr);
  EXPECT_EQ(m->body_as_Hello(), nullptr);
}

TEST(WireVerify, AnUnknownUnionTypeLeavesEveryTypedAccessorNull) {
  flatbuffers::FlatBufferBuilder b;
  const auto p = CreatePing(b, 1);
  const Bytes bytes = finish(b, CreateMessage(b, 1, static_cast<Body>(200), p.Union()));
  const Message* m = verify_bytes(bytes);
  if (m == nullptr) return;  // refusing it is fine too
  EXPECT_EQ(m->body_as_Ping(), nullptr);
  EXPECT_EQ(m->body_as_Hello(), nullptr);
  EXPECT_EQ(m->body_as_StatsReply(), nullptr);
}

// ---------------------------------------------------------------------------
// send_message() / recv_message()

TEST(WireSocket, MessageWithoutDescriptors) {
  SocketPair sp;
  const Bytes bytes = ping(1, 99);
  ASSERT_EQ(send_message(sp.a.get(), bytes), 0);
  ReceivedMessage got;
  ASSERT_EQ(recv_message(sp.b.get(), got), static_cast<int>(bytes.size()));
  EXPECT_EQ(got.bytes, bytes);
  EXPECT_TRUE(got.fds.empty());
  const Message* m = verify_bytes(got.bytes);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->body_as_Ping()->nonce(), 99u);
}

TEST(WireSocket, DescriptorsArriveCloseOnExecAndUsable) {
  SocketPair sp;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd pipe_r(p[0]), pipe_w(p[1]);
  UniqueFd efd = make_eventfd();
  ASSERT_TRUE(efd.valid());

  const Bytes bytes = ping(2, 3);
  const int send_fds[] = {pipe_w.get(), efd.get()};
  ASSERT_EQ(send_message(sp.a.get(), bytes, send_fds), 0);

  ReceivedMessage got;
  ASSERT_EQ(recv_message(sp.b.get(), got), static_cast<int>(bytes.size()));
  EXPECT_EQ(got.bytes, bytes);
  ASSERT_EQ(got.fds.size(), 2u);
  for (const UniqueFd& fd : got.fds) {
    ASSERT_TRUE(fd.valid());
    EXPECT_TRUE(is_cloexec(fd.get())) << "received descriptor " << fd.get() << " would leak into children";
  }
  // Order is kept, and each is the same open file as the one sent.
  ASSERT_EQ(::write(got.fds[0].get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(pipe_r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  const std::uint64_t five = 5;
  ASSERT_EQ(::write(got.fds[1].get(), &five, sizeof(five)), static_cast<ssize_t>(sizeof(five)));
  std::uint64_t v = 0;
  ASSERT_EQ(::read(efd.get(), &v, sizeof(v)), static_cast<ssize_t>(sizeof(v)));
  EXPECT_EQ(v, 5u);
}

TEST(WireSocket, TheMostDescriptorsAllowed) {
  SocketPair sp;
  std::vector<UniqueFd> owned;
  std::vector<int> fds;
  for (std::size_t i = 0; i < kMaxFdsPerMessage; ++i) {
    owned.push_back(make_eventfd());
    fds.push_back(owned.back().get());
  }
  ASSERT_EQ(send_message(sp.a.get(), ping(1, 1), fds), 0);
  ReceivedMessage got;
  ASSERT_GT(recv_message(sp.b.get(), got), 0);
  EXPECT_EQ(got.fds.size(), kMaxFdsPerMessage);
}

TEST(WireSocket, TooManyDescriptorsAreRefusedBeforeSending) {
  SocketPair sp;
  std::vector<UniqueFd> owned;
  std::vector<int> fds;
  for (std::size_t i = 0; i < kMaxFdsPerMessage + 1; ++i) {
    owned.push_back(make_eventfd());
    fds.push_back(owned.back().get());
  }
  EXPECT_EQ(send_message(sp.a.get(), ping(1, 1), fds), -EMSGSIZE);
  ReceivedMessage got;
  EXPECT_EQ(recv_message(sp.b.get(), got, MSG_DONTWAIT), -EAGAIN) << "something was sent anyway";
}

TEST(WireSocket, TooLargeAMessageIsRefusedBeforeSending) {
  SocketPair sp;
  const Bytes big(kMaxMessageBytes + 1, 0);
  EXPECT_EQ(send_message(sp.a.get(), big), -EMSGSIZE);
  ReceivedMessage got;
  EXPECT_EQ(recv_message(sp.b.get(), got, MSG_DONTWAIT), -EAGAIN);
}

TEST(WireSocket, TheLargestMessageArrivesWhole) {
  SocketPair sp;
  Bytes big(kMaxMessageBytes);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  ASSERT_EQ(send_message(sp.a.get(), big), 0);
  ReceivedMessage got;
  ASSERT_EQ(recv_message(sp.b.get(), got), static_cast<int>(kMaxMessageBytes));
  EXPECT_EQ(got.bytes, big);
}

TEST(WireSocket, AnOversizedDatagramIsEmsgsizeLeaksNothingAndTheNextMessageIsIntact) {
  SocketPair sp;
  UniqueFd efd = make_eventfd();
  const Bytes big(kMaxMessageBytes + 1, 0xab);
  ASSERT_EQ(raw_send(sp.a.get(), big, {efd.get()}), static_cast<ssize_t>(big.size()));
  const Bytes next = ping(2, 2);
  ASSERT_EQ(send_message(sp.a.get(), next), 0);

  const int before = open_fd_count();
  ReceivedMessage got;
  EXPECT_EQ(recv_message(sp.b.get(), got), -EMSGSIZE);
  EXPECT_TRUE(got.fds.empty());
  EXPECT_TRUE(got.bytes.empty());
  EXPECT_EQ(open_fd_count(), before) << "the descriptor that came with the oversized datagram leaked";

  ASSERT_EQ(recv_message(sp.b.get(), got), static_cast<int>(next.size()));
  EXPECT_EQ(got.bytes, next);
}

TEST(WireSocket, TooManyDescriptorsFromARawPeerAreEprotoAndLeakNothing) {
  SocketPair sp;
  std::vector<UniqueFd> owned;
  std::vector<int> fds;
  for (int i = 0; i < 24; ++i) {
    owned.push_back(make_eventfd());
    fds.push_back(owned.back().get());
  }
  const Bytes bytes = ping(1, 1);
  ASSERT_EQ(raw_send(sp.a.get(), bytes, fds), static_cast<ssize_t>(bytes.size()));
  const int before = open_fd_count();
  ReceivedMessage got;
  EXPECT_EQ(recv_message(sp.b.get(), got), -EPROTO);
  EXPECT_TRUE(got.fds.empty());
  EXPECT_EQ(open_fd_count(), before) << "descriptors of a truncated control message leaked";
}

TEST(WireSocket, PeerCloseReadsAsZeroAfterPendingMessages) {
  SocketPair sp;
  const Bytes bytes = ping(1, 1);
  ASSERT_EQ(send_message(sp.a.get(), bytes), 0);
  sp.a.reset();
  ReceivedMessage got;
  EXPECT_EQ(recv_message(sp.b.get(), got), static_cast<int>(bytes.size()));
  EXPECT_EQ(recv_message(sp.b.get(), got), 0);
  EXPECT_EQ(recv_message(sp.b.get(), got), 0);
}

TEST(WireSocket, NonBlockingReceiveOfNothingIsEagain) {
  SocketPair sp;
  ReceivedMessage got;
  EXPECT_EQ(recv_message(sp.b.get(), got, MSG_DONTWAIT), -EAGAIN);
}

TEST(WireSocket, SendingToAClosedPeerIsAnErrorNotASignal) {
  SocketPair sp;
  sp.b.reset();
  EXPECT_EQ(send_message(sp.a.get(), ping(1, 1)), -EPIPE);
}

TEST(WireRecvBuffer, ReusableAcrossReceives) {
  SocketPair sp;
  RecvBuffer buf;
  UniqueFd efd = make_eventfd();
  const Bytes first = ping(1, 10);
  const Bytes second = stats_reply();
  const int one_fd[] = {efd.get()};
  ASSERT_EQ(send_message(sp.a.get(), first, one_fd), 0);
  ASSERT_EQ(send_message(sp.a.get(), second), 0);

  ReceivedMessage got;
  int n = static_cast<int>(::recvmsg(sp.b.get(), &buf.hdr, MSG_CMSG_CLOEXEC));
  ASSERT_EQ(buf.finish(n, got), static_cast<int>(first.size()));
  EXPECT_EQ(got.bytes, first);
  ASSERT_EQ(got.fds.size(), 1u);
  EXPECT_TRUE(is_cloexec(got.fds[0].get()));

  buf.prepare();
  n = static_cast<int>(::recvmsg(sp.b.get(), &buf.hdr, MSG_CMSG_CLOEXEC));
  ASSERT_EQ(buf.finish(n, got), static_cast<int>(second.size()));
  EXPECT_EQ(got.bytes, second);
  EXPECT_TRUE(got.fds.empty()) << "descriptors of the previous message carried over";

  EXPECT_EQ(buf.finish(-ECONNRESET, got), -ECONNRESET);
  EXPECT_TRUE(got.bytes.empty());
}

}  // namespace
}  // namespace aiod::wire
