// SPDX-License-Identifier: MIT
// Coroutine IO through a real aiod: io::single/multi/complete results, links,
// the application's out_error/out_id/userdata, one batch per tick for every
// task, cancelling tasks blocked in IO (alone, in a multi, with run(cancel)),
// a blocking tick woken by a ThreadPool job, a Mutex held across IO,
// event-loop integration and the daemon's death.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <aiod/coro.hpp>
#include <chrono>
#include <latch>
#include <thread>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using coro::CompleteMode;
using coro::Scheduler;
using coro::SpawnedTask;
using coro::Task;
namespace io = coro::io;

using CoroIo = OpTest;

const std::error_code kCanceled = std::make_error_code(std::errc::operation_canceled);

// A pipe whose read end is registered with the daemon: a Read on it blocks
// until something is written to the write end.
struct Pipe {
  explicit Pipe(Client& client) {
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    auto h = client.register_fd(fds[0]);
    EXPECT_TRUE(h) << h.message();
    if (h) read_end = *h;
  }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  int fds[2] = {-1, -1};
  Handle read_end;
};

TEST_F(CoroIo, SingleMultiAndComplete) {
  Scheduler sched(*client_);
  auto body = []() -> Task<int> {
    // (co_await is kept out of gtest's macros: they put it in an if condition,
    // which GCC 12 miscompiles; see docs/coroutines.md.)
    std::error_code ec = co_await io::single(Nop{});
    EXPECT_FALSE(ec);
    std::error_code timer_error = sys(EIO);
    ec = co_await io::multi(Nop{}, Timeout{.duration = 1ms, .out_error = &timer_error});
    EXPECT_FALSE(ec);
    EXPECT_FALSE(timer_error) << "out_error written at completion";
    // A read of a handle that does not exist fails; so does the multi.
    char buf[4];
    std::size_t n = 0;
    std::error_code read_error;
    ec = co_await io::single(Read{.file = Handle{12345}, .buffer = buf, .out_read = &n});
    EXPECT_EQ(ec, sys(EBADF));
    ec =
        co_await io::multi(Nop{}, Read{.file = Handle{12345}, .buffer = buf, .out_read = &n, .out_error = &read_error});
    EXPECT_EQ(ec, make_error_code(errc::some_operation_failed));
    EXPECT_EQ(read_error, sys(EBADF));
    auto failed = co_await io::complete(Read{.file = Handle{12345}, .buffer = buf, .out_read = &n}, Nop{},
                                        Read{.file = Handle{12345}, .buffer = buf, .out_read = &n});
    EXPECT_TRUE(failed);
    co_return failed ? static_cast<int>(*failed) : -1;
  };
  EXPECT_EQ(sched.spawn(body()).complete(), 2);
}

TEST_F(CoroIo, FileRoundTripInOneLinkedBatch) {
  Scheduler sched(*client_);
  const std::string file = path("coro.txt");
  auto body = [](std::string p) -> Task<std::string> {
    Handle f;
    if (auto ec =
            co_await io::single(OpenAt{.path = p.c_str(), .flags = O_RDWR | O_CREAT, .mode = 0600, .out_file = &f})) {
      throw std::system_error(ec);
    }
    // A short read breaks a soft chain (io_uring's rule): read exactly what was written.
    char buf[10] = {};
    std::size_t written = 0, read = 0;
    if (auto ec = co_await io::multi(
            Write{.file = f, .buffer = "coroutines", .offset = 0, .out_written = &written, .link = Link::soft},
            Read{.file = f, .buffer = buf, .offset = 0, .out_read = &read, .link = Link::soft}, CloseFile{.file = f})) {
      throw std::system_error(ec);
    }
    EXPECT_EQ(written, 10u);
    co_return std::string(buf, read);
  };
  EXPECT_EQ(sched.spawn(body(file)).complete(), "coroutines");
}

