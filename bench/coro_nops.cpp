// coro_nops — nops through a coroutine scheduler (zig-aio's coro_nops): one
// task loops `co_await` a batch of 32 nops until --ops are done; the task is
// suspended while its batch is in flight and resumed by the scheduler.
//
//   uring     the task's batch goes to an in-process io_uring; the scheduler
//             waits on the ring (mini_coro.hpp)
//   syscalls  the batch is 32 getppid(2) calls; the task is resumed through
//             the same scheduler's run queue
//   aiod      needs libaiod's coroutine runtime: reported as n/a until it exists
#include <sys/syscall.h>
#include <unistd.h>

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

  Report report;
  const std::string bench = "coro_nops batch " + std::to_string(o.batch);
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "coro_nops: run %u/%u", run + 1, o.common.runs);
    if (o.common.wants(kUring)) {
      (void)run_uring(o.warmup, o.batch);
      report.add(bench, kUring, "throughput", "ops/s", run_uring(o.ops, o.batch));
    }
    if (o.common.wants(kSyscalls)) {
      (void)run_syscalls(o.warmup, o.batch);
      report.add(bench, kSyscalls, "throughput", "ops/s", run_syscalls(o.ops, o.batch));
    }
  }
  if (o.common.wants(kAiod)) report.not_available(bench, kAiod, "throughput", "needs coroutine runtime");
  report.print();
  return 0;
}
