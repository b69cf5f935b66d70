// SPDX-License-Identifier: MIT
// Per-uid shares: a uid never holds more than its limit, what it gives back
// can be taken again, and uids do not share their counts.
#include <gtest/gtest.h>

#include "prepare/uid_shares.hpp"

namespace aiod::daemon {
namespace {

TEST(UidShares, AUidNeverHoldsMoreThanItsLimit) {
  UidShares shares;
  EXPECT_TRUE(shares.try_take(1000, Shared::handles, 3, 4));
  EXPECT_FALSE(shares.try_take(1000, Shared::handles, 2, 4)) << "3 + 2 > 4";
  EXPECT_TRUE(shares.try_take(1000, Shared::handles, 1, 4));
  EXPECT_FALSE(shares.try_take(1000, Shared::handles, 1, 4));
  EXPECT_TRUE(shares.try_take(1001, Shared::handles, 4, 4)) << "another uid has a share of its own";
  EXPECT_TRUE(shares.try_take(1000, Shared::sessions, 1, 1)) << "another resource has a count of its own";
  EXPECT_FALSE(shares.try_take(1000, Shared::memory, ~std::uint64_t{0}, 10)) << "an amount beyond the limit";
  EXPECT_EQ(shares.held(1000, Shared::handles), 4u);
}

TEST(UidShares, WhatIsGivenBackCanBeTakenAgain) {
  UidShares shares;
  {
    const UidShare held(&shares, 7, Shared::memory, 100);
    ASSERT_TRUE(shares.try_take(7, Shared::memory, 100, 200));
    EXPECT_EQ(shares.held(7, Shared::memory), 100u) << "a UidShare gives back; it does not take";
    shares.give_back(7, Shared::memory, 100);
  }
  EXPECT_EQ(shares.held(7, Shared::memory), 0u);
  shares.give_back(7, Shared::memory, 5);  // more than held: clamped, never wraps
  EXPECT_EQ(shares.held(7, Shared::memory), 0u);
  EXPECT_TRUE(shares.try_take(7, Shared::memory, 200, 200));
}

}  // namespace
}  // namespace aiod::daemon