TEST_F(CoroIo, ASoftLinkFailureCancelsTheRestOfTheChain) {
  Scheduler sched(*client_);
  auto body = []() -> Task<std::error_code> {
    char buf[4];
    std::size_t n = 0;
    std::error_code nop_error;
    const std::error_code ec = co_await io::multi(
        Read{.file = Handle{999}, .buffer = buf, .out_read = &n, .link = Link::soft}, Nop{.out_error = &nop_error});
    EXPECT_EQ(ec, make_error_code(errc::some_operation_failed));
    co_return nop_error;
  };
  EXPECT_EQ(sched.spawn(body()).complete(), sys(ECANCELED));
}

TEST_F(CoroIo, TheApplicationsOutIdAndUserdataSurvive) {
  Scheduler sched(*client_);
  auto body = []() -> Task<void> {
    const OpId unset{~std::uint64_t{0}};
    OpId a = unset, b = unset;
    std::array<Op, 2> ops{Nop{.userdata = 7, .out_id = &a}, Nop{.userdata = 8, .out_id = &b}};
    auto failed = co_await io::complete(std::span<Op>(ops));
    EXPECT_TRUE(failed);
    EXPECT_NE(a, unset) << "written at queue time";
    EXPECT_NE(b, unset);
    EXPECT_NE(a, b);
    EXPECT_EQ(std::get<Nop>(ops[0]).userdata, 7u) << "given back after queueing";
    EXPECT_EQ(std::get<Nop>(ops[1]).out_id, &b);
    // The same ops again: nothing of the first await is left in them.
    auto again = co_await io::complete(std::span<Op>(ops));
    EXPECT_TRUE(again);
  };
  sched.spawn(body()).complete();
}

TEST_F(CoroIo, EveryTaskReadyInATickGoesToTheDaemonInOneBatch) {
  Scheduler sched(*client_);
  coro::ResetEvent go;
  auto body = [](coro::ResetEvent& e) -> Task<void> {
    std::error_code ec = co_await io::single(Nop{});
    EXPECT_FALSE(ec);
    (void)co_await e.wait();
    std::error_code timer_error;
    ec = co_await io::multi(Nop{}, Timeout{.duration = 1ms, .out_error = &timer_error});
    EXPECT_FALSE(ec);
  };
  auto a = sched.spawn(body(go));
  auto b = sched.spawn(body(go));
  auto c = sched.spawn(body(go));
  EXPECT_EQ(sched.stats().ops_queued, 3u) << "spawn ran each task to its first await";
  EXPECT_EQ(sched.stats().batches, 0u) << "nothing is submitted before a tick";
  // The three nops go out in one batch; then the tasks wait for the event,
  // which nothing in the scheduler can set.
  ASSERT_EQ(sched.run(), std::make_error_code(std::errc::resource_deadlock_would_occur));
  EXPECT_EQ(sched.stats().batches, 1u);
  EXPECT_EQ(sched.stats().ops_completed, 3u);
  EXPECT_EQ(sched.running(), 3u) << "all parked on the event";

  go.set();  // all three run now and queue two ops each
  EXPECT_EQ(sched.stats().ops_queued, 9u);
  ASSERT_FALSE(sched.run());
  EXPECT_EQ(sched.stats().batches, 2u) << "six ops of three tasks, one batch";
  EXPECT_EQ(sched.stats().ops_completed, 9u);
  EXPECT_EQ(sched.running(), 0u);
}

