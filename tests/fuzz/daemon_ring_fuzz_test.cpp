// SPDX-License-Identifier: MIT
// Fuzzes a real daemon with hostile ring indices: each iteration a new
// session stores into its shared header what no well-behaved client would —
// a submission tail more than a ring ahead or moving backwards, a completion
// head past what was published or moving backwards, garbage over the fields
// only the daemon writes — or leaves while ops wait and a chain is open. A
// well-behaved client does IO beside it all along.
//
// Asserts: corrupt indices disconnect that session (bounded wait) and nobody
// else; values that are odd but legal (a full ring, a ring-long open chain,
// scribbled daemon-owned fields) get exactly one completion per descriptor
// and no disconnect; a session that vanishes with ops in flight leaves
// nothing behind — sessions and descriptors return to the baseline, and the
// daemon answers ping and stats.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include "fuzz_support.hpp"
#include "live_fixture.hpp"
#include "ring_client.hpp"

namespace aiod::fuzz {
namespace {

constexpr auto kDisconnectTimeout = std::chrono::seconds(5);

// Waits for completions of exactly `uds`; false (with a failure) otherwise.
bool expect_completions(RingClient& c, std::set<std::uint64_t> uds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!uds.empty() && std::chrono::steady_clock::now() < deadline) {
    for (const aiod_cqe& e : c.reap()) {
      EXPECT_EQ(uds.erase(e.user_data), 1u) << "completion for user_data " << e.user_data << ": unknown or twice";
    }
    if (!uds.empty()) c.wait_for_completions(deadline);
  }
  EXPECT_TRUE(uds.empty()) << uds.size() << " descriptors without a completion (first " << *uds.begin() << ")";
  return uds.empty();
}

std::set<std::uint64_t> submit_nops(RingClient& c, std::uint32_t n, std::uint64_t& ud, std::uint8_t last_flags = 0) {
  std::vector<aiod_sqe> v(n, aiod_sqe{.opcode = AIOD_OP_NOP});
  std::set<std::uint64_t> uds;
  for (std::uint32_t i = 0; i < n; ++i) {
    v[i].user_data = ud++;
    v[i].flags = last_flags;
    uds.insert(v[i].user_data);
  }
  c.submit(v);
  return uds;
}

class RingFuzz : public LiveFuzz {};

TEST_F(RingFuzz, HostileIndicesAndVanishingSessions) {
  start_honest_client();
  ASSERT_FALSE(HasFailure());
  const Params p = params(0xa10d0020, 600);
  const auto stop_at = budget(std::chrono::seconds(10));
  int disconnects = 0, survivors = 0, sessions = 0;
  const std::uint64_t iterations = run(p, [&](Rng& rng, std::uint64_t) {
    if (std::chrono::steady_clock::now() > stop_at) return;
    std::string err;
    const auto entries = static_cast<std::uint32_t>(1u << rng.below(5));
    auto c = RingClient::connect(daemon_.socket_path(), {.sq_entries = entries, .arena_bytes = 4096, .directory = dir_},
                                 err);
    ASSERT_TRUE(c) << err;
    const std::uint32_t n = c->sq_entries();
    std::uint64_t ud = 1;
    // Some completed work first, so that indices are not all zero.
    const std::uint32_t warm = static_cast<std::uint32_t>(rng.below(n + 1));
    if (warm > 0 && !expect_completions(*c, submit_nops(*c, warm, ud))) return;
    const std::uint32_t tail = c->sq_tail();
    ++sessions;
    switch (rng.below(9)) {
      case 0: {  // submission tail more than a ring ahead
        c->store_sq_tail(tail + n + 1 + static_cast<std::uint32_t>(rng.below(rng.chance(1, 2) ? 4 : 1u << 31)));
        EXPECT_TRUE(c->disconnected(kDisconnectTimeout)) << "tail past the ring accepted";
        ++disconnects;
        break;
      }
      case 1: {  // submission tail moving backwards
        c->store_sq_tail(tail - 1 - static_cast<std::uint32_t>(rng.below(n)));
        EXPECT_TRUE(c->disconnected(kDisconnectTimeout)) << "tail moving backwards accepted";
        ++disconnects;
        break;
      }
      case 2: {  // completion head past the published tail, or before any valid head
        const std::uint32_t head = rng.chance(1, 2) ? warm + 1 + static_cast<std::uint32_t>(rng.below(1000))
                                                    : 0xffffffffu - static_cast<std::uint32_t>(rng.below(1000));
        c->store_cq_head(head);
        (void)submit_nops(*c, 1, ud);  // something for the daemon to complete
        EXPECT_TRUE(c->disconnected(kDisconnectTimeout)) << "cq_head " << head << " accepted";
        ++disconnects;
        break;
      }
      case 3: {  // an exactly full ring, twice over
        for (int round = 0; round < 2 && !::testing::Test::HasFailure(); ++round) {
          expect_completions(*c, submit_nops(*c, n, ud));
        }
        EXPECT_FALSE(c->disconnected(std::chrono::milliseconds(0)));
        ++survivors;
        break;
      }
      case 4: {  // a chain as long as the ring, its last descriptor still linked
        expect_completions(*c, submit_nops(*c, n, ud, rng.chance(1, 2) ? AIOD_SQE_LINK : AIOD_SQE_HARDLINK));
        EXPECT_FALSE(c->disconnected(std::chrono::milliseconds(0)));
        ++survivors;
        break;
      }
      case 5: {  // garbage over everything only the daemon writes (cq_tail aside:
                 // this client reads it) and over the client's own flag word
        aiod_shm_header* h = c->header();
        h->sq_head = static_cast<std::uint32_t>(rng.next());
        h->daemon_flags = static_cast<std::uint32_t>(rng.next());
        h->daemon_cpu = static_cast<std::uint32_t>(rng.next());
        h->client_flags = static_cast<std::uint32_t>(rng.next());
        h->magic = h->version = h->sq_entries = h->cq_entries = static_cast<std::uint32_t>(rng.next());
        h->sq_offset = h->cq_offset = h->arena_offset = h->arena_size = h->total_size = rng.next();
        rng.fill(std::as_writable_bytes(std::span(h->pad1)));
        expect_completions(*c, submit_nops(*c, 1 + static_cast<std::uint32_t>(rng.below(n)), ud));
        EXPECT_FALSE(c->disconnected(std::chrono::milliseconds(0)));
        ++survivors;
        break;
      }
      case 6: {  // an open chain, rewritten in place while the daemon waits for its
                 // end (it re-copies it), then ended: one completion per descriptor
        const std::uint32_t k = n > 1 ? 1 + static_cast<std::uint32_t>(rng.below(n - 1)) : 0;
        if (k == 0) break;
        std::set<std::uint64_t> uds = submit_nops(*c, k, ud, AIOD_SQE_LINK);
        aiod_sqe* sq = reinterpret_cast<aiod_sqe*>(reinterpret_cast<std::byte*>(c->header()) + AIOD_SHM_HEADER_SIZE);
        for (std::uint32_t i = 0; i < k; ++i) {
          aiod_sqe& slot = sq[(tail + i) & (n - 1)];
          slot.flags = static_cast<std::uint8_t>(rng.below(4));
          if (rng.chance(1, 4)) slot.opcode = static_cast<std::uint8_t>(rng.next());
        }
        const auto last = submit_nops(*c, 1, ud);
        uds.insert(last.begin(), last.end());
        expect_completions(*c, uds);
        EXPECT_FALSE(c->disconnected(std::chrono::milliseconds(0)));
        ++survivors;
        break;
      }
      case 7: {  // a client that never reaps: the daemon must stop at a full CQ
        std::set<std::uint64_t> uds;
        const std::uint32_t cqn = c->cq_entries();
        for (std::uint32_t round = 0; round < 3; ++round) {
          const auto more = submit_nops(*c, n, ud);
          uds.insert(more.begin(), more.end());
          // Wait (bounded) for the daemon to fill what it may.
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
          const std::uint32_t want = std::min((round + 1) * n, cqn);
          std::uint32_t posted = 0;
          while ((posted = std::atomic_ref<std::uint32_t>(c->header()->cq_tail).load()) - warm < want &&
                 std::chrono::steady_clock::now() < deadline) {
            c->ring_doorbell();
            std::this_thread::yield();
          }
          ASSERT_LE(posted - warm, cqn) << "the completion ring overflowed";
          ASSERT_EQ(posted - warm, want) << "completions missing while the CQ had room";
          if (round < 2 && c->sq_room() < n) break;
        }
        expect_completions(*c, uds);
        ++survivors;
        break;
      }
      default: {  // leaves with ops that wait and an open chain
        int pfd[2];
        ASSERT_EQ(::pipe2(pfd, O_CLOEXEC), 0);
        const int fds[] = {pfd[0]};
        const auto h = c->register_fds(fds);
        ::close(pfd[0]);
        ::close(pfd[1]);
        ASSERT_TRUE(h);
        std::vector<aiod_sqe> v;
        for (std::uint32_t i = 0; i < n; ++i) {
          switch (rng.below(4)) {
            case 0:
              v.push_back(aiod_sqe{.opcode = AIOD_OP_POLL, .handle = (*h)[0], .op_flags = 1});
              break;
            case 1:
              v.push_back(aiod_sqe{.opcode = AIOD_OP_TIMEOUT, .off = 10'000'000'000ull});
              break;
            case 2:
              v.push_back(aiod_sqe{
                  .opcode = AIOD_OP_READ, .handle = (*h)[0], .off = AIOD_OFFSET_CURRENT, .addr = 0, .len = 16});
              break;
            default:
              v.push_back(aiod_sqe{.opcode = AIOD_OP_NOP});
              break;
          }
          v.back().flags = static_cast<std::uint8_t>(rng.below(3));
          v.back().user_data = ud++;
        }
        c->submit(v);
        ++survivors;
        break;
      }
    }
  });
  (void)iterations;
  std::cout << "ring fuzz: " << sessions << " sessions, " << disconnects << " disconnected for corruption, "
            << survivors << " legal\n";
  RecordProperty("sessions", sessions);
  expect_back_to_baseline();
  stop_honest_client();
}

}  // namespace
}  // namespace aiod::fuzz
