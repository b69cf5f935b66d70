// SPDX-License-Identifier: MIT
// Regression tests, each named after the bug it guards against.
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "op_fixture.hpp"
#include "raw_session.hpp"

namespace aiod::test {
namespace {

using namespace std::chrono_literals;
using Regression = OpTest;

// SEND_MSG trusted each control message's length and read (and wrote) past
// the daemon's copy of the control data.
TEST_F(Regression, SendMsgControlLengthBeyondTheBufferIsEinval) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  auto h = client_->register_fd(sv[0]);
  ASSERT_TRUE(h);
  char byte = 'x';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = 4096;  // far more than the buffer holds
  EXPECT_EQ(client_->single(SendMsg{.socket = *h, .msg = &msg}), sys(EINVAL));
  EXPECT_FALSE(client_->single(Nop{}));
  ::close(sv[0]);
  ::close(sv[1]);
}

// A CANCEL chose its target when consumed, not when it ran: by then the
// target's record could serve another op, which the CANCEL cancelled.
TEST_F(Regression, CancelRunsAgainstWhatIsLiveWhenItRuns) {
  Dynamic q(*client_, 8);
  OpId target;
  std::error_code target_error, cancel_error, other_error;
  ASSERT_FALSE(q.queue(Timeout{.duration = 10ms, .out_error = &target_error, .out_id = &target}));
  ASSERT_FALSE(
      q.queue(Timeout{.duration = 100ms, .link = Link::soft}, Cancel{.id = target, .out_error = &cancel_error}));
  // Wait for the target to finish, then start another op, which takes the
  // target's freed record.
  while (q.outstanding() > 2) ASSERT_TRUE(q.complete(CompletionMode::blocking));
  ASSERT_FALSE(q.queue(Timeout{.duration = 200ms, .out_error = &other_error}));
  ASSERT_TRUE(q.complete_all());
  EXPECT_FALSE(target_error);
  EXPECT_EQ(cancel_error, sys(ENOENT));
  EXPECT_FALSE(other_error) << "the cancel hit an op it never named";
}

// A CANCEL that its broken chain cancelled still cancelled its target.
TEST_F(Regression, CancelledCancelCancelsNothing) {
  Dynamic q(*client_, 8);
  OpId target;
  std::error_code target_error, cancel_error;
  ASSERT_FALSE(q.queue(Timeout{.duration = 150ms, .out_error = &target_error, .out_id = &target}));
  ASSERT_FALSE(q.queue(Fsync{.file = Handle{}, .link = Link::soft}, Cancel{.id = target, .out_error = &cancel_error}));
  ASSERT_TRUE(q.complete_all());
  EXPECT_EQ(cancel_error, sys(ECANCELED));
  EXPECT_FALSE(target_error);
}

// An eventfd's 8 bytes, reported as 0, counted as a short transfer: a
// soft-linked notify or wait always broke its chain.
TEST_F(Regression, EventSourceOpsKeepTheirChainGoing) {
  auto es = EventSource::create(*client_);
  ASSERT_TRUE(es);
  std::error_code last;
  ASSERT_FALSE(client_->multi(NotifyEventSource{.source = es->handle(), .link = Link::soft},
                              WaitEventSource{.source = es->handle(), .link = Link::soft}, Nop{.out_error = &last}));
  EXPECT_FALSE(last);
}

// A short READV did not break its soft link (only READ/WRITE were checked).
TEST_F(Regression, ShortReadvBreaksASoftChain) {
  const Handle f = open(path("short-v"), O_RDWR | O_CREAT, 0600);
  ASSERT_FALSE(client_->single(Write{.file = f, .buffer = "abc", .offset = 0}));
  char a[2], b[8];
  const iovec iov[] = {{a, sizeof(a)}, {b, sizeof(b)}};
  std::error_code next;
  auto r = client_->complete(Readv{.file = f, .iov = iov, .offset = 0, .link = Link::soft}, Nop{.out_error = &next});
  ASSERT_TRUE(r);
  EXPECT_EQ(next, sys(ECANCELED));
}

// A published chain without its end kept the shard spinning for it.
TEST_F(Regression, UnfinishedChainLetsTheDaemonSleep) {
  RawSession raw(daemon_.socket_path());
  ASSERT_TRUE(raw.ok());
  aiod_sqe nop{};
  nop.opcode = AIOD_OP_NOP;
  nop.flags = AIOD_SQE_LINK;  // the rest of the chain never comes
  raw.push(nop);
  raw.publish();
  auto cpu = [&] {
    std::ifstream stat("/proc/" + std::to_string(daemon_.pid()) + "/stat");
    std::string s((std::istreambuf_iterator<char>(stat)), {});
    std::istringstream fields(s.substr(s.rfind(')') + 2));
    std::string f;
    long ticks = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14 || i == 15) ticks += std::stol(f);  // utime, stime
    }
    return ticks;
  };
  const long before = cpu();
  std::this_thread::sleep_for(1s);  // the interval measured, not synchronisation
  const long used = cpu() - before;
  EXPECT_LT(used, 30) << "the daemon burnt " << used << " of 100 ticks waiting for a chain's end";
}

