// SPDX-License-Identifier: MIT
// Unit tests of the rules both sides share: proto/shm_access.hpp (the region
// layout check), proto/unix_address.hpp (how much of an AF_UNIX address is a
// name) and daemon/os/timespec.hpp (nanoseconds and timespecs).
#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include <gtest/gtest.h>

#include "aiod_shm.h"
#include "os/layout.hpp"
#include "os/timespec.hpp"
#include "shm_access.hpp"
#include "unix_address.hpp"

namespace aiod {
namespace {

using namespace std::string_view_literals;

constexpr std::size_t kPathStart = offsetof(sockaddr_un, sun_path);
constexpr std::size_t kPathMax = sizeof(sockaddr_un::sun_path);
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

sockaddr_un unix_address(std::string_view name) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, name.data(), std::min(name.size(), kPathMax));
  return un;
}

// --- AF_UNIX path room ------------------------------------------------------------

TEST(UnixAddress, LengthsThatStopBeforeSunPathNameNothing) {
  EXPECT_EQ(proto::unix_path_room(0), 0u);
  EXPECT_EQ(proto::unix_path_room(1), 0u);  // shorter than the family itself
  EXPECT_EQ(proto::unix_path_room(kPathStart), 0u);
  const sockaddr_un un = unix_address("/run/x");
  EXPECT_EQ(proto::unix_path(un, kPathStart), ""sv);
  EXPECT_FALSE(proto::unix_is_abstract(un, kPathStart));
  EXPECT_EQ(proto::unix_abstract_name(un, 1), ""sv);
}

TEST(UnixAddress, RoomIsClampedToSunPath) {
  EXPECT_EQ(proto::unix_path_room(kPathStart + 1), 1u);
  EXPECT_EQ(proto::unix_path_room(sizeof(sockaddr_un)), kPathMax);
  EXPECT_EQ(proto::unix_path_room(sizeof(sockaddr_un) + 1), kPathMax);
  EXPECT_EQ(proto::unix_path_room(sizeof(sockaddr_storage)), kPathMax);
  EXPECT_EQ(proto::unix_path_room(std::numeric_limits<std::size_t>::max()), kPathMax);
}

TEST(UnixAddress, PathStopsAtItsNulOrTheLength) {
  const sockaddr_un un = unix_address("/run/aiod.sock");
  EXPECT_EQ(proto::unix_path(un, sizeof(un)), "/run/aiod.sock"sv);
  EXPECT_EQ(proto::unix_path(un, kPathStart + 14 + 1), "/run/aiod.sock"sv);  // with its NUL
  EXPECT_EQ(proto::unix_path(un, kPathStart + 14), "/run/aiod.sock"sv);      // without
  EXPECT_EQ(proto::unix_path(un, kPathStart + 4), "/run"sv);                 // the length wins
  EXPECT_FALSE(proto::unix_is_abstract(un, sizeof(un)));
  EXPECT_EQ(proto::unix_abstract_name(un, sizeof(un)), ""sv);
}

TEST(UnixAddress, UnterminatedPathFillingSunPathIsReadToItsEndOnly) {
  sockaddr_storage storage{};
  std::memset(&storage, 'x', sizeof(storage));  // bytes past sun_path are not a NUL either
  auto& un = reinterpret_cast<sockaddr_un&>(storage);
  un.sun_family = AF_UNIX;
  un.sun_path[0] = '/';
  const std::string_view path = proto::unix_path(un, sizeof(storage));
  EXPECT_EQ(path.size(), kPathMax);
  EXPECT_EQ(path.data(), un.sun_path);
}

TEST(UnixAddress, AbstractNamesRunToTheLengthNulsIncluded) {
  const sockaddr_un un = unix_address("\0aiod\0x"sv);
  EXPECT_TRUE(proto::unix_is_abstract(un, kPathStart + 7));
  EXPECT_EQ(proto::unix_abstract_name(un, kPathStart + 7), "aiod\0x"sv);
  EXPECT_EQ(proto::unix_abstract_name(un, kPathStart + 5), "aiod"sv);
  EXPECT_EQ(proto::unix_path(un, kPathStart + 7), ""sv);  // not a filesystem path
  // A lone NUL is an abstract address with an empty name.
  EXPECT_TRUE(proto::unix_is_abstract(un, kPathStart + 1));
  EXPECT_EQ(proto::unix_abstract_name(un, kPathStart + 1), ""sv);
  // The longest: every byte of sun_path after the NUL.
  EXPECT_EQ(proto::unix_abstract_name(un, sizeof(sockaddr_storage)).size(), kPathMax - 1);
}

// --- nanoseconds and timespecs ----------------------------------------------------

