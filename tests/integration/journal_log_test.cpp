// SPDX-License-Identifier: MIT
// What aiod writes on standard error: on the journal's stream (JOURNAL_STREAM
// names stderr's dev:inode) only "<priority>message" lines, since journald
// records time, pid and level itself; anywhere else, the timestamped lines
// with pid and level. stderr is a file here, and JOURNAL_STREAM names it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_process.hpp"

extern char** environ;

namespace aiod::test {
namespace {

struct StderrFile {
  int fd = -1;
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
};

// Runs aiod at --log-level info with stderr on `log` and `env_extra` added to
// the test's environment (JOURNAL_STREAM removed from it first); waits for
// readiness, stops it with SIGTERM and expects exit 0. Every wait is bounded.
void run_daemon(const std::string& dir, const StderrFile& log, const std::vector<std::string>& env_extra) {
  std::vector<std::string> argv = {AIOD_DAEMON_PATH, "--socket", dir + "/aiod.sock", "--ready-fd", "3",
                                   "--log-level",    "info"};
  for (std::string& word : env_daemon_args()) argv.push_back(std::move(word));
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "JOURNAL_STREAM=", 15) != 0) env.emplace_back(*e);
  }
  env.insert(env.end(), env_extra.begin(), env_extra.end());
  std::vector<char*> args;
  std::vector<char*> envp;
  for (std::string& a : argv) args.push_back(a.data());
  for (std::string& e : env) envp.push_back(e.data());
  args.push_back(nullptr);
  envp.push_back(nullptr);

  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0) << std::strerror(errno);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    ::dup2(log.fd, STDERR_FILENO);
    ::dup2(ready[1], 3);  // dup2 clears close-on-exec on the copy
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(ready[1]);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  pollfd p{ready[0], POLLIN, 0};
  char byte = 0;
  const bool became_ready = ::poll(&p, 1, 10'000) == 1 && ::read(ready[0], &byte, 1) == 1 && byte == '1';
  ::close(ready[0]);
  EXPECT_TRUE(became_ready) << "aiod did not become ready within 10 s";
  ::kill(pid, became_ready ? SIGTERM : SIGKILL);
  pollfd exited{pidfd, POLLIN, 0};
  if (::poll(&exited, 1, 10'000) != 1) {
    ADD_FAILURE() << "aiod did not exit within 10 s of the signal";
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);  // exited or SIGKILLed by now
  ::close(pidfd);
  if (became_ready) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  }
}

class JournalLog : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aiod-test-journal-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    log_.fd = ::open((dir_ + "/stderr.log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(log_.fd, 0) << std::strerror(errno);
    struct stat st {};
    ASSERT_EQ(::fstat(log_.fd, &st), 0);
    log_.dev = st.st_dev;
    log_.ino = st.st_ino;
  }
  void TearDown() override {
    if (log_.fd >= 0) ::close(log_.fd);
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  // The daemon's stderr, one entry per line.
  std::vector<std::string> run(const std::vector<std::string>& env_extra) {
    run_daemon(dir_, log_, env_extra);
    std::ifstream in(dir_ + "/stderr.log");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  static std::string joined(const std::vector<std::string>& lines) {
    std::ostringstream out;
    for (const std::string& l : lines) out << l << '\n';
    return out.str();
  }

  std::string dir_;
  StderrFile log_;
};

TEST_F(JournalLog, OnTheJournalStreamLinesAreThePriorityAndTheMessageOnly) {
  // A malformed WATCHDOG_USEC makes aiod warn at start: a line of priority 4.
  const std::vector<std::string> lines =
      run({"JOURNAL_STREAM=" + std::to_string(log_.dev) + ":" + std::to_string(log_.ino), "WATCHDOG_USEC=soon"});
  ASSERT_FALSE(lines.empty());
  const std::regex line_format(R"(<[0-7]>\S.*)");
  const std::regex timestamp(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)");
  for (const std::string& line : lines) {
    EXPECT_TRUE(std::regex_match(line, line_format)) << line;
    EXPECT_EQ(line.find("aiod["), std::string::npos) << line;
    EXPECT_FALSE(std::regex_search(line, timestamp)) << line;
  }
  const std::string all = joined(lines);
  EXPECT_NE(all.find("<4>WATCHDOG_USEC 'soon' is not"), std::string::npos) << all;
  EXPECT_TRUE(std::regex_search(all, std::regex(R"((^|\n)<6>aiod \S+ listening on )"))) << all;
  EXPECT_NE(all.find("<6>aiod stopped\n"), std::string::npos) << all;
}

// The old format, for a stderr that is not the journal's stream.
void expect_timestamped(const std::vector<std::string>& lines) {
  ASSERT_FALSE(lines.empty());
  const std::regex line_format(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} aiod\[\d+\] (info|warning): .+)");
  for (const std::string& line : lines) EXPECT_TRUE(std::regex_match(line, line_format)) << line;
}

TEST_F(JournalLog, WithoutJournalStreamLinesAreTimestamped) {
  const std::vector<std::string> lines = run({"WATCHDOG_USEC=soon"});
  expect_timestamped(lines);
  const std::string all = joined(lines);
  EXPECT_NE(all.find(" warning: WATCHDOG_USEC 'soon' is not"), std::string::npos) << all;
  EXPECT_NE(all.find(" info: aiod stopped\n"), std::string::npos) << all;
}

TEST_F(JournalLog, AnInheritedJournalStreamNamingAnotherFileIsIgnored) {
  // What a process started from a service with its stderr redirected sees.
  expect_timestamped(run({"JOURNAL_STREAM=" + std::to_string(log_.dev) + ":" + std::to_string(log_.ino + 1)}));
}

}  // namespace
}  // namespace aiod::test
