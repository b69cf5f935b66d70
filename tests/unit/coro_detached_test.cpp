// SPDX-License-Identifier: MIT
// Unit tests of detached tasks that fail: spawn_detached(), the handler an
// application installs, the default handler's line on stderr (the task's
// name, or where it was spawned), SchedulerStats::detached_failures, and what
// does not count as a failure (success, a cancelled task reporting its
// cancellation).
#include <gtest/gtest.h>

#include <aiod/coro.hpp>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace aiod::coro {
namespace {

const std::error_code kCanceled = std::make_error_code(std::errc::operation_canceled);

enum class Park { waiting = 1 };

Task<void> throws(const char* what) {
  throw std::runtime_error(what);
  co_return;
}

Task<std::error_code> returns(std::error_code ec) { co_return ec; }

Task<Result<int>> returns_result(std::error_code ec) {
  if (ec) co_return ec;
  co_return 7;
}

Task<int> succeeds() { co_return 1; }

// Parks until cancelled, then reports it the way tasks usually do.
Task<void> until_cancelled() {
  const std::error_code ec = co_await yield(Park::waiting);
  if (ec) throw std::system_error(ec);
}

struct Seen {
  std::string name;
  std::string file;
  std::uint_least32_t line = 0;
  std::string what;
  std::error_code error;
};

void install(Scheduler& sched, std::vector<Seen>& seen) {
  sched.on_detached_failure([&seen](const DetachedFailure& f) {
    Seen s{std::string(f.name), f.spawned_at.file_name(), f.spawned_at.line(), {}, f.error};
    if (f.exception) {
      try {
        std::rethrow_exception(f.exception);
      } catch (const std::exception& e) {
        s.what = e.what();
      }
    }
    seen.push_back(std::move(s));
  });
}

TEST(CoroDetached, ExceptionReachesTheInstalledHandler) {
  Scheduler sched;
  std::vector<Seen> seen;
  install(sched, seen);
  const std::uint_least32_t line = std::source_location::current().line() + 1;
  sched.spawn_detached(throws("boom"), {.name = "importer"});
  EXPECT_FALSE(sched.run());
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].name, "importer");
  EXPECT_EQ(seen[0].what, "boom");
  EXPECT_FALSE(seen[0].error);
  EXPECT_NE(seen[0].file.find("coro_detached_test.cpp"), std::string::npos) << seen[0].file;
  EXPECT_EQ(seen[0].line, line);
  EXPECT_EQ(sched.stats().detached_failures, 1U);
}

TEST(CoroDetached, ReturnedErrorReachesTheInstalledHandler) {
  Scheduler sched;
  std::vector<Seen> seen;
  install(sched, seen);
  const std::error_code eio(EIO, std::system_category());
  sched.spawn_detached(returns(eio));
  sched.spawn_detached(returns_result(make_error_code(errc::queue_full)), {.name = "result"});
  // Successes are not failures.
  sched.spawn_detached(returns({}));
  sched.spawn_detached(returns_result({}));
  sched.spawn_detached(succeeds());
  EXPECT_FALSE(sched.run());
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0].error, eio);
  EXPECT_EQ(seen[0].name, "");
  EXPECT_EQ(seen[1].error, make_error_code(errc::queue_full));
  EXPECT_EQ(seen[1].name, "result");
  EXPECT_EQ(sched.stats().detached_failures, 2U);
}

// A task detached through its handle (detach(), or the handle destroyed)
// is a detached task too, also when it had failed before.
TEST(CoroDetached, DetachedThroughTheHandle) {
  Scheduler sched;
  std::vector<Seen> seen;
  install(sched, seen);
  {
    auto t = sched.spawn(throws("already failed"));
    ASSERT_TRUE(t.is_complete());
  }  // the handle goes: nobody will see the exception
  auto parked = sched.spawn(until_cancelled());
  parked.detach();
  (void)sched.spawn(throws("dropped"), {.detached = true});
  EXPECT_FALSE(sched.run(CompleteMode::cancel));
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0].what, "already failed");
  EXPECT_EQ(seen[1].what, "dropped");
  EXPECT_EQ(sched.stats().detached_failures, 2U) << "a cancelled task's operation_canceled is no failure";
}

TEST(CoroDetached, CancellationIsNotAFailure) {
  Scheduler sched;
  std::vector<Seen> seen;
  install(sched, seen);
  sched.spawn_detached(until_cancelled(), {.name = "parked"});
  auto cancelled_with_code = []() -> Task<std::error_code> { co_return co_await yield(Park::waiting); };
  sched.spawn_detached(cancelled_with_code());
  EXPECT_EQ(sched.running(), 2U);
  EXPECT_FALSE(sched.run(CompleteMode::cancel));
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(sched.stats().detached_failures, 0U);
  (void)kCanceled;
}

TEST(CoroDetached, DefaultHandlerPrintsOneLineWithTheNameOrTheSpawnSite) {
  Scheduler sched;
  testing::internal::CaptureStderr();
  sched.spawn_detached(throws("disk on fire"), {.name = "indexer"});
  const std::uint_least32_t line = std::source_location::current().line() + 1;
  sched.spawn_detached(returns(std::error_code(ENOSPC, std::system_category())));
  EXPECT_FALSE(sched.run());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(sched.stats().detached_failures, 2U);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < err.size();) {
    const std::size_t nl = err.find('\n', at);
    lines.push_back(err.substr(at, nl - at));
    at = nl == std::string::npos ? err.size() : nl + 1;
  }
  ASSERT_EQ(lines.size(), 2U) << err;
  EXPECT_NE(lines[0].find("indexer"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("disk on fire"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("coro_detached_test.cpp:" + std::to_string(line)), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(std::error_code(ENOSPC, std::system_category()).message()), std::string::npos) << lines[1];

  // Reported as the task returns (this one at once), to the handler
  // installed then; nullptr puts the default back.
  int calls = 0;
  sched.on_detached_failure([&calls](const DetachedFailure&) { ++calls; });
  sched.spawn_detached(throws("mine"));
  EXPECT_EQ(calls, 1);
  sched.on_detached_failure(nullptr);
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(calls, 1);
  testing::internal::CaptureStderr();
  sched.spawn_detached(throws("default again"));
  EXPECT_FALSE(sched.run());
  EXPECT_NE(testing::internal::GetCapturedStderr().find("default again"), std::string::npos);
}

// A handler that throws does not take the scheduler down.
TEST(CoroDetached, AThrowingHandlerIsContained) {
  Scheduler sched;
  sched.on_detached_failure([](const DetachedFailure&) { throw std::runtime_error("handler"); });
  sched.spawn_detached(throws("x"));
  EXPECT_FALSE(sched.run());
  EXPECT_EQ(sched.stats().detached_failures, 1U);
}

}  // namespace
}  // namespace aiod::coro
