// SPDX-License-Identifier: MIT
// notify_listen: stands in for systemd's notification socket in tests.
//
//   notify_listen ADDRESS TIMEOUT_MS
//
// Binds a datagram unix socket at ADDRESS (a path, or '@name' in the abstract
// namespace, as NOTIFY_SOCKET spells it), prints "listening", then prints
// each datagram as one line: "PID MESSAGE", where PID is the sender's process
// id as the kernel reports it (systemd's NotifyAccess=main checks the same)
// and the message's own newlines are shown as '|'. Exits 0 after a datagram
// containing STOPPING=1, 1 when TIMEOUT_MS pass first or on an error.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

long long now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

int fail(const char* what) {
  std::fprintf(stderr, "notify_listen: %s: %s\n", what, std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: notify_listen ADDRESS TIMEOUT_MS\n");
    return 2;
  }
  const std::string address = argv[1];
  const long long deadline = now_ms() + std::atoll(argv[2]);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address.size() < 2 || address.size() >= sizeof(addr.sun_path)) {
    std::fprintf(stderr, "notify_listen: bad address '%s'\n", address.c_str());
    return 2;
  }
  std::memcpy(addr.sun_path, address.data(), address.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  if (address[0] == '@') {
    addr.sun_path[0] = '\0';
  } else {
    len = static_cast<socklen_t>(len + 1);
    ::unlink(address.c_str());
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0) return fail("bind");
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) return fail("SO_PASSCRED");
  std::printf("listening\n");
  std::fflush(stdout);

  int code = 1;
  for (;;) {
    const long long left = deadline - now_ms();
    if (left <= 0) {
      std::fprintf(stderr, "notify_listen: no STOPPING=1 within the timeout\n");
      break;
    }
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("poll");
    if (n == 0) continue;
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof(buf) - 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t got = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (got < 0) return fail("recvmsg");
    pid_t sender = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred{};
        std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
        sender = cred.pid;
      }
    }
    std::string text(buf, static_cast<std::size_t>(got));
    for (char& ch : text) {
      if (ch == '\n') ch = '|';
    }
    std::printf("%d %s\n", static_cast<int>(sender), text.c_str());
    std::fflush(stdout);
    if (text.find("STOPPING=1") != std::string::npos) {
      code = 0;
      break;
    }
  }
  ::close(fd);
  if (address[0] == '/') ::unlink(address.c_str());
  return code;
}