// Socket files got mode 0777: the daemon's umask (0), not the client's.
TEST_F(Regression, BoundSocketFileHasTheClientsUmask) {
  const mode_t old = ::umask(027);
  auto c = Client::connect(daemon_.client_options());
  ::umask(old);
  ASSERT_TRUE(c);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path("bound.sock");
  std::strcpy(addr.sun_path, p.c_str());
  Handle s;
  ASSERT_FALSE(c->single(Socket{.domain = AF_UNIX, .type = SOCK_STREAM, .out_socket = &s}));
  ASSERT_FALSE(c->single(Bind{.socket = s, .addr = reinterpret_cast<sockaddr*>(&addr), .addrlen = sizeof(addr)}));
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

// UnregisterHandles closed the valid handles of a request it refused.
TEST_F(Regression, UnregisterIsAllOrNothing) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto h = client_->register_fd(p[1]);
  ASSERT_TRUE(h);
  const Handle both[] = {*h, Handle{0x7ff00003}};
  EXPECT_EQ(client_->unregister(both), make_error_code(errc::rejected));
  EXPECT_FALSE(client_->single(Write{.file = *h, .buffer = "still open"}));
  ::close(p[0]);
  ::close(p[1]);
}

// STATX of the cwd itself (empty path, AT_EMPTY_PATH) was EBADF.
TEST_F(Regression, StatxOfTheCwdItself) {
  struct statx sx {};
  ASSERT_FALSE(client_->single(Statx{.path = "", .flags = AT_EMPTY_PATH, .mask = STATX_TYPE, .out_statx = &sx}));
  EXPECT_TRUE(S_ISDIR(sx.stx_mode));
}

// OPENAT2 of an absolute path with RESOLVE_BENEATH was EINVAL, not EXDEV.
TEST_F(Regression, Openat2AbsoluteBeneathIsExdev) {
  Handle f;
  EXPECT_EQ(client_->single(OpenAt2{.path = "/etc/hostname", .resolve = RESOLVE_BENEATH, .out_file = &f}), sys(EXDEV));
}

// A link timeout guarding another link timeout passed validation.
TEST_F(Regression, LinkTimeoutCannotGuardALinkTimeout) {
  std::error_code second;
  auto r =
      client_->complete(Timeout{.duration = 1ms, .link = Link::soft}, LinkTimeout{.duration = 1s, .link = Link::soft},
                        LinkTimeout{.duration = 1s, .out_error = &second});
  ASSERT_TRUE(r);
  EXPECT_EQ(second, sys(EINVAL));
}

// Event loops polling completion_fd() hung when the daemon died.
TEST(RegressionLifecycle, EventLoopLearnsOfTheDaemonsDeath) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  auto c = Client::connect(daemon.client_options());
  ASSERT_TRUE(c);
  Dynamic q(*c, 4);
  ASSERT_FALSE(q.queue(Timeout{.duration = 30s}));
  ASSERT_TRUE(q.complete(CompletionMode::nonblocking));
  ASSERT_FALSE(c->arm_completion_fd());
  daemon.signal(SIGKILL);
  pollfd p{c->completion_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the completion fd stayed quiet after the daemon died";
  EXPECT_TRUE(c->arm_completion_fd());
  auto r = q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->num_errors, 1u);  // the timeout, abandoned with daemon_gone
  EXPECT_EQ(q.complete(CompletionMode::nonblocking).error(), make_error_code(errc::daemon_gone));
  ASSERT_TRUE(daemon.wait_exit(5s));
}

// The stats reply outgrew one datagram with a few hundred sessions.
TEST(RegressionScale, ClientsListsSixHundredSessions) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 8192);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 4000) GTEST_SKIP() << "needs ~4000 descriptors";
  DaemonProcess daemon({"--max-sessions-per-uid", "1000"});  // one uid: its share must hold them all
  ASSERT_TRUE(daemon.running());
  ClientOptions o = daemon.client_options();
  o.sq_entries = 8;
  o.arena_bytes = 4096;
  std::vector<Client> clients;
  for (int i = 0; i < 600; ++i) {
    auto c = Client::connect(o);
    ASSERT_TRUE(c) << i << ": " << c.message();
    clients.push_back(std::move(*c));
  }
  const CommandResult r = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "clients"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(static_cast<int>(std::count(r.out.begin(), r.out.end(), '\n')), 601) << "a header and 600 sessions";
  const CommandResult j = run_command({AIOCTL_PATH, "--socket", daemon.socket_path(), "stats", "--json"});
  ASSERT_EQ(j.exit_code, 0);
  std::size_t n = 0;
  for (std::size_t pos = 0; (pos = j.out.find("\"pid\":", pos)) != std::string::npos; ++pos) ++n;
  EXPECT_EQ(n, 600u);
}

}  // namespace
}  // namespace aiod::test
