// SPDX-License-Identifier: MIT
// Unit tests of daemon/session_rings: the daemon's half of the shared rings,
// driven over an ordinary zeroed, page-aligned mapping laid out by
// compute_layout(), with the test playing the (possibly hostile) client.
//
// What must hold: free-running 32-bit indices wrap correctly; a client tail
// more than a ring ahead of, or behind, the daemon's head is reported as
// corruption; the daemon trusts its private copies, never what the client
// scribbles over the daemon-written fields; completions become visible only on
// publish, and the client's head may only move forward up to what was published.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include <gtest/gtest.h>

#include "aiod_shm.h"
#include "os/layout.hpp"
#include "session/session_rings.hpp"

namespace aiod::daemon {
namespace {

// A zeroed, page-aligned region standing in for the session's memfd mapping,
// with the client's view of it.
class Region {
 public:
  explicit Region(std::uint32_t sq_entries) {
    LayoutLimits limits;
    limits.max_sq_entries = AIOD_MAX_SQ_ENTRIES;
    limits.max_arena_bytes = 4096;
    layout_ = compute_layout(sq_entries, 4096, limits);
    void* p = ::mmap(nullptr, layout_.total_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    base_ = static_cast<std::byte*>(p);
    rings.attach(base_, layout_);
  }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  ~Region() { ::munmap(base_, layout_.total_size); }

  [[nodiscard]] const SessionLayout& layout() const { return layout_; }
  [[nodiscard]] aiod_shm_header& hdr() const { return *reinterpret_cast<aiod_shm_header*>(base_); }
  [[nodiscard]] aiod_sqe& sqe_slot(std::uint32_t index) const {
    return reinterpret_cast<aiod_sqe*>(base_ + layout_.sq_offset)[index & (layout_.sq_entries - 1)];
  }
  [[nodiscard]] const aiod_cqe& cqe_slot(std::uint32_t index) const {
    return reinterpret_cast<const aiod_cqe*>(base_ + layout_.cq_offset)[index & (layout_.cq_entries - 1)];
  }

  // Client: writes a descriptor at free-running index `index`, marked by user_data.
  void client_write(std::uint32_t index, std::uint64_t user_data) const {
    aiod_sqe s{};
    s.opcode = AIOD_OP_NOP;
    s.user_data = user_data;
    s.off = ~user_data;
    sqe_slot(index) = s;
  }

  SessionRings rings;

 private:
  SessionLayout layout_;
  std::byte* base_ = nullptr;
};

// Moves the daemon's head (and the client's tail) to `target` the way a
// well-behaved client and the daemon would: publish a full ring, consume it.
void walk_sq_to(Region& r, std::uint32_t& head, std::uint32_t target) {
  const std::uint32_t n = r.rings.sq_entries();
  while (head != target) {
    const std::uint32_t step = (target - head) < n ? (target - head) : n;
    r.hdr().sq_tail = head + step;
    const std::optional<std::uint32_t> pending = r.rings.pending_submissions();
    ASSERT_TRUE(pending.has_value()) << "head " << head;
    ASSERT_EQ(*pending, step);
    r.rings.consume(step);
    head += step;
  }
  ASSERT_EQ(r.hdr().sq_head, target);
}

TEST(SessionRings, AttachWritesTheDescriptionBlock) {
  Region r(8);
  const aiod_shm_header& h = r.hdr();
  EXPECT_EQ(h.magic, AIOD_SHM_MAGIC);
  EXPECT_EQ(h.version, AIOD_PROTOCOL_VERSION);
  EXPECT_EQ(h.sq_entries, 8u);
  EXPECT_EQ(h.cq_entries, 16u);
  EXPECT_EQ(h.sq_offset, r.layout().sq_offset);
  EXPECT_EQ(h.cq_offset, r.layout().cq_offset);
  EXPECT_EQ(h.arena_offset, r.layout().arena_offset);
  EXPECT_EQ(h.arena_size, r.layout().arena_size);
  EXPECT_EQ(h.total_size, r.layout().total_size);
  EXPECT_EQ(h.sq_head, 0u);
  EXPECT_EQ(h.cq_tail, 0u);
  EXPECT_EQ(h.daemon_flags, 0u);
  EXPECT_EQ(r.rings.sq_entries(), 8u);
  EXPECT_EQ(r.rings.cq_entries(), 16u);
}

TEST(SessionRings, NothingPendingOnAFreshRing) {
  Region r(8);
  ASSERT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(0));
  EXPECT_EQ(r.rings.cq_used(), 0u);
  EXPECT_FALSE(r.rings.has_unpublished());
}

TEST(SessionRings, PublishedDescriptorsArePendingAndCopiedInOrder) {
  Region r(8);
  for (std::uint32_t i = 0; i < 3; ++i) r.client_write(i, 100 + i);
  r.hdr().sq_tail = 3;
  ASSERT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(3));
  for (std::uint32_t i = 0; i < 3; ++i) {
    aiod_sqe out{};
    r.rings.copy_submission(i, out);
    EXPECT_EQ(out.user_data, 100u + i);
    EXPECT_EQ(out.off, ~std::uint64_t{100u + i});
  }
}

TEST(SessionRings, ConsumePublishesTheHeadAndShrinksWhatIsPending) {
  Region r(8);
  for (std::uint32_t i = 0; i < 5; ++i) r.client_write(i, i);
  r.hdr().sq_tail = 5;
  r.rings.consume(2);
  EXPECT_EQ(r.hdr().sq_head, 2u);
  ASSERT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(3));
  aiod_sqe out{};
  r.rings.copy_submission(0, out);
  EXPECT_EQ(out.user_data, 2u) << "copy_submission(0) is not the first unconsumed descriptor";
  r.rings.consume(3);
  EXPECT_EQ(r.hdr().sq_head, 5u);
  ASSERT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(0));
}

