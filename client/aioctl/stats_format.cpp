// SPDX-License-Identifier: MIT
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

std::vector<OpcodeStat> opcodes(const flatbuffers::Vector<flatbuffers::Offset<wire::OpcodeCount>>* v) {
  std::vector<OpcodeStat> out;
  if (v == nullptr) return out;
  for (const wire::OpcodeCount* oc : *v) {
    if (oc != nullptr) out.push_back({str(oc->name()), oc->count(), oc->errors()});
  }
  return out;
}

void json_opcodes(std::ostringstream& o, const std::vector<OpcodeStat>& ops);

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
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
    << ",\"ops_failed\":" << c.ops_failed << ",\"ops_in_flight\":" << c.ops_in_flight << ",\"bytes_in\":" << c.bytes_in
    << ",\"bytes_out\":" << c.bytes_out << ",\"invalid_descriptors\":" << c.invalid_descriptors
    << ",\"ring_full_events\":" << c.ring_full_events << ",\"wakeups_sent\":" << c.wakeups_sent
    << ",\"wakeups_received\":" << c.wakeups_received << "}";
}

void json_opcodes(std::ostringstream& o, const std::vector<OpcodeStat>& ops) {
  o << "{";
  for (std::size_t i = 0; i < ops.size(); ++i) {
    o << (i ? "," : "") << json_string(ops[i].name) << ":{\"count\":" << ops[i].count << ",\"errors\":" << ops[i].errors
      << "}";
  }
  o << "}";
}

// Nanoseconds as exact decimal seconds ("1000000.123456789"): a double through
// a stream would round large values to six digits.
std::string seconds(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%llu.%09llu", static_cast<unsigned long long>(ns / 1'000'000'000u),
                static_cast<unsigned long long>(ns % 1'000'000'000u));
  return buf;
}

// A label value with \, " and newlines escaped, as the exposition format requires.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
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
  s.control_sessions_active = r.control_sessions_active();
  s.control_sessions_total = r.control_sessions_total();
  s.daemon_syscalls = r.daemon_syscalls();
  s.config_reloads = r.config_reloads();
  s.config_reload_failures = r.config_reload_failures();
  s.totals = counters(r.totals());
  s.opcodes = opcodes(r.per_opcode());
  s.kernel = str(r.kernel());
  s.emulated_kernel = str(r.emulated_kernel());
  s.io_uring_setup = str(r.io_uring_setup());
  if (r.backend_ops() != nullptr) {
    for (const wire::BackendOpStats* op : *r.backend_ops()) {
      if (op != nullptr) s.backend_ops.push_back({str(op->name()), str(op->runs()), op->ring(), op->posix()});
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
      SessionStat st{ss->session_id(),
                     ss->pid(),
                     ss->uid(),
                     ss->gid(),
                     ss->shard(),
                     str(ss->name()),
                     counters(ss->counters()),
                     opcodes(ss->per_opcode()),
                     0,
                     0,
                     {}};
      if (const wire::Histogram* h = ss->latency()) {
        st.latency_sum_ns = h->sum_ns();
        st.latency_count = h->count();
        if (h->counts() != nullptr) st.latency_counts.assign(h->counts()->begin(), h->counts()->end());
      }
      s.sessions.push_back(std::move(st));
    }
  }
  return s;
}

std::string format_table(const DaemonStats& s) {
  std::ostringstream o;
  char num[64];
  o << "aiod " << s.daemon_version << " (" << s.backend << " backend), up ";
  std::snprintf(num, sizeof(num), "%.1f", static_cast<double>(s.uptime_ns) / 1e9);
  o << num << " s, " << s.shards << " shard" << (s.shards == 1 ? "" : "s") << "\n";
  if (!s.kernel.empty()) {
    o << "  Linux " << s.kernel;
    if (!s.emulated_kernel.empty()) o << ", io_uring as in " << s.emulated_kernel << " (--emulate-kernel)";
    if (!s.io_uring_setup.empty()) o << "; io_uring setup: " << s.io_uring_setup;
    o << "\n";
  }
  std::string emulated;
  for (const BackendOpStat& op : s.backend_ops) {
    if (op.runs == "emulated") emulated += (emulated.empty() ? "" : ", ") + op.name;
  }
  if (!emulated.empty()) o << "  emulated (this kernel's io_uring lacks them): " << emulated << "\n";
  // Names are streamed (any length); only the numbers go through snprintf.
  auto row = [&](const std::string& name, std::uint64_t v) {
    std::snprintf(num, sizeof(num), "%20llu", static_cast<unsigned long long>(v));
    o << "  " << name << std::string(name.size() < 22 ? 23 - name.size() : 1, ' ') << num << "\n";
  };
  row("sessions active", s.sessions_active);
  row("sessions total", s.sessions_total);
  row("control sessions", s.control_sessions_active);
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
    std::snprintf(num, sizeof(num), "%17.1f us",
                  static_cast<double>(s.latency_sum_ns) / static_cast<double>(s.latency_count) / 1e3);
    o << "  mean latency" << std::string(11, ' ') << num << "\n";
  }
  if (!s.opcodes.empty()) {
    std::snprintf(num, sizeof(num), "%20s %12s", "COUNT", "ERRORS");
    o << "\n  OPCODE" << std::string(17, ' ') << num << "\n";
    for (const OpcodeStat& op : s.opcodes) {
      std::snprintf(num, sizeof(num), "%20llu %12llu", static_cast<unsigned long long>(op.count),
                    static_cast<unsigned long long>(op.errors));
      o << "  " << op.name << std::string(op.name.size() < 22 ? 23 - op.name.size() : 1, ' ') << num << "\n";
    }
  }
  return o.str();
}

