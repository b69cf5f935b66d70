// SPDX-License-Identifier: MIT
// net_cases.cpp — socket ops: socket, bind, listen, accept, connect, recv, send, recv_msg, send_msg, shutdown,
// setsockopt, getsockopt, getsockname, getpeername, close_socket.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "harness.hpp"

namespace aiod::conf {
namespace {

using namespace std::chrono_literals;

sockaddr_un unix_addr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  return a;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int new_socket(int domain, int type) {
  const int fd = ::socket(domain, type | SOCK_CLOEXEC, 0);
  if (fd < 0) ADD_FAILURE() << "socket: " << errname(errno);
  return fd;
}

// A listening AF_UNIX stream socket at dir/name.
int unix_listener(const Ctx& x, const std::string& name) {
  const int fd = new_socket(AF_UNIX, SOCK_STREAM);
  const sockaddr_un a = unix_addr(x.path(name));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0)
    ADD_FAILURE() << "listen at " << name << ": " << errname(errno);
  return fd;
}

// A socket connected to the AF_UNIX listener at dir/name.
int unix_connected(const Ctx& x, const std::string& name, int type = SOCK_STREAM) {
  const int fd = new_socket(AF_UNIX, type);
  const sockaddr_un a = unix_addr(x.path(name));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    ADD_FAILURE() << "connect to " << name << ": " << errname(errno);
  return fd;
}

// A datagram socket bound at dir/name.
int unix_dgram_at(const Ctx& x, const std::string& name) {
  const int fd = new_socket(AF_UNIX, SOCK_DGRAM);
  const sockaddr_un a = unix_addr(x.path(name));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    ADD_FAILURE() << "bind " << name << ": " << errname(errno);
  return fd;
}

void send_all(int fd, const std::string& data) {
  if (::send(fd, data.data(), data.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(data.size()))
    ADD_FAILURE() << "send: " << errname(errno);
}

// Object 0: one end of a stream socketpair; peer 0: the other, which sent `data` (and closed, if asked).
std::function<void(Ctx&)> pair_with(std::string data, bool close_peer, int type = SOCK_STREAM) {
  return [=](Ctx& x) {
    const auto sv = socket_pair(type);
    if (!data.empty()) send_all(sv[1], data);
    x.add(sv[0]);
    if (close_peer)
      ::close(sv[1]);
    else
      x.keep(sv[1]);
  };
}

std::string dir_and_peer(Ctx& x) { return snapshot(x.dir) + "peer: " + drain(x.peer(0)); }

// Accepts one connection on peer 0 (a listener) and tells what it holds.
std::string accepted_on_peer(Ctx& x) {
  pollfd p{x.peer(0), POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return "no connection";
  const int a = ::accept4(x.peer(0), nullptr, nullptr, SOCK_CLOEXEC);
  if (a < 0) return "accept: " + errname(errno);
  const std::string r = "accepted: " + drain(a);
  ::close(a);
  return r;
}

std::string data_of(const char* buf, long n) { return n < 0 ? "" : std::string(buf, static_cast<std::size_t>(n)); }

Case socket_case(std::string name, int want, int domain, int type, int protocol) {
  return Case{.op = "socket",
              .name = std::move(name),
              .want_err = want,
              .ref =
                  [=](Ctx&) {
                    const int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
                    const Out o = sys_ok(fd);
                    if (fd >= 0) ::close(fd);
                    return o;
                  },
              .aiod =
                  [=](Ctx& x) {
                    Handle h;
                    const auto ec = x.client->single(
                        Socket{.domain = domain, .type = type, .protocol = protocol, .out_socket = &h});
                    if (!ec) x.client->single(CloseSocket{.socket = h});
                    return aio(ec);
                  }};
}

// `addr(x)` gives the address; objects and peers come from `setup`.
template <class AddrFn>
Case address_case(std::string op, std::string name, int want, std::function<void(Ctx&)> setup, AddrFn addr,
                  std::function<std::string(Ctx&)> probe = {}, bool nobody = false) {
  const bool is_bind = op == "bind";
  return Case{.op = op,
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    const auto a = addr(x);
                    const auto* sa = reinterpret_cast<const sockaddr*>(&a);
                    return sys(is_bind ? ::bind(x.fd(0), sa, sizeof a) : ::connect(x.fd(0), sa, sizeof a));
                  },
              .aiod =
                  [=](Ctx& x) {
                    const auto a = addr(x);
                    const auto* sa = reinterpret_cast<const sockaddr*>(&a);
                    const socklen_t len = sizeof a;
                    return aio(is_bind ? x.client->single(Bind{.socket = x.h(0), .addr = sa, .addrlen = len})
                                       : x.client->single(Connect{.socket = x.h(0), .addr = sa, .addrlen = len}),
                               "0");
                  },
              .probe = std::move(probe),
              .as_nobody = nobody};
}

Case listen_case(std::string name, int want, std::function<void(Ctx&)> setup,
                 std::function<std::string(Ctx&)> probe = {}) {
  return Case{.op = "listen",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref = [](Ctx& x) { return sys(::listen(x.fd(0), 8)); },
              .aiod = [](Ctx& x) { return aio(x.client->single(Listen{.socket = x.h(0), .backlog = 8}), "0"); },
              .probe = std::move(probe)};
}

// Accepts on object 0 (with `flags`), then sends "hi" on the new socket, then
// tries a non-blocking-or-not receive on it (MSG_DONTWAIT only when flags has
// no SOCK_NONBLOCK, so the outcome shows whether the flag took).
Case accept_case(std::string name, int want, std::function<void(Ctx&)> setup, int flags, bool with_addr) {
  return Case{
      .op = "accept",
      .name = std::move(name),
      .want_err = want,
      .setup = std::move(setup),
      .ref =
          [=](Ctx& x) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            const int a = ::accept4(x.fd(0), with_addr ? reinterpret_cast<sockaddr*>(&ss) : nullptr,
                                    with_addr ? &len : nullptr, flags | SOCK_CLOEXEC);
            if (a < 0) return Out{errno, ""};
            std::string v =
                with_addr ? "family=" + std::to_string(ss.ss_family) + " len=" + std::to_string(len) + " " : "";
            v += step("send", sys(::send(a, "hi", 2, MSG_NOSIGNAL)));
            char b[4];
            v += step("recv", sys(::recv(a, b, sizeof b, (flags & SOCK_NONBLOCK) != 0 ? 0 : MSG_DONTWAIT)));
            ::close(a);
            return Out{0, v};
          },
      .aiod =
          [=](Ctx& x) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            Handle a;
            const auto ec = x.client->single(Accept{.socket = x.h(0),
                                                    .out_addr = with_addr ? reinterpret_cast<sockaddr*>(&ss) : nullptr,
                                                    .inout_addrlen = with_addr ? &len : nullptr,
                                                    .flags = flags,
                                                    .out_socket = &a});
            if (ec) return aio(ec);
            std::string v =
                with_addr ? "family=" + std::to_string(ss.ss_family) + " len=" + std::to_string(len) + " " : "";
            std::size_t n = 0;
            v += step("send", [&] {
              const std::error_code ec_ = x.client->single(Send{.socket = a, .buffer = "hi", .out_written = &n});
              return aio(ec_, std::to_string(n));
            }());
            char b[4];
            const int rflags = (flags & SOCK_NONBLOCK) != 0 ? 0 : MSG_DONTWAIT;
            // Bounded: a receive that waits instead of failing ends with its link timeout.
            std::error_code rec, lt;
            (void)x.client->complete(
                Recv{.socket = a, .buffer = b, .flags = rflags, .out_read = &n, .link = Link::soft, .out_error = &rec},
                LinkTimeout{.duration = 500ms, .out_error = &lt});
            v += step("recv", aio(rec, std::to_string(n)));
            x.client->single(CloseSocket{.socket = a});
            return Out{0, v};
          },
      .probe = dir_and_peer};
}

