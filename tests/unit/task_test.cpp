// SPDX-License-Identifier: MIT
// task_test.cpp — unit tests of the daemon's coroutine runtime (daemon/runtime/).
//
// The list that tracks pending calls without allocating (intrusive_list.hpp),
// and the shard's coroutine machinery (task, scheduler, event, backend_call).
//
// What must hold: list order and unlinking (also from a node's destructor);
// the scheduler resumes only what was ready when run_ready() started, in FIFO
// order, so a yielding task goes behind the others (round robin); an Event
// wakes its waiter through the scheduler, or not at all when already set;
// Task<T> is lazy, hands its value or exception to the awaiting parent; a
// BackendCall suspends until the backend reports its result and resumes via the
// scheduler with exactly that result.
#include <cerrno>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.hpp"
#include "runtime/intrusive_list.hpp"
#include "runtime/backend_call.hpp"
#include "runtime/event.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"

namespace aiod::daemon {
namespace {

// ---------------------------------------------------------------------------
// IntrusiveList

struct Item : IntrusiveListNode<Item> {
  explicit Item(int v) : value(v) {}
  int value;
};
using ItemList = IntrusiveList<Item>;

std::vector<int> values(const ItemList& list) {
  std::vector<int> out;
  for (Item* i = list.front(); i != nullptr; i = ItemList::next(*i)) out.push_back(i->value);
  return out;
}

TEST(IntrusiveList, StartsEmpty) {
  ItemList list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.size(), 0u);
  EXPECT_EQ(list.front(), nullptr);
  EXPECT_EQ(list.pop_front(), nullptr);
}

TEST(IntrusiveList, PushBackKeepsOrder) {
  Item a(1), b(2), c(3);
  ItemList list;
  list.push_back(a);
  list.push_back(b);
  list.push_back(c);
  EXPECT_FALSE(list.empty());
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(list.front(), &a);
  EXPECT_EQ(values(list), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ItemList::next(c), nullptr);
  EXPECT_TRUE(a.linked());
  EXPECT_TRUE(c.linked());
}

TEST(IntrusiveList, RemoveFromHeadMiddleAndTail) {
  Item a(1), b(2), c(3), d(4);
  ItemList list;
  for (Item* i : {&a, &b, &c, &d}) list.push_back(*i);
  list.remove(b);
  EXPECT_FALSE(b.linked());
  EXPECT_EQ(values(list), (std::vector<int>{1, 3, 4}));
  list.remove(a);
  EXPECT_EQ(values(list), (std::vector<int>{3, 4}));
  EXPECT_EQ(list.front(), &c);
  list.remove(d);
  EXPECT_EQ(values(list), (std::vector<int>{3}));
  EXPECT_EQ(ItemList::next(c), nullptr);
  // The tail is right after removing the old one: appending still works.
  list.push_back(a);
  EXPECT_EQ(values(list), (std::vector<int>{3, 1}));
  list.remove(c);
  list.remove(a);
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.size(), 0u);
  EXPECT_EQ(list.front(), nullptr);
}

TEST(IntrusiveList, RemovingSomethingNotInTheListIsANoOp) {
  Item a(1), b(2), c(3);
  ItemList list, other;
  list.push_back(a);
  other.push_back(b);
  list.remove(b);  // b belongs to `other`
  list.remove(c);  // c is in no list
  EXPECT_EQ(values(list), (std::vector<int>{1}));
  EXPECT_EQ(values(other), (std::vector<int>{2}));
  EXPECT_TRUE(b.linked());
  list.remove(a);
  list.remove(a);  // twice
  EXPECT_TRUE(list.empty());
  other.remove(b);
}

TEST(IntrusiveList, PopFrontTakesItemsInOrder) {
  Item a(1), b(2), c(3);
  ItemList list;
  for (Item* i : {&a, &b, &c}) list.push_back(*i);
  EXPECT_EQ(list.pop_front(), &a);
  EXPECT_FALSE(a.linked());
  EXPECT_EQ(list.pop_front(), &b);
  EXPECT_EQ(list.size(), 1u);
  EXPECT_EQ(list.pop_front(), &c);
  EXPECT_EQ(list.pop_front(), nullptr);
  EXPECT_TRUE(list.empty());
}

