// aioctl against a real daemon: ping, stats as a table and as JSON, exit codes.
#include <gtest/gtest.h>

#include <aiod/aiod.hpp>
#include <cmath>
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

TEST(Aioctl, ExitCodes) {
  EXPECT_EQ(run_command({AIOCTL_PATH, "--socket", "/tmp/aiod-test-nothing-here", "ping"}).exit_code, 3);
  EXPECT_EQ(run_command({AIOCTL_PATH, "no-such-command"}).exit_code, 2);
  EXPECT_EQ(run_command({AIOCTL_PATH}).exit_code, 2);
}

}  // namespace
}  // namespace aiod::test
