// SPDX-License-Identifier: MIT
#include "system/journal_stream.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace aiod::daemon {
namespace {

// The whole of `text` as an unsigned decimal number: no sign, no blanks.
bool parse_decimal(std::string_view text, std::uint64_t& out) noexcept {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

class JournalFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string prefix = "<" + std::to_string(syslog_priority(msg.level)) + ">";
    std::string_view text(msg.payload.data(), msg.payload.size());
    do {
      const std::size_t eol = text.find('\n');
      const std::string_view line = text.substr(0, eol);
      dest.append(prefix.data(), prefix.data() + prefix.size());
      dest.append(line.data(), line.data() + line.size());
      dest.push_back('\n');
      text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    } while (!text.empty());
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JournalFormatter>();
  }
};

}  // namespace

bool is_journal_stream(std::string_view journal_stream, std::uint64_t dev, std::uint64_t ino) noexcept {
  const std::size_t colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  std::uint64_t stream_dev = 0;
  std::uint64_t stream_ino = 0;
  // A second colon lands in the inode field and fails to parse there.
  return parse_decimal(journal_stream.substr(0, colon), stream_dev) &&
         parse_decimal(journal_stream.substr(colon + 1), stream_ino) && stream_dev == dev && stream_ino == ino;
}

bool stderr_is_journal() noexcept {
  const char* value = std::getenv("JOURNAL_STREAM");
  if (value == nullptr) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) < 0) return false;
  return is_journal_stream(value, static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino));
}

int syslog_priority(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::critical: return 2;  // LOG_CRIT
    case spdlog::level::err: return 3;       // LOG_ERR
    case spdlog::level::warn: return 4;      // LOG_WARNING
    case spdlog::level::info: return 6;      // LOG_INFO
    default: return 7;                       // LOG_DEBUG: trace, debug (and off)
  }
}

std::unique_ptr<spdlog::formatter> make_journal_formatter() { return std::make_unique<JournalFormatter>(); }

}  // namespace aiod::daemon
