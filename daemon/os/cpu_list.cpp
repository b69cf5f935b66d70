// SPDX-License-Identifier: MIT
// cpu_list.cpp — parsing CPU lists, and pinning a thread to one CPU.
#include "os/cpu_list.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <charconv>

namespace aiod::daemon {
namespace {

constexpr unsigned kMaxCpu = 4095;

std::optional<unsigned> parse_cpu(std::string_view s) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > kMaxCpu) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text) {
  std::vector<unsigned> cpus;
  if (text.empty()) return std::nullopt;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const auto dash = item.find('-');
    const auto first = parse_cpu(item.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_cpu(item.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    for (unsigned c = *first; c <= *last; ++c) {
      if (std::find(cpus.begin(), cpus.end(), c) == cpus.end()) cpus.push_back(c);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return cpus;
}

int pin_this_thread(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= CPU_SETSIZE) return -EINVAL;
  CPU_SET(cpu, &set);
  return -::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set);
}

}  // namespace aiod::daemon
