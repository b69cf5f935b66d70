// SPDX-License-Identifier: MIT
// Unit tests of the posix backend (daemon/backend/posix_*): every op kind as
// blocking system calls, timers, cancellation of queued, running and finished
// ops, link timeouts both ways, personalities, and the invariant the
// daemon rests on — every op completes exactly once — under races.
//
// Waits are bounded (kLimit) and fail the test clearly; nothing sleeps to
// synchronise.
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.hpp"
#include "backend/posix/posix_backend.hpp"
#include "os/peer_creds.hpp"

namespace aiod::daemon {
namespace {

using namespace std::chrono_literals;
using posix::PosixBackend;

constexpr auto kLimit = 5s;

// Records every result it is given; `count` > 1 is the bug these tests hunt.
struct Recorder final : Completion {
  void complete(int res) override {
    ++count;
    result = res;
  }
  int count = 0;
  int result = 0;
};

class PosixBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { make(); }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void make(unsigned max_workers = PosixBackend::kMaxWorkers,
            std::chrono::milliseconds idle_exit = PosixBackend::kIdleExit) {
    backend_.reset();
    backend_ = std::make_unique<PosixBackend>(64, max_workers, idle_exit);
    std::string error;
    ASSERT_EQ(backend_->init(error), 0) << error;
  }
  // Drives the backend as a shard does until `done` holds; false on timeout.
  bool run_until(const std::function<bool()>& done, std::chrono::nanoseconds limit = kLimit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      backend_->flush();
      backend_->drain();
      if (done()) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      backend_->wait(10ms);
    }
  }
  bool finish(Recorder& r) {
    return run_until([&] { return r.count > 0; });
  }
  bool finish(Recorder& a, Recorder& b) {
    return run_until([&] { return a.count > 0 && b.count > 0; });
  }
  int run(const BackendOp& op) {
    Recorder r;
    EXPECT_EQ(backend_->prepare(op, &r), 0);
    EXPECT_TRUE(finish(r)) << "op " << static_cast<int>(op.opcode()) << " did not complete";
    EXPECT_EQ(r.count, 1);
    return r.result;
  }
  void socketpair(int type, int (&sv)[2]) {
    ASSERT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
    fds_.push_back(sv[0]);
    fds_.push_back(sv[1]);
  }
  const std::string& dir() {
    if (dir_.empty()) {
      char tmpl[] = "/tmp/aiod-posix-XXXXXX";
      dir_ = ::mkdtemp(tmpl);
    }
    return dir_;
  }
  int dir_fd() {
    const int fd = ::open(dir().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    fds_.push_back(fd);
    return fd;
  }
  static BackendOp recv_op(int fd, void* buf, std::uint32_t len) {
    return BackendOp(op::Recv{.fd = fd, .buf = buf, .len = len});
  }
  static BackendOp send_op(int fd, const void* buf, std::uint32_t len) {
    return BackendOp(op::Send{.fd = fd, .buf = buf, .len = len});
  }
  static BackendOp timer_op(const __kernel_timespec& ts) { return BackendOp(op::Timeout{.ts = &ts}); }
  static BackendOp link_timer_op(const __kernel_timespec& ts) { return BackendOp(op::LinkTimeout{.ts = &ts}); }
  static BackendOp cancel_op(Completion* target) { return BackendOp(op::Cancel{.target = target}); }
  static BackendOp mkdirat_op(int parent, const char* path, int personality = 0) {
    BackendOp op(op::Mkdirat{.dir = parent, .path = path, .mode = 0755});
    op.personality = static_cast<std::uint16_t>(personality);
    return op;
  }
  // Stages every op, hands them to the workers at once, and waits until all
  // of them are running (blocked in a system call, for ops that block).
  void start_blocked(std::initializer_list<std::pair<BackendOp, Recorder*>> ops) {
    for (const auto& [op, r] : ops) ASSERT_EQ(backend_->prepare(op, r), 0);
    backend_->flush();
    ASSERT_TRUE(wait_running(static_cast<unsigned>(ops.size())));
  }
  // Stages `op` linked (`link`) to a link_timeout of `ts`; `t` gets the timer's result.
  void prepare_linked(BackendOp op, Link link, const __kernel_timespec& ts, Recorder& r, Recorder& t) {
    op.link = link;
    ASSERT_EQ(backend_->prepare(op, &r), 0);
    ASSERT_EQ(backend_->prepare(link_timer_op(ts), &t), 0);
  }
  // The same, run until the op and its timer have both completed.
  void run_linked(const BackendOp& op, Link link, const __kernel_timespec& ts, Recorder& r, Recorder& t) {
    ASSERT_NO_FATAL_FAILURE(prepare_linked(op, link, ts, r, t));
    ASSERT_TRUE(finish(r, t));
  }
  // For the personality tests: a directory anyone may write in, holding
  // "rootonly" that only its owner may.
  void make_shared_dir_with_rootonly() {
    ::chmod(dir().c_str(), 0777);
    ASSERT_EQ(::mkdir((dir() + "/rootonly").c_str(), 0700), 0);
  }
  bool wait_running(unsigned n) {
    const auto deadline = std::chrono::steady_clock::now() + kLimit;
    while (backend_->running_ops() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  std::unique_ptr<PosixBackend> backend_;
  std::vector<int> fds_;
  std::string dir_;
};

TEST_F(PosixBackendTest, ReportsItsNameAndNativeLinks) {
  EXPECT_EQ(backend_->info().name, "posix");
  EXPECT_TRUE(backend_->info().linked_timeouts);
  for (unsigned i = 0; i < static_cast<unsigned>(BackendOpcode::count); ++i) {
    EXPECT_TRUE(backend_->supports(static_cast<BackendOpcode>(i)));
  }
  EXPECT_EQ(backend_->space(), 64u);
}

TEST_F(PosixBackendTest, NopCompletesWithoutAWorker) {
  BackendOp op;
  EXPECT_EQ(run(op), 0);
  EXPECT_EQ(backend_->worker_threads(), 0u);
}

TEST_F(PosixBackendTest, SpaceCountsStagedOpsAndRefusesBeyondIt) {
  std::vector<Recorder> rs(65);
  BackendOp op;
  for (int i = 0; i < 64; ++i) ASSERT_EQ(backend_->prepare(op, &rs[i]), 0);
  EXPECT_EQ(backend_->space(), 0u);
  EXPECT_EQ(backend_->prepare(op, &rs[64]), -EAGAIN);
  EXPECT_EQ(backend_->flush(), 64);
  EXPECT_EQ(backend_->space(), 64u);
  EXPECT_EQ(backend_->drain(), 64);
}

TEST_F(PosixBackendTest, FileOps) {
  const int d = dir_fd();
  open_how how{};
  how.flags = O_RDWR | O_CREAT | O_CLOEXEC;
  how.mode = 0600;
  const int fd = run(BackendOp(op::Openat2{.dir = d, .path = "f", .how = &how}));
  ASSERT_GE(fd, 0);

  char text[] = "hello world";
  EXPECT_EQ(run(BackendOp(op::Write{.fd = fd, .buf = text, .len = 11, .offset = 0})), 11);

  char a[5] = {}, b[6] = {};
  iovec iov[2] = {{a, 5}, {b, 6}};
  EXPECT_EQ(run(BackendOp(op::Readv{.fd = fd, .iov = iov, .count = 2, .offset = 0})), 11);
  EXPECT_EQ(std::string(a, 5), "hello");
  EXPECT_EQ(std::string(b, 6), " world");

  EXPECT_EQ(run(BackendOp(op::Writev{.fd = fd, .iov = iov, .count = 2, .offset = 11})), 11);

  char buf[32] = {};
  EXPECT_EQ(run(BackendOp(op::Read{.fd = fd, .buf = buf, .len = sizeof(buf), .offset = 6})), 16);

  for (bool datasync : {false, true}) {
    EXPECT_EQ(run(BackendOp(op::Fsync{.fd = fd, .datasync = datasync})), 0);
  }
  EXPECT_EQ(run(BackendOp(op::Fallocate{.fd = fd, .offset = 0, .length = 4096})), 0);
  EXPECT_EQ(run(BackendOp(op::Fadvise{.fd = fd, .advice = POSIX_FADV_SEQUENTIAL})), 0);
  // posix_fadvise returns its error instead of setting errno
  EXPECT_EQ(run(BackendOp(op::Fadvise{.fd = fd, .advice = 12345})), -EINVAL);
  EXPECT_EQ(run(BackendOp(op::SyncFileRange{.fd = fd, .len = 0, .flags = SYNC_FILE_RANGE_WRITE})), 0);
  EXPECT_EQ(run(BackendOp(op::Ftruncate{.fd = fd, .length = 100})), 0);

  struct statx stx {};
  EXPECT_EQ(run(BackendOp(op::Statx{.dir = d, .path = "f", .mask = STATX_SIZE, .out = &stx})), 0);
  EXPECT_EQ(stx.stx_size, 100u);

  EXPECT_EQ(run(BackendOp(op::Close{.fd = fd})), 0);
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

TEST_F(PosixBackendTest, DirectoryOps) {
  const int d = dir_fd();
  BackendOp op = mkdirat_op(d, "sub");
  EXPECT_EQ(run(op), 0);
  EXPECT_EQ(run(op), -EEXIST);

  EXPECT_EQ(run(BackendOp(op::Symlinkat{.target = "sub", .dir = d, .link_path = "link"})), 0);

  EXPECT_EQ(run(BackendOp(op::Renameat{
                .old_dir = d, .old_path = "link", .new_dir = d, .new_path = "link2", .flags = RENAME_NOREPLACE})),
            0);
  EXPECT_TRUE(std::filesystem::is_symlink(dir() + "/link2"));

  EXPECT_EQ(run(BackendOp(op::Unlinkat{.dir = d, .path = "link2"})), 0);
  op = BackendOp(op::Unlinkat{.dir = d, .path = "sub", .flags = AT_REMOVEDIR});
  EXPECT_EQ(run(op), 0);
  EXPECT_EQ(run(op), -ENOENT);
}

TEST_F(PosixBackendTest, SocketOps) {
  const int listener = run(BackendOp(op::Socket{.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC}));
  ASSERT_GE(listener, 0);
  fds_.push_back(listener);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);
  EXPECT_EQ(run(BackendOp(op::Bind{.fd = listener, .addr = sa, .addr_len = sizeof(addr)})), 0);
  socklen_t alen = sizeof(addr);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &alen), 0);
  EXPECT_EQ(run(BackendOp(op::Listen{.fd = listener, .backlog = 8})), 0);

  // accept and connect run at the same time, each on its own worker.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  fds_.push_back(client);
  sockaddr_in peer{};
  socklen_t peer_len = sizeof(peer);
  Recorder accepted, connected;
  const BackendOp accept(op::Accept{
      .fd = listener, .addr = reinterpret_cast<sockaddr*>(&peer), .addr_len = &peer_len, .flags = SOCK_CLOEXEC});
  ASSERT_EQ(backend_->prepare(accept, &accepted), 0);
  // non-blocking: EINPROGRESS, then waited for
  ASSERT_EQ(backend_->prepare(BackendOp(op::Connect{.fd = client, .addr = sa, .addr_len = sizeof(addr)}), &connected),
            0);
  ASSERT_TRUE(finish(accepted, connected));
  ASSERT_GE(accepted.result, 0);
  fds_.push_back(accepted.result);
  EXPECT_EQ(connected.result, 0);
  EXPECT_EQ(peer.sin_family, AF_INET);

  char msg[] = "ping";
  EXPECT_EQ(run(send_op(client, msg, 4)), 4);
  char buf[8] = {};
  EXPECT_EQ(run(recv_op(accepted.result, buf, sizeof(buf))), 4);
  EXPECT_STREQ(buf, "ping");

  EXPECT_EQ(run(BackendOp(op::PollAdd{.fd = client, .events = POLLOUT})) & POLLOUT, POLLOUT);

  EXPECT_EQ(run(BackendOp(op::Shutdown{.fd = client, .how = SHUT_WR})), 0);
  EXPECT_EQ(run(recv_op(accepted.result, buf, sizeof(buf))), 0);  // end of stream
}

TEST_F(PosixBackendTest, MessagesCarryDescriptors) {
  int sv[2];
  socketpair(SOCK_SEQPACKET, sv);
  int passed = ::eventfd(0, EFD_CLOEXEC);
  fds_.push_back(passed);
  char data[] = "x";
  iovec iov{data, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &passed, sizeof(int));
  EXPECT_EQ(run(BackendOp(op::Sendmsg{.fd = sv[0], .msg = &m})), 1);

  char in[4] = {};
  iovec iov_in{in, sizeof(in)};
  alignas(cmsghdr) char control_in[CMSG_SPACE(sizeof(int))] = {};
  msghdr r{};
  r.msg_iov = &iov_in;
  r.msg_iovlen = 1;
  r.msg_control = control_in;
  r.msg_controllen = sizeof(control_in);
  EXPECT_EQ(run(BackendOp(op::Recvmsg{.fd = sv[1], .msg = &r, .flags = MSG_CMSG_CLOEXEC})), 1);
  ASSERT_NE(CMSG_FIRSTHDR(&r), nullptr);
  int got = -1;
  std::memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&r)), sizeof(int));
  EXPECT_GE(got, 0);
  fds_.push_back(got);
}

