// SPDX-License-Identifier: MIT
// Smaller rules: socket files a client binds are never more open than its
// umask allows; CHILD_EXIT's close flag closes only after a wait that did its
// job.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "aiod_shm.h"
#include "raw_session.hpp"
#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

constexpr mode_t kClientUmask = 027;

// BIND of an AF_UNIX path, through aiod, as nobody with umask 027; puts the
// error of each bind, then 0.
void bind_sockets(Channel& ch, const ClientOptions& options, const std::vector<std::string>& paths) {
  auto c = Client::connect(options);
  ch.put(c ? 0 : code(c.error()));
  if (!c) return;
  for (const std::string& path : paths) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    Handle s;
    std::error_code ec = c->single(Socket{.domain = AF_UNIX, .type = SOCK_STREAM, .out_socket = &s});
    if (!ec) ec = c->single(Bind{.socket = s, .addr = reinterpret_cast<sockaddr*>(&addr), .addrlen = sizeof(addr)});
    ch.put(code(ec));
    if (s) (void)c->single(CloseSocket{.socket = s});
  }
}

// The threat: a socket file that another user can connect to (mode 0777)
// lets that user talk to the client's server, which trusts its file
// permissions. A client binding with umask 027 gets a socket file of mode
// 0750, as its own bind(2) would give; the daemon (umask 0) must not leave it
// 0777.
TEST(BindUmask, TheSocketFileEndsWithTheClientsUmask) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string w = make_dir(daemon.directory(), "w", 0777);
  const std::string path = w + "/server.sock";
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({.umask = kClientUmask}, [&](Channel& ch) { bind_sockets(ch, options, {path}); });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values, (std::vector<std::int64_t>{0, 0})) << o.describe();
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0777 & ~kClientUmask) << std::oct << "mode 0" << (st.st_mode & 07777);
  EXPECT_EQ(st.st_uid, kNobody);
}

// The same threat, during the bind: the daemon creates the socket file with
// its own umask (0), so it exists with mode 0777 before the daemon narrows
// it — long enough for another user to connect. A watcher (root, in this
// process) spins on stat() of each path the client is about to bind and
// records the first mode it sees; none may be wider than 0777 & ~umask.
TEST(BindUmask, TheSocketFileIsNeverMoreOpenThanTheClientsUmask) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string w = make_dir(daemon.directory(), "w", 0777);
  constexpr int kBinds = 200;
  std::vector<std::string> paths;
  for (int i = 0; i < kBinds; ++i) paths.push_back(w + "/s" + std::to_string(i));
  const ClientOptions options = daemon.client_options();
  UserProcess client({.umask = kClientUmask}, [&](Channel& ch) {
    if (!ch.wait_for_parent(30s)) return;
    bind_sockets(ch, options, paths);
  });
  std::vector<int> first_mode(kBinds, -1);
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < kBinds && !stop.load(std::memory_order_relaxed); ++i) {
      struct stat st {};
      while (::lstat(paths[i].c_str(), &st) != 0) {
        if (stop.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() > deadline) return;
      }
      first_mode[i] = static_cast<int>(st.st_mode & 07777);
    }
  });
  client.release();
  const Outcome& o = client.finish(60s);
  stop = true;
  watcher.join();
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 1u + kBinds) << o.describe();
  for (std::size_t i = 0; i < o.values.size(); ++i) ASSERT_EQ(o.values[i], 0) << o.describe();
  int seen = 0, wider = 0, example = -1;
  for (int i = 0; i < kBinds; ++i) {
    if (first_mode[i] < 0) continue;
    ++seen;
    if ((first_mode[i] & ~static_cast<int>(0777 & ~kClientUmask)) != 0) {
      ++wider;
      example = first_mode[i];
    }
  }
  EXPECT_GT(seen, 0) << "the watcher saw none of the socket files";
  EXPECT_EQ(wider, 0) << wider << " of " << seen << " socket files were first seen with more than mode 0" << std::oct
                      << (0777 & ~kClientUmask) << " (e.g. 0" << example << ")";
}

// --- CHILD_EXIT ---------------------------------------------------------------------------

// The threat: an op that did not do its job must leave the client's handles
// as they were. CHILD_EXIT with AIOD_CHILD_EXIT_CLOSE closes its pidfd handle
// even when the wait was cancelled or timed out: the client loses a handle
// it still names (and whose slot a later handle may take), with the child
// still running and no way left to wait for it.

