// SPDX-License-Identifier: MIT
// stats.hpp — counters the daemon keeps, per session and per shard.
//
// Every counter has exactly one writer (its shard thread) and may be read from
// any thread (a stats request served by another shard). So a counter is a
// relaxed atomic that the writer bumps with a plain load+store — no locked
// read-modify-write on the hot path — and readers see a recent value.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "aiod_shm.h"
#include "backend/backend_report.hpp"

namespace aiod::daemon {

class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// A plain copy of the counters, for aggregation and replies.
struct CountersSnapshot {
  std::uint64_t ops_submitted = 0;
  std::uint64_t ops_completed = 0;
  std::uint64_t ops_failed = 0;
  std::uint64_t ops_in_flight = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t invalid_descriptors = 0;
  std::uint64_t ring_full_events = 0;
  std::uint64_t wakeups_sent = 0;
  std::uint64_t wakeups_received = 0;

  CountersSnapshot& operator+=(const CountersSnapshot& o);
};

// Submission-to-completion latency in power-of-two buckets from 1 us to ~1 s.
class LatencyHistogram {
 public:
  static constexpr std::size_t kBounds = 21;
  static constexpr std::uint64_t bound_ns(std::size_t i) { return 1000ull << i; }

  void record(std::uint64_t ns) noexcept;

  struct Snapshot {
    std::vector<std::uint64_t> bounds_ns;
    std::vector<std::uint64_t> counts;  // kBounds + 1 (last: +Inf), not cumulative
    std::uint64_t sum_ns = 0;
    std::uint64_t count = 0;
    Snapshot& operator+=(const Snapshot& o);
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::array<Counter, kBounds + 1> buckets_;
  Counter sum_ns_;
  Counter count_;
};

struct SessionCounters {
  Counter ops_submitted;
  Counter ops_completed;
  Counter ops_failed;
  Counter bytes_in;
  Counter bytes_out;
  Counter invalid_descriptors;
  Counter ring_full_events;
  Counter wakeups_sent;
  Counter wakeups_received;
  std::array<Counter, AIOD_OP_LAST> opcode_count;
  std::array<Counter, AIOD_OP_LAST> opcode_errors;
  LatencyHistogram latency;

  [[nodiscard]] CountersSnapshot snapshot() const;
};

struct OpcodeCounters {
  std::array<Counter, AIOD_OP_LAST> count;
  std::array<Counter, AIOD_OP_LAST> errors;
};

// The stable lower-case name of an opcode ("read", "open_at"), or "unknown".
[[nodiscard]] const char* opcode_name(unsigned opcode);

struct SessionSnapshot {
  std::uint64_t id = 0;
  pid_t pid = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string name;
  unsigned shard = 0;
  CountersSnapshot counters;
  std::array<std::uint64_t, AIOD_OP_LAST> opcode_count{};
  std::array<std::uint64_t, AIOD_OP_LAST> opcode_errors{};
  LatencyHistogram::Snapshot latency;
};

struct StatsSnapshot {
  std::uint64_t uptime_ns = 0;
  unsigned shards = 0;
  std::uint32_t sessions_active = 0;  // Io sessions (and those still in their handshake)
  std::uint64_t sessions_total = 0;
  std::uint32_t control_sessions_active = 0;  // aioctl's: not counted above
  std::uint64_t control_sessions_total = 0;
  CountersSnapshot totals;
  std::array<std::uint64_t, AIOD_OP_LAST> opcode_count{};
  std::array<std::uint64_t, AIOD_OP_LAST> opcode_errors{};
  LatencyHistogram::Snapshot latency;
  std::uint64_t daemon_syscalls = 0;
  std::uint64_t config_reloads = 0;
  std::uint64_t config_reload_failures = 0;
  std::vector<SessionSnapshot> sessions;
  BackendReport backend;  // the shards' backends: counts added up
};

}  // namespace aiod::daemon