TEST_F(CoroIo, CancellingATaskBlockedInIo) {
  Scheduler sched(*client_);
  std::error_code timer_error;
  auto body = [](std::error_code& out) -> Task<std::error_code> {
    co_return co_await io::single(Timeout{.duration = 30s, .out_error = &out});
  };
  auto t = sched.spawn(body(timer_error));
  ASSERT_TRUE(sched.tick(CompletionMode::nonblocking));  // in flight now
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(t.complete(CompleteMode::cancel), kCanceled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(timer_error, sys(ECANCELED)) << "the op itself was cancelled";
  EXPECT_EQ(sched.stats().ops_queued, 2u) << "the timer and one cancel op";
  EXPECT_EQ(sched.stats().ops_completed, 2u) << "both completed before the await returned";
}

TEST_F(CoroIo, CancellingATaskBlockedInARead) {
  Pipe pipe(*client_);
  Scheduler sched(*client_);
  std::error_code read_error;
  auto body = [](Handle h, std::error_code& out) -> Task<std::error_code> {
    char buf[16];
    std::size_t n = 0;
    co_return co_await io::single(Read{.file = h, .buffer = buf, .out_read = &n, .out_error = &out});
  };
  auto t = sched.spawn(body(pipe.read_end, read_error));
  // Cancelled before its read was even submitted: the read and its cancel go
  // out in the same batch.
  EXPECT_EQ(t.complete(CompleteMode::cancel), kCanceled);
  EXPECT_EQ(read_error, sys(ECANCELED));
}

TEST_F(CoroIo, CancellingAMultiWhoseOpsArePartlyDone) {
  Scheduler sched(*client_);
  std::error_code nop_error = sys(EIO), timer_error;
  auto body = [](std::error_code& a, std::error_code& b) -> Task<std::error_code> {
    co_return co_await io::multi(Nop{.out_error = &a}, Timeout{.duration = 30s, .out_error = &b});
  };
  auto t = sched.spawn(body(nop_error, timer_error));
  // Until the nop has completed (the timer keeps the task waiting, so a
  // blocking tick would sleep: ticks that do not block, bounded).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sched.stats().ops_completed == 0) {
    ASSERT_TRUE(sched.tick(CompletionMode::nonblocking));
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  }
  EXPECT_EQ(t.complete(CompleteMode::cancel), kCanceled);
  EXPECT_FALSE(nop_error) << "a finished op keeps its result";
  EXPECT_EQ(timer_error, sys(ECANCELED));
  EXPECT_EQ(sched.stats().ops_queued, 3u) << "one cancel op: only for the timer";
}

TEST_F(CoroIo, CancellationIsStickyAndCooperative) {
  Scheduler sched(*client_);
  std::vector<std::error_code> seen;
  auto body = [](std::vector<std::error_code>& out) -> Task<int> {
    out.push_back(co_await io::single(Timeout{.duration = 30s}));
    out.push_back(co_await io::single(Nop{}));  // not even queued
    out.push_back(co_await io::multi(Nop{}, Nop{}));
    co_return 1;  // the task decides to return
  };
  auto t = sched.spawn(body(seen));
  EXPECT_EQ(t.complete(CompleteMode::cancel), 1);
  EXPECT_EQ(seen, (std::vector<std::error_code>{kCanceled, kCanceled, kCanceled}));
  EXPECT_EQ(sched.stats().ops_queued, 2u);
}

TEST_F(CoroIo, RunCancelEndsTasksBlockedInIo) {
  Scheduler sched(*client_);
  std::vector<std::string> log;
  auto body = [](std::vector<std::string>& l, std::string name) -> Task<void> {
    const std::error_code ec = co_await io::single(Timeout{.duration = 30s});
    l.push_back(name + (ec == std::errc::operation_canceled ? " cancelled" : " ?"));
  };
  for (const char* name : {"a", "b", "c"}) (void)sched.spawn(body(log, name), {.detached = true});
  ASSERT_TRUE(sched.tick(CompletionMode::nonblocking));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(sched.run(CompleteMode::cancel));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(log, (std::vector<std::string>{"c cancelled", "b cancelled", "a cancelled"}));
  EXPECT_EQ(sched.running(), 0u);
}