TEST_F(PosixBackendTest, SpliceMovesBytesBetweenPipes) {
  int in[2], out[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  fds_.insert(fds_.end(), {in[0], in[1], out[0], out[1]});
  ASSERT_EQ(::write(in[1], "abc", 3), 3);
  EXPECT_EQ(run(BackendOp(op::Splice{.in = in[0], .out = out[1], .len = 3})), 3);
  char buf[4] = {};
  EXPECT_EQ(::read(out[0], buf, 3), 3);
  EXPECT_STREQ(buf, "abc");
}

TEST_F(PosixBackendTest, NonBlockingDescriptorIsWaitedForLikeIoUring) {
  const int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  fds_.push_back(efd);
  std::uint64_t value = 0;
  const BackendOp op(op::Read{.fd = efd, .buf = &value, .len = sizeof(value)});
  Recorder r;
  ASSERT_NO_FATAL_FAILURE(start_blocked({{op, &r}}));
  backend_->drain();
  EXPECT_EQ(r.count, 0);  // not -EAGAIN: it waits
  const std::uint64_t three = 3;
  ASSERT_EQ(::write(efd, &three, sizeof(three)), 8);
  ASSERT_TRUE(finish(r));
  EXPECT_EQ(r.result, 8);
  EXPECT_EQ(value, 3u);

  // MSG_DONTWAIT asks for the -EAGAIN itself.
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char buf[1];
  BackendOp dontwait = recv_op(sv[0], buf, 1);
  dontwait.as<op::Recv>().flags = MSG_DONTWAIT;
  EXPECT_EQ(run(dontwait), -EAGAIN);
}

// (A transfer without RWF_NOWAIT, such as the eventfd write that wakes a
// client, is a worker's: PosixTryNow.ATransferWithoutRwfNowaitGoesToAWorker...)
TEST_F(PosixBackendTest, ReadySocketTransfersCompleteWithoutAWorker) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char msg[] = "abc";
  EXPECT_EQ(run(send_op(sv[0], msg, 3)), 3);
  char buf[4] = {};
  EXPECT_EQ(run(recv_op(sv[1], buf, 3)), 3);
  EXPECT_EQ(backend_->worker_threads(), 0u);
}

