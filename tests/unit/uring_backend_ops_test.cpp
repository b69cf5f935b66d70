// SPDX-License-Identifier: MIT
// Unit tests of the io_uring backend (daemon/backend/uring_backend.cpp) on a
// real ring: every payload the ring runs, with its result and side effect;
// the ops its posix part runs (path walks, AF_UNIX paths) through the same
// interface; SQ space, wait(), personalities and the syscall count.
// Links, link timeouts and cancellation: uring_backend_links_test.cpp.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.hpp"
#include "os/peer_creds.hpp"
#include "uring_backend_fixture.hpp"

namespace aiod::daemon::uring_test {
namespace {

class UringBackendOpsTest : public UringBackendFixture {
 protected:
  static sockaddr_un unix_address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    return a;
  }
};

// The backend names itself and runs every opcode (what the ring lacks,
// emulated).
TEST_F(UringBackendOpsTest, ReportsItsNameAndSupportsEveryOpcode) {
  EXPECT_EQ(backend_->info().name, "io_uring");
  EXPECT_TRUE(backend_->info().linked_timeouts);
  for (unsigned i = 0; i < static_cast<unsigned>(BackendOpcode::count); ++i) {
    EXPECT_TRUE(backend_->supports(static_cast<BackendOpcode>(i))) << i;
  }
  EXPECT_FALSE(backend_->supports(BackendOpcode::count));
}

// A nop completes once with 0.
TEST_F(UringBackendOpsTest, NopCompletesWithZero) { EXPECT_EQ(run(BackendOp{}), 0); }

// read/write at an offset use it and leave the file position alone.
// An op that must never run on the shard thread (a pipe's, whose mutex a
// client can hold) goes to the posix part's workers, not to the ring: io-wq
// would retry it on this thread once the pipe were ready.
TEST_F(UringBackendOpsTest, AnOpNeverInlineRunsInThePosixPart) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  keep(p[0]);
  keep(p[1]);
  ASSERT_EQ(::write(p[1], "abc", 3), 3);
  char buf[4] = {};
  BackendOp read(op::Read{.fd = p[0], .buf = buf, .len = 3});
  read.never_inline = true;
  EXPECT_EQ(run(read), 3);
  EXPECT_STREQ(buf, "abc");
  const BackendReport report = backend_->report();  // by value: keep it while counts refers into it
  const auto& counts = report.ops[static_cast<std::size_t>(BackendOpcode::read)];
  EXPECT_EQ(counts.posix, 1u);
  EXPECT_EQ(counts.ring, 0u) << "an op that must never run on the shard thread went to the ring";
}

TEST_F(UringBackendOpsTest, ReadAndWriteAtAnOffset) {
  const int fd = file("f");
  const char text[] = "hello world";
  EXPECT_EQ(run(write_op(fd, text, 11, 0)), 11);
  EXPECT_EQ(run(write_op(fd, "W", 1, 6)), 1);
  EXPECT_EQ(contents(fd), "hello World");
  char buf[16] = {};
  EXPECT_EQ(run(BackendOp(op::Read{.fd = fd, .buf = buf, .len = 5, .offset = 6})), 5);
  EXPECT_STREQ(buf, "World");
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 0);
  EXPECT_EQ(run(BackendOp(op::Read{.fd = fd, .buf = buf, .len = sizeof(buf), .offset = 100})),
            0);  // past the end
}

// kCurrentPosition reads and writes at the file position and moves it.
TEST_F(UringBackendOpsTest, ReadAndWriteAtTheFilePosition) {
  const int fd = file("f");
  EXPECT_EQ(run(write_op(fd, "abc", 3, op::kCurrentPosition)), 3);
  EXPECT_EQ(run(write_op(fd, "def", 3, op::kCurrentPosition)), 3);
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 6);
  EXPECT_EQ(contents(fd), "abcdef");
  ASSERT_EQ(::lseek(fd, 1, SEEK_SET), 1);
  char buf[8] = {};
  EXPECT_EQ(run(BackendOp(op::Read{.fd = fd, .buf = buf, .len = 3})), 3);
  EXPECT_STREQ(buf, "bcd");
  EXPECT_EQ(run(BackendOp(op::Read{.fd = fd, .buf = buf, .len = 3})), 2);
  EXPECT_EQ(std::string(buf, 2), "ef");
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 6);
}

