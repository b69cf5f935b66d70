// SPDX-License-Identifier: MIT
// Unit tests of aiod::coro::Task<T> and the Scheduler without IO: laziness,
// values and exceptions through chains of tasks, symmetric transfer, spawn,
// tick, run, join, detach, yield/wakeup and cancellation.
#include <gtest/gtest.h>

#include <aiod/coro.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace aiod::coro {
namespace {

static_assert(!std::is_copy_constructible_v<Task<int>>);
static_assert(std::is_nothrow_move_constructible_v<Task<int>>);
static_assert(!std::is_copy_constructible_v<SpawnedTask<int>>);

const std::error_code kCanceled = std::make_error_code(std::errc::operation_canceled);

enum class Park { waiting = 1, other };

// Counts how many of its instances are alive: proves frames are freed.
struct Tracker {
  explicit Tracker(int& alive) : alive_(&alive) { ++*alive_; }
  Tracker(const Tracker&) = delete;
  ~Tracker() { --*alive_; }
  int* alive_;
};

Task<int> value(int v) { co_return v; }
Task<int> add(int a, int b) { co_return co_await value(a) + co_await value(b); }
Task<void> thrower() {
  throw std::runtime_error("boom");
  co_return;
}
Task<int> rethrows() {
  co_await thrower();
  co_return 1;
}
Task<std::unique_ptr<int>> move_only() { co_return std::make_unique<int>(7); }

TEST(CoroTask, IsLazy) {
  bool ran = false;
  auto body = [](bool& flag) -> Task<void> {
    flag = true;
    co_return;
  };
  {
    Task<void> t = body(ran);
    EXPECT_TRUE(t.valid());
    EXPECT_FALSE(ran);
  }
  EXPECT_FALSE(ran) << "destroying an unstarted task must not run it";
}

TEST(CoroTask, DestroyingAnUnstartedTaskFreesIt) {
  int alive = 0;
  auto body = [](int& count) -> Task<void> {
    Tracker t(count);
    co_return;
  };
  { Task<void> t = body(alive); }
  EXPECT_EQ(alive, 0);
}

TEST(CoroTask, ValuesFlowThroughChains) {
  Scheduler sched;
  auto t = sched.spawn(add(20, 22));
  EXPECT_TRUE(t.is_complete()) << "no suspension: done inside spawn";
  EXPECT_EQ(t.complete(), 42);
  EXPECT_FALSE(t.valid());
}

TEST(CoroTask, MoveOnlyResults) {
  Scheduler sched;
  auto t = sched.spawn(move_only());
  std::unique_ptr<int> p = t.complete();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(CoroTask, ExceptionsPropagateThroughAwaitAndComplete) {
  Scheduler sched;
  auto t = sched.spawn(rethrows());
  EXPECT_THROW(t.complete(), std::runtime_error);
  auto caught = [&]() -> Task<std::string> {
    try {
      co_await thrower();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "";
  };
  auto c = sched.spawn(caught());
  EXPECT_EQ(c.complete(), "boom");
}

// Sanitizer instrumentation, and building without optimisation, keep the
// compiler from turning symmetric transfer into a tail call: there, the test
// only checks the results.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
constexpr int kSynchronousTasks = 1'000;
#else
constexpr int kSynchronousTasks = 1'000'000;
#endif

TEST(CoroTask, SymmetricTransferDoesNotGrowTheStack) {
  // A million tasks finishing synchronously one after another: without
  // symmetric transfer every await would nest on the native stack.
  auto loop = []() -> Task<long> {
    long sum = 0;
    for (int i = 0; i < kSynchronousTasks; ++i) sum += co_await value(1);
    co_return sum;
  };
  Scheduler sched;
  EXPECT_EQ(sched.spawn(loop()).complete(), kSynchronousTasks);
}

TEST(CoroTask, AwaitingAnLvalueTask) {
  auto body = []() -> Task<int> {
    Task<int> t = value(5);
    co_return co_await t;
  };
  Scheduler sched;
  EXPECT_EQ(sched.spawn(body()).complete(), 5);
}

// ---------------------------------------------------------------------------
// Scheduler

Task<int> parks(std::vector<std::string>& log, std::string name) {
  log.push_back(name + " start");
  if (auto ec = co_await yield(Park::waiting)) {
    log.push_back(name + " cancelled");
    co_return -1;
  }
  log.push_back(name + " woken");
  co_return 1;
}

TEST(CoroScheduler, SpawnRunsUntilTheFirstSuspension) {
  Scheduler sched;
  std::vector<std::string> log;
  auto a = sched.spawn(parks(log, "a"));
  EXPECT_EQ(log, std::vector<std::string>{"a start"});
  EXPECT_EQ(sched.running(), 1u);
  EXPECT_FALSE(a.is_complete());
  EXPECT_EQ(a.state<Park>(), Park::waiting);
  a.wakeup();
  EXPECT_EQ(log.back(), "a woken") << "wakeup() runs the task right away";
  EXPECT_TRUE(a.is_complete());
  EXPECT_EQ(sched.running(), 0u);
  EXPECT_EQ(a.complete(), 1);
}

TEST(CoroScheduler, TickReturnsTheTasksStillRunning) {
  Scheduler sched;
  std::vector<std::string> log;
  auto a = sched.spawn(parks(log, "a"));
  auto b = sched.spawn(parks(log, "b"));
  auto r = sched.tick(CompletionMode::blocking);  // nothing to wait for: returns at once
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2u);
  b.wakeup();
  r = sched.tick(CompletionMode::nonblocking);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1u);
  a.wakeup();
  EXPECT_EQ(*sched.tick(CompletionMode::nonblocking), 0u);
}

TEST(CoroScheduler, WakeupIfChecksTheState) {
  Scheduler sched;
  auto body = []() -> Task<int> {
    if (auto ec = co_await yield(Park::other)) co_return -1;
    co_return 2;
  };
  auto t = sched.spawn(body());
  t.wakeup_if(Park::waiting);
  EXPECT_FALSE(t.is_complete());
  EXPECT_EQ(t.state<Park>(), Park::other);
  t.wakeup_if(Park::other);
  EXPECT_TRUE(t.is_complete());
  EXPECT_EQ(t.state<Park>(), Park{}) << "state 0 once not parked";
  EXPECT_EQ(t.complete(), 2);
}

TEST(CoroScheduler, WakingATaskThatDidNotYieldIsAnError) {
  Scheduler sched;
  ResetEvent ev;
  auto body = [](ResetEvent& e) -> Task<void> { (void)co_await e.wait(); };
  auto t = sched.spawn(body(ev));
  EXPECT_THROW(t.wakeup(), std::logic_error);
  ev.set();
  t.complete();
}

TEST(CoroScheduler, YieldStateZeroIsReserved) {
  enum class Bad { zero = 0 };
  EXPECT_THROW((void)yield(Bad::zero), std::invalid_argument);
}

TEST(CoroScheduler, CancellingAYieldedTaskWakesItAndIsSticky) {
  Scheduler sched;
  std::vector<std::error_code> seen;
  auto body = [](std::vector<std::error_code>& out) -> Task<int> {
    out.push_back(co_await yield(Park::waiting));
    out.push_back(co_await yield(Park::waiting));  // already cancelled: at once
    co_return 3;
  };
  auto t = sched.spawn(body(seen));
  EXPECT_EQ(t.complete(CompleteMode::cancel), 3);
  EXPECT_EQ(seen, (std::vector<std::error_code>{kCanceled, kCanceled}));
}

TEST(CoroScheduler, CompleteDetectsATaskNothingCanWake) {
  Scheduler sched;
  std::vector<std::string> log;
  auto t = sched.spawn(parks(log, "a"));
  try {
    (void)t.complete();
    FAIL() << "expected a deadlock error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::resource_deadlock_would_occur);
  }
  EXPECT_EQ(sched.run(), std::make_error_code(std::errc::resource_deadlock_would_occur));
  t.wakeup();
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(t.complete(), 1);
}

TEST(CoroScheduler, RunCancelCancelsNewestFirst) {
  Scheduler sched;
  std::vector<std::string> log;
  auto a = sched.spawn(parks(log, "a"));
  auto b = sched.spawn(parks(log, "b"));
  auto c = sched.spawn(parks(log, "c"));
  EXPECT_FALSE(sched.run(CompleteMode::cancel));
  EXPECT_EQ(log,
            (std::vector<std::string>{"a start", "b start", "c start", "c cancelled", "b cancelled", "a cancelled"}));
  EXPECT_EQ(a.complete(), -1) << "the result survives run(cancel)";
  EXPECT_EQ(b.complete(), -1);
  EXPECT_EQ(c.complete(), -1);
}

TEST(CoroScheduler, DetachedTasksAreFreedWhenTheyReturn) {
  int alive = 0;
  auto body = [](int& count) -> Task<int> {
    Tracker t(count);
    (void)co_await yield(Park::waiting);
    co_return 0;
  };
  Scheduler sched;
  auto t = sched.spawn(body(alive));
  EXPECT_EQ(alive, 1);
  t.wakeup();
  t.detach();
  EXPECT_FALSE(t.valid());
  EXPECT_EQ(alive, 0) << "a detached task that has returned is freed";

  auto u = sched.spawn(body(alive));
  u.detach();
  EXPECT_EQ(alive, 1) << "still parked";
  (void)sched.spawn(body(alive), {.detached = true});
  EXPECT_EQ(alive, 2);
  EXPECT_EQ(sched.running(), 2u);
  EXPECT_FALSE(sched.run(CompleteMode::cancel));
  EXPECT_EQ(alive, 0) << "run(cancel) cancels detached tasks too, and frees them";
}

TEST(CoroScheduler, DestroyingTheSchedulerCancelsItsTasks) {
  int alive = 0;
  std::vector<std::string> log;
  {
    Scheduler sched;
    auto body = [](int& count, std::vector<std::string>& l) -> Task<void> {
      Tracker t(count);
      if (auto ec = co_await yield(Park::waiting)) l.push_back("cancelled");
    };
    (void)sched.spawn(body(alive, log), {.detached = true});
    EXPECT_EQ(alive, 1);
  }
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(log, std::vector<std::string>{"cancelled"});
}

TEST(CoroScheduler, CancellingAJoiningTaskCancelsTheTaskItJoins) {
  Scheduler sched;
  std::vector<std::string> log;
  auto parent = [](SpawnedTask<int> c) -> Task<int> { co_return 10 + co_await c.join(); };
  auto p = sched.spawn(parent(sched.spawn(parks(log, "child"))));
  EXPECT_FALSE(p.is_complete());
  EXPECT_EQ(sched.run(), std::make_error_code(std::errc::resource_deadlock_would_occur));
  EXPECT_FALSE(sched.run(CompleteMode::cancel));
  EXPECT_EQ(log.back(), "child cancelled");
  EXPECT_EQ(p.complete(), 9) << "the child returned -1 after its cancellation";
}

TEST(CoroScheduler, JoinWithCancelCancelsTheTarget) {
  Scheduler sched;
  std::vector<std::string> log;
  auto child = sched.spawn(parks(log, "child"));
  auto parent = [](SpawnedTask<int> c) -> Task<int> { co_return co_await c.join(CompleteMode::cancel); };
  auto p = sched.spawn(parent(std::move(child)));
  EXPECT_TRUE(p.is_complete()) << "the child returned inside the cancellation";
  EXPECT_EQ(p.complete(), -1);
  EXPECT_EQ(log.back(), "child cancelled");
}

TEST(CoroScheduler, JoinSuspendsUntilTheTargetReturns) {
  Scheduler sched;
  ResetEvent go;
  auto child = [](ResetEvent& e) -> Task<int> {
    (void)co_await e.wait();
    co_return 5;
  };
  auto parent = [](SpawnedTask<int> c) -> Task<int> { co_return 1 + co_await c.join(); };
  auto p = sched.spawn(parent(sched.spawn(child(go))));
  EXPECT_FALSE(p.is_complete());
  go.set();  // the child returns; the parent is ready
  EXPECT_FALSE(p.is_complete());
  EXPECT_EQ(*sched.tick(CompletionMode::nonblocking), 0u);
  EXPECT_EQ(p.complete(), 6);
}

TEST(CoroScheduler, CompleteInsideATaskIsRefused) {
  Scheduler sched;
  ResetEvent never;
  auto other = [](ResetEvent& e) -> Task<int> {
    (void)co_await e.wait();
    co_return 0;
  };
  auto o = sched.spawn(other(never));
  auto body = [](SpawnedTask<int>& t) -> Task<bool> {
    try {
      (void)t.complete();
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(sched.spawn(body(o)).complete());
  never.set();
  EXPECT_EQ(o.complete(), 0);
}

TEST(CoroScheduler, SpawnFromATaskRunsTheChildEagerly) {
  Scheduler sched;
  std::vector<std::string> log;
  auto parent = [](Scheduler& s, std::vector<std::string>& l) -> Task<void> {
    l.push_back("parent before");
    auto child = [](std::vector<std::string>& l2) -> Task<void> {
      l2.push_back("child");
      co_return;
    };
    (void)s.spawn(child(l), {.detached = true});
    l.push_back("parent after");
    co_return;
  };
  sched.spawn(parent(sched, log)).complete();
  EXPECT_EQ(log, (std::vector<std::string>{"parent before", "child", "parent after"}));
}

TEST(CoroScheduler, SetCancelableDefersCancellation) {
  Scheduler sched;
  ResetEvent ev;
  std::vector<std::error_code> seen;
  auto body = [](ResetEvent& e, std::vector<std::error_code>& out) -> Task<int> {
    out.push_back(co_await set_cancelable(false));
    out.push_back(co_await e.wait());              // not cancelable: waits for set()
    out.push_back(co_await set_cancelable(true));  // the pending cancellation lands now
    out.push_back(co_await e.wait());              // cancelled: at once, although set
    co_return 4;
  };
  auto canceller = [](SpawnedTask<int> target) -> Task<int> { co_return co_await target.join(CompleteMode::cancel); };
  auto c = sched.spawn(canceller(sched.spawn(body(ev, seen))));
  EXPECT_EQ(seen.size(), 1u) << "the cancellation did not wake it";
  ev.set();
  EXPECT_EQ(c.complete(), 4);
  EXPECT_EQ(seen, (std::vector<std::error_code>{{}, {}, {}, kCanceled}));
}

TEST(CoroScheduler, IoWithoutAClientFails) {
  Scheduler sched;
  auto body = []() -> Task<std::error_code> { co_return co_await io::single(Nop{}); };
  EXPECT_EQ(sched.spawn(body()).complete(), make_error_code(errc::daemon_not_running));
  auto multi = []() -> Task<std::error_code> { co_return co_await io::multi(Nop{}, Nop{}); };
  EXPECT_EQ(sched.spawn(multi()).complete(), make_error_code(errc::daemon_not_running));
}

}  // namespace
}  // namespace aiod::coro