TEST_F(PosixBackendTest, WaitallReceiveWaitsForEverything) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  ASSERT_EQ(::write(sv[1], "a", 1), 1);
  char buf[2] = {};
  BackendOp op = recv_op(sv[0], buf, 2);
  op.as<op::Recv>().flags = MSG_WAITALL;
  Recorder r;
  ASSERT_NO_FATAL_FAILURE(start_blocked({{op, &r}}));
  backend_->drain();
  EXPECT_EQ(r.count, 0);  // not the one byte that was there
  ASSERT_EQ(::write(sv[1], "b", 1), 1);
  ASSERT_TRUE(finish(r));
  EXPECT_EQ(r.result, 2);
}

TEST_F(PosixBackendTest, TimeoutExpiresWithEtime) {
  const __kernel_timespec ts{0, 20'000'000};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run(timer_op(ts)), -ETIME);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

TEST_F(PosixBackendTest, WaitSleepsUntilTheNearestTimer) {
  const __kernel_timespec ts{0, 30'000'000};
  Recorder r;
  ASSERT_EQ(backend_->prepare(timer_op(ts), &r), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(backend_->wait(std::nullopt), -ETIME);  // no limit given: the timer's is used
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
  EXPECT_EQ(backend_->drain(), 1);
  EXPECT_EQ(r.result, -ETIME);
}

TEST_F(PosixBackendTest, CancelledTimeoutCompletesOnceWithEcanceled) {
  const __kernel_timespec ts{60, 0};
  Recorder timer, cancel;
  ASSERT_EQ(backend_->prepare(timer_op(ts), &timer), 0);
  ASSERT_EQ(backend_->prepare(cancel_op(&timer), &cancel), 0);
  ASSERT_TRUE(finish(timer, cancel));
  EXPECT_EQ(timer.result, -ECANCELED);
  EXPECT_EQ(cancel.result, 0);
  EXPECT_EQ(timer.count, 1);
}

TEST_F(PosixBackendTest, WorkersStartOnDemandAndIdleOnesExit) {
  make(PosixBackend::kMaxWorkers, 20ms);
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char a[1], b[1], c[1];
  Recorder r1, r2, r3;
  // Three receives that block: three workers, or the last would never run.
  ASSERT_NO_FATAL_FAILURE(
      start_blocked({{recv_op(sv[0], a, 1), &r1}, {recv_op(sv[0], b, 1), &r2}, {recv_op(sv[0], c, 1), &r3}}));
  EXPECT_EQ(backend_->worker_threads(), 3u);
  ASSERT_EQ(::write(sv[1], "xyz", 3), 3);
  ASSERT_TRUE(run_until([&] { return r1.count + r2.count + r3.count == 3; }));
  EXPECT_TRUE(run_until([&] { return backend_->worker_threads() == 0; })) << "idle workers did not exit";
}

TEST_F(PosixBackendTest, CancelOfAQueuedOpCompletesItAtOnce) {
  make(1);  // one worker: the second recv must wait in the queue
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char a[1], b[1];
  Recorder running, queued;
  ASSERT_EQ(backend_->prepare(recv_op(sv[0], a, 1), &running), 0);
  ASSERT_EQ(backend_->prepare(recv_op(sv[1], b, 1), &queued), 0);
  backend_->flush();
  ASSERT_TRUE(wait_running(1));
  ASSERT_EQ(backend_->cancel(&queued), 0);
  EXPECT_EQ(backend_->drain(), 1);  // no waiting for any worker
  EXPECT_EQ(queued.count, 1);
  EXPECT_EQ(queued.result, -ECANCELED);
  EXPECT_EQ(running.count, 0);
  ASSERT_EQ(::write(sv[1], "z", 1), 1);
  ASSERT_TRUE(finish(running));
  EXPECT_EQ(running.result, 1);
  EXPECT_EQ(queued.count, 1);
}

TEST_F(PosixBackendTest, CancelOfARunningRecvInterruptsIt) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char buf[1];
  Recorder r, cancel;
  ASSERT_NO_FATAL_FAILURE(start_blocked({{recv_op(sv[0], buf, 1), &r}}));
  ASSERT_EQ(backend_->prepare(cancel_op(&r), &cancel), 0);
  ASSERT_TRUE(finish(r, cancel));
  EXPECT_EQ(r.result, -ECANCELED);
  EXPECT_EQ(cancel.result, 0);
  EXPECT_EQ(backend_->running_ops(), 0u);
}