// Object 0: a listener at dir/s with a connection waiting from peer 0.
void listener_with_a_client(Ctx& x) {
  x.add(unix_listener(x, "s"));
  x.keep(unix_connected(x, "s"));
}

Case recv_case(std::string name, int want, std::function<void(Ctx&)> setup, std::size_t len, int flags, int times = 1) {
  return Case{
      .op = "recv",
      .name = std::move(name),
      .want_err = want,
      .setup = std::move(setup),
      .ref =
          [=](Ctx& x) {
            std::string v;
            for (int i = 0; i < times; ++i) {
              char buf[64];
              const long n = ::recv(x.fd(0), buf, len, i == 0 ? flags : 0);
              if (n < 0) return Out{errno, v};
              v += std::to_string(n) + ":" + data_of(buf, std::min(n, static_cast<long>(len))) + " ";
            }
            return Out{0, v};
          },
      .aiod =
          [=](Ctx& x) {
            std::string v;
            for (int i = 0; i < times; ++i) {
              char buf[64];
              std::size_t n = 0;
              const auto ec = x.client->single(Recv{
                  .socket = x.h(0), .buffer = MutableBuffer(buf, len), .flags = i == 0 ? flags : 0, .out_read = &n});
              if (ec) return Out{aio(ec).err, v};
              v += std::to_string(n) + ":" + data_of(buf, static_cast<long>(std::min(n, len))) + " ";
            }
            return Out{0, v};
          }};
}

Case send_case(std::string name, int want, std::function<void(Ctx&)> setup, int flags, bool peer_probe) {
  return Case{.op = "send",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref = [=](Ctx& x) { return sys(::send(x.fd(0), "payload", 7, flags | MSG_NOSIGNAL)); },
              .aiod =
                  [=](Ctx& x) {
                    std::size_t n = 0;
                    return [&] {
                      const std::error_code ec_ = x.client->single(
                          Send{.socket = x.h(0), .buffer = "payload", .flags = flags, .out_written = &n});
                      return aio(ec_, std::to_string(n));
                    }();
                  },
              .probe = peer_probe ? std::function<std::string(Ctx&)>(dir_and_peer) : nullptr};
}

