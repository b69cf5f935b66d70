// SPDX-License-Identifier: MIT
// aioctl against a real daemon: ping, stats as a table and as JSON, reload and
// shutdown (and who may use them), exit codes.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <aiod/aiod.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <sstream>

#include "daemon_process.hpp"

namespace aiod::test {
namespace {

TEST(Aioctl, PingAnswers) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "ping"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("alive"), std::string::npos) << r.out;
}

TEST(Aioctl, StatsJsonShowsTheOpsAClientCompleted) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  {
    auto c = Client::connect(daemon.client_options());
    ASSERT_TRUE(c);
    for (int i = 0; i < 5; ++i) ASSERT_FALSE(c->single(Nop{}));
    EXPECT_TRUE(c->single(Fsync{.file = Handle{77}}));  // one failure
  }
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("\"version\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"ops_completed\":6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"ops_failed\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"nop\":{\"count\":5,\"errors\":0}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"fsync\":{\"count\":1,\"errors\":1}"), std::string::npos) << r.out;
}

TEST(Aioctl, StatsTableIsReadable) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("ops completed"), std::string::npos) << r.out;
  // The backend in use is named (the suite runs against both).
  const char* backend = testing_posix_backend() ? "(posix backend)" : "(io_uring backend)";
  EXPECT_NE(r.out.find(backend), std::string::npos) << r.out;
}

TEST(Aioctl, ClientsListsIoSessions) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  ClientOptions o = daemon.client_options();
  o.name = "listed-client";
  auto c = Client::connect(o);
  ASSERT_TRUE(c);
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "clients"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("listed-client"), std::string::npos) << r.out;
}

// Checks the Prometheus text exposition format line by line: every sample
// has a declared TYPE, names are aiod_*, counters end in _total, and the
// latency histogram has cumulative buckets ending at +Inf with _sum and _count.
void check_prometheus(const std::string& text) {
  std::map<std::string, std::string> types;        // metric family -> type
  std::vector<std::pair<double, double>> buckets;  // le, cumulative count
  double hist_count = -1;
  bool hist_sum = false;
  std::istringstream in(text);
  std::string line;
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (\S+)$)");
  const std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (std::regex_match(line, m, type_line)) {
      EXPECT_EQ(types.count(m[1]), 0u) << "TYPE twice: " << line;
      types[m[1]] = m[2];
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "not a sample line: " << line;
    const std::string name = m[1];
    ++samples;
    EXPECT_EQ(name.rfind("aiod_", 0), 0u) << name;
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (family.size() > sfx.size() && family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0 &&
          types.count(family.substr(0, family.size() - sfx.size())) != 0) {
        family = family.substr(0, family.size() - sfx.size());
      }
    }
    ASSERT_EQ(types.count(family), 1u) << "no TYPE before " << line;
    const double value = std::stod(m[m.size() - 1]);
    if (types[family] == "counter") {
      EXPECT_TRUE(name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0) << name;
      EXPECT_GE(value, 0.0);
    }
    if (types[family] == "histogram") {
      if (name == family + "_bucket") {
        const auto le = line.find("le=\"");
        ASSERT_NE(le, std::string::npos) << line;
        const std::string bound = line.substr(le + 4, line.find('"', le + 4) - le - 4);
        buckets.emplace_back(bound == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(bound), value);
      } else if (name == family + "_sum") {
        hist_sum = true;
      } else if (name == family + "_count") {
        hist_count = value;
      }
    }
  }
  EXPECT_GT(samples, 10);
  ASSERT_FALSE(buckets.empty());
  for (std::size_t i = 1; i < buckets.size(); ++i) {
    EXPECT_LT(buckets[i - 1].first, buckets[i].first) << "bucket bounds not ascending";
    EXPECT_LE(buckets[i - 1].second, buckets[i].second) << "buckets not cumulative";
  }
  EXPECT_TRUE(std::isinf(buckets.back().first)) << "no +Inf bucket";
  EXPECT_TRUE(hist_sum);
  EXPECT_EQ(hist_count, buckets.back().second) << "_count differs from the +Inf bucket";
}