// readv/writev scatter and gather at an offset and at the file position.
TEST_F(UringBackendOpsTest, ReadvAndWritev) {
  const int fd = file("f");
  char hello[] = "hello", world[] = " world";
  const iovec out[2] = {{hello, 5}, {world, 6}};
  EXPECT_EQ(run(BackendOp(op::Writev{.fd = fd, .iov = out, .count = 2, .offset = 0})), 11);
  EXPECT_EQ(run(BackendOp(op::Writev{.fd = fd, .iov = out, .count = 1, .offset = op::kCurrentPosition})), 5);
  EXPECT_EQ(contents(fd),
            "hello world");  // the position was 0: "hello" over "hello"
  char a[3] = {}, b[8] = {};
  const iovec in[2] = {{a, 3}, {b, 8}};
  EXPECT_EQ(run(BackendOp(op::Readv{.fd = fd, .iov = in, .count = 2, .offset = 2})), 9);
  EXPECT_EQ(std::string(a, 3), "llo");
  EXPECT_EQ(std::string(b, 6), " world");
  EXPECT_EQ(run(BackendOp(op::Readv{.fd = fd, .iov = in, .count = 2, .offset = op::kCurrentPosition})), 6);
  EXPECT_EQ(std::string(a, 3), " wo");
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 11);
}

// fsync and fdatasync succeed on a file and report the kernel's error
// elsewhere.
TEST_F(UringBackendOpsTest, FsyncBothWays) {
  const int fd = file("f");
  ASSERT_EQ(::write(fd, "x", 1), 1);
  EXPECT_EQ(run(BackendOp(op::Fsync{.fd = fd, .datasync = false})), 0);
  EXPECT_EQ(run(BackendOp(op::Fsync{.fd = fd, .datasync = true})), 0);
  EXPECT_EQ(run(BackendOp(op::Fsync{.fd = 1'000'000})), -EBADF);
}

// poll_add completes with the revents, at once or when the fd becomes ready.
TEST_F(UringBackendOpsTest, PollAddCompletesWithRevents) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  EXPECT_EQ(run(BackendOp(op::PollAdd{.fd = sv[0], .events = POLLOUT})) & POLLOUT, POLLOUT);
  Recorder r;
  ASSERT_EQ(backend_->prepare(BackendOp(op::PollAdd{.fd = sv[0], .events = POLLIN}), &r), 0);
  backend_->flush();
  backend_->drain();
  EXPECT_EQ(r.count, 0) << "nothing to read yet";
  ASSERT_EQ(::write(sv[1], "x", 1), 1);
  ASSERT_TRUE(finish(r));
  EXPECT_EQ(r.result & POLLIN, POLLIN);
}

// send/recv move bytes across a socketpair; recv's flags reach the kernel.
TEST_F(UringBackendOpsTest, SendAndRecv) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  EXPECT_EQ(run(send_op(sv[0], "abc", 3)), 3);
  char buf[8] = {};
  BackendOp peek = recv_op(sv[1], buf, sizeof(buf));
  peek.as<op::Recv>().flags = MSG_PEEK;
  EXPECT_EQ(run(peek), 3);
  EXPECT_EQ(run(recv_op(sv[1], buf, sizeof(buf))),
            3);  // still there after the peek
  EXPECT_STREQ(buf, "abc");
  BackendOp dontwait = recv_op(sv[1], buf, sizeof(buf));
  dontwait.as<op::Recv>().flags = MSG_DONTWAIT;
  EXPECT_EQ(run(dontwait), -EAGAIN);
}

