// SPDX-License-Identifier: MIT
// coro_nops — nops through a coroutine scheduler (zig-aio's coro_nops): one
// task loops `co_await` a batch of 32 nops until --ops are done; the task is
// suspended while its batch is in flight and resumed by the scheduler.
//
//   uring     the task's batch goes to an in-process io_uring; the scheduler
//             waits on the ring (mini_coro.hpp)
//   syscalls  the batch is 32 getppid(2) calls; the task is resumed through
//             the same scheduler's run queue
//   aiod      libaiod's coroutine runtime (aiod::coro::Scheduler): the task
//             co_awaits io::multi of 32 aiod::Nop; one batch per tick
// Every mode also reports CPU per op: this process's plus the daemon's (aiod).
#include <sys/syscall.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <aiod/coro.hpp>
#include <utility>

#include "bench.hpp"
#include "mini_coro.hpp"
#include "uring.hpp"

namespace aiod::bench {
namespace {

struct Options {
  CommonOptions common;
  std::uint64_t ops = 10'000'000;
  unsigned batch = 32;
  std::uint64_t warmup = 100'000;
};

// co_await UringNops{...}: queues `n` nops whose completions resume the task.
struct UringNops {
  Ring& ring;
  unsigned n;
  std::coroutine_handle<> waiter{};
  unsigned left = 0;

  bool await_ready() const noexcept { return n == 0; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter = h;
    left = n;
    for (unsigned i = 0; i < n; ++i) {
      io_uring_sqe* s = ring.sqe();
      io_uring_prep_nop(s);
      io_uring_sqe_set_data(s, this);
    }
  }
  void await_resume() const noexcept {}
};

struct SyscallNops {
  Loop& loop;
  unsigned n;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    for (unsigned i = 0; i < n; ++i) (void)::syscall(SYS_getppid);
    loop.schedule(h);
  }
  void await_resume() const noexcept {}
};

Task uring_task(Ring& ring, std::uint64_t ops, unsigned batch) {
  for (std::uint64_t done = 0; done < ops; done += batch) co_await UringNops{ring, batch};
}

Task syscall_task(Loop& loop, std::uint64_t ops, unsigned batch) {
  for (std::uint64_t done = 0; done < ops; done += batch) co_await SyscallNops{loop, batch};
}

// io::multi takes its ops as arguments: the aiod mode's batch size is fixed.
constexpr unsigned kAiodBatch = 32;

template <std::size_t... I>
auto nop_batch(std::index_sequence<I...>) {
  return coro::io::multi(((void)I, Nop{})...);
}

coro::Task<std::error_code> aiod_task(std::uint64_t ops) {
  for (std::uint64_t done = 0; done < ops; done += kAiodBatch) {
    if (const std::error_code ec = co_await nop_batch(std::make_index_sequence<kAiodBatch>{})) co_return ec;
  }
  co_return std::error_code{};
}

double run_aiod(Client& client, std::uint64_t ops) {
  coro::Scheduler scheduler(client);
  auto task = scheduler.spawn(aiod_task(ops));
  const auto t0 = Clock::now();
  if (const std::error_code ec = scheduler.run()) die("scheduler: %s", ec.message().c_str());
  const double rate = static_cast<double>(ops) / seconds_between(t0, Clock::now());
  if (const std::error_code ec = task.complete()) die("aiod nops: %s", ec.message().c_str());
  return rate;
}

double run_uring(std::uint64_t ops, unsigned batch) {
  Ring ring(256);
  Loop loop;
  loop.poll_io = [&] {
    if (const int r = io_uring_submit_and_wait(ring.get(), 1); r < 0) die("io_uring_submit_and_wait: %d", r);
    io_uring_cqe* cqes[256];
    const unsigned n = io_uring_peek_batch_cqe(ring.get(), cqes, 256);
    for (unsigned i = 0; i < n; ++i) {
      auto* w = static_cast<UringNops*>(io_uring_cqe_get_data(cqes[i]));
      if (--w->left == 0) loop.schedule(w->waiter);
    }
    io_uring_cq_advance(ring.get(), n);
  };
  Task t = uring_task(ring, ops, batch);
  const auto t0 = Clock::now();
  loop.run_until_done(t.handle());
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

double run_syscalls(std::uint64_t ops, unsigned batch) {
  Loop loop;
  loop.poll_io = [] { die("nothing to wait for"); };
  Task t = syscall_task(loop, ops, batch);
  const auto t0 = Clock::now();
  loop.run_until_done(t.handle());
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"coro_nops: batched nops awaited by a coroutine, uring vs syscalls vs aiod"};
  add_common_options(app, o.common);
  app.add_option("--ops", o.ops, "nops per run");
  app.add_option("--batch", o.batch, "nops per awaited batch")->check(CLI::Range(1u, 256u));
  app.add_option("--warmup", o.warmup, "untimed nops before each measurement");
  parse_or_exit(app, argc, argv);
  o.ops = std::max<std::uint64_t>(o.ops / o.batch * o.batch, o.batch);

  std::optional<Daemon> daemon;
  std::optional<aiod::Client> client;
  const bool aiod_mode = o.common.wants(kAiod) && o.batch == kAiodBatch;
  if (aiod_mode) {
    daemon.emplace(o.common);
    auto c = aiod::Client::connect({.socket_path = daemon->socket(), .name = "bench coro_nops"});
    if (!c) die("connect: %s", c.message().c_str());
    client.emplace(std::move(*c));
  }

  Report report;
  const std::string bench = "coro_nops batch " + std::to_string(o.batch);
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "coro_nops: run %u/%u", run + 1, o.common.runs);
    if (o.common.wants(kUring)) {
      (void)run_uring(o.warmup, o.batch);
      const CpuMeter cpu(nullptr);
      report.add(bench, kUring, "throughput", "ops/s", run_uring(o.ops, o.batch));
      add_cpu_per_op(report, bench, kUring, cpu, o.ops);
    }
    if (o.common.wants(kSyscalls)) {
      (void)run_syscalls(o.warmup, o.batch);
      const CpuMeter cpu(nullptr);
      report.add(bench, kSyscalls, "throughput", "ops/s", run_syscalls(o.ops, o.batch));
      add_cpu_per_op(report, bench, kSyscalls, cpu, o.ops);
    }
    if (client) {
      (void)run_aiod(*client, o.warmup);
      const CpuMeter cpu(&*daemon);
      report.add(bench, kAiod, "throughput", "ops/s", run_aiod(*client, o.ops));
      add_cpu_per_op(report, bench, kAiod, cpu, o.ops);
    }
  }
  if (o.common.wants(kAiod) && !aiod_mode) {
    report.not_available(bench, kAiod, "throughput", "the aiod mode runs batches of 32");
    report.not_available(bench, kAiod, "cpu/op", "the aiod mode runs batches of 32");
  }
  report.print();
  return 0;
}