TEST(SessionRings, CopiesTheSlotAtTheMaskedIndexAcrossTheRingsEnd) {
  Region r(8);
  std::uint32_t head = 0;
  walk_sq_to(r, head, 6);
  for (std::uint32_t i = 6; i < 11; ++i) r.client_write(i, 1000 + i);  // slots 6, 7, 0, 1, 2
  r.hdr().sq_tail = 11;
  ASSERT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(5));
  for (std::uint32_t i = 0; i < 5; ++i) {
    aiod_sqe out{};
    r.rings.copy_submission(i, out);
    EXPECT_EQ(out.user_data, 1006u + i) << "i=" << i;
  }
}

TEST(SessionRings, ACopyIsPrivate) {
  Region r(8);
  r.client_write(0, 7);
  r.hdr().sq_tail = 1;
  aiod_sqe out{};
  r.rings.copy_submission(0, out);
  r.client_write(0, 8);  // the client rewrites the slot after the copy
  EXPECT_EQ(out.user_data, 7u);
}

TEST(SessionRings, TailMoreThanARingAheadIsCorrupt) {
  Region r(8);
  std::uint32_t head = 0;
  walk_sq_to(r, head, 3);
  r.hdr().sq_tail = head + 8;
  EXPECT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(8)) << "a full ring is legal";
  for (std::uint32_t ahead : {9u, 16u, 1000u, 0x7fffffffu, 0x80000000u}) {
    r.hdr().sq_tail = head + ahead;
    EXPECT_EQ(r.rings.pending_submissions(), std::nullopt) << "tail " << ahead << " ahead";
  }
}

TEST(SessionRings, TailBehindTheHeadIsCorrupt) {
  Region r(8);
  std::uint32_t head = 0;
  walk_sq_to(r, head, 5);
  for (std::uint32_t behind : {1u, 2u, 5u, 8u}) {
    r.hdr().sq_tail = head - behind;
    EXPECT_EQ(r.rings.pending_submissions(), std::nullopt) << "tail " << behind << " behind";
  }
  r.hdr().sq_tail = head;
  EXPECT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(0));
}

TEST(SessionRings, TheDaemonsHeadIsPrivateWhateverTheClientWritesOverIt) {
  Region r(8);
  std::uint32_t head = 0;
  walk_sq_to(r, head, 4);
  r.hdr().sq_head = 0;  // hostile: pretend nothing was consumed
  r.hdr().sq_tail = 6;
  EXPECT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(2));
  r.hdr().sq_tail = 4 + 9;  // 9 past the real head, 13 past the forged one
  EXPECT_EQ(r.rings.pending_submissions(), std::nullopt);
}