// sendmsg/recvmsg gather and scatter, and pass a descriptor (SCM_RIGHTS).
TEST_F(UringBackendOpsTest, SendmsgAndRecvmsg) {
  int sv[2];
  socketpair(SOCK_STREAM, sv);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  keep(pipe_fds[0]);
  keep(pipe_fds[1]);

  char ab[] = "ab", cd[] = "cd";
  iovec out[2] = {{ab, 2}, {cd, 2}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = out;
  m.msg_iovlen = 2;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &pipe_fds[1], sizeof(int));
  EXPECT_EQ(run(BackendOp(op::Sendmsg{.fd = sv[0], .msg = &m})), 4);

  char x[1] = {}, rest[8] = {};
  iovec in[2] = {{x, 1}, {rest, sizeof(rest)}};
  alignas(cmsghdr) char control_in[CMSG_SPACE(sizeof(int))] = {};
  msghdr r{};
  r.msg_iov = in;
  r.msg_iovlen = 2;
  r.msg_control = control_in;
  r.msg_controllen = sizeof(control_in);
  EXPECT_EQ(run(BackendOp(op::Recvmsg{.fd = sv[1], .msg = &r, .flags = MSG_CMSG_CLOEXEC})), 4);
  EXPECT_EQ(x[0], 'a');
  EXPECT_EQ(std::string(rest, 3), "bcd");
  ASSERT_NE(CMSG_FIRSTHDR(&r), nullptr);
  int passed = -1;
  std::memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&r)), sizeof(int));
  ASSERT_GE(keep(passed), 0);
  ASSERT_EQ(::write(passed, "p", 1), 1);  // the same pipe's write end
  char p = 0;
  EXPECT_EQ(::read(pipe_fds[0], &p, 1), 1);
  EXPECT_EQ(p, 'p');
}

// socket/bind/listen/connect/accept/shutdown make a working loopback TCP
// connection.
TEST_F(UringBackendOpsTest, LoopbackTcpLifecycle) {
  const BackendOp tcp(op::Socket{.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC});
  const int server = keep(run(tcp));
  ASSERT_GE(server, 0);
  const int client = keep(run(tcp));
  ASSERT_GE(client, 0);
  int type = 0;
  socklen_t type_len = sizeof(type);
  ASSERT_EQ(::getsockopt(server, SOL_SOCKET, SO_TYPE, &type, &type_len), 0);
  EXPECT_EQ(type, SOCK_STREAM);
  EXPECT_EQ(::fcntl(server, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(run(BackendOp(
                op::Bind{.fd = server, .addr = reinterpret_cast<const sockaddr*>(&addr), .addr_len = sizeof(addr)})),
            0);
  socklen_t addr_len = sizeof(addr);
  ASSERT_EQ(::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &addr_len), 0);
  EXPECT_NE(addr.sin_port, 0) << "bound to an ephemeral port";
  EXPECT_EQ(run(BackendOp(op::Listen{.fd = server, .backlog = 4})), 0);
  int listening = 0;
  socklen_t listening_len = sizeof(listening);
  ASSERT_EQ(::getsockopt(server, SOL_SOCKET, SO_ACCEPTCONN, &listening, &listening_len), 0);
  EXPECT_EQ(listening, 1);

  sockaddr_in peer{};
  socklen_t peer_len = sizeof(peer);
  Recorder accepted, connected;
  ASSERT_EQ(
      backend_->prepare(
          BackendOp(op::Accept{
              .fd = server, .addr = reinterpret_cast<sockaddr*>(&peer), .addr_len = &peer_len, .flags = SOCK_CLOEXEC}),
          &accepted),
      0);
  ASSERT_EQ(
      backend_->prepare(BackendOp(op::Connect{
                            .fd = client, .addr = reinterpret_cast<const sockaddr*>(&addr), .addr_len = sizeof(addr)}),
                        &connected),
      0);
  ASSERT_TRUE(finish(accepted, connected));
  EXPECT_EQ(connected.result, 0);
  const int conn = keep(accepted.result);
  ASSERT_GE(conn, 0) << std::strerror(-accepted.result);
  sockaddr_in local{};
  socklen_t local_len = sizeof(local);
  ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr*>(&local), &local_len), 0);
  EXPECT_EQ(peer_len, sizeof(sockaddr_in));
  EXPECT_EQ(peer.sin_port, local.sin_port) << "accept reported the client's address";

  EXPECT_EQ(run(send_op(client, "ping", 4)), 4);
  char buf[8] = {};
  EXPECT_EQ(run(recv_op(conn, buf, sizeof(buf))), 4);
  EXPECT_STREQ(buf, "ping");
  EXPECT_EQ(run(BackendOp(op::Shutdown{.fd = client, .how = SHUT_WR})), 0);
  EXPECT_EQ(run(recv_op(conn, buf, sizeof(buf))), 0) << "the peer sees end of stream";
}

