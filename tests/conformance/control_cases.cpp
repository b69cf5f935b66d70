// SPDX-License-Identifier: MIT
// control_cases.cpp — nop, timeout, link_timeout, cancel (and its races), child_exit and event sources.
//
// nop, timeout, link_timeout and cancel exist only as io_uring operations: their
// reference is an io_uring of this process (Ring), the nearest system call.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "harness.hpp"

namespace aiod::conf {
namespace {

using namespace std::chrono_literals;

Out ring_res(int res, std::string val = {}) { return res < 0 ? Out{-res, ""} : Out{0, std::move(val)}; }

// Object 0: the read end of an empty pipe; peer 0: its write end; peer 1: a
// copy of the read end, to see what is left in the pipe.
void empty_pipe(Ctx& x) {
  const auto p = make_pipe();
  x.add(p[0]);
  x.keep(p[1]);
  x.keep(::fcntl(p[0], F_DUPFD_CLOEXEC, 0));
}

// As empty_pipe, with "ready" in the pipe.
void ready_pipe(Ctx& x) {
  empty_pipe(x);
  if (::write(x.peer(0), "ready", 5) != 5) ADD_FAILURE() << "write to the pipe";
}

std::string pipe_left(Ctx& x) { return snapshot(x.dir) + "left in the pipe: " + drain(x.peer(1)); }

// --- event sources: object 0 is an eventfd (semaphore mode) holding `count`;
// peer 0 a copy of it, to count what is left.
std::function<void(Ctx&)> event_source(unsigned count) {
  return [count](Ctx& x) {
    const int fd = ::eventfd(count, EFD_SEMAPHORE | EFD_CLOEXEC);
    if (fd < 0) ADD_FAILURE() << "eventfd: " << errname(errno);
    x.add(fd);
    x.keep(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  };
}

std::string count_left(Ctx& x) {
  int n = 0;
  for (; n < 100; ++n) {
    pollfd p{x.peer(0), POLLIN, 0};
    std::uint64_t v;
    if (::poll(&p, 1, 0) != 1 || ::read(x.peer(0), &v, sizeof v) != sizeof v) break;
  }
  return "count=" + std::to_string(n);
}

long ev_notify(int fd) {
  const std::uint64_t one = 1;
  return ::write(fd, &one, sizeof one) == sizeof one ? 0 : -1;
}

long ev_wait(int fd) {
  std::uint64_t v;
  return ::read(fd, &v, sizeof v) == sizeof v ? 0 : -1;
}

// Runs the steps ("n" notify, "w" wait, "c" close) on object 0.
Case event_case(std::string op, std::string name, unsigned count, std::string steps) {
  return Case{.op = std::move(op),
              .name = std::move(name),
              .setup = event_source(count),
              .ref =
                  [=](Ctx& x) {
                    std::string v;
                    for (const char s : steps) {
                      if (s == 'n') v += step("notify", sys_ok(ev_notify(x.fd(0))));
                      if (s == 'w') v += step("wait", sys_ok(ev_wait(x.fd(0))));
                      if (s == 'c') v += step("close", sys_ok(::close(x.fd(0))));
                    }
                    if (steps.find('c') != std::string::npos) x.forget(0);
                    return Out{0, v};
                  },
              .aiod =
                  [=](Ctx& x) {
                    std::string v;
                    Client& c = *x.client;
                    for (const char s : steps) {
                      if (s == 'n') v += step("notify", aio(c.single(NotifyEventSource{.source = x.h(0)})));
                      if (s == 'w') v += step("wait", aio(c.single(WaitEventSource{.source = x.h(0)})));
                      if (s == 'c') v += step("close", aio(c.single(CloseEventSource{.source = x.h(0)})));
                    }
                    return Out{0, v};
                  },
              .probe = count_left};
}

// A child of this process that ends at once: exit(69), or killed by SIGKILL.
void child(Ctx& x, bool killed) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (killed) ::raise(SIGKILL);
    ::_exit(69);
  }
  if (pid < 0) ADD_FAILURE() << "fork: " << errname(errno);
  x.vars["pid"] = pid;
}

std::string status_of(const siginfo_t& si) {
  if (si.si_code == CLD_EXITED) return "exited:" + std::to_string(si.si_status);
  if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) return "signaled:" + std::to_string(si.si_status);
  return "other";
}

