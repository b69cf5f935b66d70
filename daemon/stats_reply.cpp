#include "stats_reply.hpp"

#include "version.hpp"

namespace aiod::daemon {
namespace {

flatbuffers::Offset<wire::Counters> counters(flatbuffers::FlatBufferBuilder& b, const CountersSnapshot& c) {
  return wire::CreateCounters(b, c.ops_submitted, c.ops_completed, c.ops_failed, c.ops_in_flight,
                              c.bytes_in, c.bytes_out, c.invalid_descriptors, c.ring_full_events,
                              c.wakeups_sent, c.wakeups_received);
}

}  // namespace

void build_stats_reply(flatbuffers::FlatBufferBuilder& b, std::uint64_t request_id,
                       const StatsSnapshot& snap, std::string_view backend) {
  std::vector<flatbuffers::Offset<wire::OpcodeCount>> opcodes;
  for (unsigned op = 0; op < AIOD_OP_LAST; ++op) {
    if (snap.opcode_count[op] == 0 && snap.opcode_errors[op] == 0) continue;
    opcodes.push_back(wire::CreateOpcodeCountDirect(b, static_cast<std::uint8_t>(op), opcode_name(op),
                                                    snap.opcode_count[op], snap.opcode_errors[op]));
  }
  const auto latency = wire::CreateHistogramDirect(b, &snap.latency.bounds_ns, &snap.latency.counts,
                                                   snap.latency.sum_ns, snap.latency.count);
  std::vector<flatbuffers::Offset<wire::SessionStats>> sessions;
  for (const SessionSnapshot& s : snap.sessions) {
    sessions.push_back(wire::CreateSessionStatsDirect(b, s.id, s.pid, s.uid, s.gid, s.name.c_str(), s.shard,
                                                      counters(b, s.counters)));
  }
  const auto totals = counters(b, snap.totals);
  const auto reply = wire::CreateStatsReplyDirect(
      b, 1, kVersion, std::string(backend).c_str(), snap.uptime_ns, snap.shards, snap.sessions_active,
      snap.sessions_total, totals, &opcodes, latency, &sessions, snap.daemon_syscalls);
  b.Finish(wire::CreateMessage(b, request_id, wire::Body::StatsReply, reply.Union()),
           wire::MessageIdentifier());
}

}  // namespace aiod::daemon