std::string format_json(const DaemonStats& s) {
  std::ostringstream o;
  o << "{\"version\":" << s.stats_version << ",\"daemon_version\":" << json_string(s.daemon_version)
    << ",\"backend\":" << json_string(s.backend) << ",\"uptime_ns\":" << s.uptime_ns << ",\"shards\":" << s.shards
    << ",\"sessions_active\":" << s.sessions_active << ",\"sessions_total\":" << s.sessions_total
    << ",\"control_sessions_active\":" << s.control_sessions_active
    << ",\"control_sessions_total\":" << s.control_sessions_total
    << ",\"daemon_syscalls\":" << s.daemon_syscalls << ",\"config_reloads\":" << s.config_reloads
    << ",\"config_reload_failures\":" << s.config_reload_failures << ",\"totals\":";
  json_counters(o, s.totals);
  o << ",\"opcodes\":";
  json_opcodes(o, s.opcodes);
  o << ",\"latency_ns\":{\"bounds\":[";
  for (std::size_t i = 0; i < s.latency_bounds_ns.size(); ++i) o << (i ? "," : "") << s.latency_bounds_ns[i];
  o << "],\"counts\":[";
  for (std::size_t i = 0; i < s.latency_counts.size(); ++i) o << (i ? "," : "") << s.latency_counts[i];
  o << "],\"sum\":" << s.latency_sum_ns << ",\"count\":" << s.latency_count
    << "},\"kernel\":{\"release\":" << json_string(s.kernel)
    << ",\"emulated\":" << (s.emulated_kernel.empty() ? "null" : json_string(s.emulated_kernel))
    << ",\"io_uring_setup\":" << json_string(s.io_uring_setup) << "},\"backend_ops\":{";
  for (std::size_t i = 0; i < s.backend_ops.size(); ++i) {
    const BackendOpStat& op = s.backend_ops[i];
    o << (i ? "," : "") << json_string(op.name) << ":{\"runs\":" << json_string(op.runs) << ",\"ring\":" << op.ring
      << ",\"posix\":" << op.posix << "}";
  }
  o << "},\"sessions\":[";
  for (std::size_t i = 0; i < s.sessions.size(); ++i) {
    const SessionStat& ss = s.sessions[i];
    o << (i ? "," : "") << "{\"id\":" << ss.id << ",\"pid\":" << ss.pid << ",\"uid\":" << ss.uid
      << ",\"gid\":" << ss.gid << ",\"shard\":" << ss.shard << ",\"name\":" << json_string(ss.name) << ",\"counters\":";
    json_counters(o, ss.counters);
    o << ",\"opcodes\":";
    json_opcodes(o, ss.opcodes);
    o << ",\"latency_ns\":{\"counts\":[";
    for (std::size_t j = 0; j < ss.latency_counts.size(); ++j) o << (j ? "," : "") << ss.latency_counts[j];
    o << "],\"sum\":" << ss.latency_sum_ns << ",\"count\":" << ss.latency_count << "}}";
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

namespace aiod::ctl {

std::string format_prometheus(const DaemonStats& s) {
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help, std::uint64_t value) {
    o << "# HELP aiod_" << name << " " << help << "\n# TYPE aiod_" << name << " " << type << "\naiod_" << name << " "
      << value << "\n";
  };
  const Counters& t = s.totals;
  metric("ops_submitted_total", "counter", "Descriptors consumed from submission rings.", t.ops_submitted);
  metric("ops_completed_total", "counter", "Completions posted.", t.ops_completed);
  metric("ops_failed_total", "counter", "Completions posted with an error.", t.ops_failed);
  metric("ops_in_flight", "gauge", "Operations consumed and not yet completed.", t.ops_in_flight);
  metric("invalid_descriptors_total", "counter", "Descriptors rejected by validation.", t.invalid_descriptors);
  metric("bytes_in_total", "counter", "Bytes read or received by completed operations.", t.bytes_in);
  metric("bytes_out_total", "counter", "Bytes written or sent by completed operations.", t.bytes_out);
  metric("ring_full_events_total", "counter", "Times a session's submissions waited for completion space.",
         t.ring_full_events);
  metric("wakeups_sent_total", "counter", "Completion eventfd writes to sleeping clients.", t.wakeups_sent);
  metric("wakeups_received_total", "counter", "Doorbells rung by clients.", t.wakeups_received);
  metric("daemon_syscalls_total", "counter", "System calls made by the shards' backends.", s.daemon_syscalls);
  metric("sessions_active", "gauge", "Connected application sessions (not aioctl's).", s.sessions_active);
  metric("sessions_total", "counter", "Application sessions accepted since start.", s.sessions_total);
  metric("control_sessions_active", "gauge", "Connected control sessions (aioctl).", s.control_sessions_active);
  metric("control_sessions_total", "counter", "Control sessions accepted since start.", s.control_sessions_total);
  metric("shards", "gauge", "Shard threads.", s.shards);
  metric("config_reloads_total", "counter", "Config reloads applied (SIGHUP).", s.config_reloads);
  metric("config_reload_failures_total", "counter", "Config reloads refused (SIGHUP).", s.config_reload_failures);
  o << "# HELP aiod_uptime_seconds Seconds since the daemon started.\n# TYPE aiod_uptime_seconds gauge\n"
    << "aiod_uptime_seconds " << seconds(s.uptime_ns) << "\n";

  o << "# HELP aiod_opcode_ops_total Completed operations by opcode.\n# TYPE aiod_opcode_ops_total counter\n";
  for (const OpcodeStat& op : s.opcodes)
    o << "aiod_opcode_ops_total{opcode=\"" << label(op.name) << "\"} " << op.count << "\n";
  o << "# HELP aiod_opcode_errors_total Failed operations by opcode.\n# TYPE aiod_opcode_errors_total counter\n";
  for (const OpcodeStat& op : s.opcodes) {
    o << "aiod_opcode_errors_total{opcode=\"" << label(op.name) << "\"} " << op.errors << "\n";
  }

  o << "# HELP aiod_backend_ops_total Backend operations by kind and where they ran (ring: the kernel's "
       "io_uring; posix: the daemon's worker threads).\n# TYPE aiod_backend_ops_total counter\n";
  for (const BackendOpStat& op : s.backend_ops) {
    if (op.ring == 0 && op.posix == 0) continue;
    o << "aiod_backend_ops_total{op=\"" << label(op.name) << "\",ran=\"ring\"} " << op.ring << "\n";
    o << "aiod_backend_ops_total{op=\"" << label(op.name) << "\",ran=\"posix\"} " << op.posix << "\n";
  }

  o << "# HELP aiod_op_latency_seconds Submission-to-completion latency.\n# TYPE aiod_op_latency_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < s.latency_bounds_ns.size() && i < s.latency_counts.size(); ++i) {
    cumulative += s.latency_counts[i];
    o << "aiod_op_latency_seconds_bucket{le=\"" << seconds(s.latency_bounds_ns[i]) << "\"} " << cumulative << "\n";
  }
  if (s.latency_counts.size() > s.latency_bounds_ns.size()) cumulative += s.latency_counts.back();
  o << "aiod_op_latency_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n";
  o << "aiod_op_latency_seconds_sum " << seconds(s.latency_sum_ns) << "\n";
  o << "aiod_op_latency_seconds_count " << s.latency_count << "\n";

  if (!s.sessions.empty()) {
    o << "# HELP aiod_session_ops_completed_total Completions posted, by session.\n"
         "# TYPE aiod_session_ops_completed_total counter\n";
    for (const SessionStat& ss : s.sessions) {
      o << "aiod_session_ops_completed_total{session=\"" << ss.id << "\",pid=\"" << ss.pid << "\",uid=\"" << ss.uid
        << "\",name=\"" << label(ss.name) << "\"} " << ss.counters.ops_completed << "\n";
    }
    o << "# HELP aiod_session_ops_in_flight Operations in flight, by session.\n"
         "# TYPE aiod_session_ops_in_flight gauge\n";
    for (const SessionStat& ss : s.sessions) {
      o << "aiod_session_ops_in_flight{session=\"" << ss.id << "\",pid=\"" << ss.pid << "\",uid=\"" << ss.uid
        << "\",name=\"" << label(ss.name) << "\"} " << ss.counters.ops_in_flight << "\n";
    }
  }
  return o.str();
}

}  // namespace aiod::ctl
