// SPDX-License-Identifier: MIT
// What a client sends through aiod carries the client's identity, never the
// daemon's.
//
// The threat: a receiver that trusts SCM_CREDENTIALS (SO_PASSCRED: systemd's
// journal and notify sockets, polkit-style helpers, any service that
// authorises its peers by uid) sees the identity of the process whose system
// call sent the datagram. aiod sends for its clients; if it does so as itself,
// a client running as nobody speaks with uid 0, gid 0 to every such receiver.
//
// Each test: the test (root) makes a receiving AF_UNIX datagram socket with
// SO_PASSCRED; a client running as nobody sends one datagram to it through aiod
// (SEND, SEND_MSG, WRITE); the credentials that arrive must be uid 65534 and
// gid 65534. The pid that arrives is the daemon's (the sending process is
// aiod; the kernel records the caller's thread group) — it is not asserted.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

enum class Via { send, send_msg, write };

// Registers `tx` (a connected datagram socket the child inherited) and sends
// one datagram through aiod with `via`. Puts [connect, register, op].
void send_through_aiod(Channel& ch, const ClientOptions& options, int tx, Via via) {
  auto c = Client::connect(options);
  ch.put(c ? 0 : code(c.error()));
  if (!c) return;
  auto h = c->register_fd(tx);
  ch.put(h ? 0 : code(h.error()));
  if (!h) return;
  std::size_t n = 0;
  switch (via) {
    case Via::send:
      ch.put(code(c->single(Send{.socket = *h, .buffer = std::string_view("send"), .out_written = &n})));
      break;
    case Via::send_msg: {
      char data[] = "send_msg";
      iovec iov{data, sizeof(data) - 1};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      ch.put(code(c->single(SendMsg{.socket = *h, .msg = &msg, .out_written = &n})));
      break;
    }
    case Via::write:
      ch.put(code(c->single(Write{.file = *h, .buffer = std::string_view("write"), .out_written = &n})));
      break;
  }
}

void expect_clients_credentials(Via via) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  const int rx = sv[0], tx = sv[1];
  const int on = 1;
  ASSERT_EQ(::setsockopt(rx, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({.keep_fds = {tx}}, [&](Channel& ch) { send_through_aiod(ch, options, tx, via); });
  ::close(tx);
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 3u) << o.describe();
  ASSERT_EQ(o.values[2], 0) << "the send itself failed: " << o.describe();
  const ReceivedCreds r = receive_creds(rx, 5s);
  ::close(rx);
  ASSERT_TRUE(r.received) << "no datagram arrived";
  ASSERT_TRUE(r.had_creds) << "SO_PASSCRED is set, yet no SCM_CREDENTIALS arrived";
  EXPECT_EQ(r.uid, kNobody) << "a datagram nobody sent through aiod carries uid " << r.uid << " (pid " << r.pid
                            << ", the daemon is " << daemon.pid() << ")";
  EXPECT_EQ(r.gid, kNogroup) << "a datagram nobody sent through aiod carries gid " << r.gid;
}

TEST(PeerCredentials, SendCarriesTheClientsUidAndGid) {
  AIOD_SEC_REQUIRE_ROOT();
  expect_clients_credentials(Via::send);
}

TEST(PeerCredentials, SendMsgCarriesTheClientsUidAndGid) {
  AIOD_SEC_REQUIRE_ROOT();
  expect_clients_credentials(Via::send_msg);
}

TEST(PeerCredentials, WriteToASocketCarriesTheClientsUidAndGid) {
  AIOD_SEC_REQUIRE_ROOT();
  expect_clients_credentials(Via::write);
}

// The same with a socket the daemon created for the client (SOCKET) and a
// receiver bound at a path, addressed by SEND_MSG's name.
TEST(PeerCredentials, ADatagramToABoundPathCarriesTheClientsUidAndGid) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string w = make_dir(daemon.directory(), "w", 0777);
  const std::string path = w + "/receiver.sock";
  const int rx = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(rx, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0777), 0);
  const int on = 1;
  ASSERT_EQ(::setsockopt(rx, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
  const ClientOptions options = daemon.client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    Handle s;
    ch.put(code(c->single(Socket{.domain = AF_UNIX, .type = SOCK_DGRAM, .out_socket = &s})));
    char data[] = "to a path";
    iovec iov{data, sizeof(data) - 1};
    msghdr msg{};
    msg.msg_name = &addr;
    msg.msg_namelen = sizeof(addr);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::size_t n = 0;
    ch.put(code(c->single(SendMsg{.socket = s, .msg = &msg, .out_written = &n})));
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 3u) << o.describe();
  ASSERT_EQ(o.values[2], 0) << "the send itself failed: " << o.describe();
  const ReceivedCreds r = receive_creds(rx, 5s);
  ::close(rx);
  ASSERT_TRUE(r.received) << "no datagram arrived";
  ASSERT_TRUE(r.had_creds);
  EXPECT_EQ(r.uid, kNobody) << "a datagram nobody sent through aiod carries uid " << r.uid;
  EXPECT_EQ(r.gid, kNogroup) << "a datagram nobody sent through aiod carries gid " << r.gid;
}

}  // namespace
}  // namespace aiod::test::sec
