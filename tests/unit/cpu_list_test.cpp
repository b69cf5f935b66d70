// SPDX-License-Identifier: MIT
// CPU lists (aiod --shard-cpus) parse as taskset -c writes them, and nothing else does.
#include "os/cpu_list.hpp"

#include <gtest/gtest.h>

namespace aiod::daemon {
namespace {

using Cpus = std::vector<unsigned>;

TEST(CpuList, SingleCpusRangesAndMixesInTheOrderWritten) {
  EXPECT_EQ(parse_cpu_list("1"), Cpus{1});
  EXPECT_EQ(parse_cpu_list("2-4"), (Cpus{2, 3, 4}));
  EXPECT_EQ(parse_cpu_list("6,0-1,3"), (Cpus{6, 0, 1, 3}));
  EXPECT_EQ(parse_cpu_list("4095"), Cpus{4095});
}

TEST(CpuList, RepeatsAreTakenOnce) { EXPECT_EQ(parse_cpu_list("1,0-2,1"), (Cpus{1, 0, 2})); }

TEST(CpuList, AnythingElseIsRefused) {
  for (const char* bad : {"", ",", "1,", ",1", "a", "1-", "-1", "3-1", "1 2", " 1", "4096", "0-4096", "1--2", "+1",
                          "0x1", "99999999999999999999"}) {
    EXPECT_FALSE(parse_cpu_list(bad).has_value()) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace aiod::daemon
