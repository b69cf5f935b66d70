// SPDX-License-Identifier: MIT
// stages — where one 4 KiB read's time goes through aiod, stage by stage, at
// queue depth 1, against the same read in process (pread(2) and io_uring).
//
// The client stamps each read (CLOCK_MONOTONIC) before it publishes and after
// it sees the completion; a daemon built with -DAIOD_STAGE_TIMING=ON stamps
// each stage inside the shard (daemon/stats/stage_probe.hpp) and writes the
// stamps at exit. Reads are strictly one at a time, so the N-th stamped read
// on each side is the same read. Without the probe only the totals print.
//
// Placement matters more than anything else at QD1 (docs/benchmarks.md):
// --client-cpu and --daemon-cpu pin the two sides (all the daemon's threads).
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "cached_file.hpp"
#include "uring.hpp"

namespace aiod::bench {
namespace {

struct Options {
  CommonOptions common;
  std::uint64_t ops = 200'000;
  std::string dir;  // default: the build tree's (the disk's filesystem)
  unsigned file_mib = 64;
  int client_cpu = -1;
  int daemon_cpu = -1;
};

void pin(pid_t tid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(tid, sizeof(set), &set) != 0) die("sched_setaffinity(%d, cpu %d): %s", tid, cpu, std::strerror(errno));
}

// Every thread of `pid`, now and (through inheritance) later.
void pin_process(pid_t pid, int cpu) {
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    pin(static_cast<pid_t>(std::stoi(e.path().filename().string())), cpu);
  }
}

// Per-read round trips in ns.
std::vector<double> pread_times(const CachedFile& f, std::uint64_t ops) {
  alignas(64) char buf[kBlock];
  std::vector<double> t(ops);
  for (std::uint64_t i = 0; i < ops; ++i) {
    const std::uint64_t t0 = now_ns();
    if (::pread(f.fd, buf, kBlock, static_cast<off_t>(f.offset(i, Pattern::random))) != static_cast<ssize_t>(kBlock)) {
      die("pread");
    }
    t[i] = static_cast<double>(now_ns() - t0);
  }
  return t;
}

std::vector<double> uring_times(const CachedFile& f, std::uint64_t ops) {
  Ring ring(8);
  alignas(64) char buf[kBlock];
  std::vector<double> t(ops);
  io_uring_cqe* cqe = nullptr;
  for (std::uint64_t i = 0; i < ops; ++i) {
    const std::uint64_t t0 = now_ns();
    io_uring_prep_read(ring.sqe(), f.fd, buf, kBlock, f.offset(i, Pattern::random));
    if (io_uring_submit_and_wait(ring.get(), 1) < 0 || io_uring_peek_cqe(ring.get(), &cqe) != 0 ||
        cqe->res != static_cast<int>(kBlock)) {
      die("uring read");
    }
    io_uring_cqe_seen(ring.get(), cqe);
    t[i] = static_cast<double>(now_ns() - t0);
  }
  return t;
}

