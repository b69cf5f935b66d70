// SPDX-License-Identifier: MIT
// fake_backend.hpp — a Backend that runs nothing, for tests of the code in
// front of a backend (descriptor validation, in unit and fuzz tests alike).
// Only what it claims to support matters; the test decides that.
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "backend/backend.hpp"

namespace aiod::test {

class FakeBackend final : public daemon::Backend {
 public:
  static constexpr std::size_t kOpcodes = static_cast<std::size_t>(daemon::BackendOpcode::count);
  static_assert(kOpcodes <= 64, "support_all_but takes one bit per opcode");

  FakeBackend() { supported.fill(true); }
  daemon::BackendInfo info() const override { return {"fake", false}; }
  bool supports(daemon::BackendOpcode op) const override {
    const auto i = static_cast<std::size_t>(op);
    return i < supported.size() && supported[i];
  }
  unsigned space() const override { return 0; }
  int prepare(const daemon::BackendOp&, daemon::Completion*) override { return -EOPNOTSUPP; }
  int cancel(daemon::Completion*) override { return 0; }
  int flush() override { return 0; }
  int drain() override { return 0; }
  int wait(std::optional<std::chrono::nanoseconds>) override { return 0; }
  int register_personality() override { return -EPERM; }
  void unregister_personality(std::uint16_t) override {}
  std::uint64_t syscalls() const override { return 0; }
  daemon::BackendReport report() const override { return {}; }

  // Claims every opcode but those whose bit (1 << opcode) is set in `mask`.
  void support_all_but(std::uint64_t mask) {
    for (std::size_t i = 0; i < kOpcodes; ++i) supported[i] = (mask >> i & 1) == 0;
  }

  std::array<bool, kOpcodes> supported{};
};

}  // namespace aiod::test
