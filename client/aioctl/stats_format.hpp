// SPDX-License-Identifier: MIT
// stats_format.hpp — a StatsReply as plain data, and its renderings: a table
// for people, JSON for programs (stable snake_case keys, "version": 1) and the
// Prometheus text format for monitoring.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wire.hpp"

namespace aiod::ctl {

struct Counters {
  std::uint64_t ops_submitted = 0, ops_completed = 0, ops_failed = 0, ops_in_flight = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0, invalid_descriptors = 0, ring_full_events = 0;
  std::uint64_t wakeups_sent = 0, wakeups_received = 0;
};

struct OpcodeStat {
  std::string name;
  std::uint64_t count = 0;
  std::uint64_t errors = 0;
};

// Where the backend runs one kind of op ("ring", "emulated" or "posix"), and
// how many ran each way.
struct BackendOpStat {
  std::string name, runs;
  std::uint64_t ring = 0, posix = 0;
};

struct SessionStat {
  std::uint64_t id = 0;
  std::int32_t pid = 0;
  std::uint32_t uid = 0, gid = 0, shard = 0;
  std::string name;
  Counters counters;
  std::vector<OpcodeStat> opcodes;
  std::uint64_t latency_sum_ns = 0, latency_count = 0;
  std::vector<std::uint64_t> latency_counts;  // bounds as the daemon's
};

struct DaemonStats {
  std::uint32_t stats_version = 0;
  std::string daemon_version, backend;
  std::uint64_t uptime_ns = 0;
  std::uint32_t shards = 0, sessions_active = 0;
  std::uint64_t sessions_total = 0, daemon_syscalls = 0;
  // Control sessions (aioctl's own among them) are counted apart from the
  // applications' sessions above.
  std::uint32_t control_sessions_active = 0;
  std::uint64_t control_sessions_total = 0;
  std::uint64_t config_reloads = 0, config_reload_failures = 0;
  Counters totals;
  std::vector<OpcodeStat> opcodes;
  std::vector<std::uint64_t> latency_bounds_ns, latency_counts;
  std::uint64_t latency_sum_ns = 0, latency_count = 0;
  std::vector<SessionStat> sessions;
  std::string kernel, emulated_kernel, io_uring_setup;  // emulated_kernel: empty unless --emulate-kernel
  std::vector<BackendOpStat> backend_ops;
};

[[nodiscard]] DaemonStats from_reply(const wire::StatsReply& reply);
[[nodiscard]] std::string format_table(const DaemonStats& s);
[[nodiscard]] std::string format_json(const DaemonStats& s);
[[nodiscard]] std::string format_clients(const DaemonStats& s);
// Prometheus text exposition format (version 0.0.4): aiod_ prefix, _total
// counters, gauges, and a latency histogram with cumulative buckets, +Inf,
// _sum and _count (in seconds).
[[nodiscard]] std::string format_prometheus(const DaemonStats& s);

}  // namespace aiod::ctl
