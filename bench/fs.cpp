// SPDX-License-Identifier: MIT
// fs — 4 KiB file IO, the most common IO there is: reads of a file in the
// page cache, sequential and random, at queue depth 1 and 32, and 4 KiB
// writes each made durable with fdatasync. By default on two filesystems:
// the one that holds the build tree (the disk's: ext4 here) and tmpfs.
//
//   uring          in-process io_uring, `depth` reads kept in flight
//   syscalls       pread(2) / pwrite(2) + fdatasync(2), one at a time
//   aiod           Read ops on arena buffers (zero copy), `depth` in flight
//   aiod (copy)    Read ops on ordinary buffers: libaiod reads into arena
//                  space and copies out on completion
//
// Every row also reports CPU per op: the client's (all its threads, io-wq
// workers included) plus the daemon's, over the ops of the run. Ratios are
// against uring and against the best in-process mode (bench.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "bench.hpp"
#include "cached_file.hpp"
#include "uring.hpp"

namespace aiod::bench {
namespace {

struct Options {
  CommonOptions common;
  std::uint64_t ops = 500'000;
  std::uint64_t sync_ops = 5'000;
  std::vector<unsigned> depths{1, 32};
  std::vector<std::string> dirs;  // empty: the build tree's filesystem, then /dev/shm
  unsigned file_mib = 64;
  std::uint64_t warmup = 20'000;
};

using File = CachedFile;

// Buffers for `depth` IOs, and the stack of free ones.
struct Slots {
  explicit Slots(unsigned depth) : mem(std::size_t{depth} * kBlock), free(depth) {
    for (unsigned i = 0; i < depth; ++i) free[i] = depth - 1 - i;
  }
  char* buf(unsigned slot) { return mem.data() + std::size_t{slot} * kBlock; }
  std::vector<char> mem;
  std::vector<unsigned> free;
};

double uring_reads(const File& f, Pattern p, std::uint64_t ops, unsigned depth) {
  Ring ring(64);
  Slots slots(depth);
  io_uring_cqe* cqes[64];
  std::uint64_t issued = 0, done = 0;
  const auto t0 = Clock::now();
  while (done < ops) {
    while (!slots.free.empty() && issued < ops) {
      const unsigned slot = slots.free.back();
      slots.free.pop_back();
      io_uring_sqe* s = ring.sqe();
      io_uring_prep_read(s, f.fd, slots.buf(slot), kBlock, f.offset(issued++, p));
      io_uring_sqe_set_data64(s, slot);
    }
    if (const int r = io_uring_submit_and_wait(ring.get(), 1); r < 0) die("io_uring_submit_and_wait: %d", r);
    const unsigned n = io_uring_peek_batch_cqe(ring.get(), cqes, 64);
    for (unsigned i = 0; i < n; ++i) {
      if (cqes[i]->res != static_cast<int>(kBlock)) die("uring read: %d", cqes[i]->res);
      slots.free.push_back(static_cast<unsigned>(io_uring_cqe_get_data64(cqes[i])));
    }
    io_uring_cq_advance(ring.get(), n);
    done += n;
  }
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

double syscall_reads(const File& f, Pattern p, std::uint64_t ops) {
  alignas(64) char buf[kBlock];
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    if (::pread(f.fd, buf, kBlock, static_cast<off_t>(f.offset(i, p))) != static_cast<ssize_t>(kBlock)) die("pread");
  }
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

// `arena`: read into arena buffers (zero copy); else into ordinary memory.
double aiod_reads(Client& client, Handle file, const File& f, Pattern p, std::uint64_t ops, unsigned depth,
                  bool arena) {
  Slots slots(depth);
  std::vector<std::span<std::byte>> arena_bufs;
  if (arena) {
    for (unsigned i = 0; i < depth; ++i) {
      auto b = client.arena_alloc(kBlock);
      if (!b) die("arena_alloc: %s", b.message().c_str());
      arena_bufs.push_back(*b);
    }
  }
  std::vector<std::size_t> nread(depth);
  bool failed = false;
  Dynamic q(client, depth);
  q.set_callback([&](OpId, std::uint64_t slot, bool err) {
    failed |= err || nread[slot] != kBlock;
    slots.free.push_back(static_cast<unsigned>(slot));
  });
  std::uint64_t issued = 0, done = 0;
  const auto t0 = Clock::now();
  while (done < ops) {
    while (!slots.free.empty() && issued < ops) {
      const unsigned slot = slots.free.back();
      slots.free.pop_back();
      const MutableBuffer buf =
          arena ? MutableBuffer(arena_bufs[slot].data(), kBlock) : MutableBuffer(slots.buf(slot), kBlock);
      if (const auto ec = q.queue(Read{.file = file,
                                       .buffer = buf,
                                       .offset = f.offset(issued++, p),
                                       .out_read = &nread[slot],
                                       .userdata = slot})) {
        die("queue: %s", ec.message().c_str());
      }
    }
    auto r = q.complete(CompletionMode::blocking);
    if (!r) die("complete: %s", r.message().c_str());
    done += r->num_completed;
    if (failed) die("an aiod read failed or came back short");
  }
  const double rate = static_cast<double>(ops) / seconds_between(t0, Clock::now());
  for (auto b : arena_bufs) client.arena_free(b);
  return rate;
}

// 4 KiB writes at random offsets, each followed by fdatasync (linked).
double uring_synced_writes(const File& f, std::uint64_t ops) {
  Ring ring(8);
  alignas(64) char buf[kBlock];
  std::memset(buf, 'w', sizeof(buf));
  io_uring_cqe* cqe = nullptr;
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    io_uring_sqe* w = ring.sqe();
    io_uring_prep_write(w, f.fd, buf, kBlock, f.offset(i, Pattern::random));
    w->flags |= IOSQE_IO_LINK;
    io_uring_prep_fsync(ring.sqe(), f.fd, IORING_FSYNC_DATASYNC);
    if (io_uring_submit_and_wait(ring.get(), 2) < 0) die("io_uring_submit_and_wait");
    for (int k = 0; k < 2; ++k) {
      if (io_uring_wait_cqe(ring.get(), &cqe) < 0 || cqe->res < 0) die("uring write+fdatasync");
      io_uring_cqe_seen(ring.get(), cqe);
    }
  }
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

double syscall_synced_writes(const File& f, std::uint64_t ops) {
  alignas(64) char buf[kBlock];
  std::memset(buf, 'w', sizeof(buf));
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    if (::pwrite(f.fd, buf, kBlock, static_cast<off_t>(f.offset(i, Pattern::random))) != static_cast<ssize_t>(kBlock) ||
        ::fdatasync(f.fd) != 0) {
      die("pwrite+fdatasync: %s", std::strerror(errno));
    }
  }
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

double aiod_synced_writes(Client& client, Handle file, const File& f, std::uint64_t ops) {
  auto buf = client.arena_alloc(kBlock);
  if (!buf) die("arena_alloc: %s", buf.message().c_str());
  std::memset(buf->data(), 'w', kBlock);
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    if (const auto ec = client.multi(Write{.file = file,
                                           .buffer = ConstBuffer(buf->data(), kBlock),
                                           .offset = f.offset(i, Pattern::random),
                                           .link = Link::soft},
                                     Fsync{.file = file, .datasync = true})) {
      die("aiod write+fdatasync: %s", ec.message().c_str());
    }
  }
  const double rate = static_cast<double>(ops) / seconds_between(t0, Clock::now());
  client.arena_free(*buf);
  return rate;
}

// Runs `measure` (which returns ops/s) and adds its throughput and the CPU
// per op of this process plus the daemon's (if any) to `report`.
template <class F>
void measure_row(Report& report, const std::string& bench, const std::string& mode, const char* unit, std::uint64_t ops,
                 const Daemon* daemon, F&& measure) {
  const CpuMeter cpu(daemon);
  report.add(bench, mode, "throughput", unit, measure());
  add_cpu_per_op(report, bench, mode, cpu, ops);
}

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"fs: 4 KiB reads (page cache) and synced writes, uring vs syscalls vs aiod"};
  add_common_options(app, o.common);
  app.add_option("--ops", o.ops, "reads per run and row");
  app.add_option("--sync-ops", o.sync_ops, "write+fdatasync pairs per run (0: no such row)");
  app.add_option("--depths", o.depths, "queue depths")->delimiter(',')->check(CLI::Range(1u, 64u));
  app.add_option("--dir", o.dirs, "directories for the test files (default: the build tree's, then /dev/shm)")
      ->delimiter(',');
  app.add_option("--file-mib", o.file_mib, "size of each test file")->check(CLI::Range(1u, 4096u));
  app.add_option("--warmup", o.warmup, "untimed reads before each measurement");
  parse_or_exit(app, argc, argv);
  if (o.dirs.empty()) o.dirs = {build_tree_dir(), "/dev/shm"};

