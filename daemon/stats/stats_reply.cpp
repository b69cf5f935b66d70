// SPDX-License-Identifier: MIT
#include "stats/stats_reply.hpp"

#include <algorithm>

#include "os/version.hpp"
#include "wire.hpp"

namespace aiod::daemon {
namespace {

flatbuffers::Offset<wire::Counters> counters(flatbuffers::FlatBufferBuilder& b, const CountersSnapshot& c) {
  return wire::CreateCounters(b, c.ops_submitted, c.ops_completed, c.ops_failed, c.ops_in_flight, c.bytes_in,
                              c.bytes_out, c.invalid_descriptors, c.ring_full_events, c.wakeups_sent,
                              c.wakeups_received);
}

// Only opcodes that were used, to keep replies small.
std::vector<flatbuffers::Offset<wire::OpcodeCount>> opcode_counts(
    flatbuffers::FlatBufferBuilder& b, const std::array<std::uint64_t, AIOD_OP_LAST>& count,
    const std::array<std::uint64_t, AIOD_OP_LAST>& errors) {
  std::vector<flatbuffers::Offset<wire::OpcodeCount>> out;
  for (unsigned op = 0; op < AIOD_OP_LAST; ++op) {
    if (count[op] == 0 && errors[op] == 0) continue;
    out.push_back(
        wire::CreateOpcodeCountDirect(b, static_cast<std::uint8_t>(op), opcode_name(op), count[op], errors[op]));
  }
  return out;
}

std::vector<flatbuffers::Offset<wire::BackendOpStats>> backend_ops(flatbuffers::FlatBufferBuilder& b,
                                                                   const BackendReport& report) {
  std::vector<flatbuffers::Offset<wire::BackendOpStats>> out;
  for (std::size_t i = 0; i < report.ops.size(); ++i) {
    const BackendReport::Op& op = report.ops[i];
    out.push_back(wire::CreateBackendOpStatsDirect(b,
                                                   std::string(backend_op_name(static_cast<BackendOpcode>(i))).c_str(),
                                                   std::string(op_route_name(op.route)).c_str(), op.ring, op.posix));
  }
  return out;
}

}  // namespace

void build_stats_reply(flatbuffers::FlatBufferBuilder& b, std::uint64_t request_id, const StatsSnapshot& snap,
                       std::string_view backend, std::uint64_t first_session) {
  const auto opcodes = opcode_counts(b, snap.opcode_count, snap.opcode_errors);
  const auto ops = backend_ops(b, snap.backend);
  const auto latency = wire::CreateHistogramDirect(b, &snap.latency.bounds_ns, &snap.latency.counts,
                                                   snap.latency.sum_ns, snap.latency.count);
  // Sessions until the message would outgrow what one datagram may carry;
  // the largest session so far bounds what the next may add.
  constexpr std::size_t kBudget = wire::kMaxMessageBytes - 4096;
  std::vector<flatbuffers::Offset<wire::SessionStats>> sessions;
  std::uint64_t next = first_session;
  std::size_t largest = 0;
  for (; next < snap.sessions.size(); ++next) {
    if (b.GetSize() + 2 * largest + 64 > kBudget) break;
    const std::size_t before = b.GetSize();
    const SessionSnapshot& s = snap.sessions[next];
    const auto per_opcode = opcode_counts(b, s.opcode_count, s.opcode_errors);
    const auto session_latency =
        wire::CreateHistogramDirect(b, nullptr, &s.latency.counts, s.latency.sum_ns, s.latency.count);
    sessions.push_back(wire::CreateSessionStatsDirect(b, s.id, s.pid, s.uid, s.gid, s.name.c_str(), s.shard,
                                                      counters(b, s.counters), &per_opcode, session_latency));
    largest = std::max(largest, b.GetSize() - before);
  }
  const std::uint64_t next_session = next < snap.sessions.size() ? next : 0;
  const auto totals = counters(b, snap.totals);
  const BackendReport& be = snap.backend;
  const auto reply =
      wire::CreateStatsReplyDirect(b, 1, kVersion, std::string(backend).c_str(), snap.uptime_ns, snap.shards,
                                   snap.sessions_active, snap.sessions_total, totals, &opcodes, latency, &sessions,
                                   snap.daemon_syscalls, snap.config_reloads, snap.config_reload_failures, next_session,
                                   be.kernel.c_str(), be.emulated_kernel.empty() ? nullptr : be.emulated_kernel.c_str(),
                                   be.setup.empty() ? nullptr : be.setup.c_str(), &ops, snap.control_sessions_active,
                                   snap.control_sessions_total);
  b.Finish(wire::CreateMessage(b, request_id, wire::Body::StatsReply, reply.Union()), wire::MessageIdentifier());
}

}  // namespace aiod::daemon
