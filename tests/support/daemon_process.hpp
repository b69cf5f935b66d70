// SPDX-License-Identifier: MIT
// daemon_process.hpp — a private aiod for one test: its own temporary socket,
// started with --ready-fd (no polling for the socket to appear) and stopped
// with SIGTERM at the end; every wait is bounded and fails the test clearly.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <aiod/client.hpp>

namespace aiod::test {

// The words of the environment variable AIOD_TEST_DAEMON_ARGS (split on
// blanks), appended to every daemon a DaemonProcess starts: the suite runs
// once as is and once with "--backend posix".
std::vector<std::string> env_daemon_args();
// Whether those arguments select the posix backend (for the few tests that
// are about io_uring itself and skip there).
bool testing_posix_backend();
// The release those arguments give --emulate-kernel ("6.1"), if any: the
// suite's runs as on older kernels (ctest names kernel-X.Y.*).
std::optional<std::string> emulated_kernel_arg();

class DaemonProcess {
 public:
  // Starts aiod with `extra_args` (beyond --socket and --ready-fd), then
  // env_daemon_args(). Fails the
  // current test (and leaves running() false) if it does not become ready
  // within 10 s.
  // `launcher` (a program and its arguments) runs the daemon, if given.
  explicit DaemonProcess(std::vector<std::string> extra_args = {}, std::string socket_path = {},
                         std::vector<std::string> launcher = {});
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  // Stops the daemon (SIGTERM) if it runs, and expects a clean exit.
  ~DaemonProcess();

  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::string& socket_path() const noexcept { return socket_; }
  [[nodiscard]] const std::string& directory() const noexcept { return dir_; }
  [[nodiscard]] ClientOptions client_options() const;

  // Sends `sig`. Does not wait.
  void signal(int sig) const;
  // Waits (bounded) for the daemon to exit; returns its wait status, or
  // nullopt on timeout. After it returns a status the daemon is gone.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGTERM and wait: returns the exit code (or -signal).
  int stop();

 private:
  std::string dir_;
  std::string socket_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

// Runs a command line; returns its exit code and what it printed on stdout
// (and, with merge_stderr, on stderr too).
struct CommandResult {
  int exit_code = -1;
  std::string out;
};
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20), bool merge_stderr = false);

// The daemon's open descriptors and resident memory, from /proc.
struct ProcessUsage {
  std::size_t fds = 0;
  std::size_t rss_kib = 0;
};
ProcessUsage process_usage(pid_t pid);

}  // namespace aiod::test