// Receives one message on object 0: the data over two buffers, the sender's
// name (its last component), the flags, and a descriptor if one came (its contents).
Case recvmsg_case(std::string name, int want, std::function<void(Ctx&)> setup, std::size_t room) {
  return Case{.op = "recv_msg",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    char a[4], b[64];
                    iovec iov[2] = {{a, sizeof a}, {b, room}};
                    sockaddr_un from{};
                    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
                    msghdr m{};
                    m.msg_name = &from;
                    m.msg_namelen = sizeof from;
                    m.msg_iov = iov;
                    m.msg_iovlen = 2;
                    m.msg_control = control;
                    m.msg_controllen = sizeof control;
                    const long n = ::recvmsg(x.fd(0), &m, MSG_CMSG_CLOEXEC);
                    if (n < 0) return Out{errno, ""};
                    std::string v =
                        std::to_string(n) + ":" + data_of(a, std::min(n, 4L)) + "|" + data_of(b, std::max(n - 4, 0L));
                    const char* slash = std::strrchr(from.sun_path, '/');
                    v += " from=" + std::string(m.msg_namelen > sizeof(sa_family_t) && slash ? slash + 1 : "-");
                    v += " trunc=" + std::to_string((m.msg_flags & MSG_TRUNC) != 0);
                    if (const cmsghdr* c = CMSG_FIRSTHDR(&m); c && c->cmsg_type == SCM_RIGHTS) {
                      int fd;
                      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
                      char d[32];
                      v += " passed=" + data_of(d, ::pread(fd, d, sizeof d, 0));
                      ::close(fd);
                    }
                    return Out{0, v};
                  },
              .aiod =
                  [=](Ctx& x) {
                    char a[4], b[64];
                    iovec iov[2] = {{a, sizeof a}, {b, room}};
                    sockaddr_un from{};
                    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
                    msghdr m{};
                    m.msg_name = &from;
                    m.msg_namelen = sizeof from;
                    m.msg_iov = iov;
                    m.msg_iovlen = 2;
                    m.msg_control = control;
                    m.msg_controllen = sizeof control;
                    std::size_t un = 0;
                    const auto ec = x.client->single(RecvMsg{.socket = x.h(0), .msg = &m, .out_read = &un});
                    if (ec) return aio(ec);
                    const long n = static_cast<long>(un);
                    std::string v =
                        std::to_string(n) + ":" + data_of(a, std::min(n, 4L)) + "|" + data_of(b, std::max(n - 4, 0L));
                    const char* slash = std::strrchr(from.sun_path, '/');
                    v += " from=" + std::string(m.msg_namelen > sizeof(sa_family_t) && slash ? slash + 1 : "-");
                    v += " trunc=" + std::to_string((m.msg_flags & MSG_TRUNC) != 0);
                    if (const cmsghdr* c = CMSG_FIRSTHDR(&m); c && c->cmsg_type == SCM_RIGHTS) {
                      Handle h;
                      std::memcpy(&h.value, CMSG_DATA(c), sizeof h.value);
                      char d[32];
                      std::size_t dn = 0;
                      const auto rec = x.client->single(Read{.file = h, .buffer = d, .offset = 0, .out_read = &dn});
                      v += " passed=" + (rec ? errname(rec.value()) : data_of(d, static_cast<long>(dn)));
                      x.client->single(CloseFile{.file = h});
                    }
                    return Out{0, v};
                  }};
}

// Sends "hello world" in two parts from object 0; to dir/<to> when `to` is
// set; with SCM_RIGHTS for object 1 when there is one; with `creds` an
// SCM_CREDENTIALS message of this process instead.
Case sendmsg_case(std::string name, int want, std::function<void(Ctx&)> setup, std::string to, bool creds,
                  std::function<std::string(Ctx&)> probe) {
  struct Msg {
    char a[7] = {'h', 'e', 'l', 'l', 'o', ' ', 0};
    char b[5] = {'w', 'o', 'r', 'l', 'd'};
    iovec iov[2];
    sockaddr_un dest{};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))] = {};
    msghdr m{};
  };
  // Fills `msg`; `slot` is what goes into an SCM_RIGHTS slot (a descriptor or a handle).
  auto build = [=](Ctx& x, Msg& msg, std::uint32_t slot, bool has_slot) {
    msg.iov[0] = {msg.a, 6};
    msg.iov[1] = {msg.b, 5};
    msg.m.msg_iov = msg.iov;
    msg.m.msg_iovlen = 2;
    if (!to.empty()) {
      msg.dest = unix_addr(x.path(to));
      msg.m.msg_name = &msg.dest;
      msg.m.msg_namelen = sizeof msg.dest;
    }
    if (has_slot || creds) {
      msg.m.msg_control = msg.control;
      msg.m.msg_controllen = creds ? CMSG_SPACE(sizeof(ucred)) : CMSG_SPACE(sizeof(int));
      cmsghdr* c = CMSG_FIRSTHDR(&msg.m);
      c->cmsg_level = SOL_SOCKET;
      if (creds) {
        const ucred u{::getpid(), ::getuid(), ::getgid()};
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof u);
        std::memcpy(CMSG_DATA(c), &u, sizeof u);
      } else {
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &slot, sizeof slot);
      }
    }
  };
  return Case{.op = "send_msg",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    Msg msg;
                    const bool has = x.fds.size() > 1;
                    build(x, msg, has ? static_cast<std::uint32_t>(x.fd(1)) : 0, has);
                    return sys(::sendmsg(x.fd(0), &msg.m, MSG_NOSIGNAL));
                  },
              .aiod =
                  [=](Ctx& x) {
                    Msg msg;
                    const bool has = x.hs.size() > 1;
                    build(x, msg, has ? x.h(1).value : 0, has);
                    std::size_t n = 0;
                    return [&] {
                      const std::error_code ec_ =
                          x.client->single(SendMsg{.socket = x.h(0), .msg = &msg.m, .out_written = &n});
                      return aio(ec_, std::to_string(n));
                    }();
                  },
              .probe = std::move(probe)};
}

