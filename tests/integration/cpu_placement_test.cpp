// SPDX-License-Identifier: MIT
// CPU placement: `--shard-cpus` pins shard threads, a client thread that asks
// (Client::keep_off_daemon_cpu) leaves its shard's CPU, and one that does not
// ask keeps the affinity it had.
#include <sched.h>

#include <dirent.h>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

// The CPUs this thread may run on.
std::set<unsigned> my_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(::sched_getaffinity(0, sizeof(set), &set), 0);
  std::set<unsigned> cpus;
  for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.insert(c);
  }
  return cpus;
}

// "Cpus_allowed_list" of the daemon's thread named `name`, or "" if none is.
std::string thread_cpus(pid_t pid, const std::string& name) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return {};
  std::string found;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream status(tasks + "/" + e->d_name + "/status");
    std::string line, comm;
    while (std::getline(status, line)) {
      if (line.rfind("Name:\t", 0) == 0) comm = line.substr(6);
      if (line.rfind("Cpus_allowed_list:\t", 0) == 0 && comm == name) found = line.substr(19);
    }
  }
  ::closedir(dir);
  return found;
}

// Two CPUs this process may use, or skip.
#define REQUIRE_TWO_CPUS(cpus)                                                      \
  const std::set<unsigned> cpus = my_cpus();                                        \
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs; this process may use one"

TEST(CpuPlacement, ShardCpusPinsTheShardThread) {
  REQUIRE_TWO_CPUS(cpus);
  const unsigned last = *cpus.rbegin();
  DaemonProcess d({"--shard-cpus", std::to_string(last)});
  ASSERT_TRUE(d.running());
  EXPECT_EQ(thread_cpus(d.pid(), "aiod-shard-0"), std::to_string(last));
}

TEST(CpuPlacement, ShardsTakeTheListRoundRobin) {
  REQUIRE_TWO_CPUS(cpus);
  const unsigned first = *cpus.begin(), last = *cpus.rbegin();
  DaemonProcess d({"--threads", "3", "--shard-cpus", std::to_string(last) + "," + std::to_string(first)});
  ASSERT_TRUE(d.running());
  EXPECT_EQ(thread_cpus(d.pid(), "aiod-shard-0"), std::to_string(last));
  EXPECT_EQ(thread_cpus(d.pid(), "aiod-shard-1"), std::to_string(first));
  EXPECT_EQ(thread_cpus(d.pid(), "aiod-shard-2"), std::to_string(last));
}

TEST(CpuPlacement, AClientThatAsksLeavesItsShardsCpu) {
  REQUIRE_TWO_CPUS(cpus);
  const unsigned shard_cpu = *cpus.begin();
  DaemonProcess d({"--shard-cpus", std::to_string(shard_cpu)});
  ASSERT_TRUE(d.running());
  // In a thread of its own: the affinity it changes is that thread's.
  std::set<unsigned> after_connect, after_asking, after_io;
  bool changed = false, changed_again = true;
  std::thread t([&] {
    auto c = Client::connect(d.client_options());
    ASSERT_TRUE(c) << c.message();
    after_connect = my_cpus();
    changed = c->keep_off_daemon_cpu();
    after_asking = my_cpus();
    EXPECT_FALSE(c->single(Nop{}));
    after_io = my_cpus();
    changed_again = c->keep_off_daemon_cpu();
  });
  t.join();
  std::set<unsigned> expected = cpus;
  expected.erase(shard_cpu);
  EXPECT_EQ(after_connect, cpus);
  EXPECT_TRUE(changed);
  EXPECT_EQ(after_asking, expected);
  EXPECT_EQ(after_io, expected);
  EXPECT_FALSE(changed_again);  // off it already
}

TEST(CpuPlacement, AClientThatDoesNotAskKeepsItsAffinity) {
  REQUIRE_TWO_CPUS(cpus);
  DaemonProcess d({"--shard-cpus", std::to_string(*cpus.begin())});
  ASSERT_TRUE(d.running());
  std::set<unsigned> after;
  std::thread t([&] {
    auto c = Client::connect(d.client_options());
    ASSERT_TRUE(c) << c.message();
    EXPECT_FALSE(c->single(Nop{}));
    after = my_cpus();
  });
  t.join();
  EXPECT_EQ(after, cpus);
}

TEST(CpuPlacement, AClientPinnedToTheShardsCpuStaysThere) {
  REQUIRE_TWO_CPUS(cpus);
  const unsigned shard_cpu = *cpus.begin();
  DaemonProcess d({"--shard-cpus", std::to_string(shard_cpu)});
  ASSERT_TRUE(d.running());
  std::set<unsigned> after;
  std::thread t([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(shard_cpu, &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof(one), &one), 0);
    auto c = Client::connect(d.client_options());
    ASSERT_TRUE(c) << c.message();
    EXPECT_FALSE(c->keep_off_daemon_cpu());  // nowhere else to go
    EXPECT_FALSE(c->single(Nop{}));          // and its IO still works, sleeping while the shard runs
    after = my_cpus();
  });
  t.join();
  EXPECT_EQ(after, std::set<unsigned>{shard_cpu});
}

TEST(CpuPlacement, ACpuTheDaemonMayNotUseStopsItAtStartWithTheReason) {
  char tmpl[] = "/tmp/aiod-test-cpus-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const CommandResult r = run_command(
      {AIOD_DAEMON_PATH, "--socket", std::string(tmpl) + "/s", "--backend", "posix", "--shard-cpus", "4095"},
      std::chrono::seconds(20), true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("shard-cpus: cannot run shard 0 on CPU 4095"), std::string::npos) << r.out;
  const CommandResult bad = run_command(
      {AIOD_DAEMON_PATH, "--socket", std::string(tmpl) + "/s", "--shard-cpus", "3-1"}, std::chrono::seconds(20), true);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("must be a CPU list"), std::string::npos) << bad.out;
  ::rmdir(tmpl);
}

}  // namespace
}  // namespace aiod::test
