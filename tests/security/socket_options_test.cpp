// SPDX-License-Identifier: MIT
// Socket options are set with the client's rights, not the daemon's: an
// option the kernel grants only with a capability (SO_MARK, SO_PRIORITY
// above 6, SO_RCVBUFFORCE, IP_TRANSPARENT, rebinding SO_BINDTODEVICE) fails
// with EPERM for an unprivileged client through aiod, exactly as its own
// setsockopt(2) does.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

struct Privileged {
  const char* what;
  int level;
  int name;
  std::string value;  // the option's bytes
};

std::string int_value(int v) { return std::string(reinterpret_cast<const char*>(&v), sizeof(v)); }

const Privileged kPrivileged[] = {
    {"SO_MARK", SOL_SOCKET, SO_MARK, int_value(7)},
    {"SO_PRIORITY 7", SOL_SOCKET, SO_PRIORITY, int_value(7)},
    {"SO_RCVBUFFORCE", SOL_SOCKET, SO_RCVBUFFORCE, int_value(1 << 20)},
    {"SO_SNDBUFFORCE", SOL_SOCKET, SO_SNDBUFFORCE, int_value(1 << 20)},
    {"IP_TRANSPARENT", IPPROTO_IP, IP_TRANSPARENT, int_value(1)},
};

// For each option: the errno of the process's own setsockopt(2) on its own
// socket, then the error of SETSOCKOPT through aiod on an aiod socket. Then
// SO_BINDTODEVICE: binding to "lo" (allowed to anyone), and rebinding to no
// device (CAP_NET_RAW), each both ways.
void set_options(Channel& ch, const ClientOptions& options) {
  auto c = Client::connect(options);
  ch.put(c ? 0 : code(c.error()));
  if (!c) return;
  for (const Privileged& p : kPrivileged) {
    const int own = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int rc = ::setsockopt(own, p.level, p.name, p.value.data(), static_cast<socklen_t>(p.value.size()));
    ch.put(rc == 0 ? 0 : errno);
    ::close(own);
    Handle s;
    std::error_code ec = c->single(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &s});
    if (!ec) ec = c->single(SetSockOpt{.socket = s, .level = p.level, .name = p.name, .value = p.value});
    ch.put(code(ec));
    ch.note(p.what);
    if (s) (void)c->single(CloseSocket{.socket = s});
  }
  const int own = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ch.put(::setsockopt(own, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) == 0 ? 0 : errno);
  ch.put(::setsockopt(own, SOL_SOCKET, SO_BINDTODEVICE, "", 1) == 0 ? 0 : errno);
  ::close(own);
  Handle s;
  std::error_code ec = c->single(Socket{.domain = AF_INET, .type = SOCK_DGRAM, .out_socket = &s});
  ch.put(code(ec ? ec : c->single(SetSockOpt{.socket = s, .level = SOL_SOCKET, .name = SO_BINDTODEVICE,
                                             .value = std::string_view("lo", 3)})));
  ch.put(code(c->single(
      SetSockOpt{.socket = s, .level = SOL_SOCKET, .name = SO_BINDTODEVICE, .value = std::string_view("", 1)})));
}

// The threat: the daemon runs as root, with every capability in its
// bounding set. If setsockopt ran with the daemon's credentials (on the shard
// thread, or a worker that had not taken the client's identity, or a ring op
// without the client's personality), nobody could mark its packets
// (SO_MARK steers policy routing and firewall rules), take priority queues,
// exceed the memory limits of socket buffers, or act as a transparent proxy.
TEST(SocketOptions, PrivilegedOptionsAreRefusedToAnUnprivilegedClientAsToItself) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({}, [&](Channel& ch) { set_options(ch, options); });
  ASSERT_TRUE(o.ok()) << o.describe();
  const std::size_t n = std::size(kPrivileged);
  ASSERT_EQ(o.values.size(), 1 + 2 * n + 4) << o.describe();
  ASSERT_EQ(o.values[0], 0) << o.describe();
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(o.values[1 + 2 * i], EPERM) << kPrivileged[i].what << ": the client's own setsockopt";
    EXPECT_EQ(o.values[2 + 2 * i], EPERM) << kPrivileged[i].what << " through aiod";
  }
  const std::size_t b = 1 + 2 * n;
  EXPECT_EQ(o.values[b], 0) << "binding to lo, the client's own";
  EXPECT_EQ(o.values[b + 1], EPERM) << "rebinding, the client's own";
  EXPECT_EQ(o.values[b + 2], 0) << "binding to lo through aiod";
  EXPECT_EQ(o.values[b + 3], EPERM) << "rebinding through aiod";
}

// The other side of the same rule: nothing above is refused by aiod's own
// policy. A root client, served with its own capabilities, sets them all.
TEST(SocketOptions, ARootClientSetsThemWithItsOwnCapabilities) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({.drop = false}, [&](Channel& ch) { set_options(ch, options); });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 1 + 2 * std::size(kPrivileged) + 4) << o.describe();
  for (std::size_t i = 0; i < o.values.size(); ++i) EXPECT_EQ(o.values[i], 0) << i << ": " << o.describe();
}

}  // namespace
}  // namespace aiod::test::sec
