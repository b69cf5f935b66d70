// SPDX-License-Identifier: MIT
// Fuzzes the daemon's side of the rings in process (daemon/session_rings.*):
// a hostile client stores arbitrary values into the indices it owns (sq_tail,
// cq_head, client_flags) and scribbles over the ones it does not (sq_head,
// cq_tail, daemon_flags, the description block), between the daemon's
// consume, post and publish steps.
//
// Asserts, against a model of what a correct daemon believes: a submission
// tail more than a ring ahead (or behind) is reported as corruption, anything
// else yields exactly tail - head pending descriptors and copies read only
// inside the ring (the region is sized exactly; ASan); a completion head
// outside [last valid head, published tail] is refused and changes nothing;
// the daemon's own indices are never read back from shared memory.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz_support.hpp"
#include "os/layout.hpp"
#include "session/session_rings.hpp"

namespace aiod::fuzz {
namespace {

std::uint32_t index_near(Rng& rng, std::uint32_t base, std::uint32_t entries) {
  switch (rng.below(6)) {
    case 0:
      return base + static_cast<std::uint32_t>(rng.below(entries + 1));  // valid
    case 1:
      return base + entries;  // exactly full
    case 2:
      return base + entries + 1 + static_cast<std::uint32_t>(rng.below(4));
    case 3:
      return base - 1 - static_cast<std::uint32_t>(rng.below(4));  // backwards
    case 4:
      return base + boundary32(rng, entries);
    default:
      return static_cast<std::uint32_t>(rng.next());
  }
}

TEST(RingsFuzz, HostileIndicesAgainstAModel) {
  const Params p = params(0xa10d0004, 10000);
  run(p, [&](Rng& rng, std::uint64_t) {
    daemon::SessionLayout layout;
    layout.sq_entries = 1u << rng.below(8);
    layout.cq_entries = layout.sq_entries * AIOD_CQ_PER_SQ;
    layout.sq_offset = AIOD_SHM_HEADER_SIZE;
    layout.cq_offset = layout.sq_offset + layout.sq_entries * sizeof(aiod_sqe);
    layout.arena_offset = layout.cq_offset + layout.cq_entries * sizeof(aiod_cqe);
    layout.arena_size = 0;
    layout.total_size = layout.arena_offset;
    // Exactly the rings, nothing after them: a copy past the ring is caught.
    std::vector<std::byte> region(layout.total_size);
    auto* hdr = reinterpret_cast<aiod_shm_header*>(region.data());
    auto* sq = reinterpret_cast<aiod_sqe*>(region.data() + layout.sq_offset);
    daemon::SessionRings rings;
    rings.attach(region.data(), layout);
    const std::uint32_t sqn = layout.sq_entries, cqn = layout.cq_entries;

    // The model: what the daemon must believe.
    std::uint32_t sq_head = 0, cq_tail = 0, cq_published = 0, cq_head = 0;
    for (int step = 0; step < 64; ++step) {
      switch (rng.below(6)) {
        case 0: {  // the client publishes some tail; the daemon looks and consumes
          const std::uint32_t tail = index_near(rng, sq_head, sqn);
          for (std::uint32_t i = sq_head; i != tail && i - sq_head < sqn; ++i) {
            sq[i & (sqn - 1)] = aiod_sqe{.opcode = static_cast<std::uint8_t>(i), .user_data = i};
          }
          hdr->sq_tail = tail;
          const auto pending = rings.pending_submissions();
          if (tail - sq_head > sqn) {
            EXPECT_FALSE(pending.has_value()) << "tail " << tail << " head " << sq_head << " accepted";
            break;
          }
          ASSERT_TRUE(pending.has_value()) << "tail " << tail << " head " << sq_head << " refused";
          EXPECT_EQ(*pending, tail - sq_head);
          const std::uint32_t take = static_cast<std::uint32_t>(rng.below(*pending + 1));
          for (std::uint32_t i = 0; i < take; ++i) {
            aiod_sqe copy;
            rings.copy_submission(i, copy);
            EXPECT_EQ(copy.user_data, sq_head + i) << "copied the wrong slot";
          }
          rings.consume(take);
          sq_head += take;
          EXPECT_EQ(hdr->sq_head, sq_head);
          break;
        }
        case 1: {  // the daemon posts what fits, and publishes
          const std::uint32_t room = cqn - (cq_tail - cq_head);
          EXPECT_EQ(rings.cq_used(), cq_tail - cq_head);
          const std::uint32_t n = static_cast<std::uint32_t>(rng.below(room + 1));
          for (std::uint32_t i = 0; i < n; ++i) rings.post(cq_tail + i, 0);
          cq_tail += n;
          hdr->client_flags = static_cast<std::uint32_t>(rng.next());
          const bool wake = rings.publish();
          if (n > 0) {
            cq_published = cq_tail;
            EXPECT_EQ(wake, (hdr->client_flags & AIOD_CLIENT_NEED_WAKEUP) != 0);
            // Stored from the private copy, whatever the client scribbled there.
            EXPECT_EQ(hdr->cq_tail, cq_published);
          }
          break;
        }
        case 2: {  // the client moves its completion head anywhere
          const std::uint32_t head = index_near(rng, cq_head, cq_published - cq_head);
          hdr->cq_head = head;
          const bool ok = rings.refresh_cq_head();
          const bool valid = head - cq_head <= cq_published - cq_head;
          EXPECT_EQ(ok, valid) << "cq_head " << head << " last valid " << cq_head << " published " << cq_published;
          if (ok) cq_head = head;
          EXPECT_EQ(rings.cq_used(), cq_tail - cq_head);
          break;
        }
        case 3:  // scribbles over what the daemon writes: it must not believe them
          hdr->sq_head = static_cast<std::uint32_t>(rng.next());
          hdr->cq_tail = static_cast<std::uint32_t>(rng.next());
          hdr->daemon_flags = static_cast<std::uint32_t>(rng.next());
          hdr->sq_entries = static_cast<std::uint32_t>(rng.next());
          hdr->cq_entries = static_cast<std::uint32_t>(rng.next());
          break;
        case 4:  // the flag words, toggled
          rings.set_need_wakeup(rng.chance(1, 2));
          rings.set_daemon_cpu(static_cast<std::uint32_t>(rng.below(8)));
          break;
        default:  // a well-behaved client consumes everything
          hdr->cq_head = cq_published;
          EXPECT_TRUE(rings.refresh_cq_head());
          cq_head = cq_published;
          break;
      }
      if (::testing::Test::HasFailure()) {
        ADD_FAILURE() << "step " << step << ", sq_entries " << sqn;
        return;
      }
    }
  });
}

}  // namespace
}  // namespace aiod::fuzz
