#include "stats_format.hpp"

#include <cstdio>
#include <sstream>

namespace aiod::ctl {
namespace {

Counters counters(const wire::Counters* c) {
  Counters out;
  if (c == nullptr) return out;
  out.ops_submitted = c->ops_submitted();
  out.ops_completed = c->ops_completed();
  out.ops_failed = c->ops_failed();
  out.ops_in_flight = c->ops_in_flight();
  out.bytes_in = c->bytes_in();
  out.bytes_out = c->bytes_out();
  out.invalid_descriptors = c->invalid_descriptors();
  out.ring_full_events = c->ring_full_events();
  out.wakeups_sent = c->wakeups_sent();
  out.wakeups_received = c->wakeups_received();
  return out;
}

std::string str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void json_counters(std::ostringstream& o, const Counters& c) {
  o << "{\"ops_submitted\":" << c.ops_submitted << ",\"ops_completed\":" << c.ops_completed
    << ",\"ops_failed\":" << c.ops_failed << ",\"ops_in_flight\":" << c.ops_in_flight
    << ",\"bytes_in\":" << c.bytes_in << ",\"bytes_out\":" << c.bytes_out
    << ",\"invalid_descriptors\":" << c.invalid_descriptors << ",\"ring_full_events\":" << c.ring_full_events
    << ",\"wakeups_sent\":" << c.wakeups_sent << ",\"wakeups_received\":" << c.wakeups_received << "}";
}

}  // namespace

DaemonStats from_reply(const wire::StatsReply& r) {
  DaemonStats s;
  s.stats_version = r.stats_version();
  s.daemon_version = str(r.daemon_version());
  s.backend = str(r.backend());
  s.uptime_ns = r.uptime_ns();
  s.shards = r.shards();
  s.sessions_active = r.sessions_active();
  s.sessions_total = r.sessions_total();
  s.daemon_syscalls = r.daemon_syscalls();
  s.totals = counters(r.totals());
  if (r.per_opcode() != nullptr) {
    for (const wire::OpcodeCount* oc : *r.per_opcode()) {
      if (oc != nullptr) s.opcodes.push_back({str(oc->name()), oc->count(), oc->errors()});
    }
  }
  if (const wire::Histogram* h = r.latency()) {
    if (h->bounds_ns() != nullptr) s.latency_bounds_ns.assign(h->bounds_ns()->begin(), h->bounds_ns()->end());
    if (h->counts() != nullptr) s.latency_counts.assign(h->counts()->begin(), h->counts()->end());
    s.latency_sum_ns = h->sum_ns();
    s.latency_count = h->count();
  }
  if (r.sessions() != nullptr) {
    for (const wire::SessionStats* ss : *r.sessions()) {
      if (ss == nullptr) continue;
      s.sessions.push_back({ss->session_id(), ss->pid(), ss->uid(), ss->gid(), ss->shard(), str(ss->name()),
                            counters(ss->counters())});
    }
  }
  return s;
}

std::string format_table(const DaemonStats& s) {
  std::ostringstream o;
  char line[160];
  std::snprintf(line, sizeof(line), "aiod %s (%s backend), up %.1f s, %u shard%s\n", s.daemon_version.c_str(),
                s.backend.c_str(), static_cast<double>(s.uptime_ns) / 1e9, s.shards, s.shards == 1 ? "" : "s");
  o << line;
  auto row = [&](const char* name, std::uint64_t v) {
    std::snprintf(line, sizeof(line), "  %-22s %20llu\n", name, static_cast<unsigned long long>(v));
    o << line;
  };
  row("sessions active", s.sessions_active);
  row("sessions total", s.sessions_total);
  row("ops submitted", s.totals.ops_submitted);
  row("ops completed", s.totals.ops_completed);
  row("ops failed", s.totals.ops_failed);
  row("ops in flight", s.totals.ops_in_flight);
  row("invalid descriptors", s.totals.invalid_descriptors);
  row("bytes in", s.totals.bytes_in);
  row("bytes out", s.totals.bytes_out);
  row("ring full events", s.totals.ring_full_events);
  row("wakeups sent", s.totals.wakeups_sent);
  row("wakeups received", s.totals.wakeups_received);
  row("daemon syscalls", s.daemon_syscalls);
  if (s.latency_count > 0) {
    std::snprintf(line, sizeof(line), "  %-22s %17.1f us\n", "mean latency",
                  static_cast<double>(s.latency_sum_ns) / static_cast<double>(s.latency_count) / 1e3);
    o << line;
  }
  if (!s.opcodes.empty()) {
    std::snprintf(line, sizeof(line), "\n  %-22s %20s %12s\n", "OPCODE", "COUNT", "ERRORS");
    o << line;
    for (const OpcodeStat& op : s.opcodes) {
      std::snprintf(line, sizeof(line), "  %-22s %20llu %12llu\n", op.name.c_str(),
                    static_cast<unsigned long long>(op.count), static_cast<unsigned long long>(op.errors));
      o << line;
    }
  }
  return o.str();
}

std::string format_json(const DaemonStats& s) {
  std::ostringstream o;
  o << "{\"version\":" << s.stats_version << ",\"daemon_version\":" << json_string(s.daemon_version)
    << ",\"backend\":" << json_string(s.backend) << ",\"uptime_ns\":" << s.uptime_ns << ",\"shards\":" << s.shards
    << ",\"sessions_active\":" << s.sessions_active << ",\"sessions_total\":" << s.sessions_total
    << ",\"daemon_syscalls\":" << s.daemon_syscalls << ",\"totals\":";
  json_counters(o, s.totals);
  o << ",\"opcodes\":{";
  for (std::size_t i = 0; i < s.opcodes.size(); ++i) {
    o << (i ? "," : "") << json_string(s.opcodes[i].name) << ":{\"count\":" << s.opcodes[i].count
      << ",\"errors\":" << s.opcodes[i].errors << "}";
  }
  o << "},\"latency_ns\":{\"bounds\":[";
  for (std::size_t i = 0; i < s.latency_bounds_ns.size(); ++i) o << (i ? "," : "") << s.latency_bounds_ns[i];
  o << "],\"counts\":[";
  for (std::size_t i = 0; i < s.latency_counts.size(); ++i) o << (i ? "," : "") << s.latency_counts[i];
  o << "],\"sum\":" << s.latency_sum_ns << ",\"count\":" << s.latency_count << "},\"sessions\":[";
  for (std::size_t i = 0; i < s.sessions.size(); ++i) {
    const SessionStat& ss = s.sessions[i];
    o << (i ? "," : "") << "{\"id\":" << ss.id << ",\"pid\":" << ss.pid << ",\"uid\":" << ss.uid
      << ",\"gid\":" << ss.gid << ",\"shard\":" << ss.shard << ",\"name\":" << json_string(ss.name)
      << ",\"counters\":";
    json_counters(o, ss.counters);
    o << "}";
  }
  o << "]}\n";
  return o.str();
}

std::string format_clients(const DaemonStats& s) {
  std::ostringstream o;
  char line[200];
  std::snprintf(line, sizeof(line), "%8s %8s %8s %6s %10s %14s %14s  %s\n", "SESSION", "PID", "UID", "SHARD",
                "IN-FLIGHT", "SUBMITTED", "COMPLETED", "NAME");
  o << line;
  for (const SessionStat& ss : s.sessions) {
    std::snprintf(line, sizeof(line), "%8llu %8d %8u %6u %10llu %14llu %14llu  %s\n",
                  static_cast<unsigned long long>(ss.id), ss.pid, ss.uid, ss.shard,
                  static_cast<unsigned long long>(ss.counters.ops_in_flight),
                  static_cast<unsigned long long>(ss.counters.ops_submitted),
                  static_cast<unsigned long long>(ss.counters.ops_completed), ss.name.c_str());
    o << line;
  }
  return o.str();
}

}  // namespace aiod::ctl