TEST_F(PosixBackendTest, CancelOfAFinishedOpIsEnoent) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char msg[] = "m";
  Recorder r, cancel;
  ASSERT_EQ(backend_->prepare(send_op(sv[0], msg, 1), &r), 0);
  ASSERT_TRUE(finish(r));
  ASSERT_EQ(backend_->prepare(cancel_op(&r), &cancel), 0);
  ASSERT_TRUE(finish(cancel));
  EXPECT_EQ(cancel.result, -ENOENT);
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.result, 1);
}

TEST_F(PosixBackendTest, LinkTimeoutLosesToItsOp) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  ASSERT_EQ(::write(sv[1], "d", 1), 1);
  char buf[1];
  Recorder r, t;
  ASSERT_NO_FATAL_FAILURE(run_linked(recv_op(sv[0], buf, 1), Link::soft, {60, 0}, r, t));
  EXPECT_EQ(r.result, 1);
  EXPECT_EQ(t.result, -ECANCELED);
}

TEST_F(PosixBackendTest, LinkTimeoutCancelsItsOp) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char buf[1];
  Recorder r, t;
  ASSERT_NO_FATAL_FAILURE(run_linked(recv_op(sv[0], buf, 1), Link::hard, {0, 10'000'000}, r, t));
  EXPECT_EQ(r.result, -ECANCELED);
  EXPECT_EQ(t.result, -ETIME);
}