// The floor under any hop: one cache line written on `a`, seen on `b`,
// answered and seen back on `a`, in ns (median of batches). On a virtual
// machine this moves with where the host runs the two vCPUs.
double cache_line_round_trip(int a, int b) {
  alignas(64) static std::atomic<std::uint32_t> ping{0};
  alignas(64) static std::atomic<std::uint32_t> pong{0};
  constexpr std::uint32_t kRounds = 200'000;
  ping = 0;
  pong = 0;
  std::thread peer([&] {
    pin(0, b);
    for (std::uint32_t i = 1; i <= kRounds; ++i) {
      while (ping.load(std::memory_order_acquire) != i) __builtin_ia32_pause();
      pong.store(i, std::memory_order_release);
    }
  });
  pin(0, a);
  std::vector<double> per_batch;
  std::uint64_t t0 = now_ns();
  for (std::uint32_t i = 1; i <= kRounds; ++i) {
    ping.store(i, std::memory_order_release);
    while (pong.load(std::memory_order_acquire) != i) __builtin_ia32_pause();
    if (i % 10'000 == 0) {
      const std::uint64_t t1 = now_ns();
      per_batch.push_back(static_cast<double>(t1 - t0) / 10'000);
      t0 = t1;
    }
  }
  peer.join();
  return median(per_batch);
}

// Client stamps: before publishing, after seeing the completion.
struct ClientStamps {
  std::uint64_t before = 0, after = 0;
};

std::vector<ClientStamps> aiod_stamps(Client& client, Handle file, std::span<std::byte> buf, const CachedFile& f,
                                      std::uint64_t ops) {
  std::vector<ClientStamps> s(ops);
  std::size_t nread = 0;
  for (std::uint64_t i = 0; i < ops; ++i) {
    s[i].before = now_ns();
    const auto ec = client.single(
        Read{.file = file, .buffer = MutableBuffer(buf.data(), kBlock), .offset = f.offset(i, Pattern::random), .out_read = &nread});
    s[i].after = now_ns();
    if (ec || nread != kBlock) die("aiod read: %s", ec ? ec.message().c_str() : "short");
  }
  return s;
}

// The daemon's stamps: noticed, prepared, submitted, reaped, publishing.
using DaemonStamps = std::array<std::uint64_t, 5>;

std::vector<DaemonStamps> read_daemon_stamps(const std::string& path) {
  std::vector<DaemonStamps> v;
  std::ifstream in(path);
  DaemonStamps s{};
  while (in >> s[0] >> s[1] >> s[2] >> s[3] >> s[4]) v.push_back(s);
  return v;
}

void print_row(const char* stage, std::vector<double> v) {
  double sum = 0;
  for (double x : v) sum += x;
  std::printf("| %s | %.0f | %.0f | %.0f |\n", stage, median(v), sum / static_cast<double>(v.size()),
              percentile(v, 99));
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"stages: one QD1 4 KiB read through aiod, stage by stage, against pread and io_uring"};
  add_common_options(app, o.common);
  app.add_option("--ops", o.ops, "reads per mode");
  app.add_option("--dir", o.dir, "directory for the test file (default: the build tree's)");
  app.add_option("--file-mib", o.file_mib, "size of the test file")->check(CLI::Range(1u, 4096u));
  app.add_option("--client-cpu", o.client_cpu, "pin this program to that CPU");
  app.add_option("--daemon-cpu", o.daemon_cpu, "pin the private daemon (all its threads) to that CPU");
  parse_or_exit(app, argc, argv);
  if (o.dir.empty()) o.dir = build_tree_dir();
  std::optional<double> floor_ns;
  if (o.client_cpu >= 0 && o.daemon_cpu >= 0 && o.client_cpu != o.daemon_cpu) {
    floor_ns = cache_line_round_trip(o.client_cpu, o.daemon_cpu);
  }
  if (o.client_cpu >= 0) pin(0, o.client_cpu);

  const CachedFile file_on_disk = make_cached_file(o.dir, "stages", o.file_mib);
  const std::string& path = file_on_disk.path;

  char tmpl[] = "/tmp/aiod-stages-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) die("mkdtemp: %s", std::strerror(errno));
  const std::string stamp_base = std::string(tmpl) + "/stamps";
  ::setenv("AIOD_STAGE_TIMING_FILE", stamp_base.c_str(), 1);  // the private daemon inherits it
  Daemon daemon(o.common);
  if (o.daemon_cpu >= 0 && daemon.pid() > 0) pin_process(daemon.pid(), o.daemon_cpu);
  auto c = aiod::Client::connect({.socket_path = daemon.socket(), .name = "bench stages"});
  if (!c) die("connect: %s", c.message().c_str());
  std::optional<aiod::Client> connected(std::move(*c));
  aiod::Client& client = *connected;
  aiod::Handle file;
  if (auto ec = client.single(aiod::OpenAt{.path = path.c_str(), .flags = O_RDONLY, .out_file = &file})) {
    die("aiod open: %s", ec.message().c_str());
  }
  auto buf = client.arena_alloc(kBlock);
  if (!buf) die("arena_alloc: %s", buf.message().c_str());

  // Warm everything (page cache, rings, the client's adaptive spin), then measure.
  (void)pread_times(file_on_disk, file_on_disk.blocks);
  (void)aiod_stamps(client, file, *buf, file_on_disk, o.ops / 4);
  const std::vector<double> pread_ns = pread_times(file_on_disk, o.ops);
  const std::vector<double> uring_ns = uring_times(file_on_disk, o.ops);
  const std::vector<ClientStamps> cs = aiod_stamps(client, file, *buf, file_on_disk, o.ops);
  (void)client.single(aiod::CloseFile{.file = file});
  client.arena_free(*buf);
  connected.reset();  // disconnect before the daemon stops
  daemon.stop();
  ::close(file_on_disk.fd);
  ::unlink(path.c_str());

  std::vector<DaemonStamps> ds = read_daemon_stamps(stamp_base + ".0");
  std::filesystem::remove_all(tmpl);
  std::printf("One 4 KiB read at QD1 (%s, page cache), ns over %llu reads\n\n", o.dir.c_str(),
              static_cast<unsigned long long>(o.ops));
  std::printf("| stage | median | mean | p99 |\n|---|---:|---:|---:|\n");
  if (floor_ns) {
    std::printf("| floor: a cache line from CPU %d to CPU %d and back | %.0f | | |\n", o.client_cpu, o.daemon_cpu,
                *floor_ns);
  }
  print_row("in process: pread(2)", pread_ns);
  print_row("in process: io_uring (submit and wait)", uring_ns);
  std::vector<double> total;
  for (const ClientStamps& s : cs) total.push_back(static_cast<double>(s.after - s.before));
  if (ds.size() < cs.size()) {
    std::printf("\n(%zu daemon stamps for %zu reads: build with -DAIOD_STAGE_TIMING=ON for the stages)\n", ds.size(),
                cs.size());
    print_row("aiod: whole round trip", total);
    return 0;
  }
  // The last cs.size() stamped reads are the measured ones (the warm-up came before).
  ds.erase(ds.begin(), ds.end() - static_cast<std::ptrdiff_t>(cs.size()));
  const char* names[] = {"aiod: client encodes and publishes → shard notices",
                         "aiod: shard validates, writes the SQE",
                         "aiod: io_uring_enter (the read runs inline)",
                         "aiod: shard reaps the CQE",
                         "aiod: shard settles the op (chain, stats), writes the CQE",
                         "aiod: shard publishes the tail → client notices, returns"};
  for (std::size_t stage = 0; stage < 6; ++stage) {
    std::vector<double> v;
    bool ordered = true;
    for (std::size_t i = 0; i < cs.size(); ++i) {
      const std::uint64_t from = stage == 0 ? cs[i].before : ds[i][stage - 1];
      const std::uint64_t to = stage == 5 ? cs[i].after : ds[i][stage];
      ordered &= to >= from;
      v.push_back(static_cast<double>(to) - static_cast<double>(from));
    }
    if (!ordered) std::printf("(stage %zu has stamps out of order: the two sides' reads do not line up)\n", stage);
    print_row(names[stage], v);
  }
  print_row("aiod: whole round trip", total);
  return 0;
}
