// SPDX-License-Identifier: MIT
// idle — what a daemon costs when nobody asks it anything: its CPU (utime +
// stime from /proc) over --seconds with --clients connected clients that sit
// idle after a burst of work; and once, before any client connected, with none.
// There is nothing to compare against in-process: a library uses no CPU
// while its program does not call it.
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <array>
#include <thread>

#include "bench.hpp"

namespace aiod::bench {
namespace {

struct Options {
  CommonOptions common;
  unsigned clients = 16;
  double seconds = 5.0;
  std::uint64_t burst = 100'000;
};

double cpu_percent_over(const Daemon& d, double seconds) {
  const double cpu0 = d.cpu_seconds();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double wall = seconds_between(t0, Clock::now());
  return (d.cpu_seconds() - cpu0) / wall * 100;
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"idle: daemon CPU while its clients are connected and idle"};
  add_common_options(app, o.common);
  app.add_option("--clients", o.clients, "connected idle clients")->check(CLI::Range(0u, 1000u));
  app.add_option("--seconds", o.seconds, "measured idle time per run")->check(CLI::Range(0.5, 600.0));
  app.add_option("--burst", o.burst, "nops each run's first client does before going idle");
  parse_or_exit(app, argc, argv);
  if (!o.common.socket.empty()) die("idle measures its own private daemon: --socket is not supported");
  if (!o.common.wants(kAiod)) return 0;

  Daemon daemon(o.common);
  Report report;
  const std::string with = "idle, " + std::to_string(o.clients) + " clients connected";
  const std::string without = "idle, no clients";
  // Once: the daemon's own idle loop before anyone connected.
  note(o.common, "idle: no clients");
  report.add(without, kAiod, "daemon CPU", "%", cpu_percent_over(daemon, o.seconds), Better::none);
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "idle: run %u/%u", run + 1, o.common.runs);
    {
      std::vector<aiod::Client> clients;
      for (unsigned i = 0; i < o.clients; ++i) {
        auto c = aiod::Client::connect({.socket_path = daemon.socket(), .name = "bench idle"});
        if (!c) die("connect: %s", c.message().c_str());
        if (auto ec = c->single(aiod::Nop{})) die("nop: %s", ec.message().c_str());
        clients.push_back(std::move(*c));
      }
      if (!clients.empty()) {
        std::array<aiod::Op, 32> nops;
        nops.fill(aiod::Nop{});
        for (std::uint64_t done = 0; done < o.burst; done += nops.size()) (void)clients.front().run_batch(nops);
      }
      report.add(with, kAiod, "daemon CPU", "%", cpu_percent_over(daemon, o.seconds), Better::none);
    }
  }
  report.print();
  return 0;
}
