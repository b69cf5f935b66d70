// SPDX-License-Identifier: MIT
// freeze_thread: stops one thread of another process, in tests of the
// watchdog (a shard whose loop stops turning).
//
//   freeze_thread TID
//
// Attaches to thread TID with PTRACE_SEIZE and stops it with PTRACE_INTERRUPT:
// only that thread stops, the rest of its process runs on. Prints "frozen",
// keeps the thread stopped until standard input reaches end of file, then
// detaches (the thread runs again), prints "thawed" and exits 0. Exits 77,
// the tests' "skip", when ptrace is not permitted here.
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: freeze_thread TID\n");
    return 2;
  }
  const pid_t tid = static_cast<pid_t>(std::atol(argv[1]));
  if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) < 0) {
    std::fprintf(stderr, "freeze_thread: PTRACE_SEIZE %d: %s\n", static_cast<int>(tid), std::strerror(errno));
    return errno == EPERM ? 77 : 1;
  }
  if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) < 0) {
    std::fprintf(stderr, "freeze_thread: PTRACE_INTERRUPT: %s\n", std::strerror(errno));
    return 1;
  }
  int status = 0;
  if (::waitpid(tid, &status, __WALL) != tid || !WIFSTOPPED(status)) {
    std::fprintf(stderr, "freeze_thread: thread %d did not stop\n", static_cast<int>(tid));
    return 1;
  }
  std::printf("frozen\n");
  std::fflush(stdout);

  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof(buf)) > 0) {
  }
  if (::ptrace(PTRACE_DETACH, tid, nullptr, nullptr) < 0) {
    std::fprintf(stderr, "freeze_thread: PTRACE_DETACH: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("thawed\n");
  return 0;
}
