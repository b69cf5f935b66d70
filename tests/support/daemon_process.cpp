// SPDX-License-Identifier: MIT
#include "daemon_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace aiod::test {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// fork + exec with `stdout_fd` as the child's stdout (or -1 to inherit) and
// `ready_fd` passed as descriptor 3 (or -1 for none).
pid_t spawn(const std::vector<std::string>& argv, int stdout_fd, int ready_fd, bool merge_stderr = false) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (stdout_fd >= 0) ::dup2(stdout_fd, STDOUT_FILENO);
    if (stdout_fd >= 0 && merge_stderr) ::dup2(stdout_fd, STDERR_FILENO);
    if (ready_fd >= 0) {
      ::dup2(ready_fd, 3);  // dup2 clears close-on-exec on the copy
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

std::vector<std::string> env_daemon_args() {
  std::vector<std::string> words;
  const char* env = std::getenv("AIOD_TEST_DAEMON_ARGS");
  if (env == nullptr) return words;
  std::istringstream in(env);
  for (std::string w; in >> w;) words.push_back(std::move(w));
  return words;
}

bool testing_posix_backend() {
  const std::vector<std::string> words = env_daemon_args();
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "--backend" && words[i + 1] == "posix") return true;
  }
  return std::find(words.begin(), words.end(), "--backend=posix") != words.end();
}

std::optional<std::string> emulated_kernel_arg() {
  const std::vector<std::string> words = env_daemon_args();
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "--emulate-kernel") return words[i + 1];
  }
  return std::nullopt;
}

DaemonProcess::DaemonProcess(std::vector<std::string> extra_args, std::string socket_path,
                             std::vector<std::string> launcher) {
  char tmpl[] = "/tmp/aiod-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0755);
  socket_ = socket_path.empty() ? dir_ + "/aiod.sock" : std::move(socket_path);
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) < 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return;
  }
  std::vector<std::string> argv = {AIOD_DAEMON_PATH, "--socket", socket_, "--ready-fd", "3", "--log-level", "warn"};
  // Open to every test user unless the test sets the mode itself.
  if (std::find(extra_args.begin(), extra_args.end(), "--socket-mode") == extra_args.end()) {
    argv.insert(argv.end(), {"--socket-mode", "0666"});
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  for (std::string& word : env_daemon_args()) argv.push_back(std::move(word));
  argv.insert(argv.begin(), launcher.begin(), launcher.end());
  pid_ = spawn(argv, -1, ready[1]);
  ::close(ready[1]);
  pidfd_ = pidfd_open(pid_);
  pollfd p{ready[0], POLLIN, 0};
  const int n = ::poll(&p, 1, 10'000);
  char byte = 0;
  const bool ok = n == 1 && ::read(ready[0], &byte, 1) == 1 && byte == '1';
  ::close(ready[0]);
  if (!ok) {
    ADD_FAILURE() << "aiod did not become ready within 10 s";
    signal(SIGKILL);
    wait_exit(std::chrono::seconds(5));
  }
}

DaemonProcess::~DaemonProcess() {
  if (running()) {
    const int code = stop();
    EXPECT_EQ(code, 0) << "aiod did not exit cleanly on SIGTERM";
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

ClientOptions DaemonProcess::client_options() const {
  ClientOptions o;
  o.socket_path = socket_;
  return o;
}

void DaemonProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  pollfd p{pidfd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  pid_ = -1;
  return status;
}

int DaemonProcess::stop() {
  signal(SIGTERM);
  auto status = wait_exit(std::chrono::seconds(10));
  if (!status) {
    ADD_FAILURE() << "aiod did not exit within 10 s of SIGTERM";
    signal(SIGKILL);
    status = wait_exit(std::chrono::seconds(5));
    return -1;
  }
  if (WIFEXITED(*status)) return WEXITSTATUS(*status);
  return -WTERMSIG(*status);
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, bool merge_stderr) {
  CommandResult result;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) return result;
  const pid_t pid = spawn(argv, out[1], -1, merge_stderr);
  ::close(out[1]);
  const int pidfd = pidfd_open(pid);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      ADD_FAILURE() << argv[0] << " did not finish within " << timeout.count() << " ms";
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    result.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(pidfd);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

ProcessUsage process_usage(pid_t pid) {
  ProcessUsage u;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++u.fds;
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss_kib = std::stoul(line.substr(6));
  }
  return u;
}

}  // namespace aiod::test
