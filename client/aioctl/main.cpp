// aioctl — inspect a running aiod. Exit codes: 0 ok, 1 error, 2 usage,
// 3 daemon not running.
#include <CLI/CLI.hpp>
#include <chrono>
#include <set>
#include <thread>
#include <cstdio>

#include "control_session.hpp"
#include "socket_path.hpp"
#include "stats_format.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotRunning = 3;

int fail(const std::string& error, int code = kExitError) {
  std::fprintf(stderr, "aioctl: %s\n", error.c_str());
  return code;
}

int connect(aiod::ctl::ControlSession& session, const std::string& path) {
  std::string error;
  switch (session.connect(path, error)) {
    case aiod::ctl::ConnectStatus::ok:
      return kExitOk;
    case aiod::ctl::ConnectStatus::not_running:
      return fail(error, kExitNotRunning);
    case aiod::ctl::ConnectStatus::failed:
      break;
  }
  return fail(error);
}

int cmd_ping(const std::string& path) {
  aiod::ctl::ControlSession session;
  const auto start = std::chrono::steady_clock::now();
  if (const int rc = connect(session, path); rc != kExitOk) return rc;
  flatbuffers::FlatBufferBuilder b(64);
  const auto ping = aiod::wire::CreatePing(b, 1);
  b.Finish(aiod::wire::CreateMessage(b, session.next_id(), aiod::wire::Body::Ping, ping.Union()),
           aiod::wire::MessageIdentifier());
  std::string error;
  const aiod::wire::Message* reply = session.request(b, error);
  if (reply == nullptr || reply->body_as_Pong() == nullptr) return fail(error.empty() ? "no pong" : error);
  const auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::printf("aiod %s (%s backend) at %s: alive, %.0f us\n", session.daemon_version().c_str(),
              session.backend().c_str(), path.c_str(), us);
  return kExitOk;
}

enum class Format { table, json, prometheus, clients };

// One StatsReply, and then the further pages of sessions when they are wanted.
int fetch_stats(aiod::ctl::ControlSession& session, bool with_sessions, aiod::ctl::DaemonStats& out) {
  std::uint64_t first = 0;
  std::set<std::uint64_t> seen;
  for (int page = 0;; ++page) {
    flatbuffers::FlatBufferBuilder b(64);
    const auto req = aiod::wire::CreateStatsRequest(b, with_sessions, first);
    b.Finish(aiod::wire::CreateMessage(b, session.next_id(), aiod::wire::Body::StatsRequest, req.Union()),
             aiod::wire::MessageIdentifier());
    std::string error;
    const aiod::wire::Message* reply = session.request(b, error);
    const aiod::wire::StatsReply* stats = reply != nullptr ? reply->body_as_StatsReply() : nullptr;
    if (stats == nullptr) return fail(error.empty() ? "expected a StatsReply" : error);
    aiod::ctl::DaemonStats s = aiod::ctl::from_reply(*stats);
    if (page == 0) {
      out = std::move(s);
      for (const auto& ss : out.sessions) seen.insert(ss.id);
    } else {
      // Sessions come and go between pages: never list one twice.
      for (auto& ss : s.sessions) {
        if (seen.insert(ss.id).second) out.sessions.push_back(std::move(ss));
      }
    }
    first = stats->next_session();
    if (!with_sessions || first == 0) return kExitOk;
  }
}

struct StatsOptions {
  Format format = Format::table;
  bool watch = false;
  double interval_s = 1.0;
  unsigned count = 0;  // with watch: 0 = until interrupted
};

int cmd_stats(const std::string& path, const StatsOptions& opts) {
  aiod::ctl::ControlSession session;
  if (const int rc = connect(session, path); rc != kExitOk) return rc;
  const unsigned rounds = opts.watch ? opts.count : 1;
  for (unsigned i = 0; rounds == 0 || i < rounds; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::duration<double>(opts.interval_s));
    aiod::ctl::DaemonStats s;
    if (const int rc = fetch_stats(session, opts.format != Format::table, s); rc != kExitOk) return rc;
    std::string out;
    switch (opts.format) {
      case Format::table:
        out = aiod::ctl::format_table(s);
        break;
      case Format::json:
        out = aiod::ctl::format_json(s);
        break;
      case Format::prometheus:
        out = aiod::ctl::format_prometheus(s);
        break;
      case Format::clients:
        out = aiod::ctl::format_clients(s);
        break;
    }
    if (opts.watch && opts.format == Format::table) out += "\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aioctl: inspect a running aiod"};
  app.set_version_flag("--version", std::string("aioctl ") + AIOD_VERSION);
  app.require_subcommand(1);
  std::string socket_path;
  app.add_option("--socket", socket_path,
                 "daemon socket (default: $AIOD_SOCKET, /run/aiod.sock as root, else $XDG_RUNTIME_DIR/aiod.sock)");
  auto* ping = app.add_subcommand("ping", "check that the daemon answers");
  auto* stats = app.add_subcommand("stats", "show the daemon's counters");
  StatsOptions stats_opts;
  bool json = false, prometheus = false;
  auto* json_flag = stats->add_flag("--json", json, "print JSON (stable snake_case keys, a version field)");
  stats->add_flag("--prometheus", prometheus, "print the Prometheus text format")->excludes(json_flag);
  auto* watch = stats->add_flag("--watch", stats_opts.watch, "print again every --interval seconds");
  stats->add_option("--interval", stats_opts.interval_s, "seconds between prints with --watch (default 1)")
      ->check(CLI::Range(0.01, 86400.0))
      ->needs(watch);
  stats->add_option("--count", stats_opts.count, "prints with --watch (default 0: until interrupted)")->needs(watch);
  auto* clients = app.add_subcommand("clients", "list the sessions");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (socket_path.empty()) socket_path = aiod::client_socket_path();
  if (socket_path.empty()) return fail("no socket path: pass --socket or set AIOD_SOCKET", kExitUsage);
  if (ping->parsed()) return cmd_ping(socket_path);
  if (stats->parsed()) {
    stats_opts.format = json ? Format::json : prometheus ? Format::prometheus : Format::table;
    return cmd_stats(socket_path, stats_opts);
  }
  if (clients->parsed()) {
    StatsOptions o;
    o.format = Format::clients;
    return cmd_stats(socket_path, o);
  }
  return kExitUsage;
}
