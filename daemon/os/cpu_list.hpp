// SPDX-License-Identifier: MIT
// cpu_list.hpp — CPU lists as Linux writes them ("0-3,8,10-11": cpuset(7)'s
// list format, taskset -c), for pinning shard threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aiod::daemon {

// The CPUs named, in the order written, without repeats. nullopt if the text
// is not a list (empty, a reversed range, a number above 4095).
[[nodiscard]] std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);

// Pins the calling thread to `cpu`. 0, or -errno (EINVAL: not a CPU this
// process may use).
[[nodiscard]] int pin_this_thread(unsigned cpu);

}  // namespace aiod::daemon
