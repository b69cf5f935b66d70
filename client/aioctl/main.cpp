// SPDX-License-Identifier: MIT
// aioctl — inspect and control a running aiod. Exit codes: 0 ok, 1 error,
// 2 usage, 3 daemon not running.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

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

// The daemon's reply to a request this aioctl knows and it does not (an
// older daemon): it answers EPROTO "unexpected control message".
std::string explain(const aiod::ctl::ControlSession& session, const std::string& what, const std::string& error) {
  if (session.error_code() == EPROTO && error.find("unexpected control message") != std::string::npos) {
    return what + ": this aiod (" + session.daemon_version() + ") does not support it";
  }
  return error;
}

// Reload: the daemon reads its config file again, as on SIGHUP, and says
// whether it took it.
int cmd_reload(const std::string& path) {
  aiod::ctl::ControlSession session;
  if (const int rc = connect(session, path); rc != kExitOk) return rc;
  flatbuffers::FlatBufferBuilder b(64);
  const auto req = aiod::wire::CreateReloadRequest(b);
  b.Finish(aiod::wire::CreateMessage(b, session.next_id(), aiod::wire::Body::ReloadRequest, req.Union()),
           aiod::wire::MessageIdentifier());
  std::string error;
  const aiod::wire::Message* reply = session.request(b, error);
  if (reply == nullptr) return fail(explain(session, "reload", error));
  const aiod::wire::ReloadReply* r = reply->body_as_ReloadReply();
  if (r == nullptr) return fail("reload: expected a ReloadReply");
  const std::string message = r->message() != nullptr ? r->message()->str() : std::string();
  if (!r->accepted()) return fail("reload rejected, the daemon keeps its settings: " + message);
  std::printf("aiod: %s\n", message.c_str());
  return kExitOk;
}

// Shutdown: the daemon acknowledges, then stops as on SIGTERM. Returns once
// the daemon has closed this connection, which it does after it has stopped
// listening (a socket it bound itself is removed by then) and while it
// closes every session, or 1 when that takes longer than `timeout_s`.
int cmd_shutdown(const std::string& path, double timeout_s) {
  aiod::ctl::ControlSession session;
  if (const int rc = connect(session, path); rc != kExitOk) return rc;
  flatbuffers::FlatBufferBuilder b(64);
  const auto req = aiod::wire::CreateShutdownRequest(b);
  b.Finish(aiod::wire::CreateMessage(b, session.next_id(), aiod::wire::Body::ShutdownRequest, req.Union()),
           aiod::wire::MessageIdentifier());
  std::string error;
  const aiod::wire::Message* reply = session.request(b, error);
  if (reply == nullptr) return fail(explain(session, "shutdown", error));
  if (reply->body_as_Ack() == nullptr) return fail("shutdown: expected an Ack");
  const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(timeout_s));
  if (!session.wait_closed(limit)) {
    char text[64];
    std::snprintf(text, sizeof(text), "%g s", timeout_s);
    return fail(std::string("shutdown: the daemon did not stop within ") + text);
  }
  std::printf("aiod at %s: stopped\n", path.c_str());
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

// Usage errors: one line saying what is wrong, one line saying where help
// is, exit 2. CLI11's own wording is kept where it is already one plain
// sentence; the cases it words poorly are said here.
int usage_error(const std::string& program, const std::string& what) {
  std::fprintf(stderr, "%s: %s\nTry '%s --help'.\n", program.c_str(), what.c_str(), program.c_str());
  return kExitUsage;
}

// The first word of the command line that is not an option of aioctl itself
// (or the value of one): the command, or empty.
std::string command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--socket") {
      ++i;
      continue;
    }
    if (!arg.empty() && arg[0] == '-') continue;
    return arg;
  }
  return {};
}

