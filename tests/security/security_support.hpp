// SPDX-License-Identifier: MIT
// security_support.hpp — clients that run as another user, or in namespaces
// of their own, for the security suite.
//
// aiod runs as root and serves other users. Each test of this suite plays
// the attacker: a forked child that (optionally) unshares namespaces while
// still root, then drops to another uid/gid (nobody by default) and drives a
// libaiod client. The child's results come back through a pipe as numbers and
// notes; every wait on the child is bounded (poll with a timeout), and a child
// that does not finish in time is killed, so a hanging daemon fails a test
// instead of stalling the run. Nothing here synchronises by sleeping.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <aiod/aiod.hpp>

#include "daemon_process.hpp"

namespace aiod::test::sec {

inline constexpr uid_t kNobody = 65534;
inline constexpr gid_t kNogroup = 65534;

// What the child reports about the steps before the body.
enum class Setup : int {
  ok = 0,
  unshare_refused = 1,  // unshare(2) failed: the test cannot run here (skip)
  setup_failed = 2,     // the setup callback failed (a mount, ...)
  drop_failed = 3,      // could not become the requested user
};

// The parent side of the child's channel, filled as records arrive.
struct Outcome {
  Setup setup = Setup::ok;
  int setup_errno = 0;
  bool setup_reported = false;  // the child said how its setup went
  bool ended = false;           // the body returned and the child said so
  bool timed_out = false;       // the child was killed after the timeout
  int wait_status = -1;         // from waitpid, once reaped
  std::vector<std::int64_t> values;
  std::vector<std::string> notes;

  // Setup went fine and the body ran to its end.
  [[nodiscard]] bool ok() const noexcept { return setup_reported && setup == Setup::ok && ended; }
  [[nodiscard]] bool unshare_refused() const noexcept { return setup_reported && setup == Setup::unshare_refused; }
  // One line for assertion messages: setup, end, values, notes.
  [[nodiscard]] std::string describe() const;
};

// The child side: what the body uses to report.
class Channel {
 public:
  Channel(int out_fd, int go_fd) : out_(out_fd), go_(go_fd) {}
  void put(std::int64_t value);
  void note(const std::string& text);
  // Waits (bounded) until the parent calls UserProcess::release(). True if it
  // did, false on timeout or if the parent went away.
  bool wait_for_parent(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Used by the runner itself.
  void setup_result(Setup s, int err);
  void end();

 private:
  int out_;
  int go_;
};

struct UserOptions {
  uid_t uid = kNobody;
  gid_t gid = kNogroup;
  bool drop = true;       // false: the body runs as root (still in its namespaces)
  int unshare_flags = 0;  // CLONE_NEWNET, CLONE_NEWNS, ... (done as root, before dropping)
  // Runs as root after unshare and before dropping privileges (mounts, files
  // the client owns). Returns 0 or an errno value.
  std::function<int()> setup{};
  std::string cwd = "/";  // the child's cwd when it connects (the session's cwd handle)
  mode_t umask = 022;
  // Descriptors of the parent the child keeps (all others above 2 are
  // closed, so the child holds nothing of the test's own sessions).
  std::vector<int> keep_fds{};
};

// A child running `body` under `options`. The destructor kills the child if it
// still runs and reaps it.
class UserProcess {
 public:
  UserProcess(const UserOptions& options, std::function<void(Channel&)> body);
  UserProcess(const UserProcess&) = delete;
  UserProcess& operator=(const UserProcess&) = delete;
  ~UserProcess();

  // Reads records until the child has put `n` values in all, has ended, or
  // `timeout` has passed. True when `n` values are there.
  bool wait_values(std::size_t n, std::chrono::milliseconds timeout);
  // Lets a body blocked in Channel::wait_for_parent go on.
  void release();
  // Reads everything until the child closes its end (killing it after
  // `timeout`), reaps it, and returns what it reported.
  const Outcome& finish(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  [[nodiscard]] const Outcome& outcome() const noexcept { return outcome_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline);
  void kill_and_reap();

  Outcome outcome_;
  std::string buffer_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int from_child_ = -1;
  int to_child_ = -1;
  bool eof_ = false;
};

// Runs `body` in a child under `options` and returns what it reported.
Outcome as_user(const UserOptions& options, std::function<void(Channel&)> body,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

// --- helpers for bodies ---------------------------------------------------------

// The error of an op as a number: 0 on success, the errno value for an op's
// own failure (system category); connection and library errors become
// -1000 - value so they are never mistaken for an errno.
std::int64_t code(std::error_code ec);

// What opening `path` through aiod gave, and what the opened file revealed.
struct OpenProbe {
  int err = 0;          // 0: it opened
  bool magic = false;   // its first four bytes were a session region's magic ("AIOD")
  bool marker = false;  // `marker` was found in its first 64 KiB
};
// Opens `path` (relative to `dir`, or absolute) with OPEN_AT — or OPENAT2
// with `resolve` when `openat2` — each step bounded by a link timeout; if it
// opens, reads its first 64 KiB through aiod, looks for the magic and the
// marker, and closes it.
OpenProbe probe_open(Client& c, Handle dir, const std::string& path, int flags, const std::string& marker,
                     bool openat2 = false, std::uint64_t resolve = 0);

// The credentials a datagram carried (SCM_CREDENTIALS), read from `fd`, which
// has SO_PASSCRED set; waits up to `timeout`.
struct ReceivedCreds {
  bool received = false;   // a datagram arrived
  bool had_creds = false;  // with SCM_CREDENTIALS
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string data;
};
ReceivedCreds receive_creds(int fd, std::chrono::milliseconds timeout);

// Creates the directory parent/name with exactly `mode` (chmod after mkdir,
// whatever the umask) and returns its path; fails the test if it cannot.
std::string make_dir(const std::string& parent, const std::string& name, mode_t mode);

}  // namespace aiod::test::sec

// Skips the current test unless it runs as root (it needs to run clients as
// another user).
#define AIOD_SEC_REQUIRE_ROOT()                                                            \
  do {                                                                                     \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: the daemon must serve another uid"; \
  } while (0)

// Skips the current test when the child could not unshare its namespaces.
#define AIOD_SEC_SKIP_IF_UNSHARE_REFUSED(outcome)                                              \
  do {                                                                                         \
    if ((outcome).unshare_refused())                                                           \
      GTEST_SKIP() << "unshare(2) was refused here: " << std::strerror((outcome).setup_errno); \
  } while (0)
