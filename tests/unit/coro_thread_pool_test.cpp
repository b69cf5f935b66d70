// SPDX-License-Identifier: MIT
// Unit tests of aiod::coro::ThreadPool with schedulers without IO: results and
// exceptions come back to the task, a stop token reaches functions that take
// one, cancelling a task blocked in a pool call returns the function's real
// result, a blocking tick sleeps until the worker is done, and the event-loop
// descriptor of a scheduler without IO.
#include <poll.h>

#include <gtest/gtest.h>

#include <aiod/coro.hpp>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <thread>

namespace aiod::coro {
namespace {

using namespace std::chrono_literals;

int answer() { return 42; }

TEST(CoroThreadPool, ReturnsTheResultToTheTask) {
  Scheduler sched;
  ThreadPool pool;
  auto body = [](ThreadPool& p) -> Task<int> {
    const std::thread::id here = std::this_thread::get_id();
    const std::thread::id there = co_await p.yield_for_completion([] { return std::this_thread::get_id(); });
    EXPECT_NE(here, there) << "ran on a worker";
    co_return co_await p.yield_for_completion(answer) +
        co_await p.yield_for_completion([](int a, int b) { return a * b; }, 3, 5);
  };
  EXPECT_EQ(sched.spawn(body(pool)).complete(), 57);
}

TEST(CoroThreadPool, RethrowsTheFunctionsException) {
  Scheduler sched;
  ThreadPool pool;
  auto body = [](ThreadPool& p) -> Task<void> {
    co_await p.yield_for_completion([] { throw std::runtime_error("worker failed"); });
  };
  EXPECT_THROW(sched.spawn(body(pool)).complete(), std::runtime_error);
}

TEST(CoroThreadPool, ManyTasksShareFewWorkers) {
  Scheduler sched;
  ThreadPool pool({.max_threads = 2});
  auto body = [](ThreadPool& p, int i) -> Task<int> {
    co_return co_await p.yield_for_completion([i] { return i * 2; });
  };
  std::vector<SpawnedTask<int>> tasks;
  for (int i = 0; i < 50; ++i) tasks.push_back(sched.spawn(body(pool, i)));
  EXPECT_FALSE(sched.run());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(tasks[static_cast<std::size_t>(i)].complete(), i * 2);
  EXPECT_LE(pool.threads(), 2u);
}

// Blocks until its stop token is triggered; stands for blocking code that
// can be interrupted.
int until_stopped(std::stop_token token, std::latch& started) {
  started.count_down();
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait(lock, token, [] { return false; });
  return token.stop_requested() ? 666 : 0;
}

TEST(CoroThreadPool, CancellingATaskBlockedInAPoolCall) {
  Scheduler sched;
  ThreadPool pool;
  std::latch started(1);
  auto body = [](ThreadPool& p, std::latch& l) -> Task<int> {
    const int r = co_await p.yield_for_completion(until_stopped, std::ref(l));
    // The task was cancelled: its next await says so.
    if (auto ec = co_await set_cancelable(true)) co_return r + 1;
    co_return r;
  };
  auto t = sched.spawn(body(pool, started));
  started.wait();
  EXPECT_EQ(t.complete(CompleteMode::cancel), 667) << "the real result, and the cancellation afterwards";
}

TEST(CoroThreadPool, AFunctionWithoutATokenRunsToTheEndWhenCancelled) {
  Scheduler sched;
  ThreadPool pool;
  std::latch started(1), release(1);
  auto body = [](ThreadPool& p, std::latch& s, std::latch& r) -> Task<int> {
    co_return co_await p.yield_for_completion([&] {
      s.count_down();
      r.wait();
      return 69;
    });
  };
  auto t = sched.spawn(body(pool, started, release));
  started.wait();
  std::thread releaser([&] { release.count_down(); });
  EXPECT_EQ(t.complete(CompleteMode::cancel), 69);
  releaser.join();
}

TEST(CoroThreadPool, SpawnForCompletion) {
  Scheduler sched;
  ThreadPool pool;
  auto t = pool.spawn_for_completion(
      sched, [](int x) { return x + 1; }, 68);
  EXPECT_EQ(t.complete(), 69);
  auto v = pool.spawn_for_completion(sched, [] {});
  v.complete();
}

TEST(CoroThreadPool, ABlockingTickSleepsUntilTheWorkerIsDone) {
  Scheduler sched;
  ThreadPool pool;
  std::latch started(1);
  auto body = [](ThreadPool& p, std::latch& s) -> Task<int> {
    co_return co_await p.yield_for_completion([&] {
      s.count_down();
      // Long enough for a spinning tick to spin many times; nothing waits on it.
      std::this_thread::sleep_for(30ms);
      return 1;
    });
  };
  auto t = sched.spawn(body(pool, started));
  started.wait();
  EXPECT_FALSE(sched.run());
  EXPECT_LE(sched.stats().ticks, 3u) << "the tick must sleep, not spin";
  EXPECT_GE(sched.stats().sleeps, 1u);
  EXPECT_EQ(t.complete(), 1);
}

TEST(CoroThreadPool, DestroyingTheSchedulerWaitsForThePoolCall) {
  ThreadPool pool;
  std::atomic<bool> finished{false};
  std::latch started(1);
  {
    Scheduler sched;
    auto body = [](ThreadPool& p, std::latch& s, std::atomic<bool>& done) -> Task<void> {
      co_await p.yield_for_completion([&](std::stop_token token) {
        s.count_down();
        while (!token.stop_requested()) std::this_thread::yield();
        done = true;
      });
    };
    (void)sched.spawn(body(pool, started, finished), {.detached = true});
    started.wait();
  }  // run(cancel): stop requested, waits for the worker
  EXPECT_TRUE(finished);
}

TEST(CoroPollFd, WithoutAClientTheFdSignalsWorkFromOtherThreads) {
  Scheduler sched;
  ThreadPool pool;
  std::latch started(1), release(1);
  auto body = [](ThreadPool& p, std::latch& s, std::latch& r) -> Task<int> {
    co_return co_await p.yield_for_completion([&] {
      s.count_down();
      r.wait();
      return 5;
    });
  };
  auto t = sched.spawn(body(pool, started, release));
  started.wait();
  ASSERT_FALSE(sched.arm_poll_fd()) << "nothing to do yet";
  pollfd p{sched.poll_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  release.count_down();
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the worker's completion must make the fd readable";
  EXPECT_EQ(*sched.tick(CompletionMode::nonblocking), 0u);
  EXPECT_EQ(t.complete(), 5);
  EXPECT_FALSE(sched.arm_poll_fd());
}

}  // namespace
}  // namespace aiod::coro
