// SPDX-License-Identifier: MIT
// Review attacks on the confinement fixes (see the review report). Each test
// plays a hostile client and asserts the SAFE behaviour: a test that fails
// here is an attack that worked.
//
//  - ControlMessages.*: the daemon parses client control data with glibc's
//    CMSG_NXTHDR. Before glibc 2.36 ("socket: Check lengths before advancing
//    pointer in CMSG_NXTHDR") it stops at a last header whose *aligned* length
//    passes the end of the buffer, while the kernel's parser (CMSG_OK) takes it
//    as long as its unaligned length fits. (These pass with glibc >= 2.36.) So a trailing SCM_RIGHTS is left
//    untranslated: on SEND_MSG its raw integers are the daemon's descriptor numbers (any descriptor of the daemon goes
//    to the client), on RECV_MSG the descriptors received are never made handles (they leak in the daemon for ever).
//  - NotifySocket.*: a socket the client connected itself to the service
//    manager's notify socket, registered and written to through aiod: the
//    datagram comes from aiod's pid.
//  - Capabilities.*: a uid-0 client that dropped its capabilities (same uid,
//    gid and groups as the daemon) is served without any personality, so with
//    every capability of the daemon.
//  - Signals.*: a client's signalfd read by the daemon's threads dequeues the
//    daemon's own pending signals (SIGTERM/SIGINT/SIGHUP are blocked in every
//    daemon thread and wait in the process's shared queue).
//  - Defences.*: attacks that failed (kept as regression tests).
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <sched.h>
#include <poll.h>

#include <atomic>

#include "aiod_shm.h"
#include "security_support.hpp"
#include "session_mapping.hpp"
#include "wire.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

std::string random_marker(const char* what) {
  std::random_device rd;
  std::ostringstream m;
  m << what << "-" << std::hex << rd() << rd();
  return m.str();
}