TEST(Timespec, FromNanoseconds) {
  const auto zero = daemon::timespec_from_ns<timespec>(std::uint64_t{0});
  EXPECT_EQ(zero.tv_sec, 0);
  EXPECT_EQ(zero.tv_nsec, 0);
  const auto t = daemon::timespec_from_ns<timespec>(std::uint64_t{1'500'000'001});
  EXPECT_EQ(t.tv_sec, 1);
  EXPECT_EQ(t.tv_nsec, 500'000'001);
  // The largest descriptor value still fits, with a valid tv_nsec.
  const auto max = daemon::timespec_from_ns<__kernel_timespec>(kU64Max);
  EXPECT_EQ(max.tv_sec, 18'446'744'073);
  EXPECT_EQ(max.tv_nsec, 709'551'615);
}

TEST(Timespec, NegativeDurationsAreZero) {
  using std::chrono::nanoseconds;
  const auto neg = daemon::timespec_from_ns<__kernel_timespec>(nanoseconds(-1'500'000'000));
  EXPECT_EQ(neg.tv_sec, 0);
  EXPECT_EQ(neg.tv_nsec, 0);
  const auto lowest = daemon::timespec_from_ns<__kernel_timespec>(nanoseconds::min());
  EXPECT_EQ(lowest.tv_sec, 0);
  EXPECT_EQ(lowest.tv_nsec, 0);
  const auto limit = daemon::timespec_from_ns<__kernel_timespec>(std::chrono::milliseconds(60'001));
  EXPECT_EQ(limit.tv_sec, 60);
  EXPECT_EQ(limit.tv_nsec, 1'000'000);
}

TEST(Timespec, ToNanosecondsClampsNegativeAndSaturatesHuge) {
  EXPECT_EQ(daemon::ns_from_timespec(__kernel_timespec{0, 20'000'000}), 20'000'000u);
  EXPECT_EQ(daemon::ns_from_timespec(__kernel_timespec{-1, 0}), 0u);
  EXPECT_EQ(daemon::ns_from_timespec(__kernel_timespec{5, -1}), 0u);
  EXPECT_EQ(daemon::ns_from_timespec(__kernel_timespec{std::numeric_limits<long long>::min(), 0}), 0u);
  EXPECT_EQ(daemon::ns_from_timespec(__kernel_timespec{std::numeric_limits<long long>::max(), 999'999'999}), kU64Max);
  EXPECT_EQ(daemon::ns_from_timespec(__kernel_timespec{18'446'744'074, 0}), kU64Max);
  // Every representable count survives the round trip, the largest included.
  for (const std::uint64_t ns : {std::uint64_t{0}, std::uint64_t{999'999'999}, std::uint64_t{1'000'000'000},
                                 std::uint64_t{1} << 63, kU64Max - 1, kU64Max}) {
    EXPECT_EQ(daemon::ns_from_timespec(daemon::timespec_from_ns<__kernel_timespec>(ns)), ns) << ns;
  }
}

TEST(Timespec, MonotonicClockMovesForward) {
  const std::uint64_t a = daemon::monotonic_ns();
  const std::uint64_t b = daemon::monotonic_ns();
  EXPECT_GT(a, 0u);
  EXPECT_GE(b, a);
}

// --- region layout ------------------------------------------------------------

proto::ShmLayout good_layout() {
  // One page of header, 4 descriptors, 8 completions, one page of arena.
  return {4, 8, AIOD_SHM_HEADER_SIZE, AIOD_SHM_HEADER_SIZE + 4 * AIOD_SQE_SIZE, 2 * 4096, 4096, 3 * 4096};
}

TEST(ShmLayout, EveryLayoutTheDaemonComputesPassesTheClientsCheck) {
  daemon::LayoutLimits limits;
  limits.max_sq_entries = AIOD_MAX_SQ_ENTRIES;
  for (std::uint32_t sq = 0; sq <= AIOD_MAX_SQ_ENTRIES; sq = sq == 0 ? 1 : sq * 2) {
    for (const std::uint64_t arena :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{5 * 4096 + 3}, std::uint64_t{64} << 20}) {
      const daemon::SessionLayout l = daemon::compute_layout(sq, arena, limits);
      EXPECT_EQ(proto::layout_misfit(l), nullptr) << "sq=" << sq << " arena=" << arena;
    }
  }
}

TEST(ShmLayout, MisfitsSayWhy) {
  EXPECT_EQ(proto::layout_misfit(good_layout()), nullptr);

  auto l = good_layout();
  l.sq_entries = 3;
  EXPECT_NE(proto::layout_misfit(l), nullptr);
  l = good_layout();
  l.cq_entries = 0;
  EXPECT_NE(proto::layout_misfit(l), nullptr);
  l = good_layout();
  l.total_size = AIOD_SHM_HEADER_SIZE - 1;
  EXPECT_NE(proto::layout_misfit(l), nullptr);
  l = good_layout();
  l.cq_offset = l.total_size - 8 * AIOD_CQE_SIZE + 1;  // one byte past the end
  EXPECT_NE(proto::layout_misfit(l), nullptr);
  l = good_layout();
  l.arena_size = 4096 + 1;
  EXPECT_NE(proto::layout_misfit(l), nullptr);
}

TEST(ShmLayout, OffsetsThatWrapAroundAreRefused) {
  auto l = good_layout();
  l.sq_offset = kU64Max - 4 * AIOD_SQE_SIZE + 2;  // offset + ring size wraps to a small number
  EXPECT_NE(proto::layout_misfit(l), nullptr);
  l = good_layout();
  l.arena_offset = l.total_size + 1;
  l.arena_size = kU64Max;
  EXPECT_NE(proto::layout_misfit(l), nullptr);
  l = good_layout();
  l.sq_entries = 1u << 31;  // a ring larger than any region
  l.cq_entries = 1u << 31;
  EXPECT_NE(proto::layout_misfit(l), nullptr);
}

// --- access functions -----------------------------------------------------------

TEST(ShmAccess, EachSideSeesTheOthersStores) {
  aiod_shm_header hdr{};
  proto::publish_own_index(hdr.sq_tail, 7);
  EXPECT_EQ(proto::load_peer_index(hdr.sq_tail), 7u);
  EXPECT_EQ(proto::load_own(hdr.sq_tail), 7u);
  proto::store_own_flags(hdr.client_flags, AIOD_CLIENT_NEED_WAKEUP);
  proto::store_load_fence();
  EXPECT_EQ(proto::load_peer_flags(hdr.client_flags), AIOD_CLIENT_NEED_WAKEUP);
  proto::cpu_pause();  // a hint only: must compile and return on every target
}

}  // namespace
}  // namespace aiod
