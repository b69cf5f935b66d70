// SPDX-License-Identifier: MIT
// nops — the cost of the submission path itself: operations that do nothing.
//
// Two measurements, each in three modes (in-process liburing, plain syscalls,
// aiod), interleaved run by run:
//   * throughput: --ops nops in batches of --batch (default 32): submit a batch,
//     wait for all of it, repeat (zig-aio's aio_nops at a 32-op queue);
//   * round trip: --latency-ops single nops, each timed: median and p99.
// Both also report CPU per op: this process's plus the daemon's (aiod mode).
// "syscalls" runs one getppid(2) per nop: the cheapest real kernel entry.
#include <sys/syscall.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <array>
#include <vector>

#include "bench.hpp"
#include "uring.hpp"

namespace aiod::bench {
namespace {

struct Options {
  CommonOptions common;
  std::uint64_t ops = 10'000'000;
  unsigned batch = 32;
  std::uint64_t latency_ops = 200'000;
  std::uint64_t warmup = 100'000;
};

constexpr unsigned kMaxBatch = 128;

inline void syscall_nop() { (void)::syscall(SYS_getppid); }

// --- throughput: each returns ops/s ------------------------------------------------

double uring_batches(std::uint64_t ops, unsigned batch) {
  Ring ring(kMaxBatch);
  io_uring_cqe* cqes[kMaxBatch];
  std::uint64_t done = 0;
  const auto t0 = Clock::now();
  while (done < ops) {
    for (unsigned i = 0; i < batch; ++i) io_uring_prep_nop(ring.sqe());
    if (const int r = io_uring_submit_and_wait(ring.get(), batch); r < 0) die("io_uring_submit_and_wait: %d", r);
    unsigned got = 0;
    while (got < batch) {
      const unsigned n = io_uring_peek_batch_cqe(ring.get(), cqes, batch - got);
      if (n == 0) {
        io_uring_cqe* c = nullptr;
        if (io_uring_wait_cqe(ring.get(), &c) < 0) die("io_uring_wait_cqe");
        continue;
      }
      io_uring_cq_advance(ring.get(), n);
      got += n;
    }
    done += batch;
  }
  return static_cast<double>(done) / seconds_between(t0, Clock::now());
}

double syscall_batches(std::uint64_t ops, unsigned batch) {
  std::uint64_t done = 0;
  const auto t0 = Clock::now();
  while (done < ops) {
    for (unsigned i = 0; i < batch; ++i) syscall_nop();
    done += batch;
  }
  return static_cast<double>(done) / seconds_between(t0, Clock::now());
}

double aiod_batches(Client& client, std::uint64_t ops, unsigned batch) {
  std::array<Op, kMaxBatch> nops;
  nops.fill(Nop{});
  const std::span<Op> span(nops.data(), batch);
  std::uint64_t done = 0;
  const auto t0 = Clock::now();
  while (done < ops) {
    auto r = client.run_batch(span);
    if (!r || *r != 0) die("aiod nop batch: %s", r ? "an op failed" : r.message().c_str());
    done += batch;
  }
  return static_cast<double>(done) / seconds_between(t0, Clock::now());
}

// --- round trips: each fills `lat` (ns per op) and returns ops/s ----------------------

template <class F>
double timed_loop(std::vector<double>& lat, std::uint64_t n, F&& one) {
  lat.resize(n);
  std::uint64_t prev = now_ns();
  const std::uint64_t start = prev;
  for (std::uint64_t i = 0; i < n; ++i) {
    one();
    const std::uint64_t t = now_ns();
    lat[i] = static_cast<double>(t - prev);
    prev = t;
  }
  return static_cast<double>(n) / (static_cast<double>(prev - start) / 1e9);
}

double uring_round_trips(std::vector<double>& lat, std::uint64_t n) {
  Ring ring(8);
  return timed_loop(lat, n, [&] {
    io_uring_prep_nop(ring.sqe());
    io_uring_cqe* c = nullptr;
    if (io_uring_submit_and_wait(ring.get(), 1) < 0 || io_uring_peek_cqe(ring.get(), &c) != 0) die("uring nop");
    io_uring_cqe_seen(ring.get(), c);
  });
}

double syscall_round_trips(std::vector<double>& lat, std::uint64_t n) {
  return timed_loop(lat, n, [] { syscall_nop(); });
}

double aiod_round_trips(Client& client, std::vector<double>& lat, std::uint64_t n) {
  return timed_loop(lat, n, [&] {
    if (const std::error_code ec = client.single(Nop{})) die("aiod nop: %s", ec.message().c_str());
  });
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"nops: batched nop throughput and single-nop round trips, uring vs syscalls vs aiod"};
  add_common_options(app, o.common);
  app.add_option("--ops", o.ops, "nops per throughput run");
  app.add_option("--batch", o.batch, "nops per batch in the throughput runs")->check(CLI::Range(1u, kMaxBatch));
  app.add_option("--latency-ops", o.latency_ops, "timed single nops per round-trip run (0: skip)");
  app.add_option("--warmup", o.warmup, "untimed nops before each measurement");
  parse_or_exit(app, argc, argv);
  o.ops = std::max<std::uint64_t>(o.ops / o.batch * o.batch, o.batch);

