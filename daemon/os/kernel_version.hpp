// SPDX-License-Identifier: MIT
// kernel_version.hpp — a Linux release as major.minor, for comparing what a
// kernel has against the release that introduced a feature.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace aiod::daemon {

struct KernelVersion {
  unsigned major = 0;
  unsigned minor = 0;

  friend constexpr auto operator<=>(const KernelVersion&, const KernelVersion&) = default;

  // "6.1", "5.15.0-91-generic", "6.18.3+deb13-amd64": the leading
  // major.minor; anything after it is ignored. nullopt if there is none.
  [[nodiscard]] static std::optional<KernelVersion> parse(std::string_view text);
  [[nodiscard]] std::string str() const;
};

// The running kernel's release (uname(2)): its text, and the version parsed
// from it (0.0 if uname's answer cannot be parsed).
struct RunningKernel {
  std::string release;
  KernelVersion version;
};
[[nodiscard]] RunningKernel running_kernel();

}  // namespace aiod::daemon