std::string status_of(const ChildStatus& s) {
  if (s.kind == ChildStatus::Kind::exited) return "exited:" + std::to_string(s.value);
  if (s.kind == ChildStatus::Kind::signaled) return "signaled:" + std::to_string(s.value);
  return "other";
}

Case child_case(std::string name, int want, std::function<void(Ctx&)> setup, bool by_pidfd) {
  return Case{.op = "child_exit",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    const pid_t pid = static_cast<pid_t>(x.vars["pid"]);
                    siginfo_t si{};
                    int rc;
                    if (by_pidfd) {
                      const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
                      rc = ::waitid(P_PIDFD, static_cast<id_t>(pfd), &si, WEXITED);
                      const int e = errno;
                      ::close(pfd);
                      errno = e;
                    } else {
                      rc = ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED);
                    }
                    if (rc != 0) return Out{errno, ""};
                    return Out{0, status_of(si)};
                  },
              .aiod =
                  [=](Ctx& x) {
                    const pid_t pid = static_cast<pid_t>(x.vars["pid"]);
                    ChildStatus st;
                    std::error_code ec;
                    if (by_pidfd) {
                      const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
                      ec = x.client->single(ChildExit{.pidfd = pfd, .out_status = &st});
                      ::close(pfd);
                    } else {
                      ec = x.client->single(ChildExit{.child = pid, .out_status = &st});
                    }
                    return aio(ec, status_of(st));
                  }};
}

}  // namespace