std::size_t count_fds(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

std::string temp_dir(mode_t mode) {
  char tmpl[] = "/tmp/aiod-review-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  ::chmod(tmpl, mode);
  return tmpl;
}

// Control data: a harmless first message (not SOL_SOCKET: the kernel skips it
// on AF_UNIX) and a last SCM_RIGHTS carrying `fd`, the buffer ending right
// after its 4 bytes of data (not padded to the alignment).
struct HiddenRights {
  alignas(cmsghdr) unsigned char buf[CMSG_SPACE(0) + CMSG_LEN(sizeof(int))];
  HiddenRights(int fd) {
    std::memset(buf, 0, sizeof(buf));
    auto* first = reinterpret_cast<cmsghdr*>(buf);
    first->cmsg_len = CMSG_LEN(0);
    first->cmsg_level = IPPROTO_IP;
    first->cmsg_type = 1;
    auto* second = reinterpret_cast<cmsghdr*>(buf + CMSG_SPACE(0));
    second->cmsg_len = CMSG_LEN(sizeof(int));
    second->cmsg_level = SOL_SOCKET;
    second->cmsg_type = SCM_RIGHTS;
    std::memcpy(CMSG_DATA(second), &fd, sizeof(fd));
  }
};
static_assert(sizeof(HiddenRights::buf) == 36);

// ATTACK: SEND_MSG with a trailing, unpadded SCM_RIGHTS whose data is a raw
// number: the daemon does not translate it (CMSG_NXTHDR stops) and the kernel
// passes the daemon's descriptor of that number. A root session registers a
// root-only file; nobody steals the daemon's descriptor of it and reads it.
TEST(ControlMessages, SendMsgCannotPassTheDaemonsOwnDescriptors) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string dir = make_dir(daemon.directory(), "secret", 0700);
  const std::string secret_path = dir + "/secret";
  const std::string marker = random_marker("root-only-secret");
  { std::ofstream(secret_path) << marker; }
  ::chmod(secret_path.c_str(), 0600);
  auto root = Client::connect(daemon.client_options());
  ASSERT_TRUE(root) << root.message();
  const int secret_fd = ::open(secret_path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(secret_fd, 0);
  auto secret_handle = root->register_fd(secret_fd);  // the daemon now holds a copy
  ::close(secret_fd);
  ASSERT_TRUE(secret_handle) << secret_handle.message();

  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    ::fcntl(sv[0], F_SETFL, O_NONBLOCK);
    auto h = c->register_fd(sv[1]);
    ch.put(h ? 0 : code(h.error()));
    if (!h) return;
    int received = 0, secret = 0;
    for (int n = 0; n < 128; ++n) {
      HiddenRights control(n);
      char data[] = "x";
      iovec iov{data, 1};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = control.buf;
      m.msg_controllen = sizeof(control.buf);
      std::size_t written = 0;
      const std::error_code sent = c->single(SendMsg{.socket = *h, .msg = &m, .out_written = &written});
      (void)sent;
      char rbuf[8];
      iovec riov{rbuf, sizeof(rbuf)};
      alignas(cmsghdr) unsigned char rctl[CMSG_SPACE(16 * sizeof(int))];
      msghdr r{};
      r.msg_iov = &riov;
      r.msg_iovlen = 1;
      r.msg_control = rctl;
      r.msg_controllen = sizeof(rctl);
      if (::recvmsg(sv[0], &r, MSG_CMSG_CLOEXEC) < 0) continue;
      for (cmsghdr* cm = CMSG_FIRSTHDR(&r); cm != nullptr; cm = CMSG_NXTHDR(&r, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
        int fd;
        std::memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
        // The number was taken as a handle (the daemon translated it): our own socket, not the daemon's.
        struct stat mine {
        }, got_st{};
        if (::fstat(sv[1], &mine) == 0 && ::fstat(fd, &got_st) == 0 && mine.st_ino == got_st.st_ino &&
            mine.st_dev == got_st.st_dev) {
          ::close(fd);
          continue;
        }
        ++received;
        char target[256] = {};
        (void)!::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof(target) - 1);
        char content[256] = {};
        const ssize_t got = ::pread(fd, content, sizeof(content) - 1, 0);
        const bool has_secret = got > 0 && std::strstr(content, marker.c_str()) != nullptr;
        secret += has_secret;
        ch.note("daemon fd " + std::to_string(n) + " -> " + target + (has_secret ? " [ROOT SECRET READ]" : ""));
        ::close(fd);
      }
    }
    ch.put(received);
    ch.put(secret);
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 4u) << o.describe();
  EXPECT_EQ(o.values[2], 0) << "nobody received " << o.values[2]
                            << " of the daemon's own descriptors through SEND_MSG: " << o.describe();
  EXPECT_EQ(o.values[3], 0) << "and read the root-only secret through one of them";
}

// ATTACK: RECV_MSG on a socket with SO_PASSCRED and a control buffer of
// CMSG_SPACE(ucred) + CMSG_LEN(int): the kernel writes SCM_CREDENTIALS then an
// unpadded SCM_RIGHTS; the daemon's CMSG_NXTHDR stops before it, so the
// descriptor received is never made a handle nor closed: it stays in the
// daemon's table (a client can exhaust the daemon's descriptors).
TEST(ControlMessages, RecvMsgDoesNotLeakReceivedDescriptorsIntoTheDaemon) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  constexpr int kRounds = 50;
  const std::size_t before = count_fds(daemon.pid());
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    const int on = 1;
    ::setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
    auto h = c->register_fd(sv[0]);
    ch.put(h ? 0 : code(h.error()));
    if (!h) return;
    const int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int untranslated = 0;
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
      alignas(cmsghdr) unsigned char rctl[CMSG_SPACE(sizeof(ucred)) + CMSG_LEN(sizeof(int))] = {};
      msghdr r{};
      r.msg_iov = &riov;
      r.msg_iovlen = 1;
      r.msg_control = rctl;
      r.msg_controllen = sizeof(rctl);
      std::size_t n = 0;
      (void)c->single(RecvMsg{.socket = *h, .msg = &r, .out_read = &n});
      // The second header, where the kernel put SCM_RIGHTS.
      auto* rights = reinterpret_cast<cmsghdr*>(rctl + CMSG_SPACE(sizeof(ucred)));
      if (rights->cmsg_level == SOL_SOCKET && rights->cmsg_type == SCM_RIGHTS) {
        int v;
        std::memcpy(&v, CMSG_DATA(rights), sizeof(v));
        if (i == 0) ch.note("value in SCM_RIGHTS after RECV_MSG: " + std::to_string(v));
        ++untranslated;
      }
    }
    ch.put(untranslated);
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 3u) << o.describe();
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
                                         << " descriptors a nobody client sent it after its session ended";
}

