// SPDX-License-Identifier: MIT
// A pipe's read takes the pipe's mutex even when told not to block
// (RWF_NOWAIT, io_uring's inline try), and a client can hold that mutex for
// as long as it likes: a blocking splice from an idle socket into the pipe
// keeps it while it waits for data. A read of that pipe tried on the shard
// thread would stop every session of the shard. Another client must be
// served while the hostile one holds its pipe's mutex.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "raw_session.hpp"
#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

// Whether thread `tid` of this process sleeps in system call `nr`.
bool sleeps_in(pid_t tid, long nr) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long current = -1;
  return static_cast<bool>(in >> current) && current == nr;
}

TEST(PipeStall, AClientHoldingItsPipesMutexDoesNotStallOtherSessions) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  // An idle loopback connection to splice from: no data ever comes.
  const UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const UniqueFd near(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(near.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const UniqueFd far(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(far);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const UniqueFd pipe_r(p[0]), pipe_w(p[1]);

  RawSession hostile(daemon.socket_path());
  ASSERT_TRUE(hostile.ok()) << hostile.error();
  const auto handle = hostile.register_fd(pipe_r.get());
  ASSERT_TRUE(handle);
  auto victim = Client::connect(daemon.client_options());
  ASSERT_TRUE(victim) << victim.message();

  // The splice holds the pipe's mutex while it waits on the socket.
  std::atomic<pid_t> splicer_tid{0};
  std::thread splicer([&] {
    splicer_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    (void)::splice(far.get(), nullptr, pipe_w.get(), nullptr, 4096, 0);
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (splicer_tid == 0 || !sleeps_in(splicer_tid, SYS_splice)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the splice never blocked";
    std::this_thread::yield();
  }

  // The hostile read, consumed by the daemon before the victim asks.
  aiod_sqe read{};
  read.opcode = AIOD_OP_READ;
  read.handle = *handle;
  read.off = AIOD_OFFSET_CURRENT;
  read.len = 8;
  read.user_data = 1;
  hostile.push(read);
  hostile.publish();
  while (std::atomic_ref<std::uint32_t>(hostile.header()->sq_head).load(std::memory_order_acquire) != 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the daemon never took the read";
    std::this_thread::yield();
  }

  auto served = std::async(std::launch::async, [&] { return !victim->single(Nop{}); });
  const bool in_time = served.wait_for(10s) == std::future_status::ready;
  EXPECT_TRUE(in_time) << "another session was not served while a client held its pipe's mutex";
  // Let go: data on the socket ends the splice and frees the mutex.
  ASSERT_EQ(::write(near.get(), "x", 1), 1);
  splicer.join();
  EXPECT_TRUE(served.get());
  EXPECT_EQ(hostile.wait(1).size(), 1u) << "the pipe's read never completed";
}

}  // namespace
}  // namespace aiod::test::sec
