// SPDX-License-Identifier: MIT
#include "system/notify_relay.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace aiod::daemon {
namespace {

[[noreturn]] void relay(Notifier& notifier, int from_child, pid_t child, int sigfd) {
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{from_child, POLLIN, 0}, {sigfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      while (::read(sigfd, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo != SIGCHLD) ::kill(child, static_cast<int>(info.ssi_signo));
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(from_child, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        if (const int err = notifier.notify(std::string_view(buf, static_cast<std::size_t>(n))); err < 0) {
          std::fprintf(stderr, "aiod: cannot notify the service manager: %s\n", std::strerror(-err));
        }
        continue;
      }
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;  // the child is gone
    }
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  std::exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

}  // namespace

void split_for_notifications(Notifier& notifier, std::initializer_list<int> close_in_relay) {
  if (!notifier.enabled()) return;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    std::fprintf(stderr, "aiod: socketpair: %s; notifying from the serving process\n", std::strerror(errno));
    return;
  }
  // The relay's signals arrive on a signalfd; the child unblocks them.
  sigset_t mask, old;
  sigemptyset(&mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&mask, sig);
  ::sigprocmask(SIG_BLOCK, &mask, &old);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    std::fprintf(stderr, "aiod: fork: %s; notifying from the serving process\n", std::strerror(errno));
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::close(sv[0]);
    ::close(sv[1]);
    return;
  }
  if (child == 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) std::exit(1);  // the relay died before the line above
    ::close(sv[0]);
    notifier = Notifier::connected_to(UniqueFd(sv[1]));
    return;
  }
  ::close(sv[1]);
  for (int fd : close_in_relay) {
    if (fd >= 0) ::close(fd);
  }
  const int sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  relay(notifier, sv[0], child, sigfd);
}

}  // namespace aiod::daemon
