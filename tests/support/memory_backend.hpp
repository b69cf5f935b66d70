// SPDX-License-Identifier: MIT
// memory_backend.hpp — a Backend that really runs operations, in memory, on the
// calling thread, deterministically: so that the rules in front of a backend
// (a session's chains, links, link timeouts and cancels) get unit tests with
// no kernel ring.
//
// What it models, as io_uring does it:
//  - files: `add_file()` / `add_pipe()` name them; openat2 of that path (any
//    directory) gives a descriptor, and read/write/readv/writev at an offset or
//    the file position, fsync, ftruncate and fallocate work on the contents.
//    A pipe's reads wait until it has data (`feed()`, or a write to it).
//  - nop; timeout and link_timeout on a virtual clock that only `advance()`
//    moves; cancel (-ENOENT, -EALREADY); soft and hard links, with a link
//    timeout bounding the op linked right before it.
//  - read, write and recvmsg on a descriptor that is not one of its files are
//    done for real, without blocking, and wait until they would not block:
//    those are the session's own control socket and eventfds.
// Every other opcode is refused (supports() is false, prepare() -EOPNOTSUPP).
//
// Work happens only in flush() (staged ops start) and drain() (waiting ops are
// tried again, expired timers fire, results are delivered), as a shard's loop
// calls them; wait() never sleeps. Thread-safety: one thread, like a shard's.
//
// Lifetime: a descriptor openat2 returned is a real placeholder (a memfd)
// that its owner closes; the backend notices a number reused for something
// else and treats it as a real descriptor from then on.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.hpp"

namespace aiod::test {

class MemoryBackend final : public daemon::Backend {
 public:
  MemoryBackend() = default;
  MemoryBackend(const MemoryBackend&) = delete;
  MemoryBackend& operator=(const MemoryBackend&) = delete;
  ~MemoryBackend() override = default;

  // --- the test's side -------------------------------------------------------
  // A regular file at `path` (replacing any), for openat2.
  void add_file(const std::string& path, std::string contents = {});
  // A pipe at `path`: reads of it wait for data.
  void add_pipe(const std::string& path);
  // Appends to the file or pipe at `path` (a write from elsewhere).
  void feed(const std::string& path, std::string_view bytes);
  // The contents of the file at `path` (a pipe: what is unread).
  [[nodiscard]] std::string contents(const std::string& path) const;
  // For every read of one of its files prepared so far, in order: whether it
  // came marked try_at_once (a real backend may then try it on the shard
  // thread).
  [[nodiscard]] const std::vector<bool>& reads_marked_at_once() const { return reads_marked_at_once_; }
  // Moves the virtual clock; timers that expire fire at the next drain().
  void advance(std::chrono::nanoseconds by) { now_ns_ += static_cast<std::uint64_t>(by.count()); }
  // While on, drain() runs ops but delivers no result: an op can be done (an
  // eventfd written) with its completion still to come, as with a worker or
  // io-wq. Off again, the next drain() delivers them in order.
  void hold_results(bool on) { holding_ = on; }
  // Ops handed over and not finished yet (waiting for data, a timer, or their turn).
  [[nodiscard]] std::size_t pending() const;

  // --- daemon::Backend -------------------------------------------------------
  [[nodiscard]] daemon::BackendInfo info() const override { return {"memory", true}; }
  [[nodiscard]] bool supports(daemon::BackendOpcode op) const override;
  [[nodiscard]] unsigned space() const override;
  [[nodiscard]] int prepare(const daemon::BackendOp& op, daemon::Completion* done) override;
  [[nodiscard]] int cancel(daemon::Completion* target) override;
  int flush() override;
  int drain() override;
  int wait(std::optional<std::chrono::nanoseconds> timeout) override;
  [[nodiscard]] int register_personality() override { return 1; }
  void unregister_personality(std::uint16_t) override {}
  [[nodiscard]] std::uint64_t syscalls() const override { return 0; }
  [[nodiscard]] daemon::BackendReport report() const override { return {}; }

 private:
  struct File {
    std::string data;
    bool pipe = false;
  };
  // An open descriptor: its file and position, and the placeholder's inode,
  // which tells a reused number apart.
  struct Open {
    std::shared_ptr<File> file;
    std::uint64_t pos = 0;
    std::uint64_t ino = 0;
  };
  enum class State : std::uint8_t { staged, waiting, running, finished };
  struct Op {
    daemon::BackendOp op;
    daemon::Completion* done = nullptr;  // null: nobody wants the result (cancel())
    Op* next = nullptr;                  // the op linked after this one
    Op* guarded = nullptr;               // a link timeout: the op it bounds
    bool head = true;                    // no op links to this one
    State state = State::staged;
    std::uint64_t deadline = 0;  // timers, in virtual ns
    int result = 0;
    std::list<Op>::iterator self;
  };

  void start(Op& o);
  std::optional<int> run(Op& o);
  std::optional<int> transfer(int fd, const iovec* iov, std::size_t count, std::uint64_t offset, bool write);
  std::optional<int> real_io(const daemon::BackendOp& op);
  void complete_op(Op& o, int res);
  void settle(Op& o, int res);
  void continue_segment(Op* rest, bool broken);
  int cancel_target(daemon::Completion* target);
  Open* find_open(int fd);
  [[nodiscard]] Op* timer_of(const Op& o) const;

  std::map<std::string, std::shared_ptr<File>> files_;  // by path
  std::map<int, Open> opens_;                           // by descriptor
  std::list<Op> ops_;                                   // every op not delivered yet
  std::vector<Op*> staged_;
  Op* link_from_ = nullptr;  // the last staged op, if it links to the next one
  std::deque<Op*> finished_;
  std::uint64_t now_ns_ = 0;
  std::vector<bool> reads_marked_at_once_;
  bool holding_ = false;
};

}  // namespace aiod::test