TEST_F(CoroIo, DestroyingTheSchedulerCancelsTheIoOfItsTasks) {
  std::error_code timer_error;
  {
    Scheduler sched(*client_);
    auto body = [](std::error_code& out) -> Task<void> {
      (void)co_await io::single(Timeout{.duration = 30s, .out_error = &out});
    };
    (void)sched.spawn(body(timer_error), {.detached = true});
    ASSERT_TRUE(sched.tick(CompletionMode::nonblocking));
  }
  EXPECT_EQ(timer_error, sys(ECANCELED));
  EXPECT_FALSE(client_->single(Nop{})) << "the client is still usable";
}

TEST_F(CoroIo, AThreadPoolJobWakesATickSleepingInTheClient) {
  Scheduler sched(*client_);
  coro::ThreadPool pool;
  std::latch started(1);
  auto slow_io = []() -> Task<std::error_code> { co_return co_await io::single(Timeout{.duration = 30s}); };
  auto pooled = [](coro::ThreadPool& p, std::latch& s) -> Task<int> {
    co_return co_await p.yield_for_completion([&] {
      s.count_down();
      std::this_thread::sleep_for(20ms);  // the tick is asleep by now (not a synchronisation)
      return 7;
    });
  };
  auto io_task = sched.spawn(slow_io());
  auto pool_task = sched.spawn(pooled(pool, started));
  started.wait();
  const auto start = std::chrono::steady_clock::now();
  while (!pool_task.is_complete()) ASSERT_TRUE(sched.tick(CompletionMode::blocking));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "woken by the job, not by the 30 s timer";
  EXPECT_LE(sched.stats().ticks, 4u) << "slept instead of spinning";
  EXPECT_EQ(pool_task.complete(), 7);
  EXPECT_EQ(io_task.complete(CompleteMode::cancel), kCanceled);
}

