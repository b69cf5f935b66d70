// SPDX-License-Identifier: MIT
// The scheduler's backlog through a real aiod: awaits beyond the submission
// ring's free space wait client-side and go out as slots free up, in await
// order, a linked chain always whole; queue_full only past
// SchedulerOptions::max_backlog_ops; max_outstanding_ops as a limit on ops in
// the rings; a task cancelled in the backlog; Dynamic with a backlog.
#include <fcntl.h>
#include <unistd.h>

#include <aiod/coro.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using coro::Scheduler;
using coro::SchedulerOptions;
using coro::Task;
namespace io = coro::io;

using CoroBacklog = OpTest;

const std::error_code kCanceled = std::make_error_code(std::errc::operation_canceled);

struct Tally {
  std::size_t done = 0;
  std::size_t failed = 0;
  std::error_code first_error{};
  void fail(std::error_code ec) {
    if (failed++ == 0) first_error = ec;
  }
};

Task<void> timeouts(Tally& tally, int n) {
  for (int i = 0; i < n; ++i) {
    const std::error_code ec = co_await io::single(Timeout{.duration = 1ms});
    // Timeout expiry is the op's success.
    if (ec) {
      tally.fail(ec);
      co_return;
    }
  }
  ++tally.done;
}

Task<void> one_nop(Tally& tally) {
  const std::error_code ec = co_await io::single(Nop{});
  if (ec) {
    tally.fail(ec);
    co_return;
  }
  ++tally.done;
}

// zig-aio's bugs/31: 500 tasks, each awaiting a series of timeouts, on a
// client with the default ring. Every await beyond the ring's free space
// waits in the backlog instead of failing.
TEST_F(CoroBacklog, FiveHundredTasksOfTwentyTimeouts) {
  ASSERT_LT(client_->info().sq_entries, 500U) << "the test needs more tasks than ring entries";
  Scheduler sched(*client_);
  Tally tally;
  for (int i = 0; i < 500; ++i) sched.spawn_detached(timeouts(tally, 20));
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(tally.failed, 0U) << tally.first_error.message();
  EXPECT_EQ(tally.done, 500U);
  EXPECT_EQ(sched.stats().ops_completed, 500U * 20);
  EXPECT_GT(sched.stats().ops_backlogged, 0U);
  EXPECT_EQ(sched.stats().detached_failures, 0U);
}

TEST_F(CoroBacklog, TenThousandTasksOfOneNop) {
  Scheduler sched(*client_);
  Tally tally;
  for (int i = 0; i < 10000; ++i) sched.spawn_detached(one_nop(tally));
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(tally.failed, 0U) << tally.first_error.message();
  EXPECT_EQ(tally.done, 10000U);
  EXPECT_EQ(sched.stats().ops_completed, 10000U);
  EXPECT_GE(sched.stats().ops_backlogged, 10000U - client_->info().sq_entries);
}

// With the ring nearly full, a soft-linked chain longer than the free space
// goes to the backlog whole (none of its ops takes the free slots), and so
// does an await that comes after it; the chain then runs in order.
TEST_F(CoroBacklog, ChainLongerThanTheFreeSpaceWaitsWhole) {
  const std::uint32_t ring = client_->info().sq_entries;
  constexpr std::uint32_t kFree = 6;
  constexpr std::size_t kChain = 10;
  const std::string file = path("chain.txt");
  const Handle f = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);

  Scheduler sched(*client_);
  Tally tally;
  // Spawned tasks run to their first await: these fill the ring (queued,
  // not yet submitted) up to kFree free entries.
  for (std::uint32_t i = 0; i < ring - kFree; ++i) sched.spawn_detached(one_nop(tally));
  ASSERT_EQ(sched.stats().ops_queued, ring - kFree);

  static const char* const kDigits[kChain] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  auto chain = [](Handle out, Tally& t) -> Task<void> {
    std::vector<Op> ops;
    for (std::size_t i = 0; i < kChain; ++i) {
      ops.push_back(Write{.file = out,
                          .buffer = ConstBuffer(kDigits[i], 1),
                          .link = i + 1 < kChain ? Link::soft : Link::unlinked});
    }
    auto failed = co_await io::complete(ops);
    if (!failed) {
      t.fail(failed.error());
    } else if (*failed != 0) {
      t.fail(sys(EIO));
    } else {
      ++t.done;
    }
  };
  sched.spawn_detached(chain(f, tally));
  // Not one op of the chain took a free slot.
  EXPECT_EQ(sched.stats().ops_queued, ring - kFree);
  EXPECT_EQ(sched.stats().ops_backlogged, kChain);
  // A single op would fit, but it comes after the chain: it waits too.
  sched.spawn_detached(one_nop(tally));
  EXPECT_EQ(sched.stats().ops_queued, ring - kFree);
  EXPECT_EQ(sched.stats().ops_backlogged, kChain + 1);

  EXPECT_FALSE(sched.run());
  EXPECT_EQ(tally.failed, 0U) << tally.first_error.message();
  EXPECT_EQ(tally.done, ring - kFree + 2);
  EXPECT_EQ(sched.stats().ops_queued, ring - kFree + kChain + 1);

  char buf[32] = {};
  std::size_t n = 0;
  const Handle r = open(file, O_RDONLY);
  ASSERT_FALSE(client_->single(Read{.file = r, .buffer = buf, .offset = 0, .out_read = &n}));
  EXPECT_EQ(std::string(buf, n), "0123456789");
  EXPECT_FALSE(client_->multi(CloseFile{.file = f}, CloseFile{.file = r}));
}

