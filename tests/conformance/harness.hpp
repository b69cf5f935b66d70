// SPDX-License-Identifier: MIT
// harness.hpp — the table of the conformance suite: a case, the context it runs in, and helpers.
//
// Each case is run twice by one driver (harness.cpp), each time in a fresh
// temporary directory: once through the system call in this process (the
// reference), once through the libaiod op against a private aiod (the backend
// the suite was started for: io_uring, or posix with AIOD_TEST_DAEMON_ARGS).
// The driver then compares the two outcomes (errno and a value string) and
// the side effects (a probe: the directory's entries and contents, bytes
// waiting on peer descriptors). A case where aiod differs from the system call
// on purpose says so in `difference` and states how the expected aiod outcome
// derives from the reference's; every such row is listed in
// docs/operations.md, "Differences from the system calls".
#pragma once

#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <aiod/aiod.hpp>

namespace aiod::conf {

// What an action gave: 0 or an errno value, and a value describing the
// result (bytes read, the data, the events...). Compared field by field.
struct Out {
  int err = 0;
  std::string val;
};

// The world of one run of a case.
struct Ctx {
  bool via_aiod = false;
  std::string dir;           // a fresh empty directory (absolute path), mode 0755
  int dirfd = -1;            // that directory, O_DIRECTORY
  Client* client = nullptr;  // aiod runs: the acting session
  Handle dirh{};             // aiod runs: dirfd registered with that session

  // Objects made by the setup that the action uses. In a reference run they
  // are descriptors of this process; in an aiod run they are registered with
  // the session and this process's copies are closed, so the daemon's handle
  // is the only reference (a close through aiod really closes).
  std::vector<int> fds;
  std::vector<Handle> hs;
  // Descriptors only this process holds: the other ends, for probes.
  std::vector<int> peers;
  // Scratch values a setup hands to its action (a pid, a port).
  std::map<std::string, long> vars;

  // Adds an object for the action; returns its index for fd()/h().
  std::size_t add(int fd);
  // Keeps a descriptor in this process only; returns its index for peer().
  std::size_t keep(int fd);
  [[nodiscard]] int fd(std::size_t i) const { return fds.at(i); }
  [[nodiscard]] Handle h(std::size_t i) const { return hs.at(i); }
  [[nodiscard]] int peer(std::size_t i) const { return peers.at(i); }
  // Marks object i closed by the action (reference runs), so cleanup does not close it again.
  void forget(std::size_t i) { fds.at(i) = -1; }
  [[nodiscard]] std::string path(const std::string& name) const { return dir + "/" + name; }
};

using Action = std::function<Out(Ctx&)>;

struct Case {
  std::string op;    // the op, as named in docs/operations.md (lower case)
  std::string name;  // what this case does, an identifier
  int want_err = 0;  // the reference's errno (0: success); pins the table itself
  std::function<void(Ctx&)> setup{};
  Action ref{};   // the system call, in this process
  Action aiod{};  // the libaiod op
  // Side effects after the action; default: the directory's tree (names,
  // types, modes, owners, sizes, contents, link targets).
  std::function<std::string(Ctx&)> probe{};
  bool as_nobody = false;  // the action runs in a forked child as uid/gid nobody
  // A documented difference: why aiod differs, and how its expected outcome
  // and probe derive from the reference's (applied to copies of them).
  std::string difference{};
  std::function<void(Out&, std::string& probe)> expect{};
};

// The suite's test: one per case (TEST_P in harness.cpp).
class Conformance : public ::testing::TestWithParam<Case> {};

// How gtest prints a case: its op, name and difference.
void PrintTo(const Case& c, std::ostream* os);

// gtest's name for a case: op_name.
std::string case_name(const ::testing::TestParamInfo<Case>& info);

// --- outcomes ---------------------------------------------------------------------

// A system call's return value: <0 → errno; else the value as a number.
Out sys(long rc);
// A system call's return value where only success matters (descriptors).
Out sys_ok(long rc);
// A libaiod error: {} → {0, val}; an op's errno → {errno, ""}; a library or
// queue-time error → {its value, "<category>: message"}, which never matches.
Out aio(std::error_code ec, std::string val = {});
// Joins outcomes of several steps: "a=<err or val> b=...".
std::string step(const std::string& label, const Out& o);
// errno's symbolic name ("ENOENT"), for values and messages.
std::string errname(int err);

// --- setups -----------------------------------------------------------------------

// Creates dir/name with `data` and exactly `mode`; fails the test if it cannot.
void make_file(const Ctx& ctx, const std::string& name, const std::string& data, mode_t mode = 0644);
// Opens dir/name in this process (O_CLOEXEC added); fails the test if it cannot.
int open_file(const Ctx& ctx, const std::string& name, int flags, mode_t mode = 0);
// A connected pair (socketpair, or a pipe: [0] reads, [1] writes); fails the test if it cannot.
std::array<int, 2> socket_pair(int type = SOCK_STREAM);
std::array<int, 2> make_pipe();

// --- probes -----------------------------------------------------------------------

// The directory tree under `dir`, one line per entry, sorted.
std::string snapshot(const std::string& dir);
// What a peer descriptor holds now: the bytes readable without blocking, then
// "eof", "empty" (nothing yet) or an errno name.
std::string drain(int fd);

// --- an in-process io_uring, the reference for ops that only exist as io_uring ops
// (timeout, link_timeout, cancel, nop).
class Ring {
 public:
  Ring();
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  // A new sqe; its user_data and flags are set at submit(), after the caller's io_uring_prep_*.
  io_uring_sqe* sqe(std::uint64_t user_data, unsigned flags = 0);
  void submit();
  // Waits (bounded: 5 s) for `n` completions; returns res by user_data.
  std::map<std::uint64_t, int> wait(unsigned n);

 private:
  io_uring ring_{};
  struct Mark {
    io_uring_sqe* sqe;
    std::uint64_t user_data;
    unsigned flags;
  };
  std::vector<Mark> marks_;
};

// --- the cases, one function per op family ----------------------------------------
std::vector<Case> fs_cases();
std::vector<Case> io_cases();
std::vector<Case> net_cases();
std::vector<Case> control_cases();

}  // namespace aiod::conf
