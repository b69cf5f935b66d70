// SPDX-License-Identifier: MIT
// Socket options and addresses through aiod: SETSOCKOPT, GETSOCKOPT,
// GETSOCKNAME and GETPEERNAME. A server sets SO_REUSEADDR, binds port 0 and
// learns its port without leaving the API; the option policy's refusals and
// every bad length or handle get their documented error, and the session
// goes on working after each.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "loopback.hpp"
#include "op_fixture.hpp"
#include "raw_session.hpp"

namespace aiod::test {
namespace {

class SocketOptions : public OpTest {
 protected:
  Handle tcp_socket() {
    Handle h;
    EXPECT_FALSE(client_->single(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &h}));
    return h;
  }
  int get_int(Handle h, int level, int name, std::error_code* ec = nullptr) {
    int value = -1;
    std::size_t len = 0;
    const std::error_code e = client_->single(
        GetSockOpt{.socket = h, .level = level, .name = name, .value = MutableBuffer(&value, sizeof(value)),
                   .out_len = &len});
    if (ec != nullptr) *ec = e;
    if (!e) {
      EXPECT_EQ(len, sizeof(int));
    }
    return value;
  }
  std::error_code set_int(Handle h, int level, int name, int value) {
    return client_->single(
        SetSockOpt{.socket = h, .level = level, .name = name, .value = ConstBuffer(&value, sizeof(value))});
  }
  // The session still runs ops after a refusal.
  void expect_session_works() {
    Handle h = tcp_socket();
    EXPECT_EQ(get_int(h, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    EXPECT_FALSE(client_->single(CloseSocket{.socket = h}));
  }
};

TEST_F(SocketOptions, ServerLearnsItsPortAndBothEndsAgreeOnTheirAddresses) {
  Handle server = tcp_socket();
  const sockaddr_in any_port = loopback(0);
  sockaddr_in bound{};
  socklen_t bound_len = sizeof(bound);
  const int one = 1;
  // One chain: the option, the bind to port 0, the listen, and the question.
  ASSERT_FALSE(client_->multi(
      SetSockOpt{.socket = server, .level = SOL_SOCKET, .name = SO_REUSEADDR, .value = ConstBuffer(&one, sizeof(one)),
                 .link = Link::soft},
      Bind{.socket = server, .addr = reinterpret_cast<const sockaddr*>(&any_port), .addrlen = sizeof(any_port),
           .link = Link::soft},
      Listen{.socket = server, .backlog = 4, .link = Link::soft},
      GetSockName{.socket = server, .out_addr = reinterpret_cast<sockaddr*>(&bound), .inout_addrlen = &bound_len}));
  ASSERT_EQ(bound_len, sizeof(sockaddr_in));
  EXPECT_EQ(bound.sin_family, AF_INET);
  EXPECT_EQ(ntohl(bound.sin_addr.s_addr), INADDR_LOOPBACK);
  ASSERT_NE(ntohs(bound.sin_port), 0);

  EXPECT_EQ(get_int(server, SOL_SOCKET, SO_REUSEADDR), 1);
  EXPECT_EQ(get_int(server, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  EXPECT_EQ(get_int(server, SOL_SOCKET, SO_ACCEPTCONN), 1);

  Handle client = tcp_socket();
  Handle conn;
  ASSERT_FALSE(client_->multi(
      Accept{.socket = server, .out_socket = &conn},
      Connect{.socket = client, .addr = reinterpret_cast<const sockaddr*>(&bound), .addrlen = sizeof(bound)}));

  sockaddr_in client_peer{}, client_local{}, conn_peer{}, conn_local{};
  socklen_t l1 = sizeof(client_peer), l2 = sizeof(client_local), l3 = sizeof(conn_peer), l4 = sizeof(conn_local);
  ASSERT_FALSE(client_->multi(
      GetPeerName{.socket = client, .out_addr = reinterpret_cast<sockaddr*>(&client_peer), .inout_addrlen = &l1},
      GetSockName{.socket = client, .out_addr = reinterpret_cast<sockaddr*>(&client_local), .inout_addrlen = &l2},
      GetPeerName{.socket = conn, .out_addr = reinterpret_cast<sockaddr*>(&conn_peer), .inout_addrlen = &l3},
      GetSockName{.socket = conn, .out_addr = reinterpret_cast<sockaddr*>(&conn_local), .inout_addrlen = &l4}));
  for (socklen_t l : {l1, l2, l3, l4}) EXPECT_EQ(l, sizeof(sockaddr_in));
  // The client's peer is the server's address; each end's peer is the other end.
  EXPECT_EQ(std::memcmp(&client_peer, &bound, sizeof(bound)), 0);
  EXPECT_EQ(std::memcmp(&conn_local, &bound, sizeof(bound)), 0);
  EXPECT_EQ(std::memcmp(&conn_peer, &client_local, sizeof(client_local)), 0);
  EXPECT_NE(client_local.sin_port, 0);
}

TEST_F(SocketOptions, GetSockOptReadsBackWhatSetSockOptSet) {
  Handle h = tcp_socket();
  ASSERT_FALSE(set_int(h, SOL_SOCKET, SO_KEEPALIVE, 1));
  EXPECT_EQ(get_int(h, SOL_SOCKET, SO_KEEPALIVE), 1);
  ASSERT_FALSE(set_int(h, IPPROTO_TCP, TCP_NODELAY, 1));
  EXPECT_EQ(get_int(h, IPPROTO_TCP, TCP_NODELAY), 1);
  ASSERT_FALSE(set_int(h, IPPROTO_TCP, TCP_KEEPIDLE, 77));
  EXPECT_EQ(get_int(h, IPPROTO_TCP, TCP_KEEPIDLE), 77);
  EXPECT_EQ(get_int(h, SOL_SOCKET, SO_DOMAIN), AF_INET);
  EXPECT_EQ(get_int(h, SOL_SOCKET, SO_ERROR), 0);
  // A priority up to 6 needs no capability.
  ASSERT_FALSE(set_int(h, SOL_SOCKET, SO_PRIORITY, 5));
  EXPECT_EQ(get_int(h, SOL_SOCKET, SO_PRIORITY), 5);

  // A value longer than an int: the kernel writes what it has, no more.
  linger l{.l_onoff = 1, .l_linger = 3};
  ASSERT_FALSE(client_->single(
      SetSockOpt{.socket = h, .level = SOL_SOCKET, .name = SO_LINGER, .value = ConstBuffer(&l, sizeof(l))}));
  std::array<char, 64> room{};
  std::size_t len = 0;
  ASSERT_FALSE(client_->single(
      GetSockOpt{.socket = h, .level = SOL_SOCKET, .name = SO_LINGER, .value = room, .out_len = &len}));
  ASSERT_EQ(len, sizeof(linger));
  linger back{};
  std::memcpy(&back, room.data(), sizeof(back));
  EXPECT_EQ(back.l_onoff, 1);
  EXPECT_EQ(back.l_linger, 3);
}

TEST_F(SocketOptions, UnixSocketsToo) {
  Handle h;
  ASSERT_FALSE(client_->single(Socket{.domain = AF_UNIX, .type = SOCK_DGRAM, .out_socket = &h}));
  EXPECT_EQ(get_int(h, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
  ASSERT_FALSE(set_int(h, SOL_SOCKET, SO_SNDBUF, 65536));
  EXPECT_GE(get_int(h, SOL_SOCKET, SO_SNDBUF), 65536);
  // An unbound AF_UNIX socket's name is just its family.
  sockaddr_un name{};
  socklen_t len = sizeof(name);
  ASSERT_FALSE(client_->single(
      GetSockName{.socket = h, .out_addr = reinterpret_cast<sockaddr*>(&name), .inout_addrlen = &len}));
  EXPECT_EQ(len, sizeof(sa_family_t));
  EXPECT_EQ(name.sun_family, AF_UNIX);
}

TEST_F(SocketOptions, AnAddressLongerThanItsRoomIsTruncatedAndItsLengthSaid) {
  Handle h = tcp_socket();
  const sockaddr_in any_port = loopback(0);
  ASSERT_FALSE(client_->single(
      Bind{.socket = h, .addr = reinterpret_cast<const sockaddr*>(&any_port), .addrlen = sizeof(any_port)}));
  std::array<unsigned char, 8> room;
  room.fill(0xee);
  socklen_t len = 4;
  ASSERT_FALSE(client_->single(
      GetSockName{.socket = h, .out_addr = reinterpret_cast<sockaddr*>(room.data()), .inout_addrlen = &len}));
  EXPECT_EQ(len, sizeof(sockaddr_in));
  sa_family_t family;
  std::memcpy(&family, room.data(), sizeof(family));
  EXPECT_EQ(family, AF_INET);
  for (std::size_t i = 4; i < room.size(); ++i) EXPECT_EQ(room[i], 0xee) << "byte " << i << " written";
}

TEST_F(SocketOptions, AnUnconnectedSocketHasNoPeer) {
  Handle h = tcp_socket();
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  EXPECT_EQ(client_->single(
                GetPeerName{.socket = h, .out_addr = reinterpret_cast<sockaddr*>(&peer), .inout_addrlen = &len}),
            sys(ENOTCONN));
  expect_session_works();
}

TEST_F(SocketOptions, RefusedOptionsGetTheirDocumentedErrors) {
  Handle h = tcp_socket();
  // Code that would run, or a descriptor or pointer the kernel would look up,
  // in the daemon: EPERM, whatever the client's rights.
  sock_filter accept_all{.code = BPF_RET | BPF_K, .jt = 0, .jf = 0, .k = 0xffffffff};
  sock_fprog prog{.len = 1, .filter = &accept_all};
  EXPECT_EQ(client_->single(SetSockOpt{.socket = h,
                                       .level = SOL_SOCKET,
                                       .name = SO_ATTACH_FILTER,
                                       .value = ConstBuffer(&prog, sizeof(prog))}),
            sys(EPERM));
  EXPECT_EQ(set_int(h, SOL_SOCKET, SO_ATTACH_BPF, 0), sys(EPERM));
  EXPECT_EQ(set_int(h, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, 0), sys(EPERM));
  EXPECT_EQ(set_int(h, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, 0), sys(EPERM));
  EXPECT_EQ(set_int(h, SOL_SOCKET, SO_DETACH_FILTER, 0), sys(EPERM));
  EXPECT_EQ(set_int(h, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, 0), sys(EPERM));
  EXPECT_EQ(set_int(h, SOL_SOCKET, SO_PASSCRED, 1), sys(EPERM));
  EXPECT_EQ(set_int(h, SOL_SOCKET, 76 /* SO_PASSPIDFD */, 1), sys(EPERM));
  EXPECT_EQ(set_int(h, SOL_XDP, 1, 0), sys(EPERM));
  std::error_code ec;
  get_int(h, SOL_SOCKET, SO_ATTACH_FILTER /* SO_GET_FILTER */, &ec);
  EXPECT_EQ(ec, sys(EPERM));
  get_int(h, SOL_SOCKET, 77 /* SO_PEERPIDFD */, &ec);
  EXPECT_EQ(ec, sys(EPERM));
  get_int(h, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &ec);
  EXPECT_EQ(ec, sys(EPERM));
  // Not on the list: EOPNOTSUPP.
  EXPECT_EQ(set_int(h, SOL_SOCKET, SO_PASSSEC, 1), sys(EOPNOTSUPP));
  EXPECT_EQ(set_int(h, IPPROTO_IP, IP_OPTIONS, 0), sys(EOPNOTSUPP));
  EXPECT_EQ(set_int(h, IPPROTO_TCP, TCP_REPAIR, 1), sys(EOPNOTSUPP));
  EXPECT_EQ(set_int(h, SOL_SOCKET, 9999, 1), sys(EOPNOTSUPP));
  EXPECT_EQ(set_int(h, SOL_PACKET, 1, 1), sys(EOPNOTSUPP));
  // Read-only options cannot be set.
  EXPECT_EQ(set_int(h, SOL_SOCKET, SO_TYPE, SOCK_DGRAM), sys(EOPNOTSUPP));
  EXPECT_EQ(get_int(h, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  expect_session_works();
}

TEST_F(SocketOptions, FilesUnknownHandlesAndOtherSessionsHandlesAreRefused) {
  const Handle file = open(path("not-a-socket"), O_RDWR | O_CREAT, 0600);
  std::error_code ec;
  get_int(file, SOL_SOCKET, SO_TYPE, &ec);
  EXPECT_EQ(ec, sys(ENOTSOCK));
  EXPECT_EQ(set_int(file, SOL_SOCKET, SO_REUSEADDR, 1), sys(ENOTSOCK));
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  EXPECT_EQ(client_->single(
                GetSockName{.socket = file, .out_addr = reinterpret_cast<sockaddr*>(&a), .inout_addrlen = &len}),
            sys(ENOTSOCK));
  EXPECT_EQ(client_->single(
                GetPeerName{.socket = file, .out_addr = reinterpret_cast<sockaddr*>(&a), .inout_addrlen = &len}),
            sys(ENOTSOCK));

  EXPECT_EQ(set_int(Handle{}, SOL_SOCKET, SO_REUSEADDR, 1), sys(EBADF));
  EXPECT_EQ(set_int(Handle{0x7fff0123}, SOL_SOCKET, SO_REUSEADDR, 1), sys(EBADF));

  // Another session's socket: its handle names nothing here.
  auto other = Client::connect(daemon_.client_options());
  ASSERT_TRUE(other) << other.message();
  Handle theirs;
  for (int i = 0; i < 4; ++i) {
    ASSERT_FALSE(other->single(Socket{.domain = AF_INET, .type = SOCK_STREAM, .out_socket = &theirs}));
  }
  EXPECT_EQ(set_int(theirs, SOL_SOCKET, SO_REUSEADDR, 1), sys(EBADF));
  get_int(theirs, SOL_SOCKET, SO_TYPE, &ec);
  EXPECT_EQ(ec, sys(EBADF));
  EXPECT_EQ(client_->single(
                GetSockName{.socket = theirs, .out_addr = reinterpret_cast<sockaddr*>(&a), .inout_addrlen = &len}),
            sys(EBADF));
  expect_session_works();
}

TEST_F(SocketOptions, BadLengthsAreRefusedAndTheSessionGoesOn) {
  Handle h = tcp_socket();
  // An empty value: the kernel's EINVAL for an int option.
  EXPECT_EQ(client_->single(
                SetSockOpt{.socket = h, .level = SOL_SOCKET, .name = SO_REUSEADDR, .value = ConstBuffer()}),
            sys(EINVAL));
  // More than 4 KiB: the daemon's EINVAL, for both directions.
  std::array<char, 4097> big{};
  EXPECT_EQ(client_->single(SetSockOpt{.socket = h, .level = SOL_SOCKET, .name = SO_REUSEADDR, .value = big}),
            sys(EINVAL));
  std::size_t got = 0;
  EXPECT_EQ(client_->single(
                GetSockOpt{.socket = h, .level = SOL_SOCKET, .name = SO_TYPE, .value = big, .out_len = &got}),
            sys(EINVAL));
  // No room to read into.
  EXPECT_EQ(client_->single(GetSockOpt{
                .socket = h, .level = SOL_SOCKET, .name = SO_TYPE, .value = MutableBuffer(), .out_len = &got}),
            sys(EINVAL));
  // A short room: no more than it is written.
  std::array<unsigned char, 8> room;
  room.fill(0xee);
  ASSERT_FALSE(client_->single(GetSockOpt{.socket = h,
                                          .level = SOL_SOCKET,
                                          .name = SO_TYPE,
                                          .value = MutableBuffer(room.data(), 2),
                                          .out_len = &got}));
  EXPECT_EQ(got, 2u);
  for (std::size_t i = 2; i < room.size(); ++i) EXPECT_EQ(room[i], 0xee) << "byte " << i << " written";
  // Room for a 4 KiB value is fine, and only the value's bytes are counted.
  ASSERT_FALSE(client_->single(GetSockOpt{.socket = h,
                                          .level = SOL_SOCKET,
                                          .name = SO_TYPE,
                                          .value = MutableBuffer(big.data(), 4096),
                                          .out_len = &got}));
  EXPECT_EQ(got, sizeof(int));
  // Queue-time refusals of the library.
  socklen_t zero = 0;
  sockaddr_storage a{};
  EXPECT_EQ(client_->single(
                GetSockName{.socket = h, .out_addr = reinterpret_cast<sockaddr*>(&a), .inout_addrlen = &zero}),
            std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(client_->single(GetSockName{.socket = h, .out_addr = nullptr, .inout_addrlen = &zero}),
            std::make_error_code(std::errc::invalid_argument));
  expect_session_works();
}

// Descriptors written by hand: lengths and ranges a library would never send.
TEST_F(SocketOptions, HostileDescriptorsGetTheirOwnErrors) {
  RawSession raw(daemon_.socket_path());
  ASSERT_TRUE(raw.ok()) << raw.error();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const auto handle = raw.register_fd(fd);
  ::close(fd);
  ASSERT_TRUE(handle);
  std::uint64_t ud = 0;
  auto submit = [&](aiod_sqe s) {
    s.user_data = ++ud;
    raw.push(s);
    raw.publish();
    const auto cqes = raw.wait(1);
    EXPECT_EQ(cqes.size(), 1u);
    return cqes.empty() ? 1 : cqes[0].res;
  };
  const std::uint64_t end = raw.arena_size();
  auto getsockopt = [&](std::uint64_t addr, std::uint32_t len) {
    return aiod_sqe{.opcode = AIOD_OP_GETSOCKOPT,
                    .handle = *handle,
                    .off = SOL_SOCKET,
                    .addr = addr,
                    .len = len,
                    .op_flags = SO_TYPE};
  };
  EXPECT_EQ(submit(getsockopt(end - 2, 4)), -EFAULT);  // runs past the arena
  EXPECT_EQ(submit(getsockopt(end, 4)), -EFAULT);
  EXPECT_EQ(submit(getsockopt(0, 0xffffffffu)), -EINVAL);
  EXPECT_EQ(submit(getsockopt(0, 4097)), -EINVAL);
  EXPECT_EQ(submit(getsockopt(0, 0)), -EINVAL);
  aiod_sqe level = getsockopt(0, 4);
  level.off = 1ull << 40;  // not an int
  EXPECT_EQ(submit(level), -EINVAL);
  aiod_sqe set = getsockopt(end - 1, 4);
  set.opcode = AIOD_OP_SETSOCKOPT;
  set.op_flags = SO_REUSEADDR;
  EXPECT_EQ(submit(set), -EFAULT);
  aiod_sqe name{.opcode = AIOD_OP_GETSOCKNAME, .handle = *handle, .addr = end - 8, .len = 16};
  EXPECT_EQ(submit(name), -EFAULT);
  name.len = 0;
  EXPECT_EQ(submit(name), -EINVAL);
  name.addr = 0;
  name.len = 16;
  name.mode = 1;  // an unused field
  EXPECT_EQ(submit(name), -EINVAL);

  // A room larger than an address: the full length comes back, the bytes
  // after the address are not touched.
  std::memset(raw.arena(), 0xee, 256);
  name.mode = 0;
  name.len = 256;
  EXPECT_EQ(submit(name), static_cast<int>(sizeof(sockaddr_in)));
  for (std::size_t i = sizeof(sockaddr_storage); i < 256; ++i) {
    EXPECT_EQ(std::to_integer<unsigned>(raw.arena()[i]), 0xeeu) << "byte " << i << " written";
  }
  // Still served.
  std::memset(raw.arena(), 0, 8);
  EXPECT_EQ(submit(getsockopt(0, 4)), 4);
  int type = 0;
  std::memcpy(&type, raw.arena(), sizeof(type));
  EXPECT_EQ(type, SOCK_STREAM);
}

}  // namespace
}  // namespace aiod::test