TEST(Aioctl, PrometheusOutputIsWellFormed) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  {
    auto c = Client::connect(daemon.client_options());
    ASSERT_TRUE(c);
    for (int i = 0; i < 20; ++i) ASSERT_FALSE(c->single(Nop{}));
    EXPECT_TRUE(c->single(Fsync{.file = Handle{5}}));
    const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--prometheus"});
    ASSERT_EQ(r.exit_code, 0);
    check_prometheus(r.out);
    EXPECT_NE(r.out.find("aiod_ops_completed_total 21\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("aiod_opcode_errors_total{opcode=\"fsync\"} 1\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("aiod_op_latency_seconds_count 21\n"), std::string::npos) << r.out;
  }
}

TEST(Aioctl, WatchPrintsCountTimes) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json", "--watch",
                                       "--interval", "0.05", "--count", "3"});
  ASSERT_EQ(r.exit_code, 0);
  std::size_t n = 0;
  for (std::size_t pos = 0; (pos = r.out.find("\"version\":1", pos)) != std::string::npos; ++pos) ++n;
  EXPECT_EQ(n, 3u) << r.out;
  EXPECT_EQ(run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--count", "3"}).exit_code, 2)
      << "--count without --watch is a usage error";
}

// An aiod whose config file the test rewrites: `conf` is its path.
struct ConfiguredDaemon {
  std::string dir = [] {
    char tmpl[] = "/tmp/aiod-test-ctl-XXXXXX";
    return std::string(::mkdtemp(tmpl) != nullptr ? tmpl : "");
  }();
  std::string conf = dir + "/aiod.conf";
  bool written = static_cast<bool>(std::ofstream(conf) << "log-level = warn\n");
  DaemonProcess daemon{{"--config", conf}};
  ~ConfiguredDaemon() {
    ::unlink(conf.c_str());
    ::rmdir(dir.c_str());
  }
  void write(const std::string& text) const { std::ofstream(conf) << text; }
  [[nodiscard]] CommandResult aioctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {AIOCTL_PATH, "--socket", daemon.socket_path()});
    return run_command(args, std::chrono::seconds(20), true);
  }
};