TEST_F(PosixBackendTest, LinkTimeoutOfANopCompletesAsCancelled) {
  Recorder r, t;
  ASSERT_NO_FATAL_FAILURE(run_linked(BackendOp{}, Link::soft, {60, 0}, r, t));
  EXPECT_EQ(r.result, 0);
  EXPECT_EQ(t.result, -ECANCELED);
}

TEST_F(PosixBackendTest, LinkTimeoutWithoutALinkedOpIsInvalid) {
  const __kernel_timespec ts{0, 1000};
  EXPECT_EQ(run(link_timer_op(ts)), -EINVAL);
}

// The races the invariant must survive: data arriving, a link timeout firing
// and a cancel, all at nearly the same moment.
TEST_F(PosixBackendTest, ExactlyOneCompletionEachUnderRaces) {
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE(round);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    char buf[1];
    const __kernel_timespec ts{0, (round % 7) * 20'000};
    Recorder r, t, c;
    ASSERT_NO_FATAL_FAILURE(prepare_linked(recv_op(sv[0], buf, 1), Link::soft, ts, r, t));
    backend_->flush();
    std::thread writer([&] {
      if (round % 3 != 0) (void)!::write(sv[1], "w", 1);
    });
    if (round % 2 == 0) {
      ASSERT_EQ(backend_->prepare(cancel_op(&r), &c), 0);
    } else {
      c.count = 1;  // no cancel this round
    }
    const bool done = run_until([&] { return r.count > 0 && t.count > 0 && c.count > 0; });
    writer.join();
    ASSERT_TRUE(done);
    // A few more turns: a second completion would show up here.
    for (int i = 0; i < 3; ++i) {
      backend_->flush();
      backend_->drain();
    }
    EXPECT_EQ(r.count, 1);
    EXPECT_EQ(t.count, 1);
    EXPECT_EQ(c.count, 1);
    EXPECT_TRUE(r.result == 1 || r.result == -ECANCELED) << r.result;
    EXPECT_TRUE(t.result == -ETIME || t.result == -ECANCELED) << t.result;
    if (t.result == -ECANCELED) {
      // The timer lost: its op ended first, with data or by the explicit cancel.
      EXPECT_TRUE(r.result == 1 || (round % 2 == 0 && c.result == 0)) << r.result << " " << c.result;
    }
    if (round % 2 == 0) {
      EXPECT_TRUE(c.result == 0 || c.result == -ENOENT) << c.result;
    }
    ::close(sv[0]);
    ::close(sv[1]);
  }
}