TEST_F(CoroIo, CancellingATaskBlockedInAMutexWhileTheOwnerDoesIo) {
  Scheduler sched(*client_);
  coro::Mutex m;
  std::vector<std::string> log;
  auto owner = [](coro::Mutex& mu, std::vector<std::string>& l) -> Task<void> {
    if (auto ec = co_await mu.lock()) co_return;
    l.push_back("owner locked");
    (void)co_await io::single(Timeout{.duration = 20ms});
    l.push_back("owner unlocks");
    mu.unlock();
  };
  auto waiter = [](coro::Mutex& mu, std::vector<std::string>& l) -> Task<void> {
    if (auto ec = co_await mu.lock()) {
      l.push_back("waiter cancelled");
      co_return;
    }
    l.push_back("waiter locked");
    mu.unlock();
  };
  auto o = sched.spawn(owner(m, log));
  auto w = sched.spawn(waiter(m, log));
  w.cancel();
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(log, (std::vector<std::string>{"owner locked", "waiter cancelled", "owner unlocks"}));
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

TEST_F(CoroIo, AQueueBetweenTwoSchedulersOnTwoThreads) {
  auto other_client = Client::connect(daemon_.client_options());
  ASSERT_TRUE(other_client) << other_client.message();
  coro::Queue<std::size_t> q;
  std::thread producer([&] {
    Scheduler sched(*other_client);
    auto body = [](coro::Queue<std::size_t>& queue) -> Task<void> {
      for (std::size_t i = 0; i < 20; ++i) {
        // Some IO between items: the consumer sleeps in its client meanwhile.
        (void)co_await io::single(Timeout{.duration = 1ms});
        queue.send(i);
      }
    };
    sched.spawn(body(q)).complete();
  });
  Scheduler sched(*client_);
  auto body = [](coro::Queue<std::size_t>& queue) -> Task<std::size_t> {
    std::size_t sum = 0;
    for (int i = 0; i < 20; ++i) {
      auto v = co_await queue.recv();
      if (!v) co_return 0;
      const std::error_code ec = co_await io::single(Nop{});
      EXPECT_FALSE(ec);
      sum += *v;
    }
    co_return sum;
  };
  EXPECT_EQ(sched.spawn(body(q)).complete(), 190u);
  producer.join();
}

TEST_F(CoroIo, EventLoopIntegration) {
  Scheduler sched(*client_);
  auto body = []() -> Task<std::error_code> { co_return co_await io::single(Timeout{.duration = 20ms}); };
  const auto start = std::chrono::steady_clock::now();  // before the timer can start
  auto t = sched.spawn(body());
  int polls = 0;
  while (!t.is_complete()) {
    if (!sched.arm_poll_fd()) {
      pollfd p{sched.poll_fd(), POLLIN, 0};
      ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the poll fd never became readable";
      ++polls;
    }
    ASSERT_TRUE(sched.tick(CompletionMode::nonblocking));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_GE(polls, 1);
  EXPECT_FALSE(t.complete());
  // Nothing pending: the fd stays quiet.
  EXPECT_FALSE(sched.arm_poll_fd());
  pollfd p{sched.poll_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 50), 0);
}

TEST_F(CoroIo, ExceptionsAfterIoReachTheCompleter) {
  Scheduler sched(*client_);
  auto inner = []() -> Task<int> {
    (void)co_await io::single(Nop{});
    throw std::out_of_range("after io");
  };
  auto outer = [&]() -> Task<int> { co_return co_await inner() + 1; };
  EXPECT_THROW(sched.spawn(outer()).complete(), std::out_of_range);
}

TEST_F(CoroIo, TheDaemonsDeathFailsTheIoInsteadOfHanging) {
  Scheduler sched(*client_);
  auto body = []() -> Task<std::error_code> { co_return co_await io::single(Timeout{.duration = 30s}); };
  auto t = sched.spawn(body());
  ASSERT_TRUE(sched.tick(CompletionMode::nonblocking));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    const CommandResult stats = run_command({AIOCTL_PATH, "--socket", daemon_.socket_path(), "stats", "--json"});
    if (stats.out.find("\"ops_in_flight\":1") != std::string::npos) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the timeout never reached the daemon";
  }
  daemon_.signal(SIGKILL);
  EXPECT_EQ(sched.run(), make_error_code(errc::daemon_gone));
  EXPECT_EQ(t.complete(), make_error_code(errc::daemon_gone));
  ASSERT_TRUE(daemon_.wait_exit(5s));
  auto after = []() -> Task<std::error_code> { co_return co_await io::single(Nop{}); };
  EXPECT_EQ(sched.spawn(after()).complete(), make_error_code(errc::daemon_gone));
}

TEST_F(CoroIo, AfterTheDaemonsDeathTasksWaitingOnOtherThreadsStillWakeTheScheduler) {
  Scheduler sched(*client_);
  coro::ThreadPool pool;
  std::latch started(1), release(1);
  auto slow_io = []() -> Task<std::error_code> { co_return co_await io::single(Timeout{.duration = 30s}); };
  auto pooled = [](coro::ThreadPool& p, std::latch& s, std::latch& r) -> Task<int> {
    co_return co_await p.yield_for_completion([&] {
      s.count_down();
      r.wait();
      return 3;
    });
  };
  auto io_task = sched.spawn(slow_io());
  auto pool_task = sched.spawn(pooled(pool, started, release));
  started.wait();
  ASSERT_TRUE(sched.tick(CompletionMode::nonblocking));
  daemon_.signal(SIGKILL);
  ASSERT_TRUE(daemon_.wait_exit(5s));
  EXPECT_EQ(io_task.complete(), make_error_code(errc::daemon_gone));
  const std::uint64_t ticks = sched.stats().ticks;
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);  // the scheduler sleeps meanwhile (not a synchronisation)
    release.count_down();
  });
  EXPECT_EQ(pool_task.complete(), 3);
  releaser.join();
  EXPECT_LE(sched.stats().ticks - ticks, 3u) << "slept on its own eventfd instead of spinning";
}

}  // namespace
}  // namespace aiod::test
