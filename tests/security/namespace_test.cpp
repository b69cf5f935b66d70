// SPDX-License-Identifier: MIT
// A client is served inside its own namespaces, or refused — never in the
// daemon's.
//
// The threat: aiod runs in the host's network and mount namespaces. A client
// in a container (its own, perhaps empty, network namespace; its own mounts)
// that connects to the daemon's socket would otherwise do its IO from the
// host's side of every boundary: reach servers on the host's loopback and
// abstract AF_UNIX names the container cannot see, and resolve paths in the
// host's mount table instead of its own.
//
// Each test forks a child that unshares a namespace as root (skipped where
// unshare(2) is refused), checks that the namespace is in effect (the
// control), then drops to nobody (or stays root) and connects. Accepted
// outcomes: the session is refused with a clear error (errc::rejected and a
// message), or the ops behave as in the client's namespace. Never: an effect
// in the host's namespace.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <random>

#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

// Values a body puts after connecting: 0 = served, 1 = refused (then the
// error and a note with the message follow).
constexpr std::int64_t kServed = 0, kRefused = 1;

// Connects; on refusal reports it and returns nullopt.
std::optional<Client> connect_or_report(Channel& ch, const ClientOptions& options) {
  auto c = Client::connect(options);
  if (!c) {
    ch.put(kRefused);
    ch.put(code(c.error()));
    ch.note("session refused: " + c.message());
    return std::nullopt;
  }
  ch.put(kServed);
  return std::move(*c);
}

// A refusal must say why: errc::rejected with the daemon's explanation.
void expect_clear_refusal(const Outcome& o, std::size_t at) {
  ASSERT_GT(o.values.size(), at + 1) << o.describe();
  EXPECT_EQ(o.values[at + 1], code(make_error_code(errc::rejected))) << "refused, but not clearly: " << o.describe();
  ASSERT_FALSE(o.notes.empty());
  EXPECT_GT(o.notes.back().size(), std::string("session refused: rejected").size() + 2)
      << "a refusal without an explanation: " << o.describe();
}

