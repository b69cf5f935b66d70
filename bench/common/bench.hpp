// SPDX-License-Identifier: MIT
// bench.hpp — what every benchmark program shares: the command line, clocks
// and statistics, a private aiod started for the run, CPU accounting from
// /proc, and the result lines the driver (scripts/bench.sh) turns into a table.
//
// Every program measures each mode (in-process liburing, plain syscalls, aiod)
// in the same invocation, interleaved run by run so that drift on a shared
// machine hits every mode alike, and reports the median of the runs together
// with its ratio to in-process liburing.
#pragma once

#include <sys/types.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aiod::bench {

using Clock = std::chrono::steady_clock;

[[nodiscard]] inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
[[nodiscard]] std::uint64_t now_ns();

// Statistics over samples (the vectors are taken by value: they get sorted).
[[nodiscard]] double median(std::vector<double> v);
[[nodiscard]] double percentile(std::vector<double> v, double p);  // p in [0, 100]

// --- command line -------------------------------------------------------------
struct CommonOptions {
  unsigned runs = 5;
  std::vector<std::string> modes;        // empty: every mode the program has
  std::string socket;                    // use this running daemon instead of starting one
  std::string daemon_path;               // the aiod binary to start
  std::vector<std::string> daemon_args;  // extra arguments for it
  int daemon_nice = 0;                   // its nice level (the system unit runs aiod at Nice=-10)
  bool quiet = false;

  [[nodiscard]] bool wants(std::string_view mode) const;
};
// Adds --runs, --modes, --socket, --aiod, --daemon-arg, --daemon-nice and --quiet.
void add_common_options(CLI::App& app, CommonOptions& o);

// Parses the command line; exits the process on --help or an error.
void parse_or_exit(CLI::App& app, int argc, char** argv);

// Progress on stderr (the result lines go to stdout).
void note(const CommonOptions& o, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// --- the daemon ---------------------------------------------------------------
// A private aiod on a temporary socket, started with --ready-fd (its readiness
// is a byte on a pipe, not a guess) and stopped with SIGTERM on destruction.
// With CommonOptions::socket set, nothing is started: the running daemon is
// used and pid() is -1.
class Daemon {
 public:
  explicit Daemon(const CommonOptions& o, const std::vector<std::string>& extra_args = {});
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  [[nodiscard]] const std::string& socket() const noexcept { return socket_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // utime + stime of the whole daemon (all threads), in seconds; 0 without a pid.
  [[nodiscard]] double cpu_seconds() const;
  // Stops it now (SIGTERM, bounded wait).
  void stop();

 private:
  std::string dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

// utime + stime of process `pid` from /proc/<pid>/stat, in seconds (-1 on error).
[[nodiscard]] double process_cpu_seconds(pid_t pid);

// --- CPU per op -----------------------------------------------------------------
// This process's CPU time, all threads (io-wq workers and exited threads
// included), in seconds at µs resolution (getrusage RUSAGE_SELF).
[[nodiscard]] double self_cpu_seconds();

// The CPU a run costs: this process's plus the daemon's, when there is one
// (null for in-process modes), from construction until read. The daemon's
// core is a cost users pay too. Start it after the warmup and read it as soon
// as the run returns. The daemon's share has clock-tick resolution (10 ms at
// the usual USER_HZ): runs should take a second or more for 1 %.
class CpuMeter {
 public:
  explicit CpuMeter(const Daemon* daemon);
  [[nodiscard]] double seconds() const;
  [[nodiscard]] double ns_per_op(std::uint64_t ops) const;

 private:
  const Daemon* daemon_;
  double self0_;
  double daemon0_;
};

// --- results ------------------------------------------------------------------
// How a metric's value reads: more is better (throughput) or less (latency, CPU).
enum class Better { higher, lower, none };

// Collects samples per (bench, mode, metric) and prints one result line each:
//   RESULT <tab> bench <tab> mode <tab> metric <tab> unit <tab> median <tab>
//          shown <tab> ratio <tab> runs <tab> spread
// `ratio` is this row's median over the median of the row with the same bench
// and metric whose mode is `baseline_mode` ("uring" unless set otherwise), or
// "-". A row that could not be measured prints "n/a (<why>)" as its value.
// An 11th field, `vs best`, is the row's median over the best median of the
// in-process modes (is_in_process) of the same bench and metric: what a user
// gives up against the fastest way to do the same work without aiod.
class Report {
 public:
  void add(const std::string& bench, const std::string& mode, const std::string& metric, const std::string& unit,
           double value, Better better = Better::higher);
  void not_available(const std::string& bench, const std::string& mode, const std::string& metric,
                     const std::string& why);
  // Rows of `bench` compare against `mode` instead of "uring".
  void set_baseline(const std::string& bench, const std::string& mode);
  void print() const;

 private:
  struct Row {
    std::string bench, mode, metric, unit, why;
    Better better = Better::higher;
    std::vector<double> samples;
  };
  Row& row(const std::string& bench, const std::string& mode, const std::string& metric);
  std::vector<Row> rows_;
  std::vector<std::pair<std::string, std::string>> baselines_;
};

// Adds the CPU per op row of a run: metric "cpu/op", unit "ns", less is better.
void add_cpu_per_op(Report& report, const std::string& bench, const std::string& mode, const CpuMeter& meter,
                    std::uint64_t ops);

// "23.1 M ops/s", "172 ns", "0.4 %"...
[[nodiscard]] std::string format_value(double v, const std::string& unit);

// Mode labels used in every program.
inline constexpr const char* kUring = "uring";
inline constexpr const char* kSyscalls = "syscalls";
inline constexpr const char* kEpoll = "epoll";  // in-process event loop (socket benchmarks)
inline constexpr const char* kAiod = "aiod";

// Whether a mode does its work in the client's own process (the baselines a
// daemon is measured against): uring, syscalls, epoll and their variants.
[[nodiscard]] bool is_in_process(std::string_view mode);

}  // namespace aiod::bench