std::size_t lines(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

TEST(Aioctl, ReloadAppliesTheConfigFileAsSighupDoes) {
  ConfiguredDaemon d;
  ASSERT_TRUE(d.written && d.daemon.running());
  d.write("log-level = info\nmax-sessions = 7\n");
  const CommandResult r = d.aioctl({"reload"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("reloaded " + d.conf), std::string::npos) << r.out;
  // The reply comes after the reload: the counter already shows it.
  const CommandResult s = d.aioctl({"stats", "--json"});
  EXPECT_NE(s.out.find("\"config_reloads\":1,"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("\"config_reload_failures\":0,"), std::string::npos) << s.out;
}

TEST(Aioctl, ReloadOfABadFileSaysWhyAndFails) {
  ConfiguredDaemon d;
  ASSERT_TRUE(d.written && d.daemon.running());
  d.write("log-level = info\nno-such-setting = 4\n");
  const CommandResult r = d.aioctl({"reload"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(lines(r.out), 1u) << r.out;
  EXPECT_NE(r.out.find("reload rejected"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no-such-setting"), std::string::npos) << "the reason is the daemon's: " << r.out;
  EXPECT_NE(r.out.find(":2"), std::string::npos) << "the reason names the line: " << r.out;
  const CommandResult s = d.aioctl({"stats", "--json"});
  EXPECT_EQ(s.exit_code, 0) << "the daemon serves on with its old settings";
  EXPECT_NE(s.out.find("\"config_reload_failures\":1,"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("\"config_reloads\":0,"), std::string::npos) << s.out;
}

// Shutdown acknowledges, then stops the daemon as SIGTERM does: an IO
// session's op in flight is cancelled, the socket file goes, the process
// exits 0; and aioctl returns only once the daemon has stopped serving.
void expect_shutdown_stops_the_daemon(const std::string& command) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  auto client = Client::connect(daemon.client_options());
  ASSERT_TRUE(client);
  Dynamic q(*client, 4);
  std::error_code op_error;
  ASSERT_FALSE(q.queue(Timeout{.duration = std::chrono::seconds(30), .out_error = &op_error}));
  ASSERT_TRUE(q.complete(CompletionMode::nonblocking));  // submitted
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    const CommandResult stats = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    if (stats.out.find("\"ops_in_flight\":1") != std::string::npos) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the op never showed in flight";
  }

  const CommandResult r =
      run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), command}, std::chrono::seconds(20), true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(lines(r.out), 1u) << r.out;
  EXPECT_NE(r.out.find("stopped"), std::string::npos) << r.out;
  struct stat st{};
  EXPECT_EQ(::lstat(daemon.socket_path().c_str(), &st), -1) << "the socket file is gone when aioctl returns";
  auto done = q.complete(CompletionMode::blocking);
  ASSERT_TRUE(done) << done.message();
  EXPECT_EQ(done->num_completed, 1u);
  EXPECT_EQ(op_error, std::error_code(ECANCELED, std::system_category())) << "the op in flight is cancelled";
  const std::optional<int> status = daemon.wait_exit(std::chrono::seconds(10));
  ASSERT_TRUE(status) << "aiod still runs 10 s after " << command;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
}

TEST(Aioctl, ShutdownStopsTheDaemonAsSigtermDoes) { expect_shutdown_stops_the_daemon("shutdown"); }

TEST(Aioctl, StopIsShutdown) { expect_shutdown_stops_the_daemon("stop"); }

// Runs aioctl as uid/gid 65534 (no supplementary groups); stdout and stderr
// merged. Bounded: the child is killed after 20 s.
CommandResult run_as_nobody(const std::vector<std::string>& argv) {
  CommandResult r;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) return r;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(125);
    }
    ::execv(args[0], args.data());
    ::_exit(126);
  }
  ::close(out[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{out[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      ::kill(child, SIGKILL);
      r.out += "[killed after 20 s]";
      break;
    }
    const ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    r.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return r;
}

// Reload and shutdown act on the daemon everyone uses: a user who may
// connect (a member of the socket's group; here the socket is 0666) may read
// stats and no more.
TEST(Aioctl, OnlyTheDaemonsOwnerMayReloadOrStopIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run aioctl as another user";
  char tmpl[] = "/tmp/aiod-test-ctl-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string conf = std::string(tmpl) + "/aiod.conf";
  std::ofstream(conf) << "log-level = warn\n";
  {
    DaemonProcess daemon({"--config", conf, "--socket-mode", "0666"});
    ASSERT_TRUE(daemon.running());
    const std::vector<std::string> base{AIOCTL_PATH, "--socket", daemon.socket_path()};
    auto with = [&](const char* command) {
      std::vector<std::string> v = base;
      v.emplace_back(command);
      return v;
    };
    const CommandResult ping = run_as_nobody(with("ping"));
    ASSERT_EQ(ping.exit_code, 0) << "nobody must be able to connect for this test to mean anything: " << ping.out;

    const CommandResult reload = run_as_nobody(with("reload"));
    EXPECT_EQ(reload.exit_code, 1) << reload.out;
    EXPECT_EQ(lines(reload.out), 1u) << reload.out;
    EXPECT_NE(reload.out.find("reload: only root may reload it"), std::string::npos) << reload.out;
    EXPECT_NE(reload.out.find(std::strerror(EPERM)), std::string::npos) << reload.out;

    for (const char* command : {"shutdown", "stop"}) {
      const CommandResult stop = run_as_nobody(with(command));
      EXPECT_EQ(stop.exit_code, 1) << command << ": " << stop.out;
      EXPECT_NE(stop.out.find("shutdown: only root may stop it"), std::string::npos) << stop.out;
      EXPECT_NE(stop.out.find(std::strerror(EPERM)), std::string::npos) << stop.out;
    }
    EXPECT_FALSE(daemon.wait_exit(std::chrono::milliseconds(200))) << "the daemon stopped for nobody";
    const CommandResult stats = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
    ASSERT_EQ(stats.exit_code, 0) << "the daemon serves on";
    EXPECT_NE(stats.out.find("\"config_reloads\":0,"), std::string::npos) << "nobody's reload ran: " << stats.out;
    // Root may.
    EXPECT_EQ(run_command(with("reload")).exit_code, 0);
  }
  ::unlink(conf.c_str());
  ::rmdir(tmpl);
}

// aioctl's own control session is not an application session.
TEST(Aioctl, StatsDoNotCountAioctlItself) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::vector<std::string> json{AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"};
  CommandResult r = run_command(json);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("\"sessions_active\":0,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"sessions_total\":0,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"control_sessions_active\":1,"), std::string::npos) << r.out;
  const CommandResult table = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats"});
  EXPECT_TRUE(std::regex_search(table.out, std::regex(R"(sessions active +0\n)"))) << table.out;
  const CommandResult prom = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--prometheus"});
  EXPECT_NE(prom.out.find("aiod_sessions_active 0\n"), std::string::npos) << prom.out;
  EXPECT_NE(prom.out.find("aiod_control_sessions_active 1\n"), std::string::npos) << prom.out;

  auto c = Client::connect(daemon.client_options());
  ASSERT_TRUE(c);
  r = run_command(json);
  EXPECT_NE(r.out.find("\"sessions_active\":1,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"sessions_total\":1,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"control_sessions_total\":4,"), std::string::npos) << "every aioctl so far: " << r.out;
}

TEST(Aioctl, ExitCodes) {
  EXPECT_EQ(run_command({AIOCTL_PATH, "--socket", "/tmp/aiod-test-nothing-here", "ping"}).exit_code, 3);
  EXPECT_EQ(run_command({AIOCTL_PATH, "no-such-command"}).exit_code, 2);
  EXPECT_EQ(run_command({AIOCTL_PATH}).exit_code, 2);
}

}  // namespace
}  // namespace aiod::test
