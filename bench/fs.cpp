// fs — 4 KiB reads of a file on tmpfs (zig-aio's fs bench reads /dev/zero;
// a tmpfs file exercises the page cache path with no device underneath), at
// queue depth 1 and 32. Reads walk the file sequentially and wrap.
//
//   uring          in-process io_uring, `depth` reads kept in flight
//   syscalls       pread(2), one at a time (a blocking call has depth 1)
//   aiod           Read ops on arena buffers (zero copy), `depth` in flight
//   aiod (copy)    Read ops on ordinary buffers: libaiod reads into arena
//                  space and copies out on completion
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <aiod/aiod.hpp>
#include <cstdlib>
#include <cstring>
#include <linux/magic.h>
#include <vector>

#include "bench.hpp"
#include "uring.hpp"

namespace aiod::bench {
namespace {

constexpr std::size_t kBlock = 4096;

struct Options {
  CommonOptions common;
  std::uint64_t ops = 500'000;
  std::vector<unsigned> depths{1, 32};
  std::string dir = "/dev/shm";
  unsigned file_mib = 64;
  std::uint64_t warmup = 20'000;
};

struct File {
  std::string path;
  int fd = -1;
  std::uint64_t blocks = 0;
  [[nodiscard]] std::uint64_t offset(std::uint64_t i) const { return (i % blocks) * kBlock; }
};

File make_file(const Options& o) {
  File f;
  f.path = o.dir + "/aiod-bench-fs-" + std::to_string(::getpid());
  f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (f.fd < 0) die("open %s: %s", f.path.c_str(), std::strerror(errno));
  struct statfs sfs {};
  if (::fstatfs(f.fd, &sfs) == 0 && sfs.f_type != TMPFS_MAGIC) {
    std::fprintf(stderr, "bench: warning: %s is not on tmpfs\n", o.dir.c_str());
  }
  std::vector<char> chunk(1 << 20);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>('a' + i % 26);
  for (unsigned i = 0; i < o.file_mib; ++i) {
    if (::write(f.fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) die("filling the file");
  }
  f.blocks = std::uint64_t{o.file_mib} * (1 << 20) / kBlock;
  return f;
}

// Buffers for `depth` reads, and the stack of free ones.
struct Slots {
  explicit Slots(unsigned depth) : mem(std::size_t{depth} * kBlock), free(depth) {
    for (unsigned i = 0; i < depth; ++i) free[i] = depth - 1 - i;
  }
  char* buf(unsigned slot) { return mem.data() + std::size_t{slot} * kBlock; }
  std::vector<char> mem;
  std::vector<unsigned> free;
};

double uring_reads(const File& f, std::uint64_t ops, unsigned depth) {
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
      io_uring_prep_read(s, f.fd, slots.buf(slot), kBlock, f.offset(issued++));
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

double syscall_reads(const File& f, std::uint64_t ops) {
  alignas(64) char buf[kBlock];
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    if (::pread(f.fd, buf, kBlock, static_cast<off_t>(f.offset(i))) != static_cast<ssize_t>(kBlock)) die("pread");
  }
  return static_cast<double>(ops) / seconds_between(t0, Clock::now());
}

// `arena`: read into arena buffers (zero copy); else into ordinary memory.
double aiod_reads(Client& client, Handle file, const File& f, std::uint64_t ops, unsigned depth, bool arena) {
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
      if (const auto ec = q.queue(Read{
              .file = file, .buffer = buf, .offset = f.offset(issued++), .out_read = &nread[slot], .userdata = slot})) {
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

}  // namespace
}  // namespace aiod::bench

int main(int argc, char** argv) {
  using namespace aiod::bench;
  Options o;
  CLI::App app{"fs: 4 KiB reads of a tmpfs file at several queue depths, uring vs syscalls vs aiod"};
  add_common_options(app, o.common);
  app.add_option("--ops", o.ops, "reads per run");
  app.add_option("--depths", o.depths, "queue depths")->delimiter(',')->check(CLI::Range(1u, 64u));
  app.add_option("--dir", o.dir, "directory on tmpfs for the test file");
  app.add_option("--file-mib", o.file_mib, "size of the test file")->check(CLI::Range(1u, 4096u));
  app.add_option("--warmup", o.warmup, "untimed reads before each measurement");
  parse_or_exit(app, argc, argv);

  File f = make_file(o);
  std::optional<Daemon> daemon;
  std::optional<aiod::Client> client;
  aiod::Handle handle;
  if (o.common.wants(kAiod)) {
    daemon.emplace(o.common);
    auto c = aiod::Client::connect({.socket_path = daemon->socket(), .name = "bench fs"});
    if (!c) die("connect: %s", c.message().c_str());
    client.emplace(std::move(*c));
    if (auto ec = client->single(aiod::OpenAt{.path = f.path.c_str(), .flags = O_RDONLY, .out_file = &handle})) {
      die("aiod open %s: %s", f.path.c_str(), ec.message().c_str());
    }
  }

  Report report;
  for (unsigned run = 0; run < o.common.runs; ++run) {
    note(o.common, "fs: run %u/%u", run + 1, o.common.runs);
    for (unsigned depth : o.depths) {
      const std::string bench = "fs 4k read qd" + std::to_string(depth);
      if (o.common.wants(kUring)) {
        (void)uring_reads(f, o.warmup, depth);
        report.add(bench, kUring, "throughput", "reads/s", uring_reads(f, o.ops, depth));
      }
      if (o.common.wants(kSyscalls)) {
        if (depth == 1) {
          (void)syscall_reads(f, o.warmup);
          report.add(bench, kSyscalls, "throughput", "reads/s", syscall_reads(f, o.ops));
        } else {
          report.not_available(bench, kSyscalls, "throughput", "pread has depth 1: see qd1");
        }
      }
      if (client) {
        (void)aiod_reads(*client, handle, f, o.warmup, depth, true);
        report.add(bench, kAiod, "throughput", "reads/s", aiod_reads(*client, handle, f, o.ops, depth, true));
        (void)aiod_reads(*client, handle, f, o.warmup, depth, false);
        report.add(bench, "aiod (copy)", "throughput", "reads/s", aiod_reads(*client, handle, f, o.ops, depth, false));
      }
    }
  }
  if (client) (void)client->single(aiod::CloseFile{.file = handle});
  ::close(f.fd);
  ::unlink(f.path.c_str());
  report.print();
  return 0;
}
