// SPDX-License-Identifier: MIT
// Unit tests of client/aioctl/stats_format: what `aioctl stats [--json |
// --prometheus]` and `aioctl clients` print. Programs parse the JSON and
// Prometheus scrapes the exposition text, so both must stay well-formed
// whatever the strings contain, with stable names; the tables must show every
// counter and session; from_reply() must map every field of the wire's
// StatsReply to its own place.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "aiod/control_generated.h"
#include "stats_format.hpp"
#include "wire.hpp"

namespace aiod::ctl {
namespace {

// ---------------------------------------------------------------------------
// A strict JSON (RFC 8259) parser into a small tree: enough to validate the
// output and look values up.

struct Json {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;  // number: its literal; string: the decoded value
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  [[nodiscard]] const Json* get(const std::string& key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}

  // The document, or an error message in `error`.
  bool parse(Json& out, std::string& error) {
    ws();
    if (!value(out, 0)) {
      error = error_ + " at offset " + std::to_string(pos_);
      return false;
    }
    ws();
    if (pos_ != s_.size()) {
      error = "trailing characters at offset " + std::to_string(pos_);
      return false;
    }
    return true;
  }

 private:
  bool fail(const std::string& why) {
    if (error_.empty()) error_ = why;
    return false;
  }
  [[nodiscard]] bool at_end() const { return pos_ >= s_.size(); }
  [[nodiscard]] char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  bool literal(const char* word) {
    const std::string w(word);
    if (s_.compare(pos_, w.size(), w) != 0) return fail("bad literal");
    pos_ += w.size();
    return true;
  }

  bool value(Json& out, int depth) {
    if (depth > 64) return fail("too deep");
    switch (peek()) {
      case '{':
        return object(out, depth);
      case '[':
        return array(out, depth);
      case '"':
        out.kind = Json::Kind::string;
        return string(out.text);
      case 't':
        out.kind = Json::Kind::boolean;
        out.boolean = true;
        return literal("true");
      case 'f':
        out.kind = Json::Kind::boolean;
        return literal("false");
      case 'n':
        out.kind = Json::Kind::null;
        return literal("null");
      default:
        out.kind = Json::Kind::number;
        return number(out.text);
    }
  }

