// SPDX-License-Identifier: MIT
// syscalls — system calls a client makes per op in steady state, counted on
// the client process only (the daemon is started here, outside the traced
// process tree). Setup costs (connect, handshake, ring creation) cancel out:
// each run counts a nops run of N ops and one of 2N ops, and reports
// (calls(2N) - calls(N)) / N.
//
// Two counters, each where it is installed:
//   strace  strace -f -c: names every call, but stops the client at each one
//   perf    perf stat -e raw_syscalls:sys_enter: counts in the kernel without
//           stopping anybody, so the client runs at full speed
//
//   uring  the in-process reference: one io_uring_enter per batch
//   aiod   ideally none: submission and completion go through shared memory;
//          calls happen only when one side sleeps (doorbell, poll, eventfd)
// strace slows every call the client makes, so a client that sleeps or rings
// the doorbell often looks worse under strace than it is; perf shows that.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "bench.hpp"

extern char** environ;

namespace aiod::bench {
namespace {

struct Options {
  CommonOptions common;
  std::uint64_t ops_batch32 = 640'000;
  std::uint64_t ops_batch1 = 100'000;
  std::string strace = "strace";
  std::string perf = "perf";
  std::vector<std::string> tracers{"strace", "perf"};
};

std::string self_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) die("readlink /proc/self/exe: %s", std::strerror(errno));
  std::string path(buf, static_cast<std::size_t>(n));
  return path.substr(0, path.rfind('/'));
}

// Runs argv with stdout to /dev/null; returns its exit status.
int run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) return -err;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// strace -c's table: calls per syscall name ("total" included).
std::map<std::string, double> parse_strace(const std::string& path) {
  std::map<std::string, double> calls;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> t;
    for (std::string f; fields >> f;) t.push_back(f);
    // "% time seconds usecs/call calls [errors] syscall"
    if (t.size() < 5 || t[0].find_first_not_of("0123456789.") != std::string::npos) continue;
    calls[t.back()] = std::stod(t[3]);
  }
  return calls;
}

// perf stat -x, output: "count,unit,event,..." for raw_syscalls:sys_enter.
std::map<std::string, double> parse_perf(const std::string& path) {
  std::map<std::string, double> calls;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("raw_syscalls:sys_enter") == std::string::npos) continue;
    calls["total"] = std::stod(line.substr(0, line.find(',')));
  }
  return calls;
}

std::map<std::string, double> count(const Options& o, const std::string& tracer, const std::string& socket,
                                    const std::string& mode, unsigned batch, std::uint64_t ops,
                                    const std::string& out) {
  std::vector<std::string> argv;
  if (tracer == "strace") {
    argv = {o.strace, "-f", "-c", "-o", out, "--"};
  } else {
    argv = {o.perf, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-o", out, "--"};
  }
  for (const std::string& a : {self_dir() + "/bench_nops", std::string("--modes"), mode, std::string("--runs"),
                               std::string("1"), std::string("--batch"), std::to_string(batch), std::string("--ops"),
                               std::to_string(ops), std::string("--latency-ops"), std::string("0"),
                               std::string("--warmup"), std::string("0"), std::string("--quiet")}) {
    argv.push_back(a);
  }
  if (mode == kAiod) {
    argv.push_back("--socket");
    argv.push_back(socket);
  }
  if (const int rc = run(argv); rc != 0) die("%s exited with %d", argv[0].c_str(), rc);
  return tracer == "strace" ? parse_strace(out) : parse_perf(out);
}

bool available(const Options& o, const std::string& tracer) {
  if (tracer == "strace") return run({o.strace, "-V"}) == 0;
  return run({o.perf, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-o", "/dev/null", "--", "true"}) == 0;
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"syscalls: client-side system calls per op in steady state (strace -c)"};
  add_common_options(app, o.common);
  app.add_option("--ops-batch32", o.ops_batch32, "N for the 32-op batch runs (N and 2N are traced)");
  app.add_option("--ops-batch1", o.ops_batch1, "N for the single-op runs");
  app.add_option("--strace", o.strace, "the strace binary");
  app.add_option("--perf", o.perf, "the perf binary");
  app.add_option("--tracers", o.tracers, "counters to use: strace, perf")->delimiter(',');
  parse_or_exit(app, argc, argv);

  Report report;
  std::vector<std::string> tracers;
  for (const std::string& t : o.tracers) {
    if (t != "strace" && t != "perf") die("unknown tracer %s", t.c_str());
    if (available(o, t)) {
      tracers.push_back(t);
      continue;
    }
    for (const char* mode : {kUring, kAiod}) {
      report.not_available("client syscalls/op batch 32 (" + t + ")", mode, "calls/op", t + " does not run here");
    }
  }
  std::optional<Daemon> daemon;
  if (o.common.wants(kAiod)) daemon.emplace(o.common);
  char tmpl[] = "/tmp/aiod-bench-strace-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) die("mkdtemp: %s", std::strerror(errno));
  const std::string out = std::string(tmpl) + "/strace.txt";

  for (unsigned run_index = 0; run_index < o.common.runs; ++run_index) {
    note(o.common, "syscalls: run %u/%u", run_index + 1, o.common.runs);
    for (const std::string& tracer : tracers) {
      for (unsigned batch : {32u, 1u}) {
        const std::uint64_t n = batch == 1 ? o.ops_batch1 : o.ops_batch32;
        const std::string bench = "client syscalls/op batch " + std::to_string(batch) + " (" + tracer + ")";
        for (const char* mode : {kUring, kAiod}) {
          if (!o.common.wants(mode)) continue;
          auto once = count(o, tracer, daemon ? daemon->socket() : "", mode, batch, n, out);
          auto twice = count(o, tracer, daemon ? daemon->socket() : "", mode, batch, 2 * n, out);
          const double per_op = (twice["total"] - once["total"]) / static_cast<double>(n);
          report.add(bench, mode, "calls/op", "calls/op", per_op, Better::lower);
          if (run_index + 1 == o.common.runs) {
            std::string detail;
            for (const auto& [name, c] : twice) {
              const double d = (c - once[name]) / static_cast<double>(n);
              if (name == "total" || d <= 0) continue;
              char buf[96];
              std::snprintf(buf, sizeof(buf), " %s %.5f", name.c_str(), d);
              detail += buf;
            }
            if (tracer == "strace") {
              note(o.common, "syscalls: %s, %s, per op:%s", bench.c_str(), mode,
                   detail.empty() ? " none" : detail.c_str());
            }
          }
        }
      }
    }
  }
  ::unlink(out.c_str());
  ::rmdir(tmpl);
  report.print();
  return 0;
}
