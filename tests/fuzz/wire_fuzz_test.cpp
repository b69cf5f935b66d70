// SPDX-License-Identifier: MIT
// Fuzzes the control-message decoder in process (proto/wire.*): valid
// messages of every body type, built with random field values, then mutated
// (bytes flipped, offsets set to boundary values, truncated, extended, the
// identifier changed), each in a heap buffer of exactly its size; and framing
// through a real SOCK_SEQPACKET pair (oversized datagrams, too many
// descriptors, credentials instead of descriptors).
//
// Asserts: verify() never crashes or reads outside the buffer (ASan), refuses
// sizes outside [4, 64 KiB] and a wrong identifier, and whatever it accepts can
// be read field by field, every string and vector included; a received
// datagram yields the documented result, and no descriptor leaks either way.
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz_support.hpp"
#include "message_gen.hpp"
#include "wire.hpp"

namespace aiod::fuzz {
namespace {

using namespace aiod::wire;

// Reads every field a receiver could read; returns a checksum so nothing is
// optimised away. Out-of-bounds reads show up under ASan.
std::uint64_t read_string(const flatbuffers::String* s) {
  std::uint64_t sum = 0;
  if (s != nullptr) {
    for (char c : s->string_view()) sum += static_cast<unsigned char>(c);
  }
  return sum;
}
// Set when a verified vector's elements are not aligned for their type:
// reading them would be undefined behaviour (UBSan reports it; this catches
// it in builds without sanitizers too).
bool misaligned = false;
template <typename V>
std::uint64_t read_scalars(const V* v) {
  std::uint64_t sum = 0;
  if (v != nullptr) {
    using T = typename V::return_type;
    if (v->size() > 0 && reinterpret_cast<std::uintptr_t>(v->Data()) % alignof(T) != 0) {
      misaligned = true;
      return 0;
    }
    for (auto x : *v) sum += x;
  }
  return sum;
}
std::uint64_t read_counters(const Counters* c) {
  if (c == nullptr) return 0;
  return c->ops_submitted() + c->ops_completed() + c->ops_failed() + c->ops_in_flight() + c->bytes_in() +
         c->bytes_out() + c->invalid_descriptors() + c->ring_full_events() + c->wakeups_sent() + c->wakeups_received();
}
std::uint64_t read_opcodes(const flatbuffers::Vector<flatbuffers::Offset<OpcodeCount>>* v) {
  std::uint64_t sum = 0;
  if (v != nullptr) {
    for (const OpcodeCount* o : *v) sum += o->opcode() + read_string(o->name()) + o->count() + o->errors();
  }
  return sum;
}
std::uint64_t read_histogram(const Histogram* h) {
  return h == nullptr ? 0 : read_scalars(h->bounds_ns()) + read_scalars(h->counts()) + h->sum_ns() + h->count();
}

std::uint64_t read_all(const Message* m) {
  std::uint64_t sum = m->id() + static_cast<std::uint8_t>(m->body_type());
  if (const auto* h = m->body_as_Hello()) {
    sum += h->protocol_version() + static_cast<std::uint8_t>(h->kind()) + h->sq_entries() + h->arena_bytes() +
           read_string(h->client_name()) + h->umask();
  } else if (const auto* w = m->body_as_Welcome()) {
    sum += w->protocol_version() + w->session_id() + read_string(w->daemon_version()) + read_string(w->backend()) +
           w->sq_entries() + w->cq_entries() + w->region_size() + w->sq_offset() + w->cq_offset() + w->arena_offset() +
           w->arena_size() + w->features() + w->max_in_flight();
  } else if (const auto* r = m->body_as_RegisterFds()) {
    sum += r->count();
  } else if (const auto* rr = m->body_as_RegisterFdsReply()) {
    sum += read_scalars(rr->handles());
  } else if (const auto* u = m->body_as_UnregisterHandles()) {
    sum += read_scalars(u->handles());
  } else if (const auto* p = m->body_as_Ping()) {
    sum += p->nonce();
  } else if (const auto* po = m->body_as_Pong()) {
    sum += po->nonce();
  } else if (const auto* sr = m->body_as_StatsRequest()) {
    sum += sr->include_sessions() + sr->first_session();
  } else if (const auto* s = m->body_as_StatsReply()) {
    sum += s->stats_version() + read_string(s->daemon_version()) + read_string(s->backend()) + s->uptime_ns() +
           s->shards() + s->sessions_active() + s->sessions_total() + read_counters(s->totals()) +
           read_opcodes(s->per_opcode()) + read_histogram(s->latency()) + s->daemon_syscalls() + s->config_reloads() +
           s->config_reload_failures() + s->next_session();
    if (s->sessions() != nullptr) {
      for (const SessionStats* ss : *s->sessions()) {
        sum += ss->session_id() + static_cast<std::uint32_t>(ss->pid()) + ss->uid() + ss->gid() +
               read_string(ss->name()) + ss->shard() + read_counters(ss->counters()) + read_opcodes(ss->per_opcode()) +
               read_histogram(ss->latency());
      }
    }
  } else if (const auto* e = m->body_as_Error()) {
    sum += static_cast<std::uint32_t>(e->code()) + read_string(e->message());
  }
  return sum;
}

// One iteration: a valid message, usually mutated, verified in an exactly
// sized buffer and, when accepted, read field by field.
void verify_one(Rng& rng, std::uint64_t& accepted, std::uint64_t& sink) {
  std::vector<std::uint8_t> buf = valid_message(rng);
  ASSERT_NE(verify(buf), nullptr) << "a valid message failed verification";
  if (rng.chance(7, 8)) mutate_bytes(rng, buf);
  // An exactly sized heap copy: one byte past the end is a detected overflow.
  std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[std::max<std::size_t>(buf.size(), 1)]);
  if (!buf.empty()) std::memcpy(exact.get(), buf.data(), buf.size());
  const std::span<const std::uint8_t> view(exact.get(), buf.size());
  const Message* m = verify(view);
  if (buf.size() < 4) {
    EXPECT_EQ(m, nullptr) << "accepted " << buf.size() << " bytes";
  }
  if (buf.size() >= 8 && std::memcmp(&buf[4], MessageIdentifier(), 4) != 0) {
    EXPECT_EQ(m, nullptr) << "accepted a wrong identifier";
  }
  if (m != nullptr) {
    ++accepted;
    misaligned = false;
    sink += read_all(m);
    EXPECT_FALSE(misaligned) << "verify() accepted a vector whose elements are misaligned";
  }
}

TEST(WireFuzz, VerifyMutatedMessages) {
  const Params p = params(0xa10d0002, 80000);
  std::uint64_t accepted = 0, sink = 0;
  run(p, [&](Rng& rng, std::uint64_t) { verify_one(rng, accepted, sink); });
  // Sizes beyond the limit are refused before the verifier looks at them.
  std::vector<std::uint8_t> big(kMaxMessageBytes + 1);
  EXPECT_EQ(verify(big), nullptr);
  EXPECT_GT(accepted, 0u) << "no mutated message verified: the mutations are too coarse";
  RecordProperty("accepted", static_cast<int>(accepted));
  RecordProperty("checksum", static_cast<int>(sink & 0xffff));
}

// Found by VerifyMutatedMessages (seed 0x65, iteration 82116): a StatsReply
// whose histogram's [ulong] vector starts 4 bytes off an 8-byte boundary.
// The flatbuffers verifier only checks a vector's 4-byte length prefix, so
// the buffer verified, and reading the vector was a misaligned 8-byte load.
TEST(WireFuzz, MisalignedUlongVectorIsRefused) {
  std::uint64_t accepted = 0, sink = 0;
  run(Params{.seed = 0x65, .first = 82116, .iterations = 1},
      [&](Rng& rng, std::uint64_t) { verify_one(rng, accepted, sink); });
}

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

// Datagrams that break the framing rules, through a real socket pair.
TEST(WireFuzz, ReceiveMutatedDatagrams) {
  const Params p = params(0xa10d0003, 1500);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  const int big = 512 * 1024;
  ASSERT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
  const std::size_t baseline = open_fds();
  run(p, [&](Rng& rng, std::uint64_t) {
    const std::size_t size = rng.chance(1, 8) ? kMaxMessageBytes + rng.below(3) - 1 : 1 + rng.below(512);
    std::vector<std::uint8_t> bytes(size);
    rng.fill(std::as_writable_bytes(std::span(bytes)));
    const std::size_t nfds = rng.chance(1, 2) ? 0 : rng.chance(1, 4) ? 17 + rng.below(8) : 1 + rng.below(16);
    const bool creds = rng.chance(1, 8);
    const long sent = send_datagram(sv[0], bytes, nfds, creds);
    ASSERT_EQ(sent, static_cast<long>(size)) << std::strerror(static_cast<int>(-sent));
    ReceivedMessage in;
    const int r = recv_message(sv[1], in, MSG_DONTWAIT);
    if (size > kMaxMessageBytes) {
      EXPECT_EQ(r, -EMSGSIZE);
    } else if (nfds > kMaxFdsPerMessage || creds) {
      // Credentials are only delivered as such with SO_PASSCRED; without it the
      // kernel may drop them, so either the datagram is refused or it is clean.
      if (nfds > kMaxFdsPerMessage || r < 0) {
        EXPECT_EQ(r, -EPROTO);
      }
    } else {
      EXPECT_EQ(r, static_cast<int>(size));
      EXPECT_EQ(in.fds.size(), nfds);
      if (r > 0) {
        EXPECT_EQ(std::memcmp(in.bytes.data(), bytes.data(), size), 0);
      }
    }
    if (r < 0) {
      EXPECT_TRUE(in.fds.empty()) << "descriptors returned with an error";
    }
    in.fds.clear();
    EXPECT_EQ(open_fds(), baseline) << "descriptors leaked (result " << r << ", " << nfds << " sent)";
  });
  ::close(sv[0]);
  ::close(sv[1]);
}

}  // namespace
}  // namespace aiod::fuzz