// Past max_backlog_ops an await fails with queue_full, as does an await of
// more ops than the ring holds (it could never be submitted).
TEST_F(CoroBacklog, BeyondTheBoundIsQueueFull) {
  const std::uint32_t ring = client_->info().sq_entries;
  constexpr std::size_t kBound = 5;
  Scheduler sched(*client_, SchedulerOptions{.max_backlog_ops = kBound});
  Tally tally;
  for (std::uint32_t i = 0; i < ring; ++i) sched.spawn_detached(one_nop(tally));
  for (std::size_t i = 0; i < kBound; ++i) sched.spawn_detached(one_nop(tally));
  EXPECT_EQ(tally.failed, 0U) << tally.first_error.message();
  EXPECT_EQ(sched.stats().ops_backlogged, kBound);
  // One op more than the backlog may hold.
  sched.spawn_detached(one_nop(tally));
  EXPECT_EQ(tally.failed, 1U);
  EXPECT_EQ(tally.first_error, make_error_code(errc::queue_full));
  // Bigger than the ring: never fits, fails at once.
  auto too_big = [](std::uint32_t n) -> Task<std::error_code> {
    std::vector<Op> ops(n + 1, Op(Nop{}));
    auto r = co_await io::complete(ops);
    co_return r ? std::error_code() : r.error();
  };
  auto big = sched.spawn(too_big(ring));
  ASSERT_TRUE(big.is_complete());
  EXPECT_EQ(big.complete(), make_error_code(errc::queue_full));

  EXPECT_FALSE(sched.run());
  EXPECT_EQ(tally.done, ring + kBound);
  EXPECT_EQ(tally.failed, 1U);
}

// max_outstanding_ops limits the ops in the rings; the rest wait their turn.
TEST_F(CoroBacklog, MaxOutstandingOpsLimitsWithoutFailing) {
  Scheduler sched(*client_, SchedulerOptions{.max_outstanding_ops = 4});
  Tally tally;
  for (int i = 0; i < 50; ++i) sched.spawn_detached(timeouts(tally, 2));
  EXPECT_EQ(sched.stats().ops_queued, 4U);
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(tally.failed, 0U) << tally.first_error.message();
  EXPECT_EQ(tally.done, 50U);
}

// A task cancelled while its await waits in the backlog returns
// operation_canceled without its ops ever reaching the daemon.
TEST_F(CoroBacklog, CancelledInTheBacklogNeverRuns) {
  Scheduler sched(*client_, SchedulerOptions{.max_outstanding_ops = 1});
  auto sleeper = []() -> Task<std::error_code> { co_return co_await io::single(Timeout{.duration = 20ms}); };
  auto first = sched.spawn(sleeper());
  std::error_code op_error = sys(EIO);
  auto waiting = [](std::error_code* out) -> Task<std::error_code> {
    co_return co_await io::single(Timeout{.duration = 10s, .out_error = out});
  };
  auto second = sched.spawn(waiting(&op_error));
  EXPECT_EQ(sched.stats().ops_queued, 1U);
  EXPECT_EQ(sched.stats().ops_backlogged, 1U);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(second.complete(coro::CompleteMode::cancel), kCanceled);
  EXPECT_EQ(op_error, kCanceled);
  EXPECT_FALSE(first.complete());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(sched.stats().ops_queued, 1U) << "the cancelled op never went out";
}

// Dynamic with a backlog: more ops than the ring holds are taken, up to the
// queue's capacity, and go out as the ring frees up.
TEST_F(CoroBacklog, DynamicWithBacklog) {
  const std::uint32_t ring = client_->info().sq_entries;
  const std::size_t n = std::size_t{ring} * 3;
  Dynamic q(*client_, DynamicOptions{.capacity = n, .backlog = true});
  for (std::size_t i = 0; i < n; ++i) ASSERT_FALSE(q.queue(Nop{})) << i;
  EXPECT_EQ(q.queue(Nop{}), make_error_code(errc::queue_full)) << "capacity is the bound";
  EXPECT_EQ(q.outstanding(), n);
  auto failed = q.complete_all();
  ASSERT_TRUE(failed) << failed.message();
  EXPECT_EQ(*failed, 0U);
  EXPECT_EQ(q.outstanding(), 0U);

  // A chain that does not fit behind the ops already queued waits whole.
  Dynamic d(*client_, DynamicOptions{.capacity = std::size_t{ring} + 16, .backlog = true});
  for (std::uint32_t i = 0; i + 2 < ring; ++i) ASSERT_FALSE(d.queue(Nop{}));
  const std::string file = path("dyn-chain.txt");
  const Handle f = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  ASSERT_FALSE(d.queue(Write{.file = f, .buffer = "a", .link = Link::soft},
                       Write{.file = f, .buffer = "b", .link = Link::soft}, Write{.file = f, .buffer = "c"}));
  failed = d.complete_all();
  ASSERT_TRUE(failed) << failed.message();
  EXPECT_EQ(*failed, 0U);
  char buf[8] = {};
  std::size_t got = 0;
  const Handle r = open(file, O_RDONLY);
  ASSERT_FALSE(client_->single(Read{.file = r, .buffer = buf, .offset = 0, .out_read = &got}));
  EXPECT_EQ(std::string(buf, got), "abc");
  EXPECT_FALSE(client_->multi(CloseFile{.file = f}, CloseFile{.file = r}));
}

}  // namespace
}  // namespace aiod::test
