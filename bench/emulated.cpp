// SPDX-License-Identifier: MIT
// emulated — what an op costs when the kernel's io_uring lacks it and the
// daemon runs it on its worker threads instead (docs/operations.md, Kernel
// support). FTRUNCATE is native from Linux 6.9; the same ops go to a daemon
// running natively and to one started with --emulate-kernel 6.1, at queue
// depth 1 and 32, on a file in --dir. Each length alternates, so every call
// changes the file.
//
//   syscalls              ftruncate(2) in process, one at a time
//   aiod                  FTRUNCATE on the ring (this kernel must be 6.9+)
//   aiod (emulated 6.1)   FTRUNCATE on the daemon's worker threads
//
// Ratios are against `aiod` (native). Each mode also reports the daemon's CPU
// per op (utime + stime of all its threads).
#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bench.hpp"

namespace aiod::bench {
namespace {

constexpr const char* kEmulated = "aiod (emulated 6.1)";

struct Options {
  CommonOptions common;
  std::uint64_t ops = 100'000;
  std::vector<unsigned> depths{1, 32};
  std::string dir = "/var/tmp";
  std::uint64_t warmup = 5'000;
};

std::uint64_t length_of(std::uint64_t i) { return (i % 2) ? 8192 : 4096; }

double syscall_truncates(int fd, std::uint64_t ops) {
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    if (::ftruncate(fd, static_cast<off_t>(length_of(i))) != 0) die("ftruncate: %s", std::strerror(errno));
  }
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

double aiod_truncates(Client& client, Handle file, std::uint64_t ops, unsigned depth) {
  Dynamic q(client, depth);
  bool failed = false;
  q.set_callback([&](OpId, std::uint64_t, bool err) { failed |= err; });
  std::uint64_t issued = 0, done = 0;
  const auto t0 = Clock::now();
  while (done < ops) {
    while (issued - done < depth && issued < ops) {
      if (const auto ec = q.queue(Ftruncate{.file = file, .length = length_of(issued++)})) {
        die("queue: %s", ec.message().c_str());
      }
    }
    auto r = q.complete(CompletionMode::blocking);
    if (!r) die("complete: %s", r.message().c_str());
    done += r->num_completed;
    if (failed) die("an aiod ftruncate failed");
  }
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

// A daemon, a client of it and the file opened through it.
struct Target {
  Target(const CommonOptions& o, const std::vector<std::string>& args, const std::string& path) : daemon(o, args) {
    auto c = Client::connect({.socket_path = daemon.socket(), .name = "bench emulated"});
    if (!c) die("connect: %s", c.message().c_str());
    client.emplace(std::move(*c));
    if (auto ec = client->single(OpenAt{.path = path.c_str(), .flags = O_RDWR, .out_file = &file})) {
      die("aiod open %s: %s", path.c_str(), ec.message().c_str());
    }
  }
  Daemon daemon;
  std::optional<Client> client;
  Handle file;
};

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"emulated: FTRUNCATE on the ring against the same op emulated (--emulate-kernel 6.1)"};
  add_common_options(app, o.common);
  app.add_option("--ops", o.ops, "ops per run");
  app.add_option("--depths", o.depths, "queue depths")->delimiter(',')->check(CLI::Range(1u, 64u));
  app.add_option("--dir", o.dir, "directory for the test file");
  app.add_option("--warmup", o.warmup, "untimed ops before each measurement");
  parse_or_exit(app, argc, argv);
  if (!o.common.socket.empty()) die("emulated starts its own two daemons: --socket does not apply");

  const std::string path = o.dir + "/aiod-bench-emulated-" + std::to_string(::getpid());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) die("open %s: %s", path.c_str(), std::strerror(errno));
  utsname u{};
  ::uname(&u);
  note(o.common, "emulated: kernel %s (FTRUNCATE is on the ring from 6.9)", u.release);

  std::optional<Target> native, emulated;
  if (o.common.wants(kAiod)) native.emplace(o.common, std::vector<std::string>{}, path);
  if (o.common.wants(kEmulated)) emulated.emplace(o.common, std::vector<std::string>{"--emulate-kernel", "6.1"}, path);

  Report report;
  for (unsigned depth : o.depths) report.set_baseline("ftruncate qd" + std::to_string(depth), kAiod);
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "emulated: run %u/%u", run + 1, o.common.runs);
    for (unsigned depth : o.depths) {
      const std::string bench = "ftruncate qd" + std::to_string(depth);
      if (o.common.wants(kSyscalls)) {
        if (depth == 1) {
          (void)syscall_truncates(fd, o.warmup);
          report.add(bench, kSyscalls, "throughput", "ops/s", syscall_truncates(fd, o.ops));
        } else {
          report.not_available(bench, kSyscalls, "throughput", "ftruncate has depth 1: see qd1");
        }
      }
      for (auto* t : {&native, &emulated}) {
        if (!*t) continue;
        const char* mode = t == &native ? kAiod : kEmulated;
        (void)aiod_truncates(*(*t)->client, (*t)->file, o.warmup, depth);
        const double cpu0 = (*t)->daemon.cpu_seconds();
        report.add(bench, mode, "throughput", "ops/s", aiod_truncates(*(*t)->client, (*t)->file, o.ops, depth));
        const double cpu = (*t)->daemon.cpu_seconds() - cpu0;
        report.add(bench, mode, "daemon cpu/op", "ns", cpu * 1e9 / static_cast<double>(o.ops), Better::lower);
      }
    }
  }
  ::close(fd);
  ::unlink(path.c_str());
  report.print();
  return 0;
}