  std::optional<Daemon> daemon;
  std::optional<aiod::Client> client;
  if (o.common.wants(kAiod)) {
    daemon.emplace(o.common);
    auto c = aiod::Client::connect({.socket_path = daemon->socket(), .name = "bench nops"});
    if (!c) die("connect: %s", c.message().c_str());
    client.emplace(std::move(*c));
  }

  Report report;
  const std::string tput = "nops batch " + std::to_string(o.batch);
  const std::string rt = "nops batch 1";
  std::vector<double> lat;
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "nops: run %u/%u", run + 1, o.common.runs);
    if (o.ops > 0) {
      if (o.common.wants(kUring)) {
        (void)uring_batches(o.warmup, o.batch);
        const CpuMeter cpu(nullptr);
        report.add(tput, kUring, "throughput", "ops/s", uring_batches(o.ops, o.batch));
        add_cpu_per_op(report, tput, kUring, cpu, o.ops);
      }
      if (o.common.wants(kSyscalls)) {
        (void)syscall_batches(o.warmup, o.batch);
        const CpuMeter cpu(nullptr);
        report.add(tput, kSyscalls, "throughput", "ops/s", syscall_batches(o.ops, o.batch));
        add_cpu_per_op(report, tput, kSyscalls, cpu, o.ops);
      }
      if (client) {
        (void)aiod_batches(*client, o.warmup, o.batch);
        const double cpu0 = daemon->cpu_seconds();
        const CpuMeter cpu(&*daemon);
        const auto t0 = Clock::now();
        report.add(tput, kAiod, "throughput", "ops/s", aiod_batches(*client, o.ops, o.batch));
        const double wall = seconds_between(t0, Clock::now());
        add_cpu_per_op(report, tput, kAiod, cpu, o.ops);
        if (daemon->pid() > 0) {
          report.add(tput, kAiod, "daemon CPU", "%", (daemon->cpu_seconds() - cpu0) / wall * 100, Better::none);
        }
      }
    }
    if (o.latency_ops > 0) {
      if (o.common.wants(kUring)) {
        (void)uring_round_trips(lat, o.warmup);
        const CpuMeter cpu(nullptr);
        report.add(rt, kUring, "ops/s", "ops/s", uring_round_trips(lat, o.latency_ops));
        add_cpu_per_op(report, rt, kUring, cpu, o.latency_ops);
        report.add(rt, kUring, "round trip p50", "ns", percentile(lat, 50), Better::lower);
        report.add(rt, kUring, "round trip p99", "ns", percentile(lat, 99), Better::lower);
      }
      if (o.common.wants(kSyscalls)) {
        (void)syscall_round_trips(lat, o.warmup);
        const CpuMeter cpu(nullptr);
        report.add(rt, kSyscalls, "ops/s", "ops/s", syscall_round_trips(lat, o.latency_ops));
        add_cpu_per_op(report, rt, kSyscalls, cpu, o.latency_ops);
        report.add(rt, kSyscalls, "round trip p50", "ns", percentile(lat, 50), Better::lower);
        report.add(rt, kSyscalls, "round trip p99", "ns", percentile(lat, 99), Better::lower);
      }
      if (client) {
        (void)aiod_round_trips(*client, lat, o.warmup);
        const CpuMeter cpu(&*daemon);
        report.add(rt, kAiod, "ops/s", "ops/s", aiod_round_trips(*client, lat, o.latency_ops));
        add_cpu_per_op(report, rt, kAiod, cpu, o.latency_ops);
        report.add(rt, kAiod, "round trip p50", "ns", percentile(lat, 50), Better::lower);
        report.add(rt, kAiod, "round trip p99", "ns", percentile(lat, 99), Better::lower);
      }
    }
  }
  report.print();
  return 0;
}