// ATTACK: the notify socket is refused as a destination by path and by
// abstract name, but not a socket the client connected to it itself and
// registered: SEND on that handle is sent by aiod's process.
TEST(NotifySocket, APreconnectedSocketCannotSpeakAsTheDaemon) {
  AIOD_SEC_REQUIRE_ROOT();
  const std::string dir = temp_dir(0755);
  const std::string path = dir + "/notify";
  const int rx = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(rx, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::chmod(path.c_str(), 0777);  // as systemd's /run/systemd/notify
  const int on = 1;
  ASSERT_EQ(::setsockopt(rx, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  DaemonProcess daemon;
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(daemon.running());
  // The daemon's own READY=1 (and STATUS) first.
  (void)receive_creds(rx, 2s);

  const std::string payload = "MAINPID=1\nREADY=1\nSTATUS=" + random_marker("sent-by-nobody");
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    // The existing defence (control): the path as the destination is refused.
    Handle s;
    std::error_code ec = c->single(Socket{.domain = AF_UNIX, .type = SOCK_DGRAM, .out_socket = &s});
    if (!ec)
      ec = c->single(Connect{.socket = s, .addr = reinterpret_cast<const sockaddr*>(&addr), .addrlen = sizeof(addr)});
    ch.put(code(ec));
    // The attack: connect it ourselves, as nobody (the socket is 0777), then hand it over.
    const int tx = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (::connect(tx, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      ch.put(errno);
      return;
    }
    auto h = c->register_fd(tx);
    if (!h) {
      ch.put(code(h.error()));
      return;
    }
    std::size_t n = 0;
    ch.put(code(c->single(Send{.socket = *h, .buffer = std::string_view(payload), .out_written = &n})));
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 3u) << o.describe();
  EXPECT_EQ(o.values[1], EACCES) << "control: connecting to the notify socket by path was not refused";
  bool from_daemon = false;
  for (int i = 0; i < 4; ++i) {
    const ReceivedCreds r = receive_creds(rx, 1s);
    if (!r.received) break;
    if (r.data == payload) {
      std::cout << "[ evidence ] the notify socket received \"" << r.data << "\" from pid " << r.pid << " (aiod is "
                << daemon.pid() << "), uid " << r.uid << "\n";
      from_daemon = r.pid == daemon.pid();
    }
  }
  ::close(rx);
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(from_daemon) << "a nobody client sent a notification to the service manager as aiod's main pid";
}

// ATTACK: a root client without capabilities (a sandboxed root service:
// CapabilityBoundingSet=, or capsh --drop=all) has the daemon's uid, gid and
// groups, so it gets no personality and every op runs with all of the
// daemon's capabilities: CAP_DAC_OVERRIDE opens a file it may not open.
TEST(Capabilities, ARootClientWithoutCapabilitiesGainsNone) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string dir = make_dir(daemon.directory(), "caps", 0755);
  const std::string file = dir + "/nobodys-private";
  const std::string marker = random_marker("nobodys-private");
  { std::ofstream(file) << marker; }
  ASSERT_EQ(::chown(file.c_str(), kNobody, kNogroup), 0);
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({.drop = false}, [&](Channel& ch) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
    ch.put(::syscall(SYS_capset, &hdr, none) == 0 ? 0 : errno);
    const int direct = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    ch.put(direct < 0 ? errno : 0);  // control: EACCES without CAP_DAC_OVERRIDE
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    const OpenProbe p = probe_open(*c, Handle::cwd(), file, O_RDONLY, marker);
    ch.put(p.err);
    ch.put(p.marker);
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 5u) << o.describe();
  ASSERT_EQ(o.values[0], 0) << "capset failed";
  ASSERT_EQ(o.values[1], EACCES) << "control: root without capabilities opened the file itself";
  EXPECT_EQ(o.values[3], EACCES) << "through aiod, root without CAP_DAC_OVERRIDE opened a 0600 file of nobody's"
                                 << (o.values[4] ? " and read it" : "") << ": " << o.describe();
}

// ATTACK: a signalfd is read in the context of the thread that reads it. A
// nobody client's signalfd for SIGHUP, read through aiod, is read by a daemon
// thread, whose process has SIGHUP (like SIGTERM and SIGINT) blocked in every
// thread and pending in its shared queue: the client takes the daemon's signal.
TEST(Signals, AClientsSignalfdDoesNotReceiveTheDaemonsSignals) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const ClientOptions options = daemon.client_options();
  UserProcess child({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, nullptr);  // the client's own SIGHUP (none will come) stays out
    const int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC);
    auto h = c->register_fd(sfd);
    if (!h) {
      ch.put(code(h.error()));
      return;
    }
    ch.put(0);  // about to read: the parent starts signalling the daemon
    signalfd_siginfo info{};
    std::size_t n = 0;
    std::error_code read_error, timeout_error;
    (void)c->multi(Read{.file = *h,
                        .buffer = MutableBuffer(&info, sizeof(info)),
                        .out_read = &n,
                        .link = Link::soft,
                        .out_error = &read_error},
                   LinkTimeout{.duration = 3s, .out_error = &timeout_error});
    ch.put(code(read_error));
    ch.put(static_cast<std::int64_t>(n));
    ch.put(info.ssi_signo);
    ch.put(info.ssi_pid);
  });
  ASSERT_TRUE(child.wait_values(2, 10s)) << child.outcome().describe();
  for (int i = 0; i < 40 && !child.wait_values(6, 50ms); ++i) daemon.signal(SIGHUP);
  const Outcome& o = child.finish(10s);
  ASSERT_TRUE(o.ok()) << o.describe();
  if (o.values.size() == 2) {
    // The daemon refused the signalfd as a handle: nothing can read it.
    EXPECT_NE(o.values[1], 0) << o.describe();
    return;
  }
  ASSERT_EQ(o.values.size(), 6u) << o.describe();
  const bool stolen =
      o.values[2] == 0 && o.values[3] == static_cast<std::int64_t>(sizeof(signalfd_siginfo)) && o.values[4] == SIGHUP;
  if (stolen) {
    std::cout << "[ evidence ] nobody's READ of its signalfd returned the daemon's SIGHUP, sent by pid " << o.values[5]
              << " (the test is " << ::getpid() << ")\n";
  }
  EXPECT_FALSE(stolen) << "a client dequeued a signal sent to the daemon: " << o.describe();
}