std::vector<Case> control_cases() {
  std::vector<Case> cs;
  // --- nop
  cs.push_back(Case{.op = "nop",
                    .name = "succeeds",
                    .ref =
                        [](Ctx&) {
                          Ring r;
                          ::io_uring_prep_nop(r.sqe(1));
                          r.submit();
                          return ring_res(r.wait(1)[1], "0");
                        },
                    .aiod = [](Ctx& x) { return aio(x.client->single(Nop{}), "0"); }});
  // Behind a soft link a failure cancels the rest; behind a hard link the rest
  // runs. Object 0 is a write-only file: reading it fails in the kernel (EBADF);
  // with `invalid`, the read names a handle the session does not have instead.
  struct NopRow {
    const char* name;
    bool hard;
    bool invalid;
  };
  for (const NopRow row : {NopRow{"behind_a_failed_soft_link_is_ecanceled", false, false},
                           NopRow{"behind_a_failed_hard_link_runs", true, false},
                           NopRow{"behind_an_invalid_hard_linked_op", true, true}}) {
    Case c{.op = "nop",
           .name = row.name,
           .setup =
               [](Ctx& x) {
                 make_file(x, "f", "data");
                 x.add(open_file(x, "f", O_WRONLY));
               },
           .ref =
               [row](Ctx& x) {
                 Ring r;
                 char b[4];
                 ::io_uring_prep_read(r.sqe(1, row.hard ? IOSQE_IO_HARDLINK : IOSQE_IO_LINK),
                                      row.invalid ? 4004 : x.fd(0), b, sizeof b, 0);
                 ::io_uring_prep_nop(r.sqe(2));
                 r.submit();
                 auto res = r.wait(2);
                 return Out{0, step("read", ring_res(res[1])) + step("nop", ring_res(res[2]))};
               },
           .aiod =
               [row](Ctx& x) {
                 char b[4];
                 std::error_code e1, e2;
                 (void)x.client->complete(Read{.file = row.invalid ? Handle{4004} : x.h(0),
                                               .buffer = b,
                                               .offset = 0,
                                               .link = row.hard ? Link::hard : Link::soft,
                                               .out_error = &e1},
                                          Nop{.out_error = &e2});
                 return Out{0, step("read", aio(e1)) + step("nop", aio(e2))};
               }};
    if (row.invalid) {
      c.difference =
          "a chain holding a descriptor that fails validation (here an unknown handle) never starts: the other ops "
          "complete with ECANCELED even behind a hard link; io_uring runs what follows a hard link";
      c.expect = [](Out& o, std::string&) { o.val = "read=EBADF nop=ECANCELED "; };
    }
    cs.push_back(c);
  }
  // --- timeout
  for (const auto d : {0ms, 10ms}) {
    Case c{.op = "timeout",
           .name = d == 0ms ? "zero_duration_completes_at_once" : "waits_its_duration",
           .want_err = ETIME,
           .ref =
               [d](Ctx&) {
                 Ring r;
                 __kernel_timespec ts{.tv_sec = 0, .tv_nsec = std::chrono::nanoseconds(d).count()};
                 const auto t0 = std::chrono::steady_clock::now();
                 ::io_uring_prep_timeout(r.sqe(1), &ts, 0, 0);
                 r.submit();
                 const int res = r.wait(1)[1];
                 const bool waited = std::chrono::steady_clock::now() - t0 >= d;
                 return Out{-res, waited ? "waited" : "early"};
               },
           .aiod =
               [d](Ctx& x) {
                 const auto t0 = std::chrono::steady_clock::now();
                 const auto ec = x.client->single(Timeout{.duration = d});
                 const bool waited = std::chrono::steady_clock::now() - t0 >= d;
                 return Out{aio(ec).err, waited ? "waited" : "early"};
               }};
    c.difference = "an expired timer is the timeout's success: 0, where io_uring's timeout completes with -ETIME";
    c.expect = [](Out& o, std::string&) { o.err = 0; };
    cs.push_back(c);
  }
  cs.push_back(Case{.op = "timeout",
                    .name = "cancelled_is_ecanceled",
                    .ref =
                        [](Ctx&) {
                          Ring r;
                          __kernel_timespec ts{.tv_sec = 10, .tv_nsec = 0};
                          ::io_uring_prep_timeout(r.sqe(1), &ts, 0, 0);
                          r.submit();
                          ::io_uring_prep_cancel64(r.sqe(2), 1, 0);
                          r.submit();
                          auto res = r.wait(2);
                          return Out{0, step("timeout", ring_res(res[1])) + step("cancel", ring_res(res[2]))};
                        },
                    .aiod =
                        [](Ctx& x) {
                          Dynamic q(*x.client, 4);
                          OpId id;
                          std::error_code e1, e2;
                          (void)q.queue(Timeout{.duration = 10s, .out_error = &e1, .out_id = &id});
                          (void)q.complete(CompletionMode::nonblocking);
                          (void)q.queue(Cancel{.id = id, .out_error = &e2});
                          (void)q.complete_all();
                          return Out{0, step("timeout", aio(e1)) + step("cancel", aio(e2))};
                        }});
  // --- link_timeout: a read guarded by a link timeout, then (third) a nop behind them.
  struct LtRow {
    const char* name;
    void (*setup)(Ctx&);
    Link read_link;
    bool with_nop;
  };
  for (const LtRow row : {LtRow{"fires_first_on_an_idle_read", empty_pipe, Link::soft, false},
                          LtRow{"op_finishes_first", ready_pipe, Link::soft, false},
                          LtRow{"fires_first_and_cancels_what_follows", empty_pipe, Link::soft, true},
                          LtRow{"fires_first_behind_a_hard_linked_read", empty_pipe, Link::hard, true}}) {
    Case c{.op = "link_timeout",
           .name = row.name,
           .setup = row.setup,
           .ref =
               [row](Ctx& x) {
                 Ring r;
                 char b[8];
                 __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 20'000'000};
                 ::io_uring_prep_read(r.sqe(1, row.read_link == Link::hard ? IOSQE_IO_HARDLINK : IOSQE_IO_LINK),
                                      x.fd(0), b, sizeof b, ~0ULL);
                 ::io_uring_prep_link_timeout(r.sqe(2, row.with_nop ? IOSQE_IO_LINK : 0), &ts, 0);
                 if (row.with_nop) ::io_uring_prep_nop(r.sqe(3));
                 r.submit();
                 auto res = r.wait(row.with_nop ? 3 : 2);
                 std::string v = step("read", ring_res(res[1], std::to_string(res[1]))) + step("lt", ring_res(res[2]));
                 if (row.with_nop) v += step("nop", ring_res(res[3]));
                 return Out{0, v};
               },
           .aiod =
               [row](Ctx& x) {
                 char b[8];
                 std::size_t n = 0;
                 std::error_code e1, e2, e3;
                 if (row.with_nop) {
                   (void)x.client->complete(
                       Read{.file = x.h(0), .buffer = b, .out_read = &n, .link = row.read_link, .out_error = &e1},
                       LinkTimeout{.duration = 20ms, .link = Link::soft, .out_error = &e2}, Nop{.out_error = &e3});
                 } else {
                   (void)x.client->complete(
                       Read{.file = x.h(0), .buffer = b, .out_read = &n, .link = row.read_link, .out_error = &e1},
                       LinkTimeout{.duration = 20ms, .out_error = &e2});
                 }
                 std::string v = step("read", aio(e1, std::to_string(n))) + step("lt", aio(e2));
                 if (row.with_nop) v += step("nop", aio(e3));
                 return Out{0, v};
               },
           .probe = pipe_left};
    if (row.read_link == Link::hard) {
      c.difference =
          "an expired link timeout cancels the rest of its chain even when the op it guards is hard-linked; "
          "io_uring goes on with the chain after a hard-linked op that its link timeout cancelled";
      c.expect = [](Out& o, std::string&) { o.val = "read=ECANCELED lt=ETIME nop=ECANCELED "; };
    }
    if (std::string(row.name) == "op_finishes_first") {
      c.difference = "a link timeout whose op finished first succeeds (0), where io_uring completes it with -ECANCELED";
      c.expect = [](Out& o, std::string&) { o.val = "read=5 lt=ok "; };
    }
    cs.push_back(c);
  }
  cs.push_back(Case{.op = "link_timeout",
                    .name = "alone_is_einval",
                    .want_err = EINVAL,
                    .ref =
                        [](Ctx&) {
                          Ring r;
                          __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 1'000'000};
                          ::io_uring_prep_link_timeout(r.sqe(1), &ts, 0);
                          r.submit();
                          return ring_res(r.wait(1)[1]);
                        },
                    .aiod = [](Ctx& x) { return aio(x.client->single(LinkTimeout{.duration = 1ms})); }});
  // --- cancel
  cs.push_back(Case{.op = "cancel",
                    .name = "a_pending_read",
                    .setup = empty_pipe,
                    .ref =
                        [](Ctx& x) {
                          Ring r;
                          char b[8];
                          ::io_uring_prep_read(r.sqe(1), x.fd(0), b, sizeof b, ~0ULL);
                          r.submit();
                          ::io_uring_prep_cancel64(r.sqe(2), 1, 0);
                          r.submit();
                          auto res = r.wait(2);
                          return Out{0, step("read", ring_res(res[1])) + step("cancel", ring_res(res[2]))};
                        },
                    .aiod =
                        [](Ctx& x) {
                          Dynamic q(*x.client, 4);
                          OpId id;
                          char b[8];
                          std::error_code e1, e2;
                          (void)q.queue(Read{.file = x.h(0), .buffer = b, .out_error = &e1, .out_id = &id});
                          (void)q.complete(CompletionMode::nonblocking);
                          (void)q.queue(Cancel{.id = id, .out_error = &e2});
                          (void)q.complete_all();
                          return Out{0, step("read", aio(e1)) + step("cancel", aio(e2))};
                        },
                    .probe = pipe_left});
  cs.push_back(Case{.op = "cancel",
                    .name = "a_finished_op_is_enoent",
                    .want_err = ENOENT,
                    .ref =
                        [](Ctx&) {
                          Ring r;
                          ::io_uring_prep_nop(r.sqe(1));
                          r.submit();
                          r.wait(1);
                          ::io_uring_prep_cancel64(r.sqe(2), 1, 0);
                          r.submit();
                          return ring_res(r.wait(1)[2]);
                        },
                    .aiod =
                        [](Ctx& x) {
                          OpId id;
                          if (const auto ec = x.client->single(Nop{.out_id = &id}); ec)
                            return Out{-1, "nop: " + ec.message()};
                          return aio(x.client->single(Cancel{.id = id}));
                        }});
  cs.push_back(Case{.op = "cancel",
                    .name = "an_unknown_id_is_enoent",
                    .want_err = ENOENT,
                    .ref =
                        [](Ctx&) {
                          Ring r;
                          ::io_uring_prep_cancel64(r.sqe(2), 0x7777, 0);
                          r.submit();
                          return ring_res(r.wait(1)[2]);
                        },
                    .aiod = [](Ctx& x) { return aio(x.client->single(Cancel{.id = OpId{0x7777'0000'7777}})); }});
  // The race: data arrives while the cancel is on its way. Either the cancel
  // wins (the data stays in the pipe) or the read does (it has the data, the
  // cancel finds nothing); the data is never lost nor read twice.
  cs.push_back(Case{
      .op = "cancel",
      .name = "racing_data_loses_nothing",
      .setup = empty_pipe,
      .ref =
          [](Ctx& x) {
            Ring r;
            char b[8];
            ::io_uring_prep_read(r.sqe(1), x.fd(0), b, sizeof b, ~0ULL);
            r.submit();
            if (::write(x.peer(0), "racer", 5) != 5) return Out{errno, "write"};
            ::io_uring_prep_cancel64(r.sqe(2), 1, 0);
            r.submit();
            auto res = r.wait(2);
            const std::string got = res[1] > 0 ? std::string(b, static_cast<std::size_t>(res[1])) : "";
            const std::string left = drain(x.peer(1));
            const bool ok = (res[1] == -ECANCELED && res[2] == 0 && left == "\"racer\" empty") ||
                            (got == "racer" && (res[2] == -ENOENT || res[2] == -EALREADY) && left == "\"\" empty");
            return Out{0,
                       ok ? "exactly once"
                          : "read=" + std::to_string(res[1]) + " cancel=" + std::to_string(res[2]) + " left " + left};
          },
      .aiod =
          [](Ctx& x) {
            Dynamic q(*x.client, 4);
            OpId id;
            char b[8];
            std::size_t n = 0;
            std::error_code e1, e2;
            (void)q.queue(Read{.file = x.h(0), .buffer = b, .out_read = &n, .out_error = &e1, .out_id = &id});
            (void)q.complete(CompletionMode::nonblocking);
            if (::write(x.peer(0), "racer", 5) != 5) return Out{errno, "write"};
            (void)q.queue(Cancel{.id = id, .out_error = &e2});
            (void)q.complete_all();
            const std::string got = e1 ? "" : std::string(b, n);
            const std::string left = drain(x.peer(1));
            const bool ok =
                (e1 == std::errc::operation_canceled && !e2 && left == "\"racer\" empty") ||
                (got == "racer" &&
                 (e2 == std::errc::no_such_file_or_directory || e2 == std::errc::connection_already_in_progress) &&
                 left == "\"\" empty");
            return Out{0, ok ? "exactly once" : step("read", aio(e1, got)) + step("cancel", aio(e2)) + " left " + left};
          },
      .probe = pipe_left});
  // --- child_exit
  cs.push_back(child_case(
      "exit_code", 0, [](Ctx& x) { child(x, false); }, false));
  cs.push_back(child_case(
      "killed_by_a_signal", 0, [](Ctx& x) { child(x, true); }, false));
  cs.push_back(child_case(
      "through_a_pidfd", 0, [](Ctx& x) { child(x, false); }, true));
  cs.push_back(child_case(
      "not_a_child_is_echild", ECHILD, [](Ctx& x) { x.vars["pid"] = ::getppid(); }, false));
  // --- event sources
  cs.push_back(event_case("notify_event_source", "adds_one", 0, "n"));
  cs.push_back(event_case("notify_event_source", "then_wait_takes_it", 0, "nw"));
  cs.push_back(event_case("wait_event_source", "takes_one_unit", 3, "w"));
  cs.push_back(event_case("wait_event_source", "twice", 2, "ww"));
  cs.push_back(event_case("close_event_source", "then_wait_is_ebadf", 1, "cw"));
  cs.push_back(event_case("close_event_source", "twice_is_ebadf", 1, "cc"));
  return cs;
}

}  // namespace aiod::conf
