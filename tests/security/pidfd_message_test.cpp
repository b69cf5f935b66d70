// SPDX-License-Identifier: MIT
// A client's own socket with SO_PASSPIDFD (Linux 6.5), registered with aiod:
// every message RECV_MSG receives on it makes the kernel install a pidfd of
// the sender in the receiving process, which is the daemon, and write its
// number in an SCM_PIDFD control message. Those descriptors must not stay in
// the daemon (a client could repeat until the daemon's table is full), and
// their numbers, which are the daemon's, must not reach the client.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

// Not in every C library's headers yet.
constexpr int kSoPassPidfd = 76;
constexpr int kScmPidfd = 0x04;

std::size_t count_fds(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

bool kernel_has_pass_pidfd() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  const int on = 1;
  const bool ok = ::setsockopt(sv[0], SOL_SOCKET, kSoPassPidfd, &on, sizeof(on)) == 0;
  ::close(sv[0]);
  ::close(sv[1]);
  return ok;
}

// ATTACK: nobody sets SO_PASSPIDFD on its own datagram socket, registers it,
// and receives through aiod, again and again, datagrams that each carry a
// descriptor (SCM_RIGHTS) as well. Each receive installs a pidfd in the daemon.
// Safe: the daemon holds no more descriptors once the session has ended; the
// client finds no SCM_PIDFD (MSG_CTRUNC says control data was left out), and
// the SCM_RIGHTS beside it still arrives as a handle.
TEST(PassPidfd, RecvMsgLeavesNoPidfdInTheDaemon) {
  AIOD_SEC_REQUIRE_ROOT();
  if (!kernel_has_pass_pidfd()) GTEST_SKIP() << "SO_PASSPIDFD is not supported here (Linux 6.5)";
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  constexpr int kRounds = 64;
  const std::size_t before = count_fds(daemon.pid());
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    const int on = 1;
    ch.put(::setsockopt(sv[0], SOL_SOCKET, kSoPassPidfd, &on, sizeof(on)) == 0 ? 0 : errno);
    auto h = c->register_fd(sv[0]);
    ch.put(h ? 0 : code(h.error()));
    if (!h) return;
    const int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int failed = 0, pidfds = 0, ctrunc = 0, handles = 0;
    for (int i = 0; i < kRounds; ++i) {
      char data[] = "x";
      iovec iov{data, 1};
      alignas(cmsghdr) unsigned char ctl[CMSG_SPACE(sizeof(int))] = {};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = ctl;
      m.msg_controllen = sizeof(ctl);
      cmsghdr* cm = CMSG_FIRSTHDR(&m);
      cm->cmsg_len = CMSG_LEN(sizeof(int));
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      std::memcpy(CMSG_DATA(cm), &passed, sizeof(int));
      if (::sendmsg(sv[1], &m, 0) < 0) break;
      char rbuf[8];
      iovec riov{rbuf, sizeof(rbuf)};
      alignas(cmsghdr) unsigned char rctl[2 * CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(ucred))] = {};
      msghdr r{};
      r.msg_iov = &riov;
      r.msg_iovlen = 1;
      r.msg_control = rctl;
      r.msg_controllen = sizeof(rctl);
      std::size_t n = 0;
      if (c->single(RecvMsg{.socket = *h, .msg = &r, .out_read = &n})) {
        ++failed;
        continue;
      }
      if ((r.msg_flags & MSG_CTRUNC) != 0) ++ctrunc;
      for (cmsghdr* rc = CMSG_FIRSTHDR(&r); rc != nullptr; rc = CMSG_NXTHDR(&r, rc)) {
        if (rc->cmsg_level != SOL_SOCKET) continue;
        int v;
        std::memcpy(&v, CMSG_DATA(rc), sizeof(v));
        if (rc->cmsg_type == kScmPidfd) {
          if (pidfds++ == 0) ch.note("SCM_PIDFD after RECV_MSG: " + std::to_string(v));
        } else if (rc->cmsg_type == SCM_RIGHTS && v != 0) {
          ++handles;
        }
      }
    }
    ch.put(failed);
    ch.put(pidfds);
    ch.put(ctrunc);
    ch.put(handles);
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 7u) << o.describe();
  ASSERT_EQ(o.values[0], 0) << o.describe();
  ASSERT_EQ(o.values[1], 0) << "nobody's own SO_PASSPIDFD: " << o.describe();
  ASSERT_EQ(o.values[2], 0) << o.describe();
  EXPECT_EQ(o.values[3], 0) << "RECV_MSG failed: " << o.describe();
  // The session is over: whatever the daemon still holds beyond its start is leaked.
  std::size_t after = 0;
  for (int i = 0; i < 50; ++i) {
    after = count_fds(daemon.pid());
    if (after < before + kRounds / 2) break;
    std::this_thread::sleep_for(20ms);
  }
  std::cout << "[ evidence ] daemon fds before " << before << ", after the session ended " << after << "; "
            << o.describe() << "\n";
  EXPECT_LT(after, before + kRounds / 2) << "the daemon kept " << (after - before)
                                         << " pidfds that a nobody client's receives installed in it";
  EXPECT_EQ(o.values[4], 0) << "the client saw SCM_PIDFD messages carrying the daemon's descriptor numbers";
  EXPECT_EQ(o.values[5], kRounds) << "MSG_CTRUNC should say a control message was left out";
  EXPECT_EQ(o.values[6], kRounds) << "the SCM_RIGHTS beside the pidfd should still arrive as a handle";
}

}  // namespace
}  // namespace aiod::test::sec