// Peer 0 receives one message; reports its data and the contents of a passed descriptor.
std::string peer_message(Ctx& x) {
  pollfd p{x.peer(0), POLLIN, 0};
  if (::poll(&p, 1, 0) != 1) return "peer: nothing";
  char buf[64];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  const long n = ::recvmsg(x.peer(0), &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return "peer: " + errname(errno);
  std::string v = "peer: " + data_of(buf, n);
  if (const cmsghdr* c = CMSG_FIRSTHDR(&m); c && c->cmsg_type == SCM_RIGHTS) {
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    char d[32];
    v += " passed=" + data_of(d, ::pread(fd, d, sizeof d, 0));
    ::close(fd);
  }
  return v;
}

// setsockopt on a fresh socket of `type` (a file for ENOTSOCK); the probe reads
// the option back through a duplicate this process keeps.
Case setsockopt_case(std::string name, int want, int type, int level, int option, std::string value,
                     bool nobody = false) {
  auto setup = [type](Ctx& x) {
    const int fd = type == 0 ? open_file(x, "f", O_RDWR | O_CREAT, 0644) : new_socket(AF_INET, type);
    x.keep(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    x.add(fd);
  };
  auto probe = [level, option](Ctx& x) {
    int v = -1;
    socklen_t len = sizeof v;
    const int rc = ::getsockopt(x.peer(0), level, option, &v, &len);
    return snapshot(x.dir) + (rc < 0 ? " option: " + errname(errno) : " option=" + std::to_string(v));
  };
  return Case{
      .op = "setsockopt",
      .name = std::move(name),
      .want_err = want,
      .setup = setup,
      .ref =
          [=](Ctx& x) {
            return sys(::setsockopt(x.fd(0), level, option, value.data(), static_cast<socklen_t>(value.size())));
          },
      .aiod =
          [=](Ctx& x) {
            return aio(x.client->single(SetSockOpt{.socket = x.h(0), .level = level, .name = option, .value = value}),
                       "0");
          },
      .probe = probe,
      .as_nobody = nobody};
}

std::string int_bytes(int v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }

// getsockopt on a fresh socket of `type` (a file for ENOTSOCK) with `room`
// bytes of room: the length and the bytes that came back.
Case getsockopt_case(std::string name, int want, int type, int level, int option, std::size_t room) {
  auto setup = [type](Ctx& x) {
    x.add(type == 0 ? open_file(x, "f", O_RDWR | O_CREAT, 0644) : new_socket(AF_INET, type));
  };
  auto shown = [](const std::string& value, std::size_t len) {
    std::string v = "len=" + std::to_string(len) + " bytes=";
    for (std::size_t i = 0; i < std::min(len, value.size()); ++i) v += std::to_string(static_cast<unsigned char>(value[i])) + ",";
    return v;
  };
  return Case{.op = "getsockopt",
              .name = std::move(name),
              .want_err = want,
              .setup = setup,
              .ref =
                  [=](Ctx& x) {
                    std::string value(room, '\0');
                    socklen_t len = static_cast<socklen_t>(room);
                    const int rc = ::getsockopt(x.fd(0), level, option, value.data(), &len);
                    return rc < 0 ? sys(rc) : Out{0, shown(value, len)};
                  },
              .aiod =
                  [=](Ctx& x) {
                    std::string value(room, '\0');
                    std::size_t len = 0;
                    const std::error_code ec = x.client->single(GetSockOpt{
                        .socket = x.h(0), .level = level, .name = option, .value = value, .out_len = &len});
                    return aio(ec, shown(value, len));
                  }};
}

// Bound to one free port, the same for every run of the case (each run
// closes its socket before the next binds).
void bound_socket(Ctx& x) {
  static const std::uint16_t port = [] {
    const int fd = new_socket(AF_INET, SOCK_STREAM);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "no free port";
    }
    ::close(fd);
    return ntohs(a.sin_port);
  }();
  const int fd = new_socket(AF_INET, SOCK_STREAM);
  const sockaddr_in a = loopback(port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "bind";
  x.add(fd);
}

// getsockname or getpeername of the set-up socket: the length and the bytes.
Case name_case(std::string op, std::string name, int want, std::function<void(Ctx&)> setup) {
  const bool peer = op == "getpeername";
  auto shown = [](const sockaddr_storage& a, socklen_t len) {
    std::string v = "len=" + std::to_string(len) + " bytes=";
    const auto* b = reinterpret_cast<const unsigned char*>(&a);
    for (socklen_t i = 0; i < std::min<socklen_t>(len, sizeof a); ++i) v += std::to_string(b[i]) + ",";
    return v;
  };
  return Case{.op = op,
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    sockaddr_storage a{};
                    socklen_t len = sizeof a;
                    auto* sa = reinterpret_cast<sockaddr*>(&a);
                    const int rc = peer ? ::getpeername(x.fd(0), sa, &len) : ::getsockname(x.fd(0), sa, &len);
                    return rc < 0 ? sys(rc) : Out{0, shown(a, len)};
                  },
              .aiod =
                  [=](Ctx& x) {
                    sockaddr_storage a{};
                    socklen_t len = sizeof a;
                    auto* sa = reinterpret_cast<sockaddr*>(&a);
                    const std::error_code ec =
                        peer ? x.client->single(GetPeerName{.socket = x.h(0), .out_addr = sa, .inout_addrlen = &len})
                             : x.client->single(GetSockName{.socket = x.h(0), .out_addr = sa, .inout_addrlen = &len});
                    return aio(ec, shown(a, len));
                  }};
}

Case shutdown_case(std::string name, int want, std::function<void(Ctx&)> setup, int how, bool peer_probe) {
  return Case{.op = "shutdown",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref = [=](Ctx& x) { return sys(::shutdown(x.fd(0), how)); },
              .aiod = [=](Ctx& x) { return aio(x.client->single(Shutdown{.socket = x.h(0), .how = how}), "0"); },
              .probe = peer_probe ? std::function<std::string(Ctx&)>(dir_and_peer) : nullptr};
}

}  // namespace