TEST_F(PosixBackendTest, ExactlyOneCompletionWhenCancelMeetsFinish) {
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE(round);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    char buf[1];
    Recorder r;
    ASSERT_EQ(backend_->prepare(recv_op(sv[0], buf, 1), &r), 0);
    backend_->flush();
    std::thread writer([&] { (void)!::write(sv[1], "w", 1); });
    ASSERT_EQ(backend_->cancel(&r), 0);
    const bool done = run_until([&] { return r.count > 0; });
    writer.join();
    ASSERT_TRUE(done);
    for (int i = 0; i < 3; ++i) backend_->drain();
    EXPECT_EQ(r.count, 1);
    EXPECT_TRUE(r.result == 1 || r.result == -ECANCELED) << r.result;
    ::close(sv[0]);
    ::close(sv[1]);
  }
}

TEST_F(PosixBackendTest, DestroyingTheBackendInterruptsBlockedOps) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char buf[1];
  Recorder r;
  ASSERT_NO_FATAL_FAILURE(start_blocked({{recv_op(sv[0], buf, 1), &r}}));
  backend_.reset();  // must not hang, and must not deliver
  EXPECT_EQ(r.count, 0);
}

TEST_F(PosixBackendTest, PersonalityRunsOpsUnderTheCapturedIdentity) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to take another identity";
  ASSERT_NO_FATAL_FAILURE(make_shared_dir_with_rootonly());
  const int d = dir_fd();
  PeerCreds nobody;
  nobody.uid = 65534;
  nobody.gid = 65534;
  nobody.groups = {65534};
  const int id = with_peer_identity(nobody, [&] { return backend_->register_personality(); });
  ASSERT_GT(id, 0);
  BackendOp op = mkdirat_op(d, "mine", id);
  EXPECT_EQ(run(op), 0);
  struct stat st {};
  ASSERT_EQ(::stat((dir() + "/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  op.as<op::Mkdirat>().path = "rootonly/x";  // no capability overrides the mode
  EXPECT_EQ(run(op), -EACCES);
  // The worker went back to the daemon's identity.
  op.personality = 0;
  EXPECT_EQ(run(op), 0);
  backend_->unregister_personality(static_cast<std::uint16_t>(id));
  op.personality = static_cast<std::uint16_t>(id);
  Recorder r;
  EXPECT_EQ(backend_->prepare(op, &r), -EINVAL);
}

TEST_F(PosixBackendTest, RootPersonalityWithOtherGroupsHasNoCapabilities) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to take another identity";
  ASSERT_NO_FATAL_FAILURE(make_shared_dir_with_rootonly());
  const int d = dir_fd();
  ASSERT_EQ(::chown((dir() + "/rootonly").c_str(), 65534, 65534), 0);
  PeerCreds root_other;
  root_other.uid = 0;
  root_other.gid = 0;
  root_other.groups = {0, 12345};
  const int id = with_peer_identity(root_other, [&] { return backend_->register_personality(); });
  ASSERT_GT(id, 0);
  BackendOp op = mkdirat_op(d, "rootonly/x", id);
  EXPECT_EQ(run(op), -EACCES);  // CAP_DAC_OVERRIDE would have allowed it
  op.personality = 0;
  EXPECT_EQ(run(op), 0);  // and the worker has it back
}

TEST_F(PosixBackendTest, SyscallsAreCounted) {
  const std::uint64_t before = backend_->syscalls();
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char msg[] = "m";
  EXPECT_EQ(run(send_op(sv[0], msg, 1)), 1);
  EXPECT_GT(backend_->syscalls(), before);
}

}  // namespace
}  // namespace aiod::daemon