  std::vector<File> files;
  for (const std::string& dir : o.dirs) files.push_back(make_cached_file(dir, "fs", o.file_mib));
  std::optional<Daemon> daemon;
  std::optional<aiod::Client> client;
  std::vector<aiod::Handle> handles(files.size());
  if (o.common.wants(kAiod)) {
    daemon.emplace(o.common);
    auto c = aiod::Client::connect({.socket_path = daemon->socket(), .name = "bench fs"});
    if (!c) die("connect: %s", c.message().c_str());
    client.emplace(std::move(*c));
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (auto ec =
              client->single(aiod::OpenAt{.path = files[i].path.c_str(), .flags = O_RDWR, .out_file = &handles[i]})) {
        die("aiod open %s: %s", files[i].path.c_str(), ec.message().c_str());
      }
    }
  }
  const Daemon* d = daemon ? &*daemon : nullptr;

  Report report;
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "fs: run %u/%u", run + 1, o.common.runs);
    for (std::size_t fi = 0; fi < files.size(); ++fi) {
      const File& f = files[fi];
      for (const Pattern p : {Pattern::sequential, Pattern::random}) {
        for (unsigned depth : o.depths) {
          const std::string bench = std::string("fs ") + (p == Pattern::sequential ? "seq" : "rand") + " 4k read qd" +
                                    std::to_string(depth) + " (" + f.fs + ")";
          if (o.common.wants(kUring)) {
            (void)uring_reads(f, p, o.warmup, depth);
            measure_row(report, bench, kUring, "reads/s", o.ops, nullptr,
                        [&] { return uring_reads(f, p, o.ops, depth); });
          }
          if (o.common.wants(kSyscalls)) {
            if (depth == 1) {
              (void)syscall_reads(f, p, o.warmup);
              measure_row(report, bench, kSyscalls, "reads/s", o.ops, nullptr,
                          [&] { return syscall_reads(f, p, o.ops); });
            } else {
              report.not_available(bench, kSyscalls, "throughput", "pread has depth 1: see qd1");
            }
          }
          if (client) {
            (void)aiod_reads(*client, handles[fi], f, p, o.warmup, depth, true);
            measure_row(report, bench, kAiod, "reads/s", o.ops, d,
                        [&] { return aiod_reads(*client, handles[fi], f, p, o.ops, depth, true); });
            (void)aiod_reads(*client, handles[fi], f, p, o.warmup, depth, false);
            measure_row(report, bench, "aiod (copy)", "reads/s", o.ops, d,
                        [&] { return aiod_reads(*client, handles[fi], f, p, o.ops, depth, false); });
          }
        }
      }
      if (o.sync_ops > 0) {
        const std::string bench = "fs 4k write+fdatasync qd1 (" + f.fs + ")";
        if (o.common.wants(kUring)) {
          measure_row(report, bench, kUring, "writes/s", o.sync_ops, nullptr,
                      [&] { return uring_synced_writes(f, o.sync_ops); });
        }
        if (o.common.wants(kSyscalls)) {
          measure_row(report, bench, kSyscalls, "writes/s", o.sync_ops, nullptr,
                      [&] { return syscall_synced_writes(f, o.sync_ops); });
        }
        if (client) {
          measure_row(report, bench, kAiod, "writes/s", o.sync_ops, d,
                      [&] { return aiod_synced_writes(*client, handles[fi], f, o.sync_ops); });
        }
      }
    }
  }
  if (client) {
    for (const aiod::Handle h : handles) (void)client->single(aiod::CloseFile{.file = h});
  }
  for (const File& f : files) {
    ::close(f.fd);
    ::unlink(f.path.c_str());
  }
  report.print();
  return 0;
}
