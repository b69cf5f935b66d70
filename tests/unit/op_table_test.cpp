// SPDX-License-Identifier: MIT
// op_table_test.cpp — the protocol's op table (proto/op_table.hpp) against
// what is derived from it or written about it elsewhere: the opcode enum, the
// reference (docs/operations.md: a section per op, the kernel table), the
// daemon's stats names, and its own consistency.
#include <algorithm>
#include <bit>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "aiod_shm.h"
#include "op_table.hpp"
#include "stats/stats.hpp"

namespace aiod::proto {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string operations_md() {
  std::ifstream in(std::string(AIOD_SOURCE_DIR) + "/docs/operations.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(OpTable, EveryOpcodeHasOneRowWithADistinctName) {
  std::set<std::string_view> names;
  for (unsigned op = 0; op < AIOD_OP_LAST; ++op) {
    const OpInfo* info = op_info(op);
    ASSERT_NE(info, nullptr) << op;
    EXPECT_EQ(info->opcode, op);
    EXPECT_FALSE(info->name.empty()) << op;
    EXPECT_TRUE(names.insert(info->name).second) << "duplicate name " << info->name;
  }
  EXPECT_EQ(op_info(AIOD_OP_LAST), nullptr);
  EXPECT_EQ(op_info(255), nullptr);
}

TEST(OpTable, StatsNameEveryOpcodeAsTheTableDoes) {
  for (const OpInfo& info : all_ops()) EXPECT_EQ(daemon::opcode_name(info.opcode), info.name);
  EXPECT_STREQ(daemon::opcode_name(AIOD_OP_LAST), "unknown");
}

// A field that points into the arena is followed by the field with its
// length, and a length follows something it measures.
TEST(OpTable, ArenaFieldsComeWithTheirLength) {
  for (const OpInfo& info : all_ops()) {
    for (auto [ptr, len] : {std::pair{info.addr, info.len}, std::pair{info.addr2, info.len2}}) {
      const bool points = ptr == Carries::buffer || ptr == Carries::path || ptr == Carries::iovecs ||
                          ptr == Carries::sockaddr || ptr == Carries::msghdr || ptr == Carries::result;
      if (points) {
        EXPECT_EQ(len, Carries::length) << info.name;
      }
      if (len == Carries::length) {
        EXPECT_TRUE(points) << info.name << ": a length of nothing";
      }
    }
    for (Carries c : {info.handle, info.off, info.op_flags, info.mode}) {
      EXPECT_NE(c, Carries::length) << info.name;
      EXPECT_NE(c, Carries::buffer) << info.name;
      EXPECT_NE(c, Carries::path) << info.name;
    }
  }
}

// Only an op that moves data counts bytes.
TEST(OpTable, OnlyDataOpsCountBytes) {
  for (const OpInfo& info : all_ops()) {
    if (info.bytes == Bytes::none) continue;
    const bool moves = info.addr == Carries::buffer || info.addr == Carries::iovecs || info.addr == Carries::msghdr ||
                       info.opcode == AIOD_OP_SPLICE;
    EXPECT_TRUE(moves) << info.name;
  }
}

TEST(OpTable, HandlesAreWhereTheProtocolSays) {
  EXPECT_EQ(op_info(AIOD_OP_NOP)->handles(), 0u);
  EXPECT_EQ(op_info(AIOD_OP_READ)->handles(), unsigned{kHandle});
  EXPECT_EQ(op_info(AIOD_OP_RENAME_AT)->handles(), unsigned{kHandle | kOff}) << "old and new directory";
  EXPECT_EQ(op_info(AIOD_OP_SPLICE)->handles(), unsigned{kHandle | kMode}) << "in and out";
  EXPECT_EQ(op_info(AIOD_OP_SOCKET)->handles(), 0u);
  for (const OpInfo& info : all_ops()) {
    EXPECT_EQ(info.handles() & ~info.used(), 0u) << info.name;
  }
}

TEST(OpTable, TheReferenceHasASectionPerOpcode) {
  const std::string doc = operations_md();
  ASSERT_FALSE(doc.empty()) << "docs/operations.md not found";
  for (const OpInfo& info : all_ops()) {
    // "## READ (1)" or a shared heading "## CLOSE_FILE (6), CLOSE_DIR (20)"
    const std::string title = upper(info.name) + " (" + std::to_string(info.opcode) + ")";
    bool found = false;
    std::istringstream lines(doc);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("## ", 0) == 0 && line.find(title) != std::string::npos) found = true;
    }
    EXPECT_TRUE(found) << "no section \"## " << title << "\"";
  }
}

// Each row of the reference's kernel table: its ops (first column) and the
// Linux version (last column; "—" for ops that never run on the ring).
TEST(OpTable, KernelTableMatchesTheDocs) {
  const std::string doc = operations_md();
  const auto start = doc.find("## Kernel support");
  ASSERT_NE(start, std::string::npos);
  std::map<std::string, std::string> documented;
  std::istringstream lines(doc.substr(start));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| ", 0) != 0 || line.rfind("| op ", 0) == 0) continue;
    const auto first_end = line.find(" |", 2);
    const auto last_start = line.rfind("| ", line.size() - 2);
    ASSERT_NE(first_end, std::string::npos) << line;
    std::string version = line.substr(last_start + 2, line.size() - last_start - 4);
    if (version == "—") version.clear();
    std::istringstream ops(line.substr(2, first_end - 2));
    for (std::string op; std::getline(ops, op, ',');) {
      op.erase(0, op.find_first_not_of(' '));
      documented[op] = version;
    }
  }
  for (const OpInfo& info : all_ops()) {
    const auto it = documented.find(upper(info.name));
    ASSERT_NE(it, documented.end()) << info.name << " is not in the kernel table";
    EXPECT_EQ(it->second, info.native_since) << info.name;
  }
  EXPECT_EQ(documented.size(), all_ops().size()) << "the kernel table names an op the protocol lacks";
}

}  // namespace
}  // namespace aiod::proto
