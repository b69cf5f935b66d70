// SPDX-License-Identifier: MIT
// scaling — N client processes doing 32-op nop batches at once, for a fixed
// time: aggregate ops/s, and the daemon's CPU while they run.
//
//   uring     each process has its own in-process io_uring
//   syscalls  each process calls getppid(2) per nop
//   aiod      every process is a client of one private aiod
// The processes start together (a pipe closed by the parent releases them all)
// and stop at a shared deadline; each counts the nops it completed before it.
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <array>
#include <atomic>
#include <cstring>

#include "bench.hpp"
#include "uring.hpp"

namespace aiod::bench {
namespace {

constexpr unsigned kMaxClients = 256;
constexpr unsigned kBatch = 32;

struct Options {
  CommonOptions common;
  std::vector<unsigned> clients{1, 4, 16, 64};
  double seconds = 1.0;
};

struct Shared {
  std::uint64_t deadline_ns;
  std::uint64_t ops[kMaxClients];
  std::atomic<unsigned> failures;
};

// One client process's loop: `batch_fn` runs one batch; counts until the deadline.
template <class F>
std::uint64_t until_deadline(const Shared& sh, F&& batch_fn) {
  std::uint64_t ops = 0;
  while (now_ns() < sh.deadline_ns) {
    batch_fn();
    ops += kBatch;
  }
  return ops;
}

void child_main(const std::string& mode, const std::string& socket, unsigned index, Shared& sh, int ready_w, int go_r) {
  auto wait_for_go = [&] {
    const char byte = 1;
    if (::write(ready_w, &byte, 1) != 1) ::_exit(2);
    char x;
    while (::read(go_r, &x, 1) > 0) {
    }  // end of file: go
  };
  if (mode == kUring) {
    Ring ring(64);
    io_uring_cqe* cqes[kBatch];
    wait_for_go();
    sh.ops[index] = until_deadline(sh, [&] {
      for (unsigned i = 0; i < kBatch; ++i) io_uring_prep_nop(ring.sqe());
      io_uring_submit_and_wait(ring.get(), kBatch);
      const unsigned n = io_uring_peek_batch_cqe(ring.get(), cqes, kBatch);
      io_uring_cq_advance(ring.get(), n);
      if (n != kBatch) sh.failures.fetch_add(1);
    });
  } else if (mode == kSyscalls) {
    wait_for_go();
    sh.ops[index] = until_deadline(sh, [] {
      for (unsigned i = 0; i < kBatch; ++i) (void)::syscall(SYS_getppid);
    });
  } else {
    auto client = Client::connect({.socket_path = socket, .name = "bench scaling"});
    if (!client) {
      std::fprintf(stderr, "bench: client %u: connect: %s\n", index, client.message().c_str());
      sh.failures.fetch_add(1);
      wait_for_go();
      return;
    }
    std::array<Op, kBatch> nops;
    nops.fill(Nop{});
    (void)client->run_batch(nops);  // the session is up and warm
    wait_for_go();
    sh.ops[index] = until_deadline(sh, [&] {
      auto r = client->run_batch(nops);
      if (!r || *r != 0) sh.failures.fetch_add(1);
    });
  }
}

struct Measurement {
  double ops_per_s = 0;
  double daemon_cpu_percent = 0;
};

Measurement measure(const Options& o, const std::string& mode, unsigned n, Daemon* daemon, Shared& sh) {
  std::memset(static_cast<void*>(sh.ops), 0, sizeof(sh.ops));
  sh.failures.store(0);
  int ready[2], go[2];
  if (::pipe2(ready, O_CLOEXEC) < 0 || ::pipe2(go, O_CLOEXEC) < 0) die("pipe2: %s", std::strerror(errno));
  std::vector<pid_t> pids;
  for (unsigned i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) die("fork: %s", std::strerror(errno));
    if (pid == 0) {
      ::close(ready[0]);
      ::close(go[1]);
      child_main(mode, daemon != nullptr ? daemon->socket() : "", i, sh, ready[1], go[0]);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  ::close(ready[1]);
  ::close(go[0]);
  for (unsigned got = 0; got < n;) {
    char buf[64];
    const ssize_t r = ::read(ready[0], buf, sizeof(buf));
    if (r <= 0) die("a %s client died before the start", mode.c_str());
    got += static_cast<unsigned>(r);
  }
  ::close(ready[0]);
  const double cpu0 = daemon != nullptr ? daemon->cpu_seconds() : 0;
  const std::uint64_t start = now_ns();
  sh.deadline_ns = start + static_cast<std::uint64_t>(o.seconds * 1e9);
  ::close(go[1]);  // go
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) sh.failures.fetch_add(1);
  }
  const std::uint64_t end = now_ns();
  const double cpu1 = daemon != nullptr ? daemon->cpu_seconds() : 0;
  if (sh.failures.load() != 0) die("%u failures among %u %s clients", sh.failures.load(), n, mode.c_str());
  std::uint64_t total = 0;
  for (unsigned i = 0; i < n; ++i) total += sh.ops[i];
  Measurement m;
  m.ops_per_s = static_cast<double>(total) / o.seconds;
  m.daemon_cpu_percent = (cpu1 - cpu0) / (static_cast<double>(end - start) / 1e9) * 100;
  return m;
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"scaling: N concurrent client processes doing nops, uring vs syscalls vs aiod"};
  add_common_options(app, o.common);
  app.add_option("--clients", o.clients, "client process counts")->delimiter(',')->check(CLI::Range(1u, kMaxClients));
  app.add_option("--seconds", o.seconds, "measured time per point")->check(CLI::Range(0.1, 60.0));
  parse_or_exit(app, argc, argv);

  void* mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap: %s", std::strerror(errno));
  auto* sh = new (mem) Shared{};

  std::optional<Daemon> daemon;
  if (o.common.wants(kAiod)) daemon.emplace(o.common);

  Report report;
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "scaling: run %u/%u", run + 1, o.common.runs);
    double aiod_one = 0;
    for (unsigned n : o.clients) {
      const std::string bench = "scaling " + std::to_string(n) + (n == 1 ? " client" : " clients");
      for (const char* mode : {kUring, kSyscalls, kAiod}) {
        if (!o.common.wants(mode)) continue;
        const Measurement m = measure(o, mode, n, mode == std::string(kAiod) ? &*daemon : nullptr, *sh);
        report.add(bench, mode, "aggregate", "ops/s", m.ops_per_s);
        if (mode == std::string(kAiod)) {
          if (daemon->pid() > 0) report.add(bench, mode, "daemon CPU", "%", m.daemon_cpu_percent, Better::none);
          if (n == 1) aiod_one = m.ops_per_s;
          if (n != 1 && aiod_one > 0) {
            report.add(bench, mode, "vs 1 client", "x", m.ops_per_s / aiod_one, Better::none);
          }
        }
      }
    }
  }
  report.print();
  return 0;
}
