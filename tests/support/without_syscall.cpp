// SPDX-License-Identifier: MIT
// without_syscall — runs a command with one system call failing with ENOSYS,
// for it and everything it starts, as a seccomp sandbox leaves it:
//   io_uring_setup  io_uring unavailable (Docker's default profile,
//                   kernel.io_uring_disabled)
//   openat2         systemd's RestrictSUIDSGID=, which cannot inspect
//                   openat2's mode and so blocks the call altogether
//
// Usage: without_syscall io_uring_setup|openat2 PROGRAM [ARG...]
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#ifndef __NR_openat2
#define __NR_openat2 437
#endif

int main(int argc, char** argv) {
  unsigned nr = 0;
  if (argc >= 3 && std::strcmp(argv[1], "io_uring_setup") == 0) nr = __NR_io_uring_setup;
  if (argc >= 3 && std::strcmp(argv[1], "openat2") == 0) nr = __NR_openat2;
  if (nr == 0) {
    std::fprintf(stderr, "usage: without_syscall io_uring_setup|openat2 PROGRAM [ARG...]\n");
    return 2;
  }
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
    std::perror("without_syscall: seccomp");
    return 126;
  }
  ::execv(argv[2], argv + 2);
  std::perror("without_syscall: exec");
  return 127;
}