// A session over a control socket the test already holds (connected by
// someone else): the handshake of RawSession, on an adopted socket.
class AdoptedSession : private SessionMapping {
 public:
  explicit AdoptedSession(int sock) {
    sock_.reset(sock);
    UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    flatbuffers::FlatBufferBuilder b(128);
    const auto hello = wire::CreateHelloDirect(b, AIOD_PROTOCOL_VERSION, wire::SessionKind::Io, 16, 1 << 16, "nested");
    b.Finish(wire::CreateMessage(b, 1, wire::Body::Hello, hello.Union()), wire::MessageIdentifier());
    const int fds[] = {cwd.get(), root.get()};
    if (wire::send_message(sock_.get(), wire::view(b), fds) < 0) return;
    wire::ReceivedMessage in;
    pollfd p{sock_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1 || wire::recv_message(sock_.get(), in) <= 0) return;
    const wire::Message* msg = wire::verify(in.bytes);
    const wire::Welcome* w = msg != nullptr ? msg->body_as_Welcome() : nullptr;
    if (w == nullptr || in.fds.size() != 3) {
      if (msg != nullptr && msg->body_as_Error() != nullptr && msg->body_as_Error()->message() != nullptr) {
        error = msg->body_as_Error()->message()->str();
      }
      return;
    }
    ok = map_region(*w, in.fds);
  }
  // Runs one descriptor and returns its result (or -ETIMEDOUT).
  std::int32_t run(aiod_sqe sqe) {
    sqe.user_data = ++next_;
    std::memcpy(&sq_[sq_tail_ & (sq_entries_ - 1)], &sqe, sizeof(sqe));
    ++sq_tail_;
    std::atomic_ref<std::uint32_t>(hdr_->sq_tail).store(sq_tail_, std::memory_order_release);
    const std::uint64_t one = 1;
    (void)!::write(submit_efd_.get(), &one, sizeof(one));
    for (int i = 0; i < 1000; ++i) {
      const std::uint32_t tail = std::atomic_ref<std::uint32_t>(hdr_->cq_tail).load(std::memory_order_acquire);
      if (cq_head_ != tail) {
        const aiod_cqe c = cq_[cq_head_ & (cq_entries_ - 1)];
        ++cq_head_;
        std::atomic_ref<std::uint32_t>(hdr_->cq_head).store(cq_head_, std::memory_order_release);
        return c.res;
      }
      ::usleep(5000);
    }
    return -ETIMEDOUT;
  }
  std::byte* arena() const { return arena_; }
  bool ok = false;
  std::string error;