// splice moves bytes pipe to pipe and from a file at an offset.
TEST_F(UringBackendOpsTest, SpliceMovesBytes) {
  int in[2], out[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  for (int fd : {in[0], in[1], out[0], out[1]}) keep(fd);
  ASSERT_EQ(::write(in[1], "abc", 3), 3);
  EXPECT_EQ(run(BackendOp(op::Splice{.in = in[0], .out = out[1], .len = 3})), 3);
  char buf[8] = {};
  EXPECT_EQ(::read(out[0], buf, sizeof(buf)), 3);
  EXPECT_STREQ(buf, "abc");

  const int fd = file("f");
  ASSERT_EQ(::write(fd, "hello world", 11), 11);
  EXPECT_EQ(run(BackendOp(op::Splice{.in = fd, .in_offset = 6, .out = out[1], .len = 5})), 5);
  char word[8] = {};
  EXPECT_EQ(::read(out[0], word, sizeof(word)), 5);
  EXPECT_STREQ(word, "world");
}

// fallocate grows, ftruncate sets the size; fadvise and sync_file_range
// succeed.
TEST_F(UringBackendOpsTest, FileSpaceOps) {
  const int fd = file("f");
  EXPECT_EQ(run(BackendOp(op::Fallocate{.fd = fd, .offset = 0, .length = 8192})), 0);
  EXPECT_EQ(size_of(fd), 8192);
  EXPECT_EQ(run(BackendOp(op::Fallocate{.fd = fd, .mode = FALLOC_FL_KEEP_SIZE, .offset = 0, .length = 65536})), 0);
  EXPECT_EQ(size_of(fd), 8192);
  EXPECT_EQ(run(BackendOp(op::Ftruncate{.fd = fd, .length = 100})), 0);
  EXPECT_EQ(size_of(fd), 100);
  EXPECT_EQ(run(BackendOp(op::Fadvise{.fd = fd, .offset = 0, .len = 100, .advice = POSIX_FADV_DONTNEED})), 0);
  EXPECT_EQ(run(BackendOp(op::Fadvise{.fd = fd, .advice = 12345})), -EINVAL);
  EXPECT_EQ(run(BackendOp(op::SyncFileRange{.fd = fd, .offset = 0, .len = 100, .flags = SYNC_FILE_RANGE_WRITE})), 0);
  EXPECT_EQ(run(BackendOp(op::SyncFileRange{.fd = fd, .flags = 0x100})), -EINVAL);
}

// A timeout expires with -ETIME, not before its time.
TEST_F(UringBackendOpsTest, TimeoutExpiresWithEtime) {
  const __kernel_timespec ts{0, 20'000'000};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run(BackendOp(op::Timeout{.ts = &ts})), -ETIME);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

// close closes the descriptor.
TEST_F(UringBackendOpsTest, CloseClosesTheDescriptor) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  keep(p[0]);
  EXPECT_EQ(run(BackendOp(op::Close{.fd = p[1]})), 0);
  EXPECT_EQ(::fcntl(p[1], F_GETFD), -1);
  char c;
  EXPECT_EQ(::read(p[0], &c, 1), 0) << "the only write end is gone";
  EXPECT_EQ(run(BackendOp(op::Close{.fd = p[1]})), -EBADF);
}