TEST(SessionRings, FreeRunningIndicesWrapAroundTwoToTheThirtyTwo) {
  // The largest ring keeps the walk to 2^32 short.
  Region r(AIOD_MAX_SQ_ENTRIES);
  ASSERT_EQ(r.rings.sq_entries(), AIOD_MAX_SQ_ENTRIES);
  std::uint32_t head = 0;
  walk_sq_to(r, head, 0xfffffff0u);
  if (HasFatalFailure()) return;

  // 32 descriptors straddling the wrap: indices 0xfffffff0 .. 0x0000000f.
  for (std::uint32_t i = 0; i < 32; ++i) r.client_write(head + i, 5000 + i);
  r.hdr().sq_tail = head + 32;  // == 0x10
  ASSERT_EQ(r.hdr().sq_tail, 0x10u);
  ASSERT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(32));
  for (std::uint32_t i = 0; i < 32; ++i) {
    aiod_sqe out{};
    r.rings.copy_submission(i, out);
    EXPECT_EQ(out.user_data, 5000u + i) << "i=" << i;
  }

  // Corruption is still recognised at the wrap.
  r.hdr().sq_tail = head - 1;
  EXPECT_EQ(r.rings.pending_submissions(), std::nullopt);
  r.hdr().sq_tail = head + AIOD_MAX_SQ_ENTRIES + 1;
  EXPECT_EQ(r.rings.pending_submissions(), std::nullopt);
  r.hdr().sq_tail = head + AIOD_MAX_SQ_ENTRIES;
  EXPECT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(AIOD_MAX_SQ_ENTRIES));

  r.hdr().sq_tail = head + 32;
  r.rings.consume(20);
  EXPECT_EQ(r.hdr().sq_head, 0x4u);
  ASSERT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(12));
  aiod_sqe out{};
  r.rings.copy_submission(0, out);
  EXPECT_EQ(out.user_data, 5020u);
  r.rings.consume(12);
  EXPECT_EQ(r.hdr().sq_head, 0x10u);
  EXPECT_EQ(r.rings.pending_submissions(), std::optional<std::uint32_t>(0));
}

TEST(SessionRings, PostedCompletionsAreInvisibleUntilPublished) {
  Region r(8);
  r.rings.post(11, 0);
  r.rings.post(22, -5, 3);
  EXPECT_TRUE(r.rings.has_unpublished());
  EXPECT_EQ(r.hdr().cq_tail, 0u) << "tail moved before publish";
  EXPECT_EQ(r.rings.cq_used(), 2u);

  (void)r.rings.publish();
  EXPECT_FALSE(r.rings.has_unpublished());
  EXPECT_EQ(r.hdr().cq_tail, 2u);
  EXPECT_EQ(r.cqe_slot(0).user_data, 11u);
  EXPECT_EQ(r.cqe_slot(0).res, 0);
  EXPECT_EQ(r.cqe_slot(0).flags, 0u);
  EXPECT_EQ(r.cqe_slot(1).user_data, 22u);
  EXPECT_EQ(r.cqe_slot(1).res, -5);
  EXPECT_EQ(r.cqe_slot(1).flags, 3u);
}

TEST(SessionRings, PublishWithNothingNewChangesNothing) {
  Region r(8);
  r.hdr().client_flags = AIOD_CLIENT_NEED_WAKEUP;
  EXPECT_FALSE(r.rings.publish());
  EXPECT_EQ(r.hdr().cq_tail, 0u);
}

TEST(SessionRings, PublishAsksForAWakeupExactlyWhenTheClientSaidSo) {
  Region r(8);
  r.hdr().client_flags = 0;
  r.rings.post(1, 0);
  EXPECT_FALSE(r.rings.publish());

  r.hdr().client_flags = AIOD_CLIENT_NEED_WAKEUP;
  r.rings.post(2, 0);
  EXPECT_TRUE(r.rings.publish());

  r.hdr().client_flags = ~AIOD_CLIENT_NEED_WAKEUP;  // every other bit
  r.rings.post(3, 0);
  EXPECT_FALSE(r.rings.publish());

  r.hdr().client_flags = 0xffffffffu;
  r.rings.post(4, 0);
  EXPECT_TRUE(r.rings.publish());
  EXPECT_EQ(r.hdr().cq_tail, 4u);
}

TEST(SessionRings, CompletionHeadMayMoveForwardUpToThePublishedTail) {
  Region r(8);
  for (std::uint64_t i = 0; i < 5; ++i) r.rings.post(i, 0);
  (void)r.rings.publish();
  r.hdr().cq_head = 0;
  EXPECT_TRUE(r.rings.refresh_cq_head());
  EXPECT_EQ(r.rings.cq_used(), 5u);
  r.hdr().cq_head = 2;
  EXPECT_TRUE(r.rings.refresh_cq_head());
  EXPECT_EQ(r.rings.cq_used(), 3u);
  r.hdr().cq_head = 5;
  EXPECT_TRUE(r.rings.refresh_cq_head());
  EXPECT_EQ(r.rings.cq_used(), 0u);
}