// A child that runs until the test ends it; its pidfd.
struct Sleeper {
  pid_t pid = -1;
  int pidfd = -1;
  int hold = -1;  // closing it ends the child
  Sleeper() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::close(p[1]);
      char c;
      pollfd pf{p[0], POLLIN, 0};
      (void)::poll(&pf, 1, 60'000);  // bounded: the test never takes a minute
      (void)!::read(p[0], &c, 1);
      ::_exit(0);
    }
    ::close(p[0]);
    hold = p[1];
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  }
  ~Sleeper() {
    if (hold >= 0) ::close(hold);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (pidfd >= 0) ::close(pidfd);
  }
};

aiod_sqe child_exit_sqe(std::uint32_t handle, std::uint64_t user_data, std::uint8_t flags = 0) {
  aiod_sqe s{};
  s.opcode = AIOD_OP_CHILD_EXIT;
  s.flags = flags;
  s.handle = handle;
  s.op_flags = AIOD_CHILD_EXIT_CLOSE;
  s.user_data = user_data;
  return s;
}

// STATX of the handle itself: 0 while it is open, -EBADF once closed.
int handle_state(RawSession& rs, std::uint32_t handle) {
  aiod_sqe s{};
  s.opcode = AIOD_OP_STATX;
  s.handle = handle;
  s.op_flags = AT_EMPTY_PATH;
  s.mode = STATX_BASIC_STATS;
  s.addr2 = 0;  // the struct statx goes to the start of the arena
  s.len2 = 256;
  s.user_data = 99;
  rs.push(s);
  rs.publish();
  const auto c = rs.wait(1);
  return c.size() == 1 ? c[0].res : -ETIMEDOUT;
}

TEST(ChildExit, ACancelledWaitKeepsItsHandle) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  Sleeper child;
  ASSERT_GE(child.pidfd, 0);
  RawSession rs(daemon.socket_path());
  ASSERT_TRUE(rs.ok()) << rs.error();
  const auto h = rs.register_fd(child.pidfd);
  ASSERT_TRUE(h);
  ASSERT_EQ(handle_state(rs, *h), 0) << "the pidfd handle is not usable to begin with";
  rs.push(child_exit_sqe(*h, 1));
  aiod_sqe cancel{};
  cancel.opcode = AIOD_OP_CANCEL;
  cancel.off = 1;
  cancel.user_data = 2;
  rs.push(cancel);
  rs.publish();
  const auto done = rs.wait(2);
  ASSERT_EQ(done.size(), 2u);
  for (const aiod_cqe& c : done) {
    if (c.user_data == 1) {
      EXPECT_EQ(c.res, -ECANCELED) << "the wait was not cancelled";
    }
    if (c.user_data == 2) {
      ASSERT_EQ(c.res, 0) << "the cancel did not find the wait";
    }
  }
  EXPECT_EQ(handle_state(rs, *h), 0) << "a cancelled CHILD_EXIT closed its pidfd handle";
}

TEST(ChildExit, AWaitEndedByItsLinkTimeoutKeepsItsHandle) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  Sleeper child;
  ASSERT_GE(child.pidfd, 0);
  RawSession rs(daemon.socket_path());
  ASSERT_TRUE(rs.ok()) << rs.error();
  const auto h = rs.register_fd(child.pidfd);
  ASSERT_TRUE(h);
  ASSERT_EQ(handle_state(rs, *h), 0);
  rs.push(child_exit_sqe(*h, 1, AIOD_SQE_LINK));
  aiod_sqe timeout{};
  timeout.opcode = AIOD_OP_LINK_TIMEOUT;
  timeout.off = 50'000'000;  // 50 ms: the child runs on
  timeout.user_data = 2;
  rs.push(timeout);
  rs.publish();
  const auto done = rs.wait(2);
  ASSERT_EQ(done.size(), 2u);
  for (const aiod_cqe& c : done) {
    if (c.user_data == 1) {
      ASSERT_EQ(c.res, -ECANCELED) << "the wait did not end by its timeout";
    }
    if (c.user_data == 2) {
      EXPECT_EQ(c.res, -ETIME);
    }
  }
  EXPECT_EQ(handle_state(rs, *h), 0) << "a CHILD_EXIT ended by its link timeout closed its pidfd handle";
  // The control: a wait that does its job still closes the handle.
  rs.push(child_exit_sqe(*h, 3));
  rs.publish();
  ::close(child.hold);
  child.hold = -1;
  const auto exited = rs.wait(1);
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0].res, 0);
  EXPECT_EQ(handle_state(rs, *h), -EBADF) << "the close flag no longer closes after a successful wait";
}

}  // namespace
}  // namespace aiod::test::sec
