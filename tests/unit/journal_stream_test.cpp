// SPDX-License-Identifier: MIT
// Unit tests of daemon/system/journal_stream: recognising the journal's stream
// from JOURNAL_STREAM ("DEV:INODE", sd-daemon(3)) and stderr's dev/ino, the
// level → syslog priority mapping, and the "<N>message" lines written there.
#include <spdlog/details/log_msg.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "system/journal_stream.hpp"

namespace aiod::daemon {
namespace {

TEST(JournalStream, MatchingDevAndInodeIsTheJournal) {
  EXPECT_TRUE(is_journal_stream("8:12345", 8, 12345));
  EXPECT_TRUE(is_journal_stream("0:0", 0, 0));
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE(is_journal_stream("18446744073709551615:18446744073709551615", max, max));
}

TEST(JournalStream, AnotherDescriptorsDevOrInodeIsNot) {
  // What a child whose stderr was redirected inherits.
  EXPECT_FALSE(is_journal_stream("8:12345", 8, 12346));
  EXPECT_FALSE(is_journal_stream("8:12345", 9, 12345));
  EXPECT_FALSE(is_journal_stream("12345:8", 8, 12345));
}

TEST(JournalStream, MalformedValuesAreNotTheJournal) {
  for (const char* value : {"", ":", "1:", ":2", "a:b", "1:b", "a:2", "1:2:3", "1:2:", "12", " 1:2", "1:2 ", "1: 2",
                            "+1:2", "1:-2", "0x1:2", "1.0:2", "1;2"}) {
    EXPECT_FALSE(is_journal_stream(value, 1, 2)) << '"' << value << '"';
  }
  // 2^64 does not fit dev_t or ino_t; it must not wrap to 0.
  EXPECT_FALSE(is_journal_stream("18446744073709551616:2", 0, 2));
  EXPECT_FALSE(is_journal_stream("1:18446744073709551616", 1, 0));
  EXPECT_FALSE(is_journal_stream("1:99999999999999999999999999", 1, 0));
}

TEST(JournalStream, LevelsMapToSyslogPriorities) {
  EXPECT_EQ(syslog_priority(spdlog::level::trace), 7);
  EXPECT_EQ(syslog_priority(spdlog::level::debug), 7);
  EXPECT_EQ(syslog_priority(spdlog::level::info), 6);
  EXPECT_EQ(syslog_priority(spdlog::level::warn), 4);
  EXPECT_EQ(syslog_priority(spdlog::level::err), 3);
  EXPECT_EQ(syslog_priority(spdlog::level::critical), 2);
}

std::string format(spdlog::level::level_enum level, const char* text) {
  const spdlog::details::log_msg msg("aiod", level, text);
  spdlog::memory_buf_t out;
  make_journal_formatter()->clone()->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(JournalStream, LinesCarryOnlyThePriorityAndTheMessage) {
  EXPECT_EQ(format(spdlog::level::info, "aiod 0.1.0 listening on /run/aiod.sock"),
            "<6>aiod 0.1.0 listening on /run/aiod.sock\n");
  EXPECT_EQ(format(spdlog::level::warn, "shard 1 stood still"), "<4>shard 1 stood still\n");
  EXPECT_EQ(format(spdlog::level::critical, "cannot start"), "<2>cannot start\n");
  EXPECT_EQ(format(spdlog::level::err, ""), "<3>\n");
}

TEST(JournalStream, EveryLineOfAMultiLineMessageKeepsItsPriority) {
  EXPECT_EQ(format(spdlog::level::err, "first\nsecond\nthird"), "<3>first\n<3>second\n<3>third\n");
  EXPECT_EQ(format(spdlog::level::warn, "ends with a newline\n"), "<4>ends with a newline\n");
  EXPECT_EQ(format(spdlog::level::warn, "a\n\nb"), "<4>a\n<4>\n<4>b\n");
}

}  // namespace
}  // namespace aiod::daemon