std::vector<Case> net_cases() {
  std::vector<Case> cs;
  // --- socket
  cs.push_back(socket_case("inet_stream", 0, AF_INET, SOCK_STREAM, 0));
  cs.push_back(socket_case("unix_datagram_nonblocking", 0, AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0));
  cs.push_back(socket_case("unknown_domain_is_eafnosupport", EAFNOSUPPORT, 4000, SOCK_STREAM, 0));
  cs.push_back(socket_case("unknown_protocol_is_eprotonosupport", EPROTONOSUPPORT, AF_INET, SOCK_STREAM, 99));
  cs.push_back(socket_case("unknown_type_is_einval", EINVAL, AF_INET, 99, 0));
  // --- bind
  cs.push_back(address_case(
      "bind", "unix_path_creates_the_socket_file", 0, [](Ctx& x) { x.add(new_socket(AF_UNIX, SOCK_STREAM)); },
      [](Ctx& x) { return unix_addr(x.path("s")); }));
  cs.push_back(address_case(
      "bind", "path_in_use_is_eaddrinuse", EADDRINUSE,
      [](Ctx& x) {
        make_file(x, "s", "");
        x.add(new_socket(AF_UNIX, SOCK_STREAM));
      },
      [](Ctx& x) { return unix_addr(x.path("s")); }));
  cs.push_back(address_case(
      "bind", "already_bound_is_einval", EINVAL,
      [](Ctx& x) {
        const int fd = new_socket(AF_INET, SOCK_STREAM);
        const sockaddr_in a = loopback(0);
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "bind";
        x.add(fd);
      },
      [](Ctx&) { return loopback(0); }));
  cs.push_back(address_case(
      "bind", "privileged_port_as_nobody_is_eacces", EACCES, [](Ctx& x) { x.add(new_socket(AF_INET, SOCK_STREAM)); },
      [](Ctx&) { return loopback(1); }, {}, true));
  cs.push_back(address_case(
      "bind", "in_a_root_dir_as_nobody_is_eacces", EACCES, [](Ctx& x) { x.add(new_socket(AF_UNIX, SOCK_STREAM)); },
      [](Ctx& x) { return unix_addr(x.path("s")); }, {}, true));
  // --- listen
  cs.push_back(listen_case(
      "bound_unix_socket_accepts_connections", 0,
      [](Ctx& x) {
        const int fd = new_socket(AF_UNIX, SOCK_STREAM);
        const sockaddr_un a = unix_addr(x.path("s"));
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "bind";
        x.add(fd);
      },
      [](Ctx& x) {
        const int c = new_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
        const sockaddr_un a = unix_addr(x.path("s"));
        const std::string r = step("connect", sys(::connect(c, reinterpret_cast<const sockaddr*>(&a), sizeof a)));
        ::close(c);
        return snapshot(x.dir) + r;
      }));
  cs.push_back(listen_case("unbound_tcp_socket", 0, [](Ctx& x) { x.add(new_socket(AF_INET, SOCK_STREAM)); }));
  cs.push_back(
      listen_case("datagram_socket_is_eopnotsupp", EOPNOTSUPP, [](Ctx& x) { x.add(new_socket(AF_INET, SOCK_DGRAM)); }));
  // --- accept
  cs.push_back(accept_case("a_waiting_connection", 0, listener_with_a_client, 0, false));
  cs.push_back(accept_case("with_the_peer_address", 0, listener_with_a_client, 0, true));
  {
    Case c = accept_case("nonblocking_flag", 0, listener_with_a_client, SOCK_NONBLOCK, false);
    c.difference =
        "RECV and SEND wait for the socket to be ready whatever its O_NONBLOCK (as io_uring's recv and send do, "
        "on both backends): a receive with nothing to read on a socket accepted with SOCK_NONBLOCK waits (here until "
        "its link timeout cancels it) where recv(2) fails with EAGAIN; pass MSG_DONTWAIT for a non-blocking receive";
    c.expect = [](Out& o, std::string&) { o.val = "send=2 recv=ECANCELED "; };
    cs.push_back(c);
  }
  cs.push_back(accept_case(
      "not_listening_is_einval", EINVAL,
      [](Ctx& x) {
        x.add(new_socket(AF_UNIX, SOCK_STREAM));
        x.keep(new_socket(AF_UNIX, SOCK_STREAM));
      },
      0, false));
  // --- connect
  cs.push_back(address_case(
      "connect", "to_a_listener", 0,
      [](Ctx& x) {
        x.add(new_socket(AF_UNIX, SOCK_STREAM));
        x.keep(unix_listener(x, "s"));
      },
      [](Ctx& x) { return unix_addr(x.path("s")); }, accepted_on_peer));
  cs.push_back(address_case(
      "connect", "no_socket_at_the_path_is_enoent", ENOENT, [](Ctx& x) { x.add(new_socket(AF_UNIX, SOCK_STREAM)); },
      [](Ctx& x) { return unix_addr(x.path("nothing")); }));
  cs.push_back(address_case(
      "connect", "closed_port_is_econnrefused", ECONNREFUSED,
      [](Ctx& x) {
        x.add(new_socket(AF_INET, SOCK_STREAM));
        // A bound, not listening socket holds the port, so nobody listens there.
        const int holder = new_socket(AF_INET, SOCK_STREAM);
        sockaddr_in a = loopback(0);
        socklen_t len = sizeof a;
        ::bind(holder, reinterpret_cast<const sockaddr*>(&a), sizeof a);
        ::getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len);
        x.keep(holder);
        x.vars["port"] = ntohs(a.sin_port);
      },
      [](Ctx& x) { return loopback(static_cast<std::uint16_t>(x.vars["port"])); }));
  cs.push_back(address_case(
      "connect", "already_connected_is_eisconn", EISCONN,
      [](Ctx& x) {
        pair_with("", false)(x);
        x.keep(unix_listener(x, "s"));
      },
      [](Ctx& x) { return unix_addr(x.path("s")); }));
  // --- recv
  cs.push_back(recv_case("waiting_data", 0, pair_with("hello", false), 64, 0));
  cs.push_back(recv_case("short_read_takes_what_fits", 0, pair_with("hello world", false), 5, 0, 2));
  cs.push_back(recv_case("closed_peer_is_eof", 0, pair_with("", true), 64, 0));
  cs.push_back(recv_case("data_then_eof", 0, pair_with("bye", true), 64, 0, 2));
  cs.push_back(recv_case("peek_leaves_the_data", 0, pair_with("hello", false), 64, MSG_PEEK, 2));
  cs.push_back(recv_case("dontwait_with_nothing_is_eagain", EAGAIN, pair_with("", false), 64, MSG_DONTWAIT));
  cs.push_back(recv_case("waitall_stops_at_eof", 0, pair_with("abc", true), 64, MSG_WAITALL));
  cs.push_back(recv_case("trunc_on_a_datagram_gives_its_length", 0, pair_with("a long datagram", false, SOCK_DGRAM), 4,
                         MSG_TRUNC));
  // --- send
  cs.push_back(send_case("reaches_the_peer", 0, pair_with("", false), 0, true));
  cs.push_back(send_case("datagram", 0, pair_with("", false, SOCK_DGRAM), 0, true));
  {
    Case c = send_case("closed_peer_is_epipe_without_sigpipe", EPIPE, pair_with("", true), 0, false);
    c.difference =
        "MSG_NOSIGNAL is always added: a send to a closed peer fails with EPIPE and never raises SIGPIPE (the "
        "reference passes MSG_NOSIGNAL itself; without it, send(2) would kill the caller)";
    cs.push_back(c);
  }
  cs.push_back(send_case(
      "unconnected_datagram_is_edestaddrreq", EDESTADDRREQ, [](Ctx& x) { x.add(new_socket(AF_INET, SOCK_DGRAM)); }, 0,
      false));
  {
    Case c = send_case("flag_outside_the_send_set", 0, pair_with("", false), MSG_WAITALL, true);
    c.difference =
        "flags outside the documented SEND set (here MSG_WAITALL) are refused with EINVAL before anything is sent; "
        "send(2) ignores flags it does not use";
    c.expect = [](Out& o, std::string& probe) {
      o = {EINVAL, ""};
      probe = probe.substr(0, probe.find("peer: ")) + "peer: \"\" empty";  // nothing was sent
    };
    cs.push_back(c);
  }
  // --- recv_msg
  cs.push_back(recvmsg_case(
      "datagram_with_the_senders_name", 0,
      [](Ctx& x) {
        x.add(unix_dgram_at(x, "r"));
        const int s = unix_dgram_at(x, "sender");
        const sockaddr_un to = unix_addr(x.path("r"));
        if (::sendto(s, "datagram", 8, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 8)
          ADD_FAILURE() << "sendto";
        x.keep(s);
      },
      60));
  cs.push_back(
      recvmsg_case("truncated_datagram_sets_msg_trunc", 0, pair_with("a long datagram", false, SOCK_DGRAM), 2));
  cs.push_back(recvmsg_case(
      "descriptor_arrives", 0,
      [](Ctx& x) {
        make_file(x, "f", "passed content");
        const auto sv = socket_pair();
        const int f = open_file(x, "f", O_RDONLY);
        char control[CMSG_SPACE(sizeof(int))] = {};
        iovec iov{const_cast<char*>("fd"), 2};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &f, sizeof f);
        if (::sendmsg(sv[1], &m, 0) != 2) ADD_FAILURE() << "sendmsg: " << errname(errno);
        ::close(f);
        x.add(sv[0]);
        x.keep(sv[1]);
      },
      60));
  cs.push_back(recvmsg_case("closed_peer_is_eof", 0, pair_with("", true), 60));
  // --- send_msg
  cs.push_back(sendmsg_case(
      "to_a_named_address", 0,
      [](Ctx& x) {
        x.add(new_socket(AF_UNIX, SOCK_DGRAM));
        x.keep(unix_dgram_at(x, "r"));
      },
      "r", false, peer_message));
  cs.push_back(sendmsg_case(
      "passes_a_descriptor", 0,
      [](Ctx& x) {
        pair_with("", false)(x);
        make_file(x, "f", "passed content");
        x.add(open_file(x, "f", O_RDONLY));
      },
      "", false, peer_message));
  cs.push_back(sendmsg_case(
      "to_a_missing_address_is_enoent", ENOENT,
      [](Ctx& x) {
        x.add(new_socket(AF_UNIX, SOCK_DGRAM));
        x.keep(unix_dgram_at(x, "r"));
      },
      "missing", false, peer_message));
  {
    Case c = sendmsg_case("credentials", 0, pair_with("", false), "", true, peer_message);
    c.difference =
        "SCM_CREDENTIALS is refused with EPERM: the kernel would check the claimed credentials against the "
        "daemon's, and a root daemon may claim any identity";
    c.expect = [](Out& o, std::string& probe) {
      o = {EPERM, ""};
      probe = "peer: nothing";  // nothing was sent
    };
    cs.push_back(c);
  }
  // --- shutdown
  cs.push_back(shutdown_case("write_side_gives_the_peer_eof", 0, pair_with("", false), SHUT_WR, true));
  cs.push_back(shutdown_case("read_side", 0, pair_with("", false), SHUT_RD, true));
  cs.push_back(shutdown_case(
      "unconnected_is_enotconn", ENOTCONN, [](Ctx& x) { x.add(new_socket(AF_INET, SOCK_STREAM)); }, SHUT_RDWR, false));
  cs.push_back(shutdown_case("unknown_how_is_einval", EINVAL, pair_with("", false), 7, true));
  // --- setsockopt
  cs.push_back(setsockopt_case("reuseaddr_is_set", 0, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, int_bytes(1)));
  cs.push_back(setsockopt_case("keepalive_is_set", 0, SOCK_STREAM, SOL_SOCKET, SO_KEEPALIVE, int_bytes(1)));
  cs.push_back(setsockopt_case("tcp_nodelay_is_set", 0, SOCK_STREAM, IPPROTO_TCP, TCP_NODELAY, int_bytes(1)));
  {
    Case c = setsockopt_case("unknown_option_is_enoprotoopt", ENOPROTOOPT, SOCK_STREAM, SOL_SOCKET, 9999, int_bytes(1));
    c.difference = "an option outside aiod's list is EOPNOTSUPP, before it reaches the kernel";
    c.expect = [](Out& o, std::string&) { o = {EOPNOTSUPP, ""}; };
    cs.push_back(std::move(c));
  }
  {
    // Outlives the case: the reference's kernel follows the pointer.
    static sock_filter accept_all{.code = BPF_RET | BPF_K, .jt = 0, .jf = 0, .k = 0xffffffff};
    const sock_fprog prog{.len = 1, .filter = &accept_all};
    Case c = setsockopt_case("attach_filter_is_set", 0, SOCK_DGRAM, SOL_SOCKET, SO_ATTACH_FILTER,
                             std::string(reinterpret_cast<const char*>(&prog), sizeof prog));
    c.difference = "SO_ATTACH_FILTER is EPERM: the kernel would follow its pointer in the daemon";
    c.expect = [](Out& o, std::string&) { o = {EPERM, ""}; };
    c.probe = [](Ctx& x) { return snapshot(x.dir); };
    cs.push_back(std::move(c));
  }
  cs.push_back(setsockopt_case("short_value_is_einval", EINVAL, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, "x"));
  cs.push_back(setsockopt_case("a_file_is_enotsock", ENOTSOCK, 0, SOL_SOCKET, SO_REUSEADDR, int_bytes(1)));
  // SO_MARK needs CAP_NET_ADMIN: the daemon's own capabilities must not lend it.
  cs.push_back(setsockopt_case("mark_as_nobody_is_eperm", EPERM, SOCK_DGRAM, SOL_SOCKET, SO_MARK, int_bytes(7), true));
  // --- getsockopt
  cs.push_back(getsockopt_case("type_of_a_stream", 0, SOCK_STREAM, SOL_SOCKET, SO_TYPE, sizeof(int)));
  cs.push_back(getsockopt_case("rcvbuf", 0, SOCK_DGRAM, SOL_SOCKET, SO_RCVBUF, sizeof(int)));
  cs.push_back(getsockopt_case("tcp_nodelay", 0, SOCK_STREAM, IPPROTO_TCP, TCP_NODELAY, sizeof(int)));
  cs.push_back(getsockopt_case("short_room_gets_part", 0, SOCK_STREAM, SOL_SOCKET, SO_TYPE, 2));
  cs.push_back(getsockopt_case("unconnected_peercred", 0, SOCK_STREAM, SOL_SOCKET, SO_PEERCRED, sizeof(ucred)));
  cs.push_back(getsockopt_case("a_file_is_enotsock", ENOTSOCK, 0, SOL_SOCKET, SO_TYPE, sizeof(int)));
  cs.push_back(getsockopt_case("tcp_option_on_udp_is_eopnotsupp", EOPNOTSUPP, SOCK_DGRAM, IPPROTO_TCP, TCP_NODELAY,
                               sizeof(int)));
  // --- getsockname, getpeername
  cs.push_back(name_case("getsockname", "bound", 0, bound_socket));
  cs.push_back(name_case("getsockname", "unbound", 0, [](Ctx& x) { x.add(new_socket(AF_INET, SOCK_STREAM)); }));
  cs.push_back(name_case("getsockname", "a_file_is_enotsock", ENOTSOCK,
                         [](Ctx& x) { x.add(open_file(x, "f", O_RDWR | O_CREAT, 0644)); }));
  cs.push_back(name_case("getpeername", "unix_pair", 0, pair_with("", false)));
  cs.push_back(name_case("getpeername", "unconnected_is_enotconn", ENOTCONN,
                         [](Ctx& x) { x.add(new_socket(AF_INET, SOCK_STREAM)); }));
  cs.push_back(name_case("getpeername", "a_file_is_enotsock", ENOTSOCK,
                         [](Ctx& x) { x.add(open_file(x, "f", O_RDWR | O_CREAT, 0644)); }));
  // --- close_socket
  cs.push_back(Case{.op = "close_socket",
                    .name = "peer_sees_eof",
                    .setup = pair_with("", false),
                    .ref =
                        [](Ctx& x) {
                          const Out o = sys_ok(::close(x.fd(0)));
                          x.forget(0);
                          return o;
                        },
                    .aiod = [](Ctx& x) { return aio(x.client->single(CloseSocket{.socket = x.h(0)})); },
                    .probe = dir_and_peer});
  cs.push_back(Case{.op = "close_socket",
                    .name = "then_send_is_ebadf",
                    .setup = pair_with("", false),
                    .ref =
                        [](Ctx& x) {
                          std::string v = step("close", sys_ok(::close(x.fd(0))));
                          v += step("send", sys(::send(x.fd(0), "x", 1, MSG_NOSIGNAL)));
                          x.forget(0);
                          return Out{0, v};
                        },
                    .aiod =
                        [](Ctx& x) {
                          std::string v = step("close", aio(x.client->single(CloseSocket{.socket = x.h(0)})));
                          std::size_t n = 0;
                          v += step("send", [&] {
                            const std::error_code ec_ =
                                x.client->single(Send{.socket = x.h(0), .buffer = "x", .out_written = &n});
                            return aio(ec_, std::to_string(n));
                          }());
                          return Out{0, v};
                        },
                    .probe = dir_and_peer});
  {
    Case c{.op = "close_socket",
           .name = "with_a_pending_recv",
           .setup = pair_with("", false),
           .ref =
               [](Ctx& x) {
                 // The in-process io_uring: a recv waits on the socket, then the socket is closed.
                 Ring ring;
                 char b[8];
                 ::io_uring_prep_recv(ring.sqe(1), x.fd(0), b, sizeof b, 0);
                 ring.submit();
                 std::string v = step("close", sys_ok(::close(x.fd(0))));
                 x.forget(0);
                 // A nop after the close: its completion comes first unless the close ended the recv.
                 ::io_uring_prep_nop(ring.sqe(2));
                 ring.submit();
                 auto res = ring.wait(1);
                 v += res.count(1) != 0 ? step("recv", Out{-res[1], ""}) : std::string("recv=pending ");
                 ::io_uring_prep_cancel64(ring.sqe(3), 1, 0);
                 ring.submit();
                 ring.wait(2);  // what is left of the recv, the nop and the cancel
                 return Out{0, v};
               },
           .aiod =
               [](Ctx& x) {
                 Dynamic q(*x.client, 4);
                 char b[8];
                 std::size_t n = 0;
                 std::error_code recv_ec;
                 q.queue(Recv{.socket = x.h(0), .buffer = b, .out_read = &n, .out_error = &recv_ec});
                 (void)q.complete(CompletionMode::nonblocking);
                 std::string v = step("close", aio(x.client->single(CloseSocket{.socket = x.h(0)})));
                 (void)q.complete_all();
                 v += step("recv", aio(recv_ec, std::to_string(n)));
                 return Out{0, v};
               },
           .probe = dir_and_peer};
    c.difference =
        "CLOSE_SOCKET cancels the session's ops still pending on that handle (ECANCELED); close(2) leaves an "
        "io_uring recv on the socket waiting";
    c.expect = [](Out& o, std::string&) { o.val = "close=ok recv=ECANCELED "; };
    cs.push_back(c);
  }
  return cs;
}

}  // namespace aiod::conf
