// SPDX-License-Identifier: MIT
#include "os/kernel_version.hpp"

#include <sys/utsname.h>

#include <charconv>

namespace aiod::daemon {
namespace {

// Reads a decimal number at the front of `text`, advancing past it.
std::optional<unsigned> take_number(std::string_view& text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return value;
}

}  // namespace

std::optional<KernelVersion> KernelVersion::parse(std::string_view text) {
  const auto major = take_number(text);
  if (!major || text.empty() || text.front() != '.') return std::nullopt;
  text.remove_prefix(1);
  const auto minor = take_number(text);
  if (!minor) return std::nullopt;
  // What follows must not extend the number into something else ("6.1x").
  if (!text.empty() && text.front() != '.' && text.front() != '-' && text.front() != '+' && text.front() != '_') {
    return std::nullopt;
  }
  return KernelVersion{*major, *minor};
}

std::string KernelVersion::str() const { return std::to_string(major) + "." + std::to_string(minor); }

RunningKernel running_kernel() {
  utsname u{};
  if (::uname(&u) != 0) return {};
  return {u.release, KernelVersion::parse(u.release).value_or(KernelVersion{})};
}

}  // namespace aiod::daemon
