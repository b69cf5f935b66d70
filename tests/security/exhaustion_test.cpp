// SPDX-License-Identifier: MIT
// One uid at the limits of what every client shares — descriptors, session
// memory, blocked posix workers — leaves every other uid fully served, and
// its own refusals are clear errors for it alone.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>

#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

// Root opens, writes and reads back a file, every step under a link timeout,
// so a starved daemon fails the check instead of hanging it.
void expect_root_served(const DaemonProcess& daemon, const std::string& what, const ClientOptions& options) {
  auto root = Client::connect(options);
  ASSERT_TRUE(root) << what << ": root was refused: " << root.message();
  const std::string path = daemon.directory() + "/root-file";
  Handle f;
  ASSERT_FALSE(root->multi(
      OpenAt{.path = path.c_str(), .flags = O_RDWR | O_CREAT, .mode = 0600, .out_file = &f, .link = Link::soft},
      LinkTimeout{.duration = 5s}))
      << what << ": root's open did not complete";
  std::size_t written = 0, read = 0;
  char buf[16] = {};
  ASSERT_FALSE(root->multi(
      Write{.file = f, .buffer = std::string_view("served"), .offset = 0, .out_written = &written, .link = Link::soft},
      Read{.file = f, .buffer = buf, .offset = 0, .out_read = &read, .link = Link::soft}, LinkTimeout{.duration = 5s}))
      << what;
  EXPECT_EQ(std::string(buf, read), "served") << what;
}

// nobody fills its uid's share of handles over two sessions; the share is
// per uid, not per session; root still opens files.
TEST(HandleQuota, OneUidAtItsHandleLimitLeavesOtherUidsServed) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon({"--max-handles-per-uid", "32"});
  ASSERT_TRUE(daemon.running()) << "the daemon does not take --max-handles-per-uid";
  const ClientOptions options = daemon.client_options();
  UserProcess hog({}, [&](Channel& ch) {
    auto a = Client::connect(options);
    auto b = Client::connect(options);
    if (!a || !b) {
      ch.note("connect failed");
      return;
    }
    int opened = 0;
    std::error_code last;
    Handle h;
    for (int i = 0; i < 100; ++i) {
      last = a->single(OpenAt{.path = "/dev/null", .flags = O_RDONLY, .out_file = &h});
      if (last) break;
      ++opened;
    }
    ch.put(opened);
    ch.put(last.value());
    ch.put(b->single(OpenAt{.path = "/dev/null", .flags = O_RDONLY, .out_file = &h}).value());
    (void)ch.wait_for_parent(60s);
  });
  ASSERT_TRUE(hog.wait_values(3, 30s)) << hog.outcome().describe();
  const Outcome& o = hog.outcome();
  EXPECT_EQ(o.values[0], 32) << "nobody held more (or fewer) handles than max-handles-per-uid";
  EXPECT_EQ(o.values[1], EMFILE) << "the handle past the share was not refused with EMFILE";
  EXPECT_EQ(o.values[2], EMFILE) << "a second session of the same uid got handles beyond the uid's share";
  expect_root_served(daemon, "nobody at its handle limit", options);
  hog.release();
  EXPECT_TRUE(hog.finish(30s).ok()) << hog.outcome().describe();
}

// nobody's sessions take its uid's share of session memory; the next one is
// refused, root's is not.
TEST(MemoryQuota, OneUidAtItsMemoryLimitLeavesOtherUidsServed) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon({"--max-memory-per-uid", "1048576"});
  ASSERT_TRUE(daemon.running()) << "the daemon does not take --max-memory-per-uid";
  ClientOptions options = daemon.client_options();
  options.arena_bytes = 256 * 1024;
  UserProcess hog({}, [&](Channel& ch) {
    std::vector<Client> held;
    std::string refusal;
    for (int i = 0; i < 16; ++i) {
      auto c = Client::connect(options);
      if (!c) {
        refusal = c.message();
        break;
      }
      held.push_back(std::move(*c));
    }
    ch.put(static_cast<std::int64_t>(held.size()));
    ch.note(refusal);
    (void)ch.wait_for_parent(60s);
  });
  ASSERT_TRUE(hog.wait_values(1, 30s)) << hog.outcome().describe();
  const std::int64_t sessions = hog.outcome().values[0];
  EXPECT_GE(sessions, 1) << "not even one session fits 1 MiB: " << hog.outcome().describe();
  EXPECT_LT(sessions, 4) << "nobody held more session memory than max-memory-per-uid";
  expect_root_served(daemon, "nobody at its memory limit", options);  // root's own share
  hog.release();
  EXPECT_TRUE(hog.finish(30s).ok()) << hog.outcome().describe();
}

// nobody opens a FIFO that never gets a writer, many times over: each open
// blocks a posix worker for ever (on both backends: io_uring hands path ops
// to its posix part). Beyond its share they wait their turn, and root's own
// open (which needs a worker too) completes.
TEST(WorkerShare, OpsThatBlockForEverLeaveOtherUidsServed) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon({"--max-workers-per-uid", "4"});
  ASSERT_TRUE(daemon.running()) << "the daemon does not take --max-workers-per-uid";
  const std::string fifo = daemon.directory() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0666), 0);
  ASSERT_EQ(::chmod(fifo.c_str(), 0666), 0);
  const ClientOptions options = daemon.client_options();
  UserProcess hog({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    if (!c) {
      ch.note("connect: " + c.message());
      return;
    }
    Dynamic q(*c, 64);
    std::array<Handle, 32> h{};
    for (Handle& one : h) {
      if (const std::error_code ec = q.queue(OpenAt{.path = fifo.c_str(), .flags = O_RDONLY, .out_file = &one}); ec) {
        ch.note("queue: " + ec.message());
        return;
      }
    }
    (void)q.complete(CompletionMode::nonblocking);  // submitted; none can complete
    ch.put(static_cast<std::int64_t>(q.outstanding()));
    (void)ch.wait_for_parent(60s);
    // Leaves with its opens still blocked, as a dying client would: the
    // daemon must cancel them.
    ch.end();
    ::_exit(0);
  });
  ASSERT_TRUE(hog.wait_values(1, 30s)) << hog.outcome().describe();
  EXPECT_EQ(hog.outcome().values[0], 32) << hog.outcome().describe();
  expect_root_served(daemon, "nobody's 32 blocked opens", options);
  hog.release();
  EXPECT_TRUE(hog.finish(30s).ok()) << hog.outcome().describe();
  // The daemon cancelled nobody's blocked opens when it left, and serves on.
  expect_root_served(daemon, "after nobody left", options);
}

}  // namespace
}  // namespace aiod::test::sec