// Whether a connection is waiting on the (non-blocking) listener `srv`.
bool connection_pending(int srv) {
  const int fd = ::accept4(srv, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Connects through aiod to `addr`; puts [socket, connect].
void connect_through_aiod(Channel& ch, Client& c, int domain, const sockaddr* addr, socklen_t len) {
  Handle s;
  const std::int64_t sock = code(c.single(Socket{.domain = domain, .type = SOCK_STREAM, .out_socket = &s}));
  ch.put(sock);
  if (sock != 0) {
    ch.put(-1);
    return;
  }
  std::error_code ec;
  (void)c.multi(Connect{.socket = s, .addr = addr, .addrlen = len, .link = Link::hard, .out_error = &ec},
                LinkTimeout{.duration = 5s});
  ch.put(code(ec));
}

// Values: [direct connect errno, served/refused, ...socket, connect].
void expect_host_loopback_unreachable(bool drop) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(srv, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(srv, 16), 0);
  ASSERT_EQ(::getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({.drop = drop, .unshare_flags = CLONE_NEWNET}, [&](Channel& ch) {
    // The control: from its own namespace the client cannot reach the server.
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ch.put(::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 ? 0 : errno);
    ::close(s);
    auto c = connect_or_report(ch, options);
    if (c) connect_through_aiod(ch, *c, AF_INET, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  });
  AIOD_SEC_SKIP_IF_UNSHARE_REFUSED(o);
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_GE(o.values.size(), 3u) << o.describe();
  ASSERT_NE(o.values[0], 0)
      << "the client's own network namespace reaches the host's loopback: the test proves nothing";
  const bool reached = connection_pending(srv);
  ::close(srv);
  if (o.values[1] == kRefused) {
    expect_clear_refusal(o, 1);
  } else {
    ASSERT_EQ(o.values.size(), 4u) << o.describe();
    EXPECT_TRUE(o.values[2] != 0 || o.values[3] != 0)
        << "a client in an empty network namespace connected through aiod to 127.0.0.1:" << ntohs(addr.sin_port)
        << " on the host: " << o.describe();
  }
  EXPECT_FALSE(reached) << "the host's server accepted a connection from a client in another network namespace";
}

TEST(NetNamespace, NobodyInItsOwnNetworkNamespaceCannotReachTheHostsLoopback) {
  AIOD_SEC_REQUIRE_ROOT();
  expect_host_loopback_unreachable(true);
}

TEST(NetNamespace, RootInItsOwnNetworkNamespaceCannotReachTheHostsLoopback) {
  AIOD_SEC_REQUIRE_ROOT();
  expect_host_loopback_unreachable(false);
}

// Abstract AF_UNIX names belong to a network namespace.
TEST(NetNamespace, AnAbstractUnixNameOfTheHostIsNotReachableFromAnotherNetworkNamespace) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  std::random_device rd;
  const std::string name = "aiod-security-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  const int srv = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(srv, 0);
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(srv, 16), 0);
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({.unshare_flags = CLONE_NEWNET}, [&](Channel& ch) {
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ch.put(::connect(s, reinterpret_cast<const sockaddr*>(&addr), len) == 0 ? 0 : errno);
    ::close(s);
    auto c = connect_or_report(ch, options);
    if (c) connect_through_aiod(ch, *c, AF_UNIX, reinterpret_cast<const sockaddr*>(&addr), len);
  });
  AIOD_SEC_SKIP_IF_UNSHARE_REFUSED(o);
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_GE(o.values.size(), 3u) << o.describe();
  ASSERT_NE(o.values[0], 0)
      << "the abstract name is reachable from the client's own namespace: the test proves nothing";
  const bool reached = connection_pending(srv);
  ::close(srv);
  if (o.values[1] == kRefused) {
    expect_clear_refusal(o, 1);
  } else {
    ASSERT_EQ(o.values.size(), 4u) << o.describe();
    EXPECT_TRUE(o.values[2] != 0 || o.values[3] != 0)
        << "a client in another network namespace connected through aiod to the host's abstract name @" << name;
  }
  EXPECT_FALSE(reached) << "the host's abstract socket accepted a connection from another network namespace";
}

// --- mount namespace ------------------------------------------------------------------

// The host's directory D (world-writable, holding "host-only" and
// "host-victim"), over which the client mounts a tmpfs holding "client-only".
struct MountView {
  std::string d;
  std::string host_only, host_victim, client_only;

  explicit MountView(const std::string& parent) {
    d = make_dir(parent, "view", 0777);
    host_only = d + "/host-only";
    host_victim = d + "/host-victim";
    client_only = d + "/client-only";
    std::ofstream(host_only) << "host";
    std::ofstream(host_victim) << "host";
  }

  // For UserOptions::setup: runs as root in the child's new mount namespace.
  UserOptions options() const {
    UserOptions o;
    o.unshare_flags = CLONE_NEWNS;
    const std::string dir = d, file = client_only;
    o.setup = [dir, file] {
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
      if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "mode=0777") != 0) return errno;
      const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return errno;
      (void)!::write(fd, "client", 6);
      ::close(fd);
      return 0;
    };
    return o;
  }

  // The control, in the child: the namespace shows the client's view.
  void control(Channel& ch) const {
    ch.put(::access(host_only.c_str(), F_OK) == 0 ? 0 : errno);    // expect ENOENT
    ch.put(::access(client_only.c_str(), F_OK) == 0 ? 0 : errno);  // expect 0
  }
};

void expect_namespace_in_effect(const Outcome& o) {
  ASSERT_GE(o.values.size(), 3u) << o.describe();
  ASSERT_EQ(o.values[0], ENOENT) << "the client's mount namespace shows the host's file: the test proves nothing";
  ASSERT_EQ(o.values[1], 0) << "the client's tmpfs is not in effect: " << o.describe();
}