TEST(IntrusiveList, AnItemCanMoveBetweenLists) {
  Item a(1);
  ItemList first, second;
  first.push_back(a);
  first.remove(a);
  second.push_back(a);
  EXPECT_TRUE(first.empty());
  EXPECT_EQ(values(second), (std::vector<int>{1}));
  second.remove(a);
}

TEST(IntrusiveList, DestroyingAnItemUnlinksIt) {
  ItemList list;
  Item a(1), c(3);
  list.push_back(a);
  {
    Item b(2);
    list.push_back(b);
    list.push_back(c);
    EXPECT_EQ(list.size(), 3u);
  }  // from the middle
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(values(list), (std::vector<int>{1, 3}));
  {
    Item d(4);
    list.push_back(d);
  }  // from the tail: the list's tail must move back
  Item e(5);
  list.push_back(e);
  EXPECT_EQ(values(list), (std::vector<int>{1, 3, 5}));
  {
    auto head = std::make_unique<Item>(0);
    list.remove(a);
    list.remove(c);
    list.remove(e);
    list.push_back(*head);
    list.push_back(a);
  }  // from the head
  EXPECT_EQ(list.front(), &a);
  EXPECT_EQ(values(list), (std::vector<int>{1}));
  list.remove(a);
}

TEST(IntrusiveList, DestroyingTheListUnlinksItsItems) {
  Item a(1), b(2);
  {
    ItemList list;
    list.push_back(a);
    list.push_back(b);
  }
  EXPECT_FALSE(a.linked());
  EXPECT_FALSE(b.linked());
  ItemList again;
  again.push_back(a);  // usable again
  EXPECT_EQ(values(again), (std::vector<int>{1}));
  again.remove(a);
}

// ---------------------------------------------------------------------------
// Scheduler and Event

using Log = std::vector<std::string>;

DetachedTask yield_and_log(Scheduler& s, Log& log, std::string name, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    co_await s.yield();
    log.push_back(name + std::to_string(i));
  }
}

TEST(Scheduler, EmptyRunDoesNothing) {
  Scheduler s;
  EXPECT_FALSE(s.has_ready());
  EXPECT_EQ(s.run_ready(), 0u);
}

TEST(Scheduler, ResumesInFifoOrder) {
  Scheduler s;
  Log log;
  yield_and_log(s, log, "a", 1);
  yield_and_log(s, log, "b", 1);
  yield_and_log(s, log, "c", 1);
  EXPECT_TRUE(log.empty()) << "a yield ran before run_ready()";
  EXPECT_TRUE(s.has_ready());
  EXPECT_EQ(s.run_ready(), 3u);
  EXPECT_EQ(log, (Log{"a0", "b0", "c0"}));
  EXPECT_FALSE(s.has_ready());
}

TEST(Scheduler, RunsOnlyWhatWasReadyWhenItStarted) {
  Scheduler s;
  Log log;
  yield_and_log(s, log, "a", 3);
  EXPECT_EQ(s.run_ready(), 1u);
  EXPECT_EQ(log, (Log{"a0"}));
  EXPECT_TRUE(s.has_ready()) << "the task yielded again: it waits for the next turn";
  EXPECT_EQ(s.run_ready(), 1u);
  EXPECT_EQ(log, (Log{"a0", "a1"}));
  EXPECT_EQ(s.run_ready(), 1u);
  EXPECT_EQ(s.run_ready(), 0u);
  EXPECT_EQ(log, (Log{"a0", "a1", "a2"}));
}

TEST(Scheduler, YieldingTasksTakeTurnsRoundRobin) {
  Scheduler s;
  Log log;
  yield_and_log(s, log, "a", 3);
  yield_and_log(s, log, "b", 3);
  yield_and_log(s, log, "c", 2);
  while (s.has_ready()) s.run_ready();
  EXPECT_EQ(log, (Log{"a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2"}));
}

DetachedTask wait_event(Event& e, Log& log, std::string name) {
  log.push_back(name + " waits");
  co_await e;
  log.push_back(name + " woke");
}

TEST(Event, SetBeforeAwaitDoesNotSuspend) {
  Scheduler s;
  Event e(s);
  e.set();
  EXPECT_TRUE(e.is_set());
  Log log;
  wait_event(e, log, "t");
  EXPECT_EQ(log, (Log{"t waits", "t woke"}));
  EXPECT_FALSE(s.has_ready());
}