std::string one_line(std::string text) {
  if (const auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  while (!text.empty() && (text.back() == ' ' || text.back() == '.')) text.pop_back();
  return text;
}

// Words CLI11's ExtrasError lists after "...not expected: ", or its whole text.
std::string unexpected_words(const CLI::ExtrasError& e) {
  const std::string text = one_line(e.what());
  const auto colon = text.find(": ");
  return colon == std::string::npos ? text : text.substr(colon + 2);
}

int handle_parse_error(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (e.get_exit_code() == 0) return app.exit(e) == 0 ? kExitOk : kExitUsage;  // --help, --version
  // The subcommand being parsed when the error came, if any, names the help to read.
  std::string program = "aioctl";
  const auto parsed = app.get_subcommands();
  if (!parsed.empty()) program += " " + parsed.back()->get_name();
  const std::string word = command_word(argc, argv);
  bool known = false;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) known = known || sub->check_name(word);
  if (parsed.empty() && !word.empty() && !known) {
    return usage_error("aioctl", "unknown command '" + word + "'");
  }
  if (parsed.empty() && word.empty() && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    // CLI11 misses the command before it looks at the options: name a wrong
    // option first, it is the likelier mistake.
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--socket") {
        ++i;
        continue;
      }
      if (arg.rfind('-', 0) == 0 && arg.rfind("--socket=", 0) != 0) return usage_error("aioctl", "unknown option '" + arg + "'");
    }
    return usage_error("aioctl", "no command given (ping, stats, clients, reload or shutdown)");
  }
  if (const auto* extras = dynamic_cast<const CLI::ExtrasError*>(&e)) {
    const std::string words = unexpected_words(*extras);
    const bool option = words.rfind('-', 0) == 0, several = words.find(' ') != std::string::npos;
    if (several) return usage_error(program, std::string(option ? "unknown options: " : "unexpected arguments: ") + words);
    return usage_error(program, (option ? "unknown option '" : "unexpected argument '") + words + "'");
  }
  const std::string text = one_line(e.what());
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr && text.find(" required ") != std::string::npos) {
    return usage_error(program, text.substr(0, text.find(':')) + " needs a value");  // "--socket: 1 required TEXT missing"
  }
  if (dynamic_cast<const CLI::ConversionError*>(&e) != nullptr) {
    // "Could not convert: --count = x"
    const auto colon = text.find(": "), eq = text.find(" = ");
    if (colon != std::string::npos && eq != std::string::npos && eq > colon) {
      return usage_error(program, text.substr(colon + 2, eq - colon - 2) + ": '" + text.substr(eq + 3) +
                                      "' is not a valid value");
    }
  }
  return usage_error(program, text);
}

// A number from `lo` to `hi`, said plainly when it is not (CLI11's Range
// says "Value abc not in range 0.010000 to 86400.000000" even of a word).
CLI::Validator number_between(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& value) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || end == nullptr || *end != '\0' || !(v >= lo && v <= hi)) {
          char text[96];
          std::snprintf(text, sizeof(text), "'%s' is not a number from %g to %g", value.c_str(), lo, hi);
          return text;
        }
        return {};
      },
      "", "number_between");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aioctl: inspect and control a running aiod"};
  app.set_version_flag("--version", std::string("aioctl ") + AIOD_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // --socket after the command too
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
      ->check(number_between(0.01, 86400.0))
      ->needs(watch);
  stats->add_option("--count", stats_opts.count, "prints with --watch (default 0: until interrupted)")->needs(watch);
  auto* clients = app.add_subcommand("clients", "list the sessions");
  auto* reload = app.add_subcommand(
      "reload", "make the daemon read its config file again, as SIGHUP does (root or the daemon's user only)");
  auto* shutdown =
      app.add_subcommand("shutdown", "stop the daemon as SIGTERM does, and wait until it has (root or the daemon's "
                                     "user only)");
  shutdown->alias("stop");
  double shutdown_timeout_s = 10.0;
  shutdown->add_option("--timeout", shutdown_timeout_s, "seconds to wait for the daemon to stop (default 10)")
      ->check(number_between(0.1, 3600.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return handle_parse_error(app, e, argc, argv);
  }
  if (socket_path.empty()) socket_path = aiod::client_socket_path();
  if (socket_path.empty()) return usage_error("aioctl", "no socket path: pass --socket or set AIOD_SOCKET");
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
  if (reload->parsed()) return cmd_reload(socket_path);
  if (shutdown->parsed()) return cmd_shutdown(socket_path, shutdown_timeout_s);
  return kExitUsage;
}