// OPEN_AT and OPENAT2 of absolute paths: the client's mounts.
TEST(MountNamespace, AbsoluteOpensSeeTheClientsMounts) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const MountView view(daemon.directory());
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user(view.options(), [&](Channel& ch) {
    view.control(ch);
    auto c = connect_or_report(ch, options);
    if (!c) return;
    Handle h;
    ch.put(code(c->single(OpenAt{.path = view.host_only.c_str(), .out_file = &h})));
    ch.put(code(c->single(OpenAt{.path = view.client_only.c_str(), .out_file = &h})));
    ch.put(code(c->single(OpenAt2{.path = view.host_only.c_str(), .out_file = &h})));
    ch.put(code(c->single(OpenAt2{.path = view.client_only.c_str(), .out_file = &h})));
  });
  AIOD_SEC_SKIP_IF_UNSHARE_REFUSED(o);
  ASSERT_TRUE(o.ok()) << o.describe();
  expect_namespace_in_effect(o);
  if (o.values[2] == kRefused) return expect_clear_refusal(o, 2);
  ASSERT_EQ(o.values.size(), 7u) << o.describe();
  EXPECT_EQ(o.values[3], ENOENT) << "OPEN_AT of " << view.host_only << " opened the host's file";
  EXPECT_EQ(o.values[4], 0) << "OPEN_AT of " << view.client_only << " does not see the client's tmpfs";
  EXPECT_EQ(o.values[5], ENOENT) << "OPENAT2 of " << view.host_only << " opened the host's file";
  EXPECT_EQ(o.values[6], 0) << "OPENAT2 of " << view.client_only << " does not see the client's tmpfs";
}

// STATX, MKDIR_AT, SYMLINK_AT, UNLINK_AT and RENAME_AT of absolute paths: the
// client's mounts, and nothing happens to the host's directory.
TEST(MountNamespace, AbsolutePathOpsSeeTheClientsMounts) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const MountView view(daemon.directory());
  const std::string made = view.d + "/made", link = view.d + "/link", renamed = view.d + "/renamed";
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user(view.options(), [&](Channel& ch) {
    view.control(ch);
    auto c = connect_or_report(ch, options);
    if (!c) return;
    struct statx st {};
    ch.put(code(c->single(Statx{.path = view.host_only.c_str(), .out_statx = &st})));    // 3: ENOENT
    ch.put(code(c->single(Statx{.path = view.client_only.c_str(), .out_statx = &st})));  // 4: 0
    ch.put(code(c->single(MkdirAt{.path = made.c_str()})));                              // 5: 0
    ch.put(::access(made.c_str(), F_OK) == 0 ? 0 : errno);                               // 6: 0
    ch.put(code(c->single(SymlinkAt{.target = "x", .link_path = link.c_str()})));        // 7: 0
    struct stat ls {};
    ch.put(::lstat(link.c_str(), &ls) == 0 ? 0 : errno);                                                   // 8: 0
    ch.put(code(c->single(UnlinkAt{.path = view.host_victim.c_str()})));                                   // 9: ENOENT
    ch.put(code(c->single(RenameAt{.old_path = view.client_only.c_str(), .new_path = renamed.c_str()})));  // 10: 0
    ch.put(::access(renamed.c_str(), F_OK) == 0 ? 0 : errno);                                              // 11: 0
  });
  AIOD_SEC_SKIP_IF_UNSHARE_REFUSED(o);
  ASSERT_TRUE(o.ok()) << o.describe();
  expect_namespace_in_effect(o);
  struct stat st {};
  // Whatever the daemon did, the host's directory is as the test left it.
  EXPECT_EQ(::stat(view.host_victim.c_str(), &st), 0) << "UNLINK_AT removed the host's file";
  EXPECT_NE(::stat(made.c_str(), &st), 0) << "MKDIR_AT created " << made << " in the host's directory";
  EXPECT_NE(::lstat(link.c_str(), &st), 0) << "SYMLINK_AT created " << link << " in the host's directory";
  EXPECT_NE(::stat(renamed.c_str(), &st), 0) << "RENAME_AT created " << renamed << " in the host's directory";
  if (o.values[2] == kRefused) return expect_clear_refusal(o, 2);
  ASSERT_EQ(o.values.size(), 12u) << o.describe();
  EXPECT_EQ(o.values[3], ENOENT) << "STATX of " << view.host_only << " described the host's file";
  EXPECT_EQ(o.values[4], 0) << "STATX of " << view.client_only << " does not see the client's tmpfs";
  EXPECT_EQ(o.values[5], 0) << "MKDIR_AT " << made << " in the client's tmpfs failed";
  EXPECT_EQ(o.values[6], 0) << "MKDIR_AT's directory is not in the client's tmpfs";
  EXPECT_EQ(o.values[7], 0) << "SYMLINK_AT " << link << " in the client's tmpfs failed";
  EXPECT_EQ(o.values[8], 0) << "SYMLINK_AT's link is not in the client's tmpfs";
  EXPECT_EQ(o.values[9], ENOENT) << "UNLINK_AT of " << view.host_victim << " reached the host's file";
  EXPECT_EQ(o.values[10], 0) << "RENAME_AT of the client's own file failed";
  EXPECT_EQ(o.values[11], 0) << "RENAME_AT's result is not in the client's tmpfs";
}