TEST(Event, SetAfterAwaitWakesTheWaiterThroughTheScheduler) {
  Scheduler s;
  Event e(s);
  Log log;
  wait_event(e, log, "t");
  EXPECT_EQ(log, (Log{"t waits"}));
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(s.has_ready());
  e.set();
  EXPECT_EQ(log, (Log{"t waits"})) << "set() resumed the waiter inline";
  EXPECT_TRUE(s.has_ready());
  e.set();  // a second set must not schedule the waiter twice
  EXPECT_EQ(s.run_ready(), 1u);
  EXPECT_EQ(log, (Log{"t waits", "t woke"}));
  EXPECT_FALSE(s.has_ready());
}

TEST(Event, SetWithoutWaiterSchedulesNothing) {
  Scheduler s;
  Event e(s);
  e.set();
  EXPECT_FALSE(s.has_ready());
}

TEST(Event, ResetMakesTheNextAwaitSuspendUntilTheNextSet) {
  Scheduler s;
  Event e(s);
  e.set();
  e.reset();
  EXPECT_FALSE(e.is_set());
  Log log;
  wait_event(e, log, "t");
  EXPECT_EQ(log, (Log{"t waits"}));
  e.set();
  EXPECT_EQ(s.run_ready(), 1u);
  EXPECT_EQ(log, (Log{"t waits", "t woke"}));
}

// ---------------------------------------------------------------------------
// Task<T>

Task<int> answer(Log& log) {
  log.push_back("child runs");
  co_return 42;
}

Task<std::string> text(std::string s) { co_return s + "!"; }

Task<> nothing(Log& log) {
  log.push_back("void child");
  co_return;
}

Task<int> fails() {
  throw std::runtime_error("boom");
  co_return 0;
}

Task<int> add(int a, int b) { co_return a + b; }

Task<int> nested(int depth) {
  if (depth == 0) co_return 0;
  const int below = co_await nested(depth - 1);
  co_return below + 1;
}

DetachedTask parent(Log& log, int& result) {
  Task<int> t = answer(log);
  log.push_back("created");
  result = co_await t;
  log.push_back("parent resumed");
}

TEST(Task, IsLazyAndReturnsItsValueToTheParent) {
  Log log;
  int result = 0;
  parent(log, result);
  EXPECT_EQ(log, (Log{"created", "child runs", "parent resumed"}));
  EXPECT_EQ(result, 42);
}

DetachedTask await_text(std::string& out) { out = co_await text("hi"); }

TEST(Task, MovesNonTrivialValues) {
  std::string out;
  await_text(out);
  EXPECT_EQ(out, "hi!");
}

DetachedTask await_void(Log& log) {
  co_await nothing(log);
  log.push_back("after");
}

TEST(Task, VoidTaskCompletes) {
  Log log;
  await_void(log);
  EXPECT_EQ(log, (Log{"void child", "after"}));
}