  bool object(Json& out, int depth) {
    out.kind = Json::Kind::object;
    ++pos_;
    ws();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      ws();
      std::string key;
      if (peek() != '"') return fail("expected a key");
      if (!string(key)) return false;
      if (out.get(key) != nullptr) return fail("duplicate key \"" + key + "\"");
      ws();
      if (peek() != ':') return fail("expected ':'");
      ++pos_;
      ws();
      Json v;
      if (!value(v, depth + 1)) return false;
      out.members.emplace_back(std::move(key), std::move(v));
      ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool array(Json& out, int depth) {
    out.kind = Json::Kind::array;
    ++pos_;
    ws();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      ws();
      Json v;
      if (!value(v, depth + 1)) return false;
      out.items.push_back(std::move(v));
      ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  bool hex4(unsigned& out) {
    if (pos_ + 4 > s_.size()) return fail("short \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      unsigned d;
      if (c >= '0' && c <= '9') {
        d = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<unsigned>(c - 'A' + 10);
      } else {
        return fail("bad hex digit");
      }
      out = out * 16 + d;
    }
    return true;
  }

  bool string(std::string& out) {
    ++pos_;  // opening quote
    out.clear();
    for (;;) {
      if (at_end()) return fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("raw control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) return fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00) {
            unsigned low;
            if (s_.compare(pos_, 2, "\\u") != 0) return fail("lone high surrogate");
            pos_ += 2;
            if (!hex4(low) || low < 0xdc00 || low >= 0xe000) return fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            return fail("lone low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return fail(std::string("bad escape \\") + e);
      }
    }
  }

  bool number(std::string& out) {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      return pos_ - from;
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (digits() == 0) {
      return fail("expected a value");
    }
    if (peek() == '.') {
      ++pos_;
      if (digits() == 0) return fail("bad fraction");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (digits() == 0) return fail("bad exponent");
    }
    out = s_.substr(start, pos_ - start);
    return true;
  }

  const std::string& s_;
  std::size_t pos_ = 0;
  std::string error_;
};

// Parses `text`, failing the test (and returning null kind) when it is not JSON.
Json parse_json(const std::string& text) {
  Json doc;
  std::string error;
  EXPECT_TRUE(JsonParser(text).parse(doc, error)) << error << "\n" << text;
  return doc;
}

// The parser itself must reject what is not JSON, or the tests prove nothing.
TEST(JsonParserSelfCheck, RejectsInvalidDocuments) {
  for (const char* bad : {"", "{", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "\"a\nb\"", "\"\\x\"", "01", "1.",
                          "{\"a\":1,\"a\":2}", "[1] 2", "{a:1}", "\"\\ud800\"", "-", "tru"}) {
    Json doc;
    std::string error;
    EXPECT_FALSE(JsonParser(bad).parse(doc, error)) << bad;
  }
  Json doc;
  std::string error;
  EXPECT_TRUE(JsonParser(" {\"a\":[1,-2.5e3,true,null,\"\\u00e9\\n\"]} ").parse(doc, error)) << error;
  EXPECT_EQ(doc.get("a")->items[4].text, "\xc3\xa9\n");
}

std::uint64_t as_u64(const Json* j) {
  EXPECT_NE(j, nullptr);
  if (j == nullptr) return 0;
  EXPECT_EQ(j->kind, Json::Kind::number);
  return std::strtoull(j->text.c_str(), nullptr, 10);
}

std::string as_string(const Json* j) {
  EXPECT_NE(j, nullptr);
  if (j == nullptr) return {};
  EXPECT_EQ(j->kind, Json::Kind::string);
  return j->text;
}

// ---------------------------------------------------------------------------
// Fixtures

Counters counters_from(std::uint64_t base) {
  Counters c;
  c.ops_submitted = base + 1;
  c.ops_completed = base + 2;
  c.ops_failed = base + 3;
  c.ops_in_flight = base + 4;
  c.bytes_in = base + 5;
  c.bytes_out = base + 6;
  c.invalid_descriptors = base + 7;
  c.ring_full_events = base + 8;
  c.wakeups_sent = base + 9;
  c.wakeups_received = base + 10;
  return c;
}

const char* const kCounterKeys[] = {"ops_submitted", "ops_completed",   "ops_failed",          "ops_in_flight",
                                    "bytes_in",      "bytes_out",       "invalid_descriptors", "ring_full_events",
                                    "wakeups_sent",  "wakeups_received"};

void expect_json_counters(const Json* j, std::uint64_t base) {
  ASSERT_NE(j, nullptr);
  ASSERT_EQ(j->kind, Json::Kind::object);
  EXPECT_EQ(j->members.size(), std::size(kCounterKeys));
  for (std::size_t i = 0; i < std::size(kCounterKeys); ++i) {
    EXPECT_EQ(as_u64(j->get(kCounterKeys[i])), base + i + 1) << kCounterKeys[i];
  }
}

void expect_counters(const Counters& c, std::uint64_t base) {
  EXPECT_EQ(c.ops_submitted, base + 1);
  EXPECT_EQ(c.ops_completed, base + 2);
  EXPECT_EQ(c.ops_failed, base + 3);
  EXPECT_EQ(c.ops_in_flight, base + 4);
  EXPECT_EQ(c.bytes_in, base + 5);
  EXPECT_EQ(c.bytes_out, base + 6);
  EXPECT_EQ(c.invalid_descriptors, base + 7);
  EXPECT_EQ(c.ring_full_events, base + 8);
  EXPECT_EQ(c.wakeups_sent, base + 9);
  EXPECT_EQ(c.wakeups_received, base + 10);
}

OpcodeStat opstat(const std::string& name, std::uint64_t count, std::uint64_t errors) {
  OpcodeStat o;
  o.name = name;
  o.count = count;
  o.errors = errors;
  return o;
}

SessionStat session(std::uint64_t id, std::int32_t pid, std::uint32_t uid, std::uint32_t gid, std::uint32_t shard,
                    const std::string& name, std::uint64_t counters_base) {
  SessionStat ss;
  ss.id = id;
  ss.pid = pid;
  ss.uid = uid;
  ss.gid = gid;
  ss.shard = shard;
  ss.name = name;
  ss.counters = counters_from(counters_base);
  return ss;
}

DaemonStats sample() {
  DaemonStats s;
  s.stats_version = 1;
  s.daemon_version = "0.1.0";
  s.backend = "io_uring";
  s.uptime_ns = 12'500'000'000;
  s.shards = 2;
  s.sessions_active = 2;
  s.sessions_total = 17;
  s.daemon_syscalls = 4242;
  s.config_reloads = 3;
  s.config_reload_failures = 1;
  s.totals = counters_from(100);
  s.opcodes = {opstat("nop", 1000, 0), opstat("read", 250, 3), opstat("open_at", 9, 1)};
  s.latency_bounds_ns = {1000, 2000, 4000};
  s.latency_counts = {5, 3, 1, 1};
  s.latency_sum_ns = 30'000;
  s.latency_count = 10;
  s.sessions = {session(7, 4321, 1000, 100, 0, "file_io", 200), session(8, -1, 0, 0, 1, "", 300)};
  s.sessions[0].opcodes = {opstat("read", 20, 2)};
  s.kernel = "6.18.44-amd64";
  s.emulated_kernel = "6.1";
  s.io_uring_setup = "cqsize single_issuer";
  s.backend_ops = {
      {"read", "ring", 250, 0}, {"bind", "emulated", 0, 4}, {"statx", "posix", 0, 9}, {"listen", "emulated", 0, 0}};
  return s;
}

// ---------------------------------------------------------------------------
// format_json

TEST(StatsJson, EmptyStatsAreValidJsonWithEveryKey) {
  const std::string out = format_json(DaemonStats{});
  const Json doc = parse_json(out);
  ASSERT_EQ(doc.kind, Json::Kind::object);
  for (const char* key :
       {"version", "daemon_version", "backend", "uptime_ns", "shards", "sessions_active", "sessions_total",
        "daemon_syscalls", "config_reloads", "config_reload_failures", "totals", "opcodes", "latency_ns", "sessions"}) {
    EXPECT_NE(doc.get(key), nullptr) << "missing key " << key;
  }
  EXPECT_EQ(doc.get("opcodes")->kind, Json::Kind::object);
  EXPECT_EQ(doc.get("sessions")->kind, Json::Kind::array);
  EXPECT_TRUE(doc.get("sessions")->items.empty());
  const Json* lat = doc.get("latency_ns");
  ASSERT_EQ(lat->kind, Json::Kind::object);
  EXPECT_EQ(lat->get("bounds")->kind, Json::Kind::array);
  EXPECT_EQ(lat->get("counts")->kind, Json::Kind::array);
  EXPECT_EQ(as_u64(lat->get("sum")), 0u);
  EXPECT_EQ(as_u64(lat->get("count")), 0u);
  const Json* totals = doc.get("totals");
  ASSERT_NE(totals, nullptr);
  for (const char* key : kCounterKeys) EXPECT_EQ(as_u64(totals->get(key)), 0u) << key;
}

TEST(StatsJson, EveryValueIsWhereItsKeySays) {
  const Json doc = parse_json(format_json(sample()));
  ASSERT_EQ(doc.kind, Json::Kind::object);
  EXPECT_EQ(as_u64(doc.get("version")), 1u);
  EXPECT_EQ(as_string(doc.get("daemon_version")), "0.1.0");
  EXPECT_EQ(as_string(doc.get("backend")), "io_uring");
  EXPECT_EQ(as_u64(doc.get("uptime_ns")), 12'500'000'000u);
  EXPECT_EQ(as_u64(doc.get("shards")), 2u);
  EXPECT_EQ(as_u64(doc.get("sessions_active")), 2u);
  EXPECT_EQ(as_u64(doc.get("sessions_total")), 17u);
  EXPECT_EQ(as_u64(doc.get("daemon_syscalls")), 4242u);
  EXPECT_EQ(as_u64(doc.get("config_reloads")), 3u);
  EXPECT_EQ(as_u64(doc.get("config_reload_failures")), 1u);
  expect_json_counters(doc.get("totals"), 100);

  const Json* ops = doc.get("opcodes");
  ASSERT_NE(ops, nullptr);
  ASSERT_EQ(ops->members.size(), 3u);
  EXPECT_EQ(as_u64(ops->get("nop")->get("count")), 1000u);
  EXPECT_EQ(as_u64(ops->get("nop")->get("errors")), 0u);
  EXPECT_EQ(as_u64(ops->get("read")->get("count")), 250u);
  EXPECT_EQ(as_u64(ops->get("read")->get("errors")), 3u);
  EXPECT_EQ(as_u64(ops->get("open_at")->get("errors")), 1u);

  const Json* lat = doc.get("latency_ns");
  ASSERT_NE(lat, nullptr);
  ASSERT_EQ(lat->get("bounds")->items.size(), 3u);
  EXPECT_EQ(as_u64(&lat->get("bounds")->items[2]), 4000u);
  ASSERT_EQ(lat->get("counts")->items.size(), 4u);
  EXPECT_EQ(as_u64(&lat->get("counts")->items[0]), 5u);
  EXPECT_EQ(as_u64(&lat->get("counts")->items[3]), 1u);
  EXPECT_EQ(as_u64(lat->get("sum")), 30'000u);
  EXPECT_EQ(as_u64(lat->get("count")), 10u);

  const Json* sessions = doc.get("sessions");
  ASSERT_NE(sessions, nullptr);
  ASSERT_EQ(sessions->items.size(), 2u);
  const Json& first = sessions->items[0];
  EXPECT_EQ(as_u64(first.get("id")), 7u);
  EXPECT_EQ(first.get("pid")->text, "4321");
  EXPECT_EQ(as_u64(first.get("uid")), 1000u);
  EXPECT_EQ(as_u64(first.get("gid")), 100u);
  EXPECT_EQ(as_u64(first.get("shard")), 0u);
  EXPECT_EQ(as_string(first.get("name")), "file_io");
  expect_json_counters(first.get("counters"), 200);
  const Json* first_ops = first.get("opcodes");
  ASSERT_NE(first_ops, nullptr);
  ASSERT_EQ(first_ops->kind, Json::Kind::object);
  ASSERT_NE(first_ops->get("read"), nullptr);
  EXPECT_EQ(as_u64(first_ops->get("read")->get("count")), 20u);
  EXPECT_EQ(as_u64(first_ops->get("read")->get("errors")), 2u);
  const Json& second = sessions->items[1];
  EXPECT_EQ(second.get("pid")->text, "-1");
  EXPECT_EQ(as_u64(second.get("shard")), 1u);
  EXPECT_EQ(as_string(second.get("name")), "");
  expect_json_counters(second.get("counters"), 300);
}

TEST(StatsJson, KernelAndBackendOpsAreWhereTheirKeysSay) {
  const Json doc = parse_json(format_json(sample()));
  const Json* kernel = doc.get("kernel");
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(as_string(kernel->get("release")), "6.18.44-amd64");
  EXPECT_EQ(as_string(kernel->get("emulated")), "6.1");
  EXPECT_EQ(as_string(kernel->get("io_uring_setup")), "cqsize single_issuer");
  const Json* ops = doc.get("backend_ops");
  ASSERT_NE(ops, nullptr);
  ASSERT_EQ(ops->members.size(), 4u);
  EXPECT_EQ(as_string(ops->get("bind")->get("runs")), "emulated");
  EXPECT_EQ(as_u64(ops->get("bind")->get("ring")), 0u);
  EXPECT_EQ(as_u64(ops->get("bind")->get("posix")), 4u);
  EXPECT_EQ(as_string(ops->get("read")->get("runs")), "ring");
  EXPECT_EQ(as_u64(ops->get("read")->get("ring")), 250u);
  // Not emulating: null, not an empty string.
  DaemonStats native = sample();
  native.emulated_kernel.clear();
  EXPECT_EQ(parse_json(format_json(native)).get("kernel")->get("emulated")->kind, Json::Kind::null);
}

TEST(StatsJson, StringsAreEscaped) {
  const std::string nasty = "a\"b\\c\nd\te\rf\x01g\x1fh/i\x7fj";
  DaemonStats s = sample();
  s.daemon_version = nasty;
  s.backend = "\"quoted\"";
  s.opcodes.push_back(opstat("we\"ird\n", 1, 0));
  s.sessions[0].opcodes.push_back(opstat("tab\there", 1, 0));
  s.sessions[0].name = nasty;
  s.sessions[1].name = "\xc3\xa9t\xc3\xa9";  // UTF-8 passes through
  const std::string out = format_json(s);
  const Json doc = parse_json(out);
  ASSERT_EQ(doc.kind, Json::Kind::object);
  EXPECT_EQ(as_string(doc.get("daemon_version")), nasty);
  EXPECT_EQ(as_string(doc.get("backend")), "\"quoted\"");
  ASSERT_NE(doc.get("opcodes"), nullptr);
  EXPECT_NE(doc.get("opcodes")->get("we\"ird\n"), nullptr);
  ASSERT_EQ(doc.get("sessions")->items.size(), 2u);
  EXPECT_EQ(as_string(doc.get("sessions")->items[0].get("name")), nasty);
  EXPECT_NE(doc.get("sessions")->items[0].get("opcodes")->get("tab\there"), nullptr);
  EXPECT_EQ(as_string(doc.get("sessions")->items[1].get("name")), "\xc3\xa9t\xc3\xa9");
}

TEST(StatsJson, EveryControlCharacterRoundTrips) {
  std::string all;
  for (int c = 1; c < 0x20; ++c) all += static_cast<char>(c);
  DaemonStats s;
  s.backend = all;
  const Json doc = parse_json(format_json(s));
  EXPECT_EQ(as_string(doc.get("backend")), all);
}

TEST(StatsJson, LargeCountersAreExactIntegers) {
  DaemonStats s;
  s.totals.bytes_in = 18'446'744'073'709'551'615ull;
  const Json doc = parse_json(format_json(s));
  ASSERT_NE(doc.get("totals"), nullptr);
  EXPECT_EQ(doc.get("totals")->get("bytes_in")->text, "18446744073709551615");
}

// ---------------------------------------------------------------------------
// format_table / format_clients

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The line that starts (after spaces) with `label`, or "".
std::string line_with(const std::string& text, const std::string& label) {
  for (const std::string& line : lines_of(text)) {
    const std::size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, label.size(), label) == 0) return line;
  }
  return {};
}

bool ends_with_number(const std::string& line, std::uint64_t n) {
  const std::string s = std::to_string(n);
  return line.size() > s.size() && line.compare(line.size() - s.size(), s.size(), s) == 0 &&
         line[line.size() - s.size() - 1] == ' ';
}

TEST(StatsTable, ShowsTheHeadlineAndEveryCounter) {
  const DaemonStats s = sample();
  const std::string out = format_table(s);
  const std::vector<std::string> lines = lines_of(out);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("0.1.0"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("io_uring"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("12.5 s"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("2 shards"), std::string::npos) << lines[0];

  const struct {
    const char* label;
    std::uint64_t value;
  } rows[] = {{"sessions active", 2},       {"sessions total", 17}, {"ops submitted", 101},
              {"ops completed", 102},       {"ops failed", 103},    {"ops in flight", 104},
              {"invalid descriptors", 107}, {"bytes in", 105},      {"bytes out", 106},
              {"ring full events", 108},    {"wakeups sent", 109},  {"wakeups received", 110},
              {"daemon syscalls", 4242}};
  for (const auto& r : rows) {
    const std::string line = line_with(out, r.label);
    EXPECT_FALSE(line.empty()) << "no row " << r.label << " in\n" << out;
    EXPECT_TRUE(ends_with_number(line, r.value)) << line;
  }
  const std::string mean = line_with(out, "mean latency");
  EXPECT_NE(mean.find("3.0 us"), std::string::npos) << "30000 ns over 10 ops: " << mean;
}

TEST(StatsTable, NamesTheKernelAndTheEmulatedOps) {
  const std::string out = format_table(sample());
  const std::string kernel = line_with(out, "Linux");
  EXPECT_NE(kernel.find("6.18.44-amd64"), std::string::npos) << out;
  EXPECT_NE(kernel.find("io_uring as in 6.1 (--emulate-kernel)"), std::string::npos) << kernel;
  EXPECT_NE(kernel.find("cqsize single_issuer"), std::string::npos) << kernel;
  const std::string emulated = line_with(out, "emulated");
  EXPECT_NE(emulated.find(": bind, listen"), std::string::npos) << out;  // only the emulated ones, in order
  DaemonStats native = sample();
  native.emulated_kernel.clear();
  native.backend_ops.clear();
  const std::string plain = format_table(native);
  EXPECT_EQ(line_with(plain, "Linux").find("--emulate-kernel"), std::string::npos) << plain;
  EXPECT_TRUE(line_with(plain, "emulated").empty()) << plain;
}

TEST(StatsTable, OneShardIsSingular) {
  DaemonStats s = sample();
  s.shards = 1;
  EXPECT_NE(lines_of(format_table(s))[0].find(", 1 shard"), std::string::npos) << format_table(s);
  EXPECT_EQ(lines_of(format_table(s))[0].find("shards"), std::string::npos);
}

TEST(StatsTable, ListsEveryOpcodeWithCountAndErrors) {
  const std::string out = format_table(sample());
  EXPECT_FALSE(line_with(out, "OPCODE").empty()) << out;
  for (const auto& [name, count, errors] :
       {std::tuple{"nop", 1000, 0}, std::tuple{"read", 250, 3}, std::tuple{"open_at", 9, 1}}) {
    const std::string line = line_with(out, name);
    ASSERT_FALSE(line.empty()) << "no row for " << name << "\n" << out;
    std::istringstream in(line);
    std::string n;
    std::uint64_t c = 0, e = 0;
    in >> n >> c >> e;
    EXPECT_EQ(n, name);
    EXPECT_EQ(c, static_cast<std::uint64_t>(count)) << line;
    EXPECT_EQ(e, static_cast<std::uint64_t>(errors)) << line;
  }
}

TEST(StatsTable, NoLatencyOrOpcodeSectionsWhenThereIsNothingToShow) {
  DaemonStats s = sample();
  s.latency_count = 0;
  s.opcodes.clear();
  const std::string out = format_table(s);
  EXPECT_TRUE(line_with(out, "mean latency").empty()) << out;
  EXPECT_TRUE(line_with(out, "OPCODE").empty()) << out;
}

TEST(StatsTable, LongStringsAreNotCut) {
  // Regression: lines went through a fixed 160-byte buffer, cutting long names.
  DaemonStats s = sample();
  s.daemon_version = std::string(200, 'v');
  s.opcodes = {opstat(std::string(150, 'o'), 1, 2)};
  const std::string out = format_table(s);
  EXPECT_NE(out.find(s.daemon_version), std::string::npos);
  EXPECT_FALSE(line_with(out, "sessions active").empty()) << out;
  EXPECT_NE(out.find(s.opcodes[0].name), std::string::npos);
  EXPECT_TRUE(ends_with_number(line_with(out, s.opcodes[0].name), 2)) << out;
}

TEST(StatsClients, HeaderAndOneLinePerSession) {
  const std::string out = format_clients(sample());
  const std::vector<std::string> lines = lines_of(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  for (const char* col : {"SESSION", "PID", "UID", "SHARD", "IN-FLIGHT", "SUBMITTED", "COMPLETED", "NAME"}) {
    EXPECT_NE(lines[0].find(col), std::string::npos) << col;
  }
  std::istringstream first(lines[1]);
  std::uint64_t id = 0, uid = 0, shard = 0, in_flight = 0, submitted = 0, completed = 0;
  std::int64_t pid = 0;
  std::string name;
  first >> id >> pid >> uid >> shard >> in_flight >> submitted >> completed >> name;
  EXPECT_EQ(id, 7u);
  EXPECT_EQ(pid, 4321);
  EXPECT_EQ(uid, 1000u);
  EXPECT_EQ(shard, 0u);
  EXPECT_EQ(in_flight, 204u);
  EXPECT_EQ(submitted, 201u);
  EXPECT_EQ(completed, 202u);
  EXPECT_EQ(name, "file_io");

  std::istringstream second(lines[2]);
  second >> id >> pid >> uid >> shard >> in_flight >> submitted >> completed;
  EXPECT_EQ(id, 8u);
  EXPECT_EQ(pid, -1);
  EXPECT_EQ(shard, 1u);
  EXPECT_EQ(in_flight, 304u);
}

TEST(StatsClients, NoSessionsIsJustTheHeader) {
  const std::vector<std::string> lines = lines_of(format_clients(DaemonStats{}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("SESSION"), std::string::npos);
}

// ---------------------------------------------------------------------------
// format_prometheus: the text exposition format, version 0.0.4

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // metric family -> TYPE
  std::vector<PromSample> samples;

  [[nodiscard]] const PromSample* find(const std::string& name,
                                       const std::map<std::string, std::string>& labels = {}) const {
    for (const PromSample& s : samples) {
      if (s.name == name && s.labels == labels) return &s;
    }
    return nullptr;
  }
};

bool is_name_char(char c, bool first, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

// Parses the exposition text strictly; false with `error` set when malformed.
bool parse_exposition(const std::string& text, Exposition& out, std::string& error) {
  if (!text.empty() && text.back() != '\n') {
    error = "the last line has no newline";
    return false;
  }
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    const std::string where = "line " + std::to_string(n) + ": " + line;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name, rest;
      words >> hash >> keyword >> name;
      if (keyword == "TYPE") {
        words >> rest;
        if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" && rest != "untyped") {
          error = "bad TYPE, " + where;
          return false;
        }
        if (out.types.count(name) != 0) {
          error = "second TYPE, " + where;
          return false;
        }
        out.types[name] = rest;
      }
      continue;
    }
    PromSample sample;
    std::size_t i = 0;
    while (i < line.size() && is_name_char(line[i], i == 0, true)) ++i;
    if (i == 0) {
      error = "bad metric name, " + where;
      return false;
    }
    sample.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t start = i;
        while (i < line.size() && is_name_char(line[i], i == start, false)) ++i;
        if (i == start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
          error = "bad label, " + where;
          return false;
        }
        const std::string label_name = line.substr(start, i - start);
        i += 2;
        std::string value;
        for (;; ++i) {
          if (i >= line.size()) {
            error = "unterminated label value, " + where;
            return false;
          }
          if (line[i] == '"') break;
          if (line[i] != '\\') {
            value += line[i];
            continue;
          }
          if (++i >= line.size()) {
            error = "bad escape, " + where;
            return false;
          }
          if (line[i] == 'n') {
            value += '\n';
          } else if (line[i] == '\\' || line[i] == '"') {
            value += line[i];
          } else {
            error = "bad escape, " + where;
            return false;
          }
        }
        ++i;  // closing quote
        if (!sample.labels.emplace(label_name, value).second) {
          error = "duplicate label, " + where;
          return false;
        }
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) {
        error = "unterminated labels, " + where;
        return false;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      error = "no value, " + where;
      return false;
    }
    const std::string value = line.substr(i + 1);
    if (value == "+Inf") {
      sample.value = std::numeric_limits<double>::infinity();
    } else {
      char* end = nullptr;
      sample.value = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size()) {
        error = "bad value, " + where;
        return false;
      }
    }
    // Every sample belongs to a family declared before it.
    std::string family = sample.name;
    if (out.types.count(family) == 0) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string sfx(suffix);
        if (family.size() > sfx.size() && family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0) {
          const std::string base = family.substr(0, family.size() - sfx.size());
          if (out.types.count(base) != 0 && out.types[base] == "histogram") family = base;
        }
      }
    }
    if (out.types.count(family) == 0) {
      error = "sample without a TYPE, " + where;
      return false;
    }
    out.samples.push_back(std::move(sample));
  }
  return true;
}

Exposition parse_prometheus(const std::string& text) {
  Exposition e;
  std::string error;
  EXPECT_TRUE(parse_exposition(text, e, error)) << error << "\n" << text;
  return e;
}

TEST(PrometheusParserSelfCheck, RejectsMalformedText) {
  for (const char* bad : {"a 1", "# TYPE a counter\na 1\n# TYPE a counter\n", "# TYPE a counter\na{b=\"c} 1\n",
                          "# TYPE a counter\na{b=\"\\x\"} 1\n", "# TYPE a counter\na one\n", "b 1\n",
                          "# TYPE a counter\n1a 1\n", "# TYPE a counter\na{b=\"1\",b=\"2\"} 1\n"}) {
    Exposition e;
    std::string error;
    EXPECT_FALSE(parse_exposition(bad, e, error)) << bad;
  }
  Exposition e;
  std::string error;
  EXPECT_TRUE(
      parse_exposition("# HELP a x\n# TYPE a histogram\na_bucket{le=\"+Inf\"} 2\na_sum 1.5\na_count 2\n", e, error))
      << error;
  EXPECT_EQ(e.samples.size(), 3u);
}

TEST(StatsPrometheus, EveryMetricIsTypedAndCarriesItsValue) {
  const Exposition e = parse_prometheus(format_prometheus(sample()));
  for (const auto& [family, type] : e.types) {
    EXPECT_EQ(family.rfind("aiod_", 0), 0u) << family << " lacks the aiod_ prefix";
    if (type == "counter") {
      EXPECT_TRUE(family.size() > 6 && family.compare(family.size() - 6, 6, "_total") == 0)
          << "counter " << family << " should end in _total";
    }
  }
  const struct {
    const char* name;
    double value;
  } expected[] = {
      {"aiod_ops_submitted_total", 101},
      {"aiod_ops_completed_total", 102},
      {"aiod_ops_failed_total", 103},
      {"aiod_ops_in_flight", 104},
      {"aiod_bytes_in_total", 105},
      {"aiod_bytes_out_total", 106},
      {"aiod_invalid_descriptors_total", 107},
      {"aiod_ring_full_events_total", 108},
      {"aiod_wakeups_sent_total", 109},
      {"aiod_wakeups_received_total", 110},
      {"aiod_daemon_syscalls_total", 4242},
      {"aiod_sessions_active", 2},
      {"aiod_sessions_total", 17},
      {"aiod_shards", 2},
      {"aiod_config_reloads_total", 3},
      {"aiod_config_reload_failures_total", 1},
      {"aiod_uptime_seconds", 12.5},
  };
  for (const auto& m : expected) {
    const PromSample* s = e.find(m.name);
    ASSERT_NE(s, nullptr) << "no sample " << m.name;
    EXPECT_DOUBLE_EQ(s->value, m.value) << m.name;
  }
  EXPECT_EQ(e.types.at("aiod_ops_in_flight"), "gauge");
  EXPECT_EQ(e.types.at("aiod_ops_submitted_total"), "counter");
}

TEST(StatsPrometheus, OpcodesAndSessionsAreLabelled) {
  const Exposition e = parse_prometheus(format_prometheus(sample()));
  const PromSample* read_ops = e.find("aiod_opcode_ops_total", {{"opcode", "read"}});
  ASSERT_NE(read_ops, nullptr);
  EXPECT_DOUBLE_EQ(read_ops->value, 250);
  const PromSample* read_errors = e.find("aiod_opcode_errors_total", {{"opcode", "read"}});
  ASSERT_NE(read_errors, nullptr);
  EXPECT_DOUBLE_EQ(read_errors->value, 3);

  int completed = 0;
  for (const PromSample& s : e.samples) {
    if (s.name != "aiod_session_ops_completed_total") continue;
    ++completed;
    if (s.labels.at("session") == "7") {
      EXPECT_EQ(s.labels.at("pid"), "4321");
      EXPECT_EQ(s.labels.at("name"), "file_io");
      EXPECT_DOUBLE_EQ(s.value, 202);
    }
  }
  EXPECT_EQ(completed, 2);
}

TEST(StatsPrometheus, BackendOpsCountWhereTheyRan) {
  const Exposition e = parse_prometheus(format_prometheus(sample()));
  EXPECT_EQ(e.types.at("aiod_backend_ops_total"), "counter");
  const PromSample* bind_posix = e.find("aiod_backend_ops_total", {{"op", "bind"}, {"ran", "posix"}});
  ASSERT_NE(bind_posix, nullptr);
  EXPECT_DOUBLE_EQ(bind_posix->value, 4);
  const PromSample* read_ring = e.find("aiod_backend_ops_total", {{"op", "read"}, {"ran", "ring"}});
  ASSERT_NE(read_ring, nullptr);
  EXPECT_DOUBLE_EQ(read_ring->value, 250);
  EXPECT_EQ(e.find("aiod_backend_ops_total", {{"op", "listen"}, {"ran", "ring"}}), nullptr)
      << "kinds never run are left out";
}

TEST(StatsPrometheus, NoSessionSamplesWithoutSessions) {
  DaemonStats s = sample();
  s.sessions.clear();
  const Exposition e = parse_prometheus(format_prometheus(s));
  for (const PromSample& x : e.samples) EXPECT_EQ(x.name.rfind("aiod_session_", 0), std::string::npos) << x.name;
}

TEST(StatsPrometheus, LabelValuesAreEscaped) {
  DaemonStats s = sample();
  const std::string nasty = "a\"b\\c\nd";
  s.opcodes.push_back(opstat(nasty, 5, 0));
  s.sessions[0].name = nasty;
  const Exposition e = parse_prometheus(format_prometheus(s));
  const PromSample* op = e.find("aiod_opcode_ops_total", {{"opcode", nasty}});
  ASSERT_NE(op, nullptr);
  EXPECT_DOUBLE_EQ(op->value, 5);
  bool found = false;
  for (const PromSample& x : e.samples) {
    if (x.name == "aiod_session_ops_in_flight" && x.labels.at("name") == nasty) found = true;
  }
  EXPECT_TRUE(found);
}

TEST(StatsPrometheus, LatencyIsACumulativeHistogramInSeconds) {
  const DaemonStats s = sample();  // counts {5, 3, 1} and 1 past the last bound
  const Exposition e = parse_prometheus(format_prometheus(s));
  ASSERT_EQ(e.types.count("aiod_op_latency_seconds"), 1u);
  EXPECT_EQ(e.types.at("aiod_op_latency_seconds"), "histogram");
  std::vector<std::pair<double, double>> buckets;  // le, cumulative count
  for (const PromSample& x : e.samples) {
    if (x.name != "aiod_op_latency_seconds_bucket") continue;
    const std::string& le = x.labels.at("le");
    buckets.emplace_back(le == "+Inf" ? std::numeric_limits<double>::infinity() : std::strtod(le.c_str(), nullptr),
                         x.value);
  }
  ASSERT_EQ(buckets.size(), 4u);
  const double expected_le[] = {1e-6, 2e-6, 4e-6};
  const double expected_count[] = {5, 8, 9, 10};
  for (std::size_t i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(buckets[i].first, expected_le[i]) << i;
  EXPECT_TRUE(std::isinf(buckets[3].first)) << "the last bucket must be +Inf";
  for (std::size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(buckets[i].second, expected_count[i]) << i;
  const PromSample* count = e.find("aiod_op_latency_seconds_count");
  const PromSample* sum = e.find("aiod_op_latency_seconds_sum");
  ASSERT_NE(count, nullptr);
  ASSERT_NE(sum, nullptr);
  EXPECT_DOUBLE_EQ(count->value, buckets[3].second) << "+Inf must equal _count";
  EXPECT_DOUBLE_EQ(sum->value, 3e-5);
}

TEST(StatsPrometheus, LargeValuesKeepTheirPrecision) {
  // Regression: seconds went through a stream with six significant digits.
  DaemonStats s = sample();
  s.uptime_ns = 1'000'000'123'456'789;
  s.latency_sum_ns = 123'456'789'012'345;
  s.latency_bounds_ns.clear();
  s.latency_counts.clear();
  for (std::size_t i = 0; i < 21; ++i) {
    s.latency_bounds_ns.push_back(std::uint64_t{1000} << i);
    s.latency_counts.push_back(1);
  }
  const Exposition e = parse_prometheus(format_prometheus(s));
  auto near = [](double got, double want) { return std::abs(got - want) <= 1e-9 * std::abs(want); };
  const PromSample* uptime = e.find("aiod_uptime_seconds");
  ASSERT_NE(uptime, nullptr);
  EXPECT_TRUE(near(uptime->value, 1'000'000.123456789)) << uptime->value;
  const PromSample* sum = e.find("aiod_op_latency_seconds_sum");
  ASSERT_NE(sum, nullptr);
  EXPECT_TRUE(near(sum->value, 123'456.789012345)) << sum->value;
  std::size_t i = 0;
  for (const PromSample& x : e.samples) {
    if (x.name != "aiod_op_latency_seconds_bucket" || x.labels.at("le") == "+Inf") continue;
    ASSERT_LT(i, s.latency_bounds_ns.size());
    const double want = static_cast<double>(s.latency_bounds_ns[i++]) / 1e9;
    EXPECT_TRUE(near(std::strtod(x.labels.at("le").c_str(), nullptr), want)) << x.labels.at("le");
  }
}

// ---------------------------------------------------------------------------
// from_reply

// Builds a verified StatsReply message; `b` keeps the bytes alive.
const wire::StatsReply* full_reply(flatbuffers::FlatBufferBuilder& b) {
  auto wc = [&](std::uint64_t base) {
    return wire::CreateCounters(b, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7, base + 8,
                                base + 9, base + 10);
  };
  const auto totals = wc(100);
  const std::vector<flatbuffers::Offset<wire::OpcodeCount>> ops = {wire::CreateOpcodeCountDirect(b, 0, "nop", 1000, 0),
                                                                   wire::CreateOpcodeCountDirect(b, 1, "read", 250, 3)};
  const std::vector<std::uint64_t> bounds = {1000, 2000};
  const std::vector<std::uint64_t> counts = {4, 5, 6};
  const auto hist = wire::CreateHistogramDirect(b, &bounds, &counts, 777, 15);
  const auto c200 = wc(200);
  const auto c300 = wc(300);
  const std::vector<flatbuffers::Offset<wire::OpcodeCount>> session_ops = {
      wire::CreateOpcodeCountDirect(b, 23, "rename_at", 6, 5)};
  const std::vector<flatbuffers::Offset<wire::SessionStats>> sessions = {
      wire::CreateSessionStatsDirect(b, 7, 4321, 1000, 100, "file_io", 3, c200, &session_ops),
      wire::CreateSessionStatsDirect(b, 8, -5, 1, 2, nullptr, 0, c300)};
  const std::vector<flatbuffers::Offset<wire::BackendOpStats>> backend_ops = {
      wire::CreateBackendOpStatsDirect(b, "bind", "emulated", 1, 2)};
  const auto reply =
      wire::CreateStatsReplyDirect(b, 1, "0.1.0", "io_uring", 123456789, 4, 2, 17, totals, &ops, hist, &sessions, 4242,
                                   9, 8, 0, "5.15.0-91", "5.15", "cqsize", &backend_ops);
  wire::FinishMessageBuffer(b, wire::CreateMessage(b, 1, wire::Body::StatsReply, reply.Union()));
  const wire::Message* m = wire::verify(wire::view(b));
  EXPECT_NE(m, nullptr);
  return m != nullptr ? m->body_as_StatsReply() : nullptr;
}

TEST(StatsFromReply, MapsEveryField) {
  flatbuffers::FlatBufferBuilder b;
  const wire::StatsReply* reply = full_reply(b);
  ASSERT_NE(reply, nullptr);
  const DaemonStats s = from_reply(*reply);
  EXPECT_EQ(s.stats_version, 1u);
  EXPECT_EQ(s.daemon_version, "0.1.0");
  EXPECT_EQ(s.backend, "io_uring");
  EXPECT_EQ(s.uptime_ns, 123456789u);
  EXPECT_EQ(s.shards, 4u);
  EXPECT_EQ(s.sessions_active, 2u);
  EXPECT_EQ(s.sessions_total, 17u);
  EXPECT_EQ(s.daemon_syscalls, 4242u);
  EXPECT_EQ(s.config_reloads, 9u);
  EXPECT_EQ(s.config_reload_failures, 8u);
  expect_counters(s.totals, 100);
  EXPECT_EQ(s.kernel, "5.15.0-91");
  EXPECT_EQ(s.emulated_kernel, "5.15");
  EXPECT_EQ(s.io_uring_setup, "cqsize");
  ASSERT_EQ(s.backend_ops.size(), 1u);
  EXPECT_EQ(s.backend_ops[0].name, "bind");
  EXPECT_EQ(s.backend_ops[0].runs, "emulated");
  EXPECT_EQ(s.backend_ops[0].ring, 1u);
  EXPECT_EQ(s.backend_ops[0].posix, 2u);

  ASSERT_EQ(s.opcodes.size(), 2u);
  EXPECT_EQ(s.opcodes[0].name, "nop");
  EXPECT_EQ(s.opcodes[0].count, 1000u);
  EXPECT_EQ(s.opcodes[0].errors, 0u);
  EXPECT_EQ(s.opcodes[1].name, "read");
  EXPECT_EQ(s.opcodes[1].count, 250u);
  EXPECT_EQ(s.opcodes[1].errors, 3u);

  EXPECT_EQ(s.latency_bounds_ns, (std::vector<std::uint64_t>{1000, 2000}));
  EXPECT_EQ(s.latency_counts, (std::vector<std::uint64_t>{4, 5, 6}));
  EXPECT_EQ(s.latency_sum_ns, 777u);
  EXPECT_EQ(s.latency_count, 15u);

  ASSERT_EQ(s.sessions.size(), 2u);
  EXPECT_EQ(s.sessions[0].id, 7u);
  EXPECT_EQ(s.sessions[0].pid, 4321);
  EXPECT_EQ(s.sessions[0].uid, 1000u);
  EXPECT_EQ(s.sessions[0].gid, 100u);
  EXPECT_EQ(s.sessions[0].shard, 3u);
  EXPECT_EQ(s.sessions[0].name, "file_io");
  expect_counters(s.sessions[0].counters, 200);
  ASSERT_EQ(s.sessions[0].opcodes.size(), 1u);
  EXPECT_EQ(s.sessions[0].opcodes[0].name, "rename_at");
  EXPECT_EQ(s.sessions[0].opcodes[0].count, 6u);
  EXPECT_EQ(s.sessions[0].opcodes[0].errors, 5u);
  EXPECT_EQ(s.sessions[1].id, 8u);
  EXPECT_EQ(s.sessions[1].pid, -5);
  EXPECT_EQ(s.sessions[1].uid, 1u);
  EXPECT_EQ(s.sessions[1].gid, 2u);
  EXPECT_EQ(s.sessions[1].name, "");
  expect_counters(s.sessions[1].counters, 300);
  EXPECT_TRUE(s.sessions[1].opcodes.empty());
}

TEST(StatsFromReply, AbsentPartsReadAsEmpty) {
  flatbuffers::FlatBufferBuilder b;
  const auto reply = wire::CreateStatsReply(b, 1);
  wire::FinishMessageBuffer(b, wire::CreateMessage(b, 1, wire::Body::StatsReply, reply.Union()));
  const wire::Message* m = wire::verify(wire::view(b));
  ASSERT_NE(m, nullptr);
  ASSERT_NE(m->body_as_StatsReply(), nullptr);
  const DaemonStats s = from_reply(*m->body_as_StatsReply());
  EXPECT_EQ(s.stats_version, 1u);
  EXPECT_EQ(s.daemon_version, "");
  EXPECT_EQ(s.backend, "");
  EXPECT_EQ(s.totals.ops_submitted, 0u);
  EXPECT_EQ(s.totals.wakeups_received, 0u);
  EXPECT_TRUE(s.opcodes.empty());
  EXPECT_TRUE(s.latency_bounds_ns.empty());
  EXPECT_TRUE(s.latency_counts.empty());
  EXPECT_EQ(s.latency_count, 0u);
  EXPECT_TRUE(s.sessions.empty());
  // And it still renders.
  const Json doc = parse_json(format_json(s));
  EXPECT_EQ(doc.kind, Json::Kind::object);
  EXPECT_FALSE(format_table(s).empty());
}

TEST(StatsFromReply, RendersAsJsonWithTheSameValues) {
  flatbuffers::FlatBufferBuilder b;
  const wire::StatsReply* reply = full_reply(b);
  ASSERT_NE(reply, nullptr);
  const Json doc = parse_json(format_json(from_reply(*reply)));
  ASSERT_EQ(doc.kind, Json::Kind::object);
  EXPECT_EQ(as_u64(doc.get("uptime_ns")), 123456789u);
  expect_json_counters(doc.get("totals"), 100);
  ASSERT_NE(doc.get("sessions"), nullptr);
  ASSERT_EQ(doc.get("sessions")->items.size(), 2u);
  expect_json_counters(doc.get("sessions")->items[1].get("counters"), 300);
  EXPECT_EQ(as_u64(doc.get("opcodes")->get("read")->get("errors")), 3u);
}

}  // namespace
}  // namespace aiod::ctl