// AF_UNIX socket paths (CONNECT) resolve in the client's mounts: a socket in
// the client's tmpfs is reachable, one in the host's directory is not.
TEST(MountNamespace, UnixSocketPathsResolveInTheClientsMounts) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const MountView view(daemon.directory());
  auto unix_addr = [](const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    return a;
  };
  const sockaddr_un host_addr = unix_addr(view.d + "/host.sock"), client_addr = unix_addr(view.d + "/client.sock");
  const int host_srv = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(host_srv, 0);
  ASSERT_EQ(::bind(host_srv, reinterpret_cast<const sockaddr*>(&host_addr), sizeof(host_addr)), 0);
  ASSERT_EQ(::chmod(host_addr.sun_path, 0777), 0);
  ASSERT_EQ(::listen(host_srv, 16), 0);
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user(view.options(), [&](Channel& ch) {
    view.control(ch);
    // The client's own server, in its tmpfs.
    const int own = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (::bind(own, reinterpret_cast<const sockaddr*>(&client_addr), sizeof(client_addr)) != 0 ||
        ::listen(own, 16) != 0) {
      ch.note(std::string("the client's own server: ") + std::strerror(errno));
    }
    auto c = connect_or_report(ch, options);
    if (!c) return;
    connect_through_aiod(ch, *c, AF_UNIX, reinterpret_cast<const sockaddr*>(&client_addr), sizeof(client_addr));
    ch.put(connection_pending(own) ? 0 : 1);
    connect_through_aiod(ch, *c, AF_UNIX, reinterpret_cast<const sockaddr*>(&host_addr), sizeof(host_addr));
  });
  AIOD_SEC_SKIP_IF_UNSHARE_REFUSED(o);
  ASSERT_TRUE(o.ok()) << o.describe();
  expect_namespace_in_effect(o);
  const bool reached = connection_pending(host_srv);
  ::close(host_srv);
  EXPECT_FALSE(reached) << "the host's socket " << host_addr.sun_path
                        << " accepted a connection from a client in another mount namespace";
  if (o.values[2] == kRefused) return expect_clear_refusal(o, 2);
  ASSERT_EQ(o.values.size(), 8u) << o.describe();
  EXPECT_EQ(o.values[4], 0) << "CONNECT to the client's own socket " << client_addr.sun_path << " failed";
  EXPECT_EQ(o.values[5], 0) << "the client's own server saw no connection";
  EXPECT_NE(o.values[7], 0) << "CONNECT to " << host_addr.sun_path << " reached the host's socket";
}

}  // namespace
}  // namespace aiod::test::sec