 private:
  std::uint64_t next_ = 0;
};

// ATTACK: a client in a network namespace of its own (a sandbox without
// network) has aiod connect a socket to aiod's own listening socket. The
// daemon's thread calls connect(), so SO_PEERCRED/SO_PEERPIDFD of that
// connection name aiod's own pid, and the session opened over it is served in
// aiod's namespaces (read from /proc/<aiod pid>/ns). The client extracts the
// socket (SEND_MSG SCM_RIGHTS to a socketpair of its own), speaks the
// protocol itself, and creates sockets in the host's network namespace.
TEST(NestedSession, ASessionConnectedThroughAiodIsStillServedInTheClientsNetns) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  // A TCP listener in the host (the daemon's) network namespace.
  const int lsn = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in la{};
  la.sin_family = AF_INET;
  la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lsn, reinterpret_cast<sockaddr*>(&la), sizeof(la)), 0);
  socklen_t lal = sizeof(la);
  ASSERT_EQ(::getsockname(lsn, reinterpret_cast<sockaddr*>(&la), &lal), 0);
  ASSERT_EQ(::listen(lsn, 8), 0);
  const ClientOptions options = daemon.client_options();
  const std::string aiod_path = daemon.socket_path();
  const Outcome o = as_user({.unshare_flags = CLONE_NEWNET}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    // Control: the outer session's sockets are in the client's (empty) netns.
    Handle t;
    std::error_code ec = c->single(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &t});
    if (!ec)
      ec = c->single(Connect{.socket = t, .addr = reinterpret_cast<const sockaddr*>(&la), .addrlen = sizeof(la)});
    ch.put(code(ec));
    // aiod connects a socket to aiod.
    sockaddr_un ua{};
    ua.sun_family = AF_UNIX;
    std::strncpy(ua.sun_path, aiod_path.c_str(), sizeof(ua.sun_path) - 1);
    Handle s;
    ec = c->single(Socket{.domain = AF_UNIX, .type = SOCK_SEQPACKET, .out_socket = &s});
    if (!ec)
      ec = c->single(Connect{.socket = s, .addr = reinterpret_cast<const sockaddr*>(&ua), .addrlen = sizeof(ua)});
    ch.put(code(ec));
    if (ec) return;
    // Take that socket out of the daemon.
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv);
    auto h = c->register_fd(sv[1]);
    if (!h) return;
    alignas(cmsghdr) unsigned char ctl[CMSG_SPACE(sizeof(int))] = {};
    char data[] = "x";
    iovec iov{data, 1};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof(ctl);
    cmsghdr* cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    std::memcpy(CMSG_DATA(cm), &s.value, sizeof(int));
    std::size_t n = 0;
    ec = c->single(SendMsg{.socket = *h, .msg = &m, .out_written = &n});
    alignas(cmsghdr) unsigned char rctl[CMSG_SPACE(sizeof(int))] = {};
    msghdr r{};
    char rb[4];
    iovec riov{rb, sizeof(rb)};
    r.msg_iov = &riov;
    r.msg_iovlen = 1;
    r.msg_control = rctl;
    r.msg_controllen = sizeof(rctl);
    int sock = -1;
    if (!ec && ::recvmsg(sv[0], &r, MSG_CMSG_CLOEXEC) >= 0 && CMSG_FIRSTHDR(&r) != nullptr) {
      std::memcpy(&sock, CMSG_DATA(CMSG_FIRSTHDR(&r)), sizeof(int));
    }
    if (sock < 0) return;
    ucred pc{};
    socklen_t pcl = sizeof(pc);
    ::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &pc, &pcl);
    ch.note("our socket to aiod (connected by aiod) shows our pid as " + std::to_string(pc.pid) + " uid " +
            std::to_string(pc.uid));
    AdoptedSession nested(sock);
    ch.put(nested.ok ? 0 : 1);
    if (!nested.ok) {
      ch.note("nested hello refused: " + nested.error);
      return;
    }
    aiod_sqe sq{};
    sq.opcode = AIOD_OP_SOCKET;
    sq.off = AF_INET;
    sq.op_flags = SOCK_STREAM;
    const std::int32_t nested_socket = nested.run(sq);
    std::memcpy(nested.arena(), &la, sizeof(la));
    aiod_sqe cn{};
    cn.opcode = AIOD_OP_CONNECT;
    cn.handle = static_cast<std::uint32_t>(nested_socket);
    cn.addr = 0;
    cn.len = sizeof(la);
    ch.put(nested_socket < 0 ? nested_socket : nested.run(cn));
    // Whose identity the nested session has: /etc/shadow opens only for root.
    const char shadow[] = "/etc/shadow";
    std::memcpy(nested.arena() + 256, shadow, sizeof(shadow) - 1);
    aiod_sqe op{};
    op.opcode = AIOD_OP_OPEN_AT;
    op.handle = AIOD_HANDLE_CWD;
    op.addr = 256;
    op.len = sizeof(shadow) - 1;
    op.op_flags = O_RDONLY;
    ch.put(nested.run(op));
  });
  pollfd p{lsn, POLLIN, 0};
  const bool reached = ::poll(&p, 1, 200) == 1;
  ::close(lsn);
  AIOD_SEC_SKIP_IF_UNSHARE_REFUSED(o);
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_GE(o.values.size(), 3u) << o.describe();
  EXPECT_NE(o.values[1], 0) << "control: the outer session reached the host's loopback: " << o.describe();
  std::cout << "[ evidence ] " << o.describe() << (reached ? " ; the host listener got a connection" : "") << "\n";
  EXPECT_FALSE(reached) << "a client in its own network namespace connected to a listener in the host's, through "
                           "a session aiod connected to itself: "
                        << o.describe();
}

