// SPDX-License-Identifier: MIT
// Unit tests of the coroutine synchronisation primitives on schedulers without
// IO: ResetEvent and Semaphore (one thread, synchronous wake-ups), Mutex,
// RwLock and Queue (thread-safe: several schedulers on several threads, and
// plain threads), including cancelling a task blocked in each of them.
#include <gtest/gtest.h>

#include <aiod/coro.hpp>
#include <atomic>
#include <latch>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace aiod::coro {
namespace {

const std::error_code kCanceled = std::make_error_code(std::errc::operation_canceled);

// ---------------------------------------------------------------------------
// ResetEvent

Task<void> waits_for(ResetEvent& ev, std::vector<std::string>& log, std::string name) {
  log.push_back(name + " waits");
  const std::error_code ec = co_await ev.wait();
  log.push_back(name + (ec ? " cancelled" : " woken"));
}

TEST(CoroResetEvent, SetWakesEveryWaiterRightAway) {
  Scheduler sched;
  ResetEvent ev;
  std::vector<std::string> log;
  auto a = sched.spawn(waits_for(ev, log, "a"));
  auto b = sched.spawn(waits_for(ev, log, "b"));
  EXPECT_FALSE(ev.is_set());
  log.push_back("set");
  ev.set();
  log.push_back("after set");
  EXPECT_EQ(log, (std::vector<std::string>{"a waits", "b waits", "set", "a woken", "b woken", "after set"}));
  EXPECT_TRUE(a.is_complete());
  EXPECT_TRUE(b.is_complete());
}

TEST(CoroResetEvent, WaitOnASetEventDoesNotSuspendUntilReset) {
  Scheduler sched;
  ResetEvent ev;
  std::vector<std::string> log;
  ev.set();
  auto a = sched.spawn(waits_for(ev, log, "a"));
  EXPECT_TRUE(a.is_complete());
  ev.reset();
  EXPECT_FALSE(ev.is_set());
  auto b = sched.spawn(waits_for(ev, log, "b"));
  EXPECT_FALSE(b.is_complete());
  ev.set();
  EXPECT_TRUE(b.is_complete());
}

TEST(CoroResetEvent, CancellingAWaiter) {
  Scheduler sched;
  ResetEvent ev;
  std::vector<std::string> log;
  auto a = sched.spawn(waits_for(ev, log, "a"));
  auto b = sched.spawn(waits_for(ev, log, "b"));
  a.cancel();
  EXPECT_EQ(log.back(), "a cancelled");
  ev.set();
  EXPECT_EQ(log.back(), "b woken") << "the cancelled waiter left the list";
}

TEST(CoroResetEvent, OutsideATaskIsNotPermitted) {
  // A Task awaited by no scheduler (driven by hand) has no frame.
  ResetEvent ev;
  auto body = [](ResetEvent& e) -> Task<std::error_code> { co_return co_await e.wait(); };
  Task<std::error_code> t = body(ev);
  auto h = t.release();
  h.resume();
  ASSERT_TRUE(h.done());
  EXPECT_EQ(std::move(h.promise()).result(), std::make_error_code(std::errc::operation_not_permitted));
  h.destroy();
}

// ---------------------------------------------------------------------------
// Semaphore

Task<void> holds(Semaphore& sem, ResetEvent& release, std::vector<std::string>& log, std::string name) {
  if (auto ec = co_await sem.acquire()) {
    log.push_back(name + " cancelled");
    co_return;
  }
  log.push_back(name + " in");
  (void)co_await release.wait();
  log.push_back(name + " out");
  sem.release();
}

TEST(CoroSemaphore, CountsPermitsAndHandsThemOverInOrder) {
  Scheduler sched;
  Semaphore sem(2);
  ResetEvent release;
  std::vector<std::string> log;
  auto a = sched.spawn(holds(sem, release, log, "a"));
  auto b = sched.spawn(holds(sem, release, log, "b"));
  auto c = sched.spawn(holds(sem, release, log, "c"));
  EXPECT_EQ(log, (std::vector<std::string>{"a in", "b in"}));
  EXPECT_EQ(sem.available(), 0u);
  EXPECT_FALSE(sem.try_acquire());
  release.set();  // a leaves: its permit goes straight to c (which then finds the event set)
  EXPECT_EQ(log, (std::vector<std::string>{"a in", "b in", "a out", "c in", "c out", "b out"}));
  EXPECT_EQ(sem.available(), 2u);
}

TEST(CoroSemaphore, BinaryByDefault) {
  Semaphore sem;
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_FALSE(sem.try_acquire());
  sem.release();
  EXPECT_EQ(sem.available(), 1u);
}

TEST(CoroSemaphore, CancellingAWaiterGivesItNoPermit) {
  Scheduler sched;
  Semaphore sem(1);
  ResetEvent release;
  std::vector<std::string> log;
  auto a = sched.spawn(holds(sem, release, log, "a"));
  auto b = sched.spawn(holds(sem, release, log, "b"));
  b.cancel();
  EXPECT_EQ(log.back(), "b cancelled");
  release.set();
  EXPECT_EQ(sem.available(), 1u);
}

// ---------------------------------------------------------------------------
// Mutex

TEST(CoroMutex, ExcludesAcrossSuspensionsInOrder) {
  Scheduler sched;
  Mutex m;
  ResetEvent step;
  std::vector<std::string> log;
  auto body = [](Mutex& mu, ResetEvent& e, std::vector<std::string>& l, std::string name) -> Task<void> {
    if (auto ec = co_await mu.lock()) co_return;
    l.push_back(name + " locked");
    (void)co_await e.wait();  // hold the mutex across a suspension
    l.push_back(name + " unlocks");
    mu.unlock();
  };
  auto a = sched.spawn(body(m, step, log, "a"));
  auto b = sched.spawn(body(m, step, log, "b"));
  auto c = sched.spawn(body(m, step, log, "c"));
  EXPECT_EQ(log, std::vector<std::string>{"a locked"});
  EXPECT_FALSE(m.try_lock());
  step.set();
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(log, (std::vector<std::string>{"a locked", "a unlocks", "b locked", "b unlocks", "c locked", "c unlocks"}));
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST(CoroMutex, CancellingATaskBlockedInLock) {
  Scheduler sched;
  Mutex m;
  ASSERT_TRUE(m.try_lock());  // held by "someone else"
  std::error_code got;
  auto body = [](Mutex& mu, std::error_code& out) -> Task<void> {
    out = co_await mu.lock();
    if (!out) mu.unlock();
  };
  auto t = sched.spawn(body(m, got));
  EXPECT_FALSE(t.is_complete());
  t.cancel();
  EXPECT_EQ(got, kCanceled);
  m.unlock();
  EXPECT_TRUE(m.try_lock()) << "the cancelled task never got the mutex";
  m.unlock();
}

TEST(CoroMutex, HandOverToAnotherThreadWakesABlockingTick) {
  Scheduler sched;
  Mutex m;
  m.lock_blocking();
  std::atomic<bool> locked{false};
  auto body = [](Mutex& mu, std::atomic<bool>& flag) -> Task<void> {
    if (auto ec = co_await mu.lock()) co_return;
    flag = true;
    mu.unlock();
  };
  auto t = sched.spawn(body(m, locked));
  std::thread other([&] { m.unlock(); });
  EXPECT_FALSE(sched.run());  // blocks until the other thread's unlock posts the task
  other.join();
  EXPECT_TRUE(locked);
}

// zig-aio's Mutex test: several threads, each with its own scheduler and many
// tasks, increment a counter inside the lock across a suspension point.
TEST(CoroMutex, ExcludesTasksOfManySchedulersAndThreads) {
  constexpr int kThreads = 4, kTasks = 32, kRounds = 20;
  Mutex m;
  ThreadPool pool({.max_threads = 2});
  long value = 0;
  auto body = [](Mutex& mu, ThreadPool& p, long& v) -> Task<void> {
    for (int i = 0; i < kRounds; ++i) {
      if (auto ec = co_await mu.lock()) co_return;
      const long seen = v;
      co_await p.yield_for_completion([] {});  // a real suspension inside the lock
      v = seen + 1;
      mu.unlock();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Scheduler sched;
      for (int i = 0; i < kTasks; ++i) (void)sched.spawn(body(m, pool, value), {.detached = true});
      EXPECT_FALSE(sched.run());
    });
  }
  // A plain thread takes part too.
  threads.emplace_back([&] {
    for (int i = 0; i < kRounds; ++i) {
      m.lock_blocking();
      ++value;
      m.unlock();
    }
  });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(value, long{kThreads} * kTasks * kRounds + kRounds);
}

// ---------------------------------------------------------------------------
// RwLock

TEST(CoroRwLock, ReadersShareWritersExclude) {
  Scheduler sched;
  RwLock rw;
  ResetEvent done;
  std::vector<std::string> log;
  auto reader = [](RwLock& l, ResetEvent& e, std::vector<std::string>& out, std::string name) -> Task<void> {
    if (auto ec = co_await l.lock_shared()) co_return;
    out.push_back(name + " reads");
    (void)co_await e.wait();
    l.unlock_shared();
  };
  auto writer = [](RwLock& l, std::vector<std::string>& out, std::string name) -> Task<void> {
    if (auto ec = co_await l.lock()) co_return;
    out.push_back(name + " writes");
    l.unlock();
  };
  auto r1 = sched.spawn(reader(rw, done, log, "r1"));
  auto r2 = sched.spawn(reader(rw, done, log, "r2"));
  auto w = sched.spawn(writer(rw, log, "w"));
  auto r3 = sched.spawn(reader(rw, done, log, "r3"));  // behind the waiting writer
  EXPECT_EQ(log, (std::vector<std::string>{"r1 reads", "r2 reads"}));
  EXPECT_FALSE(rw.try_lock_shared()) << "a waiting writer holds back new readers";
  done.set();
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(log, (std::vector<std::string>{"r1 reads", "r2 reads", "w writes", "r3 reads"}));
}

TEST(CoroRwLock, CancellingAWaitingWriterAdmitsTheReadersBehindIt) {
  Scheduler sched;
  RwLock rw;
  rw.lock_shared_blocking();  // a reader holds it
  std::error_code writer_result;
  bool reader_in = false;
  auto writer = [](RwLock& l, std::error_code& out) -> Task<void> {
    out = co_await l.lock();
    if (!out) l.unlock();
  };
  auto reader = [](RwLock& l, bool& in) -> Task<void> {
    if (auto ec = co_await l.lock_shared()) co_return;
    in = true;
    l.unlock_shared();
  };
  auto w = sched.spawn(writer(rw, writer_result));
  auto r = sched.spawn(reader(rw, reader_in));
  EXPECT_FALSE(reader_in);
  w.cancel();
  EXPECT_EQ(writer_result, kCanceled);
  EXPECT_FALSE(sched.run());
  EXPECT_TRUE(reader_in);
  rw.unlock_shared();
  EXPECT_TRUE(rw.try_lock());
  rw.unlock();
}

TEST(CoroRwLock, ConsistentAcrossThreads) {
  constexpr int kThreads = 3, kTasks = 16, kRounds = 20;
  RwLock rw;
  ThreadPool pool({.max_threads = 2});
  long a = 0, b = 0;  // written together under the exclusive lock
  std::atomic<int> torn{0};
  auto body = [](RwLock& l, ThreadPool& p, long& x, long& y, std::atomic<int>& bad) -> Task<void> {
    for (int i = 0; i < kRounds; ++i) {
      if (i % 4 == 0) {
        if (auto ec = co_await l.lock()) co_return;
        ++x;
        co_await p.yield_for_completion([] {});
        ++y;
        l.unlock();
      } else {
        if (auto ec = co_await l.lock_shared()) co_return;
        if (x != y) ++bad;
        l.unlock_shared();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Scheduler sched;
      for (int i = 0; i < kTasks; ++i) (void)sched.spawn(body(rw, pool, a, b, torn), {.detached = true});
      EXPECT_FALSE(sched.run());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(torn, 0);
  EXPECT_EQ(a, long{kThreads} * kTasks * (kRounds / 4));
  EXPECT_EQ(a, b);
}

// ---------------------------------------------------------------------------
// Queue

TEST(CoroQueue, FifoOutsideTasks) {
  Queue<int> q;
  for (int v : {780, 632, 1230, 6}) q.send(v);
  EXPECT_EQ(q.size(), 4u);
  EXPECT_EQ(q.recv_blocking(), 780);
  EXPECT_EQ(q.try_recv(), 632);
  EXPECT_EQ(q.recv_blocking(), 1230);
  EXPECT_EQ(q.recv_blocking(), 6);
  EXPECT_EQ(q.try_recv(), std::nullopt);
  q.send(1);
  q.clear();
  EXPECT_EQ(q.size(), 0u);
}

TEST(CoroQueue, AReceivingTaskIsHandedTheItem) {
  Scheduler sched;
  Queue<std::string> q;
  auto body = [](Queue<std::string>& queue) -> Task<std::string> {
    auto v = co_await queue.recv();
    co_return v ? *v : v.message();
  };
  auto t = sched.spawn(body(q));
  EXPECT_FALSE(t.is_complete());
  q.send("hello");
  EXPECT_EQ(q.size(), 0u) << "handed straight to the waiting task";
  EXPECT_EQ(t.complete(), "hello");
}

TEST(CoroQueue, CancellingATaskBlockedInRecv) {
  Scheduler sched;
  Queue<int> q;
  std::error_code got;
  auto body = [](Queue<int>& queue, std::error_code& out) -> Task<void> {
    auto v = co_await queue.recv();
    out = v.error();
  };
  auto t = sched.spawn(body(q, got));
  t.cancel();
  EXPECT_EQ(got, kCanceled);
  q.send(5);
  EXPECT_EQ(q.try_recv(), 5) << "the item stayed in the queue";
}

// zig-aio's Queue test: a consumer scheduler and a producer scheduler on two
// threads, plus plain threads; every item is received exactly once.
TEST(CoroQueue, EveryItemReachesExactlyOneReceiver) {
  constexpr int kItems = 256;
  Queue<int> q;
  std::vector<std::atomic<int>> seen(kItems * 2);
  std::thread consumer([&] {
    Scheduler sched;
    auto body = [](Queue<int>& queue, std::vector<std::atomic<int>>& out) -> Task<void> {
      auto v = co_await queue.recv();
      if (v) ++out[static_cast<std::size_t>(*v)];
    };
    for (int i = 0; i < kItems; ++i) (void)sched.spawn(body(q, seen), {.detached = true});
    EXPECT_FALSE(sched.run());
  });
  std::thread blocking_consumer([&] {
    for (int i = 0; i < kItems; ++i) ++seen[static_cast<std::size_t>(q.recv_blocking())];
  });
  std::thread producer([&] {
    Scheduler sched;
    auto body = [](Queue<int>& queue, int v) -> Task<void> {
      queue.send(v);
      co_return;
    };
    for (int i = 0; i < kItems; ++i) (void)sched.spawn(body(q, i), {.detached = true});
    EXPECT_FALSE(sched.run());
  });
  for (int i = kItems; i < kItems * 2; ++i) q.send(i);
  producer.join();
  consumer.join();
  blocking_consumer.join();
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], 1) << "item " << i;
  EXPECT_EQ(q.try_recv(), std::nullopt);
}

}  // namespace
}  // namespace aiod::coro