// The path ops (run by the posix part) create, inspect, rename and remove
// real files relative to a directory descriptor.
TEST_F(UringBackendOpsTest, PathOpsRunThroughTheSameInterface) {
  const int d = dir_fd();
  open_how how{};
  how.flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
  how.mode = 0600;
  const int fd = keep(run(BackendOp(op::Openat2{.dir = d, .path = "f", .how = &how})));
  ASSERT_GE(fd, 0) << std::strerror(-fd);
  struct stat by_path {};
  struct stat by_fd {};
  ASSERT_EQ(::stat(path("f").c_str(), &by_path), 0);
  ASSERT_EQ(::fstat(fd, &by_fd), 0);
  EXPECT_EQ(by_path.st_ino, by_fd.st_ino);
  EXPECT_TRUE(S_ISREG(by_path.st_mode));
  EXPECT_EQ(run(BackendOp(op::Openat2{.dir = d, .path = "f", .how = &how})), -EEXIST);
  EXPECT_EQ(run(write_op(fd, "12345", 5)),
            5);  // a ring op on the emulated op's descriptor

  struct statx sx {};
  EXPECT_EQ(run(BackendOp(op::Statx{.dir = d, .path = "f", .mask = STATX_SIZE, .out = &sx})), 0);
  EXPECT_EQ(sx.stx_size, 5u);

  EXPECT_EQ(run(BackendOp(op::Renameat{.old_dir = d, .old_path = "f", .new_dir = d, .new_path = "g"})), 0);
  EXPECT_NE(::access(path("f").c_str(), F_OK), 0);
  EXPECT_EQ(::access(path("g").c_str(), F_OK), 0);

  EXPECT_EQ(run(BackendOp(op::Mkdirat{.dir = d, .path = "sub", .mode = 0750})), 0);
  struct stat sub {};
  ASSERT_EQ(::stat(path("sub").c_str(), &sub), 0);
  EXPECT_TRUE(S_ISDIR(sub.st_mode));

  EXPECT_EQ(run(BackendOp(op::Symlinkat{.target = "some/where", .dir = d, .link_path = "l"})), 0);
  char target[32] = {};
  EXPECT_EQ(::readlink(path("l").c_str(), target, sizeof(target) - 1), 10);
  EXPECT_STREQ(target, "some/where");

  EXPECT_EQ(run(BackendOp(op::Unlinkat{.dir = d, .path = "g"})), 0);
  EXPECT_NE(::access(path("g").c_str(), F_OK), 0);
  EXPECT_EQ(run(BackendOp(op::Unlinkat{.dir = d, .path = "sub"})), -EISDIR);
  EXPECT_EQ(run(BackendOp(op::Unlinkat{.dir = d, .path = "sub", .flags = AT_REMOVEDIR})), 0);
  EXPECT_NE(::access(path("sub").c_str(), F_OK), 0);
}