namespace aiod::daemon {
namespace {

// Ops that block for ever (receives on idle sockets) of one owner take at
// most its worker share; the owner's others wait outside the pool, another
// owner's op still gets a worker, and a cancel reaches a held-back op.
TEST_F(PosixBackendTest, OneOwnersBlockedOpsKeepToItsWorkerShare) {
  backend_->set_worker_share(2);
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  char buf[8];
  std::array<Recorder, 3> hog;
  for (Recorder& r : hog) {
    BackendOp op = recv_op(sv[0], buf, sizeof(buf));
    op.owner = 1;
    ASSERT_EQ(backend_->prepare(op, &r), 0);
  }
  backend_->flush();
  ASSERT_TRUE(run_until([&] { return backend_->running_ops() == 2; })) << "the owner's share is 2 workers";
  int other[2];
  socketpair(SOCK_STREAM, other);
  ASSERT_EQ(::write(other[1], "x", 1), 1);
  BackendOp mine = recv_op(other[0], buf, 1);
  mine.owner = 2;
  mine.as<op::Recv>().flags = MSG_WAITALL;  // never tried on the calling thread: it needs a worker
  EXPECT_EQ(run(mine), 1) << "another owner's op did not get a worker";
  EXPECT_EQ(backend_->running_ops(), 2u) << "the held-back op reached the pool";
  Recorder cancelled;
  ASSERT_EQ(backend_->prepare(cancel_op(&hog[2]), &cancelled), 0);
  ASSERT_TRUE(finish(hog[2], cancelled));
  EXPECT_EQ(hog[2].result, -ECANCELED);
  EXPECT_EQ(cancelled.result, 0);
  ASSERT_EQ(::shutdown(sv[1], SHUT_WR), 0);  // the two running receives end
  ASSERT_TRUE(finish(hog[0], hog[1]));
  for (const Recorder& r : hog) EXPECT_EQ(r.count, 1);
}

}  // namespace
}  // namespace aiod::daemon