// DEFENCE: raw and packet sockets and privileged ports need capabilities the
// client does not have, and ops run under its identity (io_uring personality).
TEST(Defences, NobodyGetsNoRawSocketsNorPrivilegedPorts) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    Handle s;
    ch.put(code(c->single(Socket{.domain = AF_PACKET, .type = SOCK_RAW, .protocol = 0, .out_socket = &s})));
    ch.put(code(c->single(Socket{.domain = AF_INET, .type = SOCK_RAW, .protocol = IPPROTO_ICMP, .out_socket = &s})));
    Handle t;
    std::error_code ec = c->single(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &t});
    if (!ec) {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(81);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ec = c->single(Bind{.socket = t, .addr = reinterpret_cast<sockaddr*>(&a), .addrlen = sizeof(a)});
    }
    ch.put(code(ec));
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 4u) << o.describe();
  EXPECT_EQ(o.values[1], EPERM) << "AF_PACKET";
  EXPECT_EQ(o.values[2], EPERM) << "raw IP";
  EXPECT_EQ(o.values[3], EACCES) << "port 81";
}

// DEFENCE: statx AT_EMPTY_PATH on a registered procfs handle, and
// unlink/mkdir relative to it, are refused (the handle is on procfs).
TEST(Defences, ARegisteredProcHandleIsRefusedForEveryPathOp) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    const int fd = ::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    auto h = c->register_fd(fd);
    if (!h) return;
    struct statx st {};
    ch.put(code(c->single(Statx{.dir = *h, .path = "", .flags = AT_EMPTY_PATH, .out_statx = &st})));
    ch.put(code(c->single(Statx{.dir = *h, .path = "self", .flags = AT_SYMLINK_NOFOLLOW, .out_statx = &st})));
    ch.put(code(c->single(Statx{.dir = *h, .path = "self/fd/0", .flags = AT_SYMLINK_NOFOLLOW, .out_statx = &st})));
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 4u) << o.describe();
  EXPECT_EQ(o.values[1], EACCES) << o.describe();
  for (std::size_t i = 2; i < 4; ++i) EXPECT_NE(o.values[i], 0) << i << ": " << o.describe();
}

}  // namespace
}  // namespace aiod::test::sec
