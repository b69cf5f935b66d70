// SPDX-License-Identifier: MIT
// aiod's command line as Unix tools have it: usage errors exit 2 with one line
// and a hint, configuration errors exit 1 and name the line, and
// --check-config validates without starting anything.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

// A temporary directory for a config file and a socket path, removed after.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/aiod-test-cli-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    for (const char* name : {"/aiod.conf", "/s"}) ::unlink((path_ + name).c_str());
    ::rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] std::string write(const std::string& text) const {
    std::ofstream(file("aiod.conf")) << text;
    return file("aiod.conf");
  }

 private:
  std::string path_;
};

CommandResult aiod(std::vector<std::string> args) {
  args.insert(args.begin(), AIOD_DAEMON_PATH);
  return run_command(args, std::chrono::seconds(20), /*merge_stderr=*/true);
}

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

std::size_t occurrences(const std::string& text, const std::string& word) {
  std::size_t n = 0;
  for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + word.size())) ++n;
  return n;
}

TEST(DaemonCli, AnUnknownFlagIsAUsageErrorOfOneLineAndAHint) {
  const CommandResult r = aiod({"--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(lines(r.out), 2u) << r.out;
  EXPECT_EQ(r.out.rfind("aiod: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("--no-such-flag"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Try 'aiod --help'"), std::string::npos) << r.out;
}

TEST(DaemonCli, ABadValueOnTheCommandLineIsAUsageError) {
  TempDir dir;
  const CommandResult r = aiod({"--socket", dir.file("s"), "--threads", "many"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(lines(r.out), 2u) << r.out;
  EXPECT_NE(r.out.find("--threads: must be an integer from 1 to 256, not 'many'"), std::string::npos) << r.out;
}

TEST(DaemonCli, HelpAndVersionExitZero) {
  EXPECT_EQ(aiod({"--help"}).exit_code, 0);
  const CommandResult v = aiod({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("aiod ", 0), 0u) << v.out;
}

TEST(DaemonCli, CheckConfigAcceptsAValidConfigAndStartsNothing) {
  TempDir dir;
  const std::string conf = dir.write("# a comment\nthreads = 2\nmax-sessions = 10\n");
  const CommandResult r = aiod({"--check-config", "--config", conf, "--socket", dir.file("s"), "--poll-us", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("configuration valid"), std::string::npos) << r.out;
  struct stat st {};
  EXPECT_NE(::lstat(dir.file("s").c_str(), &st), 0) << "--check-config created the socket";
}

TEST(DaemonCli, CheckConfigNamesTheBadLineAndExitsOne) {
  TempDir dir;
  const std::string conf = dir.write("threads = 2\nmax-sessions = lots\n");
  const CommandResult r = aiod({"--check-config", "--config", conf, "--socket", dir.file("s")});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find(conf + ":2: max-sessions: must be an integer"), std::string::npos) << r.out;
  // A bad flag, a missing file and an impossible socket path are invalid too.
  EXPECT_EQ(aiod({"--check-config", "--socket", dir.file("s"), "--backend", "epoll"}).exit_code, 1);
  EXPECT_EQ(aiod({"--check-config", "--config", dir.file("missing.conf"), "--socket", dir.file("s")}).exit_code, 1);
  EXPECT_EQ(aiod({"--check-config", "--socket", dir.file(std::string(120, 'x'))}).exit_code, 1);
  EXPECT_EQ(aiod({"--check-config", "--socket", dir.file("s"), "--socket-group", "no-such-group-here"}).exit_code, 1);
}

// A FIFO where the config was would block the main loop's reload forever.
TEST(DaemonCli, AConfigThatIsNotARegularFileIsRefusedAtOnce) {
  TempDir dir;
  const std::string fifo = dir.file("aiod.conf");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const CommandResult r =
      run_command({AIOD_DAEMON_PATH, "--check-config", "--config", fifo, "--socket", dir.file("s")},
                  std::chrono::seconds(10), /*merge_stderr=*/true);
  EXPECT_EQ(r.exit_code, 1) << "(-1: still blocked after 10 s) " << r.out;
  EXPECT_NE(r.out.find(fifo + ": not a regular file"), std::string::npos) << r.out;
}

TEST(DaemonCli, AnUnknownSettingIsNamedOnce) {
  TempDir dir;
  const std::string conf = dir.write("no-such-setting = 4\n");
  const CommandResult r = aiod({"--check-config", "--config", conf, "--socket", dir.file("s")});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(occurrences(r.out, "no-such-setting"), 1u) << r.out;
  EXPECT_NE(r.out.find(":1: unknown setting 'no-such-setting'"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace aiod::test