TEST(SessionRings, CompletionHeadPastThePublishedTailIsCorrupt) {
  Region r(8);
  for (std::uint64_t i = 0; i < 3; ++i) r.rings.post(i, 0);
  (void)r.rings.publish();
  r.rings.post(3, 0);  // posted, not published: the client cannot have seen it
  for (std::uint32_t head : {4u, 5u, 16u, 0x80000000u, 0xffffffffu}) {
    r.hdr().cq_head = head;
    EXPECT_FALSE(r.rings.refresh_cq_head()) << head;
    EXPECT_EQ(r.rings.cq_used(), 4u) << "a rejected head was believed";
  }
  r.hdr().cq_head = 3;
  EXPECT_TRUE(r.rings.refresh_cq_head());
  EXPECT_EQ(r.rings.cq_used(), 1u);
}

TEST(SessionRings, CompletionHeadMovingBackwardsIsCorrupt) {
  Region r(8);
  for (std::uint64_t i = 0; i < 6; ++i) r.rings.post(i, 0);
  (void)r.rings.publish();
  r.hdr().cq_head = 4;
  ASSERT_TRUE(r.rings.refresh_cq_head());
  for (std::uint32_t head : {3u, 0u, 0xfffffffcu}) {
    r.hdr().cq_head = head;
    EXPECT_FALSE(r.rings.refresh_cq_head()) << head;
    EXPECT_EQ(r.rings.cq_used(), 2u);
  }
  r.hdr().cq_head = 4;
  EXPECT_TRUE(r.rings.refresh_cq_head()) << "standing still is fine";
}

TEST(SessionRings, CompletionsGoToTheMaskedSlotRoundAfterRound) {
  Region r(8);  // 16 completion slots
  std::uint32_t posted = 0;
  for (int round = 0; round < 40; ++round) {
    const std::uint32_t batch = 1 + static_cast<std::uint32_t>(round % 7);
    for (std::uint32_t i = 0; i < batch; ++i) {
      ASSERT_LT(r.rings.cq_used(), r.rings.cq_entries());
      r.rings.post(posted + i, static_cast<std::int32_t>(posted + i));
    }
    (void)r.rings.publish();
    ASSERT_EQ(r.hdr().cq_tail, posted + batch);
    for (std::uint32_t i = 0; i < batch; ++i) {
      EXPECT_EQ(r.cqe_slot(posted + i).user_data, posted + i);
      EXPECT_EQ(r.cqe_slot(posted + i).res, static_cast<std::int32_t>(posted + i));
    }
    posted += batch;
    r.hdr().cq_head = posted;  // the client reaps everything
    ASSERT_TRUE(r.rings.refresh_cq_head());
    ASSERT_EQ(r.rings.cq_used(), 0u);
  }
}

TEST(SessionRings, TheDaemonsTailIsPrivateWhateverTheClientWritesOverIt) {
  Region r(8);
  r.rings.post(1, 0);
  (void)r.rings.publish();
  r.hdr().cq_tail = 999;  // hostile
  r.rings.post(2, 0);
  (void)r.rings.publish();
  EXPECT_EQ(r.hdr().cq_tail, 2u);
  EXPECT_EQ(r.cqe_slot(1).user_data, 2u);
  r.hdr().cq_head = 500;  // "consumed" up to the forged tail
  EXPECT_FALSE(r.rings.refresh_cq_head());
}

TEST(SessionRings, NeedWakeupFlagIsWrittenForTheClient) {
  Region r(8);
  r.rings.set_need_wakeup(true);
  EXPECT_EQ(r.hdr().daemon_flags, AIOD_DAEMON_NEED_WAKEUP);
  r.rings.set_need_wakeup(false);
  EXPECT_EQ(r.hdr().daemon_flags, 0u);
  r.rings.set_need_wakeup(true);
  r.rings.set_stopping();
  EXPECT_EQ(r.hdr().daemon_flags, AIOD_DAEMON_NEED_WAKEUP | AIOD_DAEMON_STOPPING);
  r.rings.set_need_wakeup(false);
  EXPECT_EQ(r.hdr().daemon_flags, AIOD_DAEMON_STOPPING) << "clearing need-wakeup lost the stopping bit";
}

TEST(SessionRings, DaemonFlagsComeFromThePrivateCopy) {
  Region r(8);
  r.rings.set_need_wakeup(true);
  r.hdr().daemon_flags = 0xffffffffu;  // hostile
  r.rings.set_need_wakeup(false);
  EXPECT_EQ(r.hdr().daemon_flags, 0u);
}

}  // namespace
}  // namespace aiod::daemon