// bind/connect/sendmsg to an AF_UNIX path (run by the posix part) reach the
// real socket file.
TEST_F(UringBackendOpsTest, UnixPathAddressesRunThroughTheSameInterface) {
  const sockaddr_un addr = unix_address(path("s"));
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);
  const int server = keep(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int client = keep(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(client, 0);
  EXPECT_EQ(run(BackendOp(op::Bind{.fd = server, .addr = sa, .addr_len = sizeof(addr), .umask = 077})), 0);
  struct stat st {};
  ASSERT_EQ(::stat(path("s").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "created with the op's umask";
  EXPECT_EQ(run(BackendOp(op::Listen{.fd = server, .backlog = 1})), 0);
  EXPECT_EQ(run(BackendOp(op::Connect{.fd = client, .addr = sa, .addr_len = sizeof(addr)})), 0);
  const int conn = keep(::accept4(server, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  EXPECT_GE(conn, 0) << "no connection queued: " << std::strerror(errno);

  const sockaddr_un dgram_addr = unix_address(path("d"));
  const int receiver = keep(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::bind(receiver, reinterpret_cast<const sockaddr*>(&dgram_addr), sizeof(dgram_addr)), 0);
  const int sender = keep(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  char text[] = "dgram";
  iovec iov{text, 5};
  msghdr m{};
  m.msg_name = const_cast<sockaddr_un*>(&dgram_addr);
  m.msg_namelen = sizeof(dgram_addr);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  EXPECT_EQ(run(BackendOp(op::Sendmsg{.fd = sender, .msg = &m})), 5);
  char buf[8] = {};
  EXPECT_EQ(::recv(receiver, buf, sizeof(buf), MSG_DONTWAIT), 5);
  EXPECT_STREQ(buf, "dgram");

  const sockaddr_un missing = unix_address(path("nothing"));
  EXPECT_EQ(run(BackendOp(op::Connect{
                .fd = sender, .addr = reinterpret_cast<const sockaddr*>(&missing), .addr_len = sizeof(missing)})),
            -ENOENT);
}

// space() counts free SQ slots; a full SQ refuses prepare() and cancel()
// with -EAGAIN until flush() hands the SQEs to the kernel.
TEST_F(UringBackendOpsTest, FullSubmissionQueueRefusesUntilFlushed) {
  ASSERT_NO_FATAL_FAILURE(make(8));
  ASSERT_EQ(backend_->space(), 8u);
  std::vector<Recorder> rs(9);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(backend_->prepare(BackendOp{}, &rs[i]), 0) << i;
  EXPECT_EQ(backend_->space(), 0u);
  EXPECT_EQ(backend_->prepare(BackendOp{}, &rs[8]), -EAGAIN);
  EXPECT_EQ(backend_->cancel(&rs[0]), -EAGAIN);
  EXPECT_EQ(backend_->flush(), 8);
  EXPECT_EQ(backend_->space(), 8u);
  EXPECT_EQ(backend_->prepare(BackendOp{}, &rs[8]), 0);
  ASSERT_TRUE(run_until([&] {
    for (const Recorder& r : rs) {
      if (r.count == 0) return false;
    }
    return true;
  }));
  settle();
  for (const Recorder& r : rs) {
    EXPECT_EQ(r.count, 1);
    EXPECT_EQ(r.result, 0);
  }
}

// The posix part's staging slots count too: space() is the smaller of the two.
TEST_F(UringBackendOpsTest, FullEmulatedStagingRefusesUntilFlushed) {
  ASSERT_NO_FATAL_FAILURE(make(8));
  const int d = dir_fd();
  std::vector<struct statx> out(9);
  std::vector<Recorder> rs(9);
  auto statx_op = [&](int i) {
    return BackendOp(op::Statx{.dir = d, .path = ".", .mask = STATX_TYPE, .out = &out[static_cast<size_t>(i)]});
  };
  for (int i = 0; i < 8; ++i) ASSERT_EQ(backend_->prepare(statx_op(i), &rs[i]), 0) << i;
  EXPECT_EQ(backend_->space(), 0u);
  EXPECT_EQ(backend_->prepare(statx_op(8), &rs[8]), -EAGAIN);
  backend_->flush();
  EXPECT_EQ(backend_->space(), 8u);
  ASSERT_TRUE(run_until([&] {
    for (int i = 0; i < 8; ++i) {
      if (rs[i].count == 0) return false;
    }
    return true;
  }));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(rs[i].result, 0);
}

// wait() with a timeout and nothing to do returns (-ETIME) after about that
// long.
TEST_F(UringBackendOpsTest, WaitWithoutWorkReturnsAtItsTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const int ret = backend_->wait(30ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ret, -ETIME);
  EXPECT_GE(took, 25ms);
  EXPECT_LT(took, kLimit);
  EXPECT_EQ(backend_->drain(), 0);
}

// wait() returns when an op on the ring completes, long before its own timeout.
TEST_F(UringBackendOpsTest, WaitReturnsWhenARingOpCompletes) {
  const __kernel_timespec ts{0, 30'000'000};
  Recorder r;
  ASSERT_EQ(backend_->prepare(BackendOp(op::Timeout{.ts = &ts}), &r), 0);
  const auto start = std::chrono::steady_clock::now();
  const int ret = backend_->wait(kLimit);  // hands the timeout over itself
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ret, 0);
  EXPECT_GE(took, 25ms);
  EXPECT_LT(took, kLimit) << "wait() slept through the completion";
  EXPECT_EQ(backend_->drain(), 1);
  EXPECT_EQ(r.result, -ETIME);
}

// wait() returns when an op of the posix part completes (its eventfd is
// polled on the ring), not at its own timeout.
TEST_F(UringBackendOpsTest, WaitReturnsWhenAnEmulatedOpCompletes) {
  const int d = dir_fd();
  Recorder r;
  ASSERT_EQ(backend_->prepare(BackendOp(op::Mkdirat{.dir = d, .path = "m", .mode = 0700}), &r), 0);
  const auto start = std::chrono::steady_clock::now();
  while (r.count == 0 && std::chrono::steady_clock::now() - start < kLimit) {
    const int ret = backend_->wait(kLimit);
    EXPECT_TRUE(ret == 0 || ret == -ETIME) << ret;
    backend_->drain();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, kLimit) << "wait() slept through the completion";
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.result, 0);
  EXPECT_EQ(::access(path("m").c_str(), F_OK), 0);
}

// syscalls() counts the kernel transitions of both the ring and its posix part.
TEST_F(UringBackendOpsTest, SyscallsGrow) {
  const std::uint64_t start = backend_->syscalls();
  EXPECT_EQ(run(BackendOp{}), 0);
  const std::uint64_t after_ring = backend_->syscalls();
  EXPECT_GT(after_ring, start);
  const int d = dir_fd();
  EXPECT_EQ(run(BackendOp(op::Mkdirat{.dir = d, .path = "m", .mode = 0700})), 0);
  EXPECT_GT(backend_->syscalls(), after_ring);
}

// What the personality test's helper thread saw.
struct PersonalityOutcome {
  std::string error;  // the backend could not be made
  int id = -1;
  int mkdir_res = 1, open_res = 1, socket_res = 1, own_mkdir_res = 1, after_unregister_ring = 1,
      after_unregister_emulated = 1;
  struct stat file {};
  struct stat sock {};
};

// Ops prepared with a registered personality act as the identity captured:
// files made by the posix part and sockets made on the ring belong to it;
// ops without one act as the daemon; an unregistered id is refused.
TEST_F(UringBackendOpsTest, PersonalityActsAsTheCapturedIdentity) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to take another identity";
  ASSERT_EQ(::chmod(dir().c_str(), 0777), 0);
  const int d = dir_fd();
  PersonalityOutcome o;
  // A helper thread makes its own ring (single-issuer: the registering thread
  // must be the submitter) and switches only its own credentials.
  std::thread helper([&] {
    std::unique_ptr<Backend> b = make_uring_backend(16, 4, std::nullopt, o.error);
    if (!b) return;
    PeerCreds nobody;
    nobody.uid = 65534;
    nobody.gid = 65534;
    nobody.groups = {65534};
    o.id = with_peer_identity(nobody, [&] { return b->register_personality(); });
    if (o.id <= 0) return;
    const auto id = static_cast<std::uint16_t>(o.id);
    BackendOp mkdir_op(op::Mkdirat{.dir = d, .path = "theirs", .mode = 0755});
    mkdir_op.personality = id;
    o.mkdir_res = run_op(*b, mkdir_op);
    open_how how{};
    how.flags = O_RDWR | O_CREAT | O_CLOEXEC;
    how.mode = 0600;
    BackendOp open_op(op::Openat2{.dir = d, .path = "theirs.txt", .how = &how});
    open_op.personality = id;
    o.open_res = run_op(*b, open_op);
    if (o.open_res >= 0) {
      ::fstat(o.open_res, &o.file);
      ::close(o.open_res);
    }
    BackendOp socket_op(op::Socket{.domain = AF_UNIX, .type = SOCK_STREAM | SOCK_CLOEXEC});
    socket_op.personality = id;
    o.socket_res = run_op(*b, socket_op);
    if (o.socket_res >= 0) {
      ::fstat(o.socket_res, &o.sock);
      ::close(o.socket_res);
    }
    o.own_mkdir_res = run_op(*b, BackendOp(op::Mkdirat{.dir = d, .path = "ours", .mode = 0755}));
    b->unregister_personality(id);
    o.after_unregister_ring = run_op(*b, socket_op);
    Recorder refused;
    o.after_unregister_emulated = b->prepare(mkdir_op, &refused);
  });
  helper.join();
  ASSERT_TRUE(o.error.empty()) << o.error;
  ASSERT_GT(o.id, 0) << std::strerror(-o.id);
  EXPECT_EQ(::geteuid(), 0u) << "only the helper thread switched";

  EXPECT_EQ(o.mkdir_res, 0);
  struct stat st {};
  ASSERT_EQ(::stat(path("theirs").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  ASSERT_GE(o.open_res, 0) << std::strerror(-o.open_res);
  EXPECT_EQ(o.file.st_uid, 65534u);
  EXPECT_EQ(o.file.st_gid, 65534u);
  ASSERT_GE(o.socket_res, 0) << std::strerror(-o.socket_res);
  EXPECT_EQ(o.sock.st_uid, 65534u) << "the ring created the socket as the personality";
  EXPECT_EQ(o.own_mkdir_res, 0);
  ASSERT_EQ(::stat(path("ours").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(o.after_unregister_ring, -EINVAL);
  EXPECT_EQ(o.after_unregister_emulated, -EINVAL);
}

}  // namespace
}  // namespace aiod::daemon::uring_test
