// SPDX-License-Identifier: MIT
// backend_report.hpp — what `aioctl stats` shows of a backend: the kernel it
// runs on, and where each kind of op runs (the kernel's ring or the posix
// part), with counts.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "backend/backend_op.hpp"

namespace aiod::daemon {

// How a backend runs one kind of op.
enum class OpRoute : std::uint8_t {
  ring,      // on the kernel's io_uring
  emulated,  // in the posix part, because this kernel's io_uring lacks it
  posix,     // always in the posix part (path walks, setsockopt; every op of the posix backend)
};
[[nodiscard]] std::string_view op_route_name(OpRoute route);

// What `aioctl stats` shows of a backend: the kernel, and where each kind of
// op runs. Counts are since the backend started.
struct BackendReport {
  std::string kernel;           // the running kernel's release (uname -r)
  std::string emulated_kernel;  // --emulate-kernel's version, or empty
  std::string setup;            // io_uring_setup flags in use ("single_issuer defer_taskrun ...")
  struct Op {
    OpRoute route = OpRoute::posix;  // for the ordinary case of the op (a path walk or AF_UNIX address is posix)
    std::uint64_t ring = 0;          // ops run on the ring
    std::uint64_t posix = 0;         // ops run in the posix part
  };
  std::array<Op, static_cast<std::size_t>(BackendOpcode::count)> ops{};

  BackendReport& operator+=(const BackendReport& o);  // adds the counts (shards of one daemon)
};

// Ops run, by kind: one writer (the backend's shard thread), read from any
// thread (a stats request served by another shard).
class OpCounts {
 public:
  void add(BackendOpcode op) noexcept {
    std::atomic<std::uint64_t>& n = n_[static_cast<std::size_t>(op)];
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get(BackendOpcode op) const noexcept {
    return n_[static_cast<std::size_t>(op)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(BackendOpcode::count)> n_{};
};

}  // namespace aiod::daemon