DetachedTask catch_failure(std::string& what, bool& resumed_after) {
  try {
    (void)co_await fails();
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  resumed_after = true;
}

TEST(Task, ExceptionPropagatesToTheAwaitingParent) {
  std::string what;
  bool resumed_after = false;
  catch_failure(what, resumed_after);
  EXPECT_EQ(what, "boom");
  EXPECT_TRUE(resumed_after);
}

DetachedTask await_nested(int depth, int& out) { out = co_await nested(depth); }

TEST(Task, NestedTasksUnwindThroughEveryLevel) {
  int out = -1;
  await_nested(1000, out);
  EXPECT_EQ(out, 1000);
}

// Records how deep in the machine stack the child runs.
Task<int> add_noting_depth(int a, int b, std::uintptr_t& frame) {
  frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  co_return a + b;
}

DetachedTask many_sequential(int n, long long& sum, std::vector<std::uintptr_t>& frames) {
  for (int i = 0; i < n; ++i) {
    std::uintptr_t frame = 0;
    sum += co_await add_noting_depth(i, 1, frame);
    frames.push_back(frame);
  }
}

TEST(Task, ManySynchronousCompletionsDoNotGrowTheStack) {
#if defined(__SANITIZE_ADDRESS__)
  // GCC does not make the symmetric transfer a tail call under AddressSanitizer:
  // there every awaited task that completes at once nests two frames deeper.
  GTEST_SKIP() << "symmetric transfer is not a tail call in AddressSanitizer builds";
#elif !defined(__OPTIMIZE__)
  // Nor without optimisation (-O0): the CMake Debug build.
  GTEST_SKIP() << "symmetric transfer is not a tail call without optimisation";
#endif
  // Each child completes without suspending; the parent is resumed by
  // symmetric transfer, so the thousandth child runs exactly as deep in the
  // stack as the first (a loop of them must not overflow it).
  constexpr int kCount = 10'000;
  long long sum = 0;
  std::vector<std::uintptr_t> frames;
  many_sequential(kCount, sum, frames);
  EXPECT_EQ(sum, static_cast<long long>(kCount) * (kCount + 1) / 2);
  ASSERT_EQ(frames.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(frames.front(), frames.back())
      << "the stack grew by " << (frames.front() - frames.back()) << " bytes over " << kCount << " awaits";
}

DetachedTask child_then_yield(Scheduler& s, Log& log) {
  const int v = co_await add(1, 2);
  log.push_back("got " + std::to_string(v));
  co_await s.yield();
  log.push_back("after yield");
}

TEST(Task, TasksMixWithSchedulerSuspension) {
  Scheduler s;
  Log log;
  child_then_yield(s, log);
  EXPECT_EQ(log, (Log{"got 3"}));
  s.run_ready();
  EXPECT_EQ(log, (Log{"got 3", "after yield"}));
}

// ---------------------------------------------------------------------------
// BackendCall

// Records what is prepared and cancelled; the test delivers results itself.
class RecordingBackend final : public Backend {
 public:
  struct Prepared {
    BackendOp op;
    Completion* done;
  };

  BackendInfo info() const override { return {"recording", false}; }
  bool supports(BackendOpcode) const override { return true; }
  unsigned space() const override { return free_slots; }
  int prepare(const BackendOp& op, Completion* done) override {
    ++prepare_calls;
    if (prepare_calls == fail_call) return fail_result;
    if (free_slots == 0) return -EAGAIN;
    --free_slots;
    prepared.push_back({op, done});
    return 0;
  }
  int cancel(Completion* target) override {
    cancelled.push_back(target);
    return 0;
  }
  int flush() override {
    ++flushes;
    free_slots = slots_after_flush;
    return 0;
  }
  int drain() override { return 0; }
  int wait(std::optional<std::chrono::nanoseconds>) override { return 0; }
  int register_personality() override { return -EPERM; }
  void unregister_personality(std::uint16_t) override {}
  std::uint64_t syscalls() const override { return 0; }
  BackendReport report() const override { return {}; }

  std::vector<Prepared> prepared;
  std::vector<Completion*> cancelled;
  unsigned free_slots = 64;         // what space() reports
  unsigned slots_after_flush = 64;  // what a flush frees
  int fail_call = 0;                // this prepare() call (1-based) fails...
  int fail_result = 0;              // ...with this
  int prepare_calls = 0;
  int flushes = 0;
};

DetachedTask call(RecordingBackend& b, Scheduler& s, BackendOp op, int& result, bool& done,
                  CancelScope* scope = nullptr) {
  result = co_await BackendCall(b, s, op, scope);
  done = true;
}

DetachedTask limited_call(RecordingBackend& b, Scheduler& s, BackendOp op, std::chrono::nanoseconds limit, int& result,
                          bool& done) {
  result = co_await BackendCall(b, s, op, nullptr, limit);
  done = true;
}

BackendOp read_op(int fd) {
  BackendOp op;
  op.args = op::Read{.fd = fd, .len = 16, .offset = 7};
  return op;
}

TEST(BackendCall, SuspendsUntilTheBackendCompletesThenResumesViaTheScheduler) {
  RecordingBackend b;
  Scheduler s;
  int result = 0;
  bool done = false;
  call(b, s, read_op(5), result, done);

  ASSERT_EQ(b.prepared.size(), 1u);
  ASSERT_TRUE(b.prepared[0].op.is<op::Read>());
  EXPECT_EQ(b.prepared[0].op.as<op::Read>().fd, 5);
  EXPECT_EQ(b.prepared[0].op.as<op::Read>().len, 16u);
  EXPECT_EQ(b.prepared[0].op.as<op::Read>().offset, 7u);
  EXPECT_NE(b.prepared[0].done, nullptr);
  EXPECT_FALSE(done);
  EXPECT_FALSE(s.has_ready());

  b.prepared[0].done->complete(17);
  EXPECT_FALSE(done) << "complete() resumed the coroutine inline";
  EXPECT_TRUE(s.has_ready());
  EXPECT_EQ(s.run_ready(), 1u);
  EXPECT_TRUE(done);
  EXPECT_EQ(result, 17);
}

TEST(BackendCall, ErrorResultsArriveUnchanged) {
  RecordingBackend b;
  Scheduler s;
  int result = 0;
  bool done = false;
  call(b, s, read_op(3), result, done);
  ASSERT_EQ(b.prepared.size(), 1u);
  b.prepared[0].done->complete(-ECONNRESET);
  s.run_ready();
  EXPECT_TRUE(done);
  EXPECT_EQ(result, -ECONNRESET);
}

TEST(BackendCall, ConcurrentCallsEachGetTheirOwnResult) {
  RecordingBackend b;
  Scheduler s;
  int r1 = 0, r2 = 0;
  bool d1 = false, d2 = false;
  call(b, s, read_op(1), r1, d1);
  call(b, s, read_op(2), r2, d2);
  ASSERT_EQ(b.prepared.size(), 2u);
  ASSERT_NE(b.prepared[0].done, b.prepared[1].done);
  b.prepared[1].done->complete(222);  // out of order
  s.run_ready();
  EXPECT_TRUE(d2);
  EXPECT_FALSE(d1);
  b.prepared[0].done->complete(111);
  s.run_ready();
  EXPECT_EQ(r1, 111);
  EXPECT_EQ(r2, 222);
}

TEST(BackendCall, APrepareErrorResumesAtOnceWithThatError) {
  RecordingBackend b;
  Scheduler s;
  b.fail_call = 1;
  b.fail_result = -EOPNOTSUPP;
  int result = 0;
  bool done = false;
  call(b, s, read_op(5), result, done);
  EXPECT_TRUE(done) << "a refused call left the coroutine suspended forever";
  EXPECT_EQ(result, -EOPNOTSUPP);
  EXPECT_TRUE(b.prepared.empty());
  EXPECT_FALSE(s.has_ready());
}

TEST(BackendCall, AFullBackendIsFlushedBeforePreparing) {
  RecordingBackend b;
  Scheduler s;
  b.free_slots = 0;
  int result = 0;
  bool done = false;
  call(b, s, read_op(5), result, done);
  EXPECT_EQ(b.flushes, 1);
  ASSERT_EQ(b.prepared.size(), 1u);
  EXPECT_FALSE(done);
  b.prepared[0].done->complete(3);
  s.run_ready();
  EXPECT_EQ(result, 3);
}

TEST(BackendCall, ABackendThatStaysFullFailsTheCallWithEagain) {
  RecordingBackend b;
  Scheduler s;
  b.free_slots = 0;
  b.slots_after_flush = 0;
  int result = 0;
  bool done = false;
  call(b, s, read_op(5), result, done);
  EXPECT_TRUE(done);
  EXPECT_EQ(result, -EAGAIN);
  EXPECT_TRUE(b.prepared.empty());
}

TEST(BackendCall, ATimeLimitLinksATimeoutBehindTheOp) {
  RecordingBackend b;
  Scheduler s;
  int result = 0;
  bool done = false;
  limited_call(b, s, read_op(5), std::chrono::milliseconds(1500), result, done);
  ASSERT_EQ(b.prepared.size(), 2u);
  EXPECT_TRUE(b.prepared[0].op.is<op::Read>());
  EXPECT_EQ(b.prepared[0].op.link, Link::soft) << "the timeout must be linked to the op";
  ASSERT_TRUE(b.prepared[1].op.is<op::LinkTimeout>());
  const __kernel_timespec* ts = b.prepared[1].op.as<op::LinkTimeout>().ts;
  ASSERT_NE(ts, nullptr);
  EXPECT_EQ(ts->tv_sec, 1);
  EXPECT_EQ(ts->tv_nsec, 500'000'000);
  EXPECT_NE(b.prepared[1].done, b.prepared[0].done) << "the timer's result is not the call's";
  EXPECT_FALSE(done);

  // The timer fires: the op is cancelled and that is the call's result.
  b.prepared[1].done->complete(-ETIME);
  EXPECT_FALSE(s.has_ready()) << "the timer's own completion resumed the call";
  b.prepared[0].done->complete(-ECANCELED);
  s.run_ready();
  EXPECT_TRUE(done);
  EXPECT_EQ(result, -ECANCELED);
}

TEST(BackendCall, ATimeLimitNeedsRoomForBothOps) {
  RecordingBackend b;
  Scheduler s;
  b.free_slots = 1;  // the op would fit, its timeout not
  b.slots_after_flush = 1;
  int result = 0;
  bool done = false;
  limited_call(b, s, read_op(5), std::chrono::seconds(1), result, done);
  EXPECT_EQ(b.flushes, 1);
  EXPECT_TRUE(done);
  EXPECT_EQ(result, -EAGAIN);
  EXPECT_TRUE(b.prepared.empty()) << "an op was prepared without its time limit";
}

// Regression: when the link timeout's prepare() failed, the call resumed with
// the error while its op, already prepared, stayed in flight naming it.
TEST(BackendCall, AFailedTimeLimitLeavesTheCallWaitingForItsOp) {
  RecordingBackend b;
  Scheduler s;
  b.fail_call = 2;  // the timer
  b.fail_result = -EOPNOTSUPP;
  int result = 0;
  bool done = false;
  limited_call(b, s, read_op(5), std::chrono::seconds(1), result, done);
  EXPECT_FALSE(done) << "the call ended while its op was in flight";
  ASSERT_FALSE(b.prepared.empty());
  EXPECT_TRUE(b.prepared.front().op.is<op::Read>());
  EXPECT_GE(b.flushes, 1) << "the op stayed linked to whatever comes next";
  b.prepared.front().done->complete(42);  // the op finishes, unlimited
  s.run_ready();
  EXPECT_TRUE(done);
  EXPECT_EQ(result, 42);
}

TEST(BackendCall, ScopeTracksPendingCallsAndCancelAllReachesEach) {
  RecordingBackend b;
  Scheduler s;
  CancelScope scope;
  int r1 = 0, r2 = 0, r3 = 0;
  bool d1 = false, d2 = false, d3 = false;
  call(b, s, read_op(1), r1, d1, &scope);
  call(b, s, read_op(2), r2, d2, &scope);
  call(b, s, read_op(3), r3, d3);  // not in the scope
  ASSERT_EQ(b.prepared.size(), 3u);
  EXPECT_EQ(scope.size(), 2u);

  cancel_all(scope);
  ASSERT_EQ(b.cancelled.size(), 2u);
  EXPECT_EQ(b.cancelled[0], b.prepared[0].done);
  EXPECT_EQ(b.cancelled[1], b.prepared[1].done);
  EXPECT_FALSE(d1);  // cancelling only asks: the result still comes from the backend

  b.prepared[0].done->complete(-ECANCELED);
  EXPECT_EQ(scope.size(), 1u) << "a completed call stayed in its scope";
  b.prepared[1].done->complete(-ECANCELED);
  EXPECT_TRUE(scope.empty());
  s.run_ready();
  EXPECT_EQ(r1, -ECANCELED);
  EXPECT_EQ(r2, -ECANCELED);
  EXPECT_FALSE(d3);
  b.prepared[2].done->complete(0);
  s.run_ready();
  EXPECT_TRUE(d3);
}

TEST(BackendCall, CancelAsksTheBackendForThisCall) {
  RecordingBackend b;
  Scheduler s;
  CancelScope scope;
  int result = 0;
  bool done = false;
  call(b, s, read_op(1), result, done, &scope);
  ASSERT_EQ(scope.size(), 1u);
  scope.front()->cancel();
  ASSERT_EQ(b.cancelled.size(), 1u);
  EXPECT_EQ(b.cancelled[0], b.prepared[0].done);
  b.prepared[0].done->complete(-ECANCELED);
  s.run_ready();
  EXPECT_TRUE(done);
  EXPECT_EQ(result, -ECANCELED);
}

}  // namespace
}  // namespace aiod::daemon
