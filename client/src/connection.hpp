// SPDX-License-Identifier: MIT
// connection.hpp — Connection, libaiod's side of one session with the daemon.
//
// It holds the control socket, the mapped region, the rings, the table of ops
// in flight (pending_op.hpp) and the arena.
//
// Shared-memory discipline (the mirror of the daemon's): the client writes
// sq_tail, cq_head and client_flags and only loads the rest; indices are
// published with release stores and read with acquire loads; the wake-up flags
// follow the store / full fence / load pattern on both sides.
//
// Not thread-safe: one thread at a time, like the Client that owns it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "aiod/client.hpp"
#include "aiod/ops.hpp"
#include "aiod_shm.h"
#include "arena_allocator.hpp"
#include "pending_op.hpp"
#include "spin_policy.hpp"
#include "unique_fd.hpp"
#include "wire.hpp"

namespace aiod::detail {

class Connection {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Connection>> open(const ClientOptions& options);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  [[nodiscard]] const SessionInfo& info() const noexcept { return info_; }
  [[nodiscard]] bool dead() const noexcept { return dead_; }

  // --- ops -------------------------------------------------------------------
  // Encodes `ops` into the submission ring (not yet visible to the daemon),
  // all or none. Writes out_id / out_error of each op.
  std::error_code queue(std::span<Op> ops, Batch& owner);
  // Publishes queued descriptors; rings the doorbell if the daemon sleeps.
  void submit();
  // Processes every available completion. Returns how many.
  std::size_t reap();
  // Reaps until pred() holds. Returns {} or errc::daemon_gone (every op still
  // pending is then completed with that error).
  std::error_code wait(const std::function<bool()>& pred);
  // Descriptors queued and not yet published to the daemon.
  [[nodiscard]] std::size_t queued_unsubmitted() const noexcept { return sq_tail_ - sq_published_; }
  // Once the daemon is gone, completes every pending op with errc::daemon_gone.
  void abandon_if_dead() {
    if (dead_) fail_everything();
  }

  // --- arena -----------------------------------------------------------------
  [[nodiscard]] std::byte* arena_base() const noexcept { return arena_; }
  [[nodiscard]] std::uint64_t arena_size() const noexcept { return arena_size_; }
  ArenaAllocator& arena_allocator() noexcept { return arena_alloc_; }
  // Places `size` bytes at `data` into the arena for `op`: the offset of the
  // bytes in place when they already are in the arena, else of a new block
  // (filled from `data` if `copy_in`). Returns false when the arena is full.
  bool place(const void* data, std::size_t size, bool copy_in, PendingOp& op, std::uint64_t& offset);
  // A fresh arena block for `op` (freed when it completes), or false.
  bool scratch(std::size_t size, PendingOp& op, std::uint64_t& offset);
  // Whether `data` lies inside the arena.
  [[nodiscard]] bool in_arena(const void* data) const noexcept {
    const auto* p = static_cast<const std::byte*>(data);
    return p >= arena_ && p < arena_ + arena_size_;
  }

  // --- control messages --------------------------------------------------------
  // Registers descriptors (copies are sent); returns their handles in order.
  Result<std::vector<Handle>> register_fds(std::span<const int> fds);
  // Drops handles; all or none.
  std::error_code unregister(std::span<const std::uint32_t> handles);
  // Sends a request and returns the reply; an Error reply becomes errc::rejected.
  Result<wire::ReceivedMessage> request(flatbuffers::FlatBufferBuilder& b, std::span<const int> fds = {});
  [[nodiscard]] std::uint64_t next_request_id() noexcept { return ++request_id_; }

  [[nodiscard]] int completion_fd() const noexcept { return notify_fd_.get(); }
  // See Client::arm_completion_fd() and Client::wake().
  [[nodiscard]] bool arm_completion_fd();
  void wake() const noexcept;

 private:
  Connection() = default;
  std::error_code handshake(const ClientOptions& options, std::string& detail);
  void complete_op(std::uint32_t slot, int res);
  // Reports an op's outcome to its out_error and owner, and frees its record.
  void retire(std::uint32_t slot, std::error_code error);
  int apply_result(PendingOp& op, int res);
  void release(PendingOp& op);
  void fail_everything();
  bool peer_closed();
  void ring_doorbell();
  // Before sleeping: a daemon that went to sleep with descriptors of ours
  // unconsumed (its ring room was full) needs the doorbell to look again.
  void nudge_if_stalled();
  [[nodiscard]] bool completions_ready() const;
  [[nodiscard]] bool daemon_on_this_cpu() const;

 public:
  // Client::keep_off_daemon_cpu.
  bool keep_off_daemon_cpu() const;

 private:
  UniqueFd sock_;
  UniqueFd region_fd_;
  UniqueFd submit_efd_;
  UniqueFd complete_efd_;
  UniqueFd notify_fd_;  // epoll of complete_efd_ and sock_, for event loops
  std::byte* region_ = nullptr;
  std::size_t region_size_ = 0;
  aiod_shm_header* hdr_ = nullptr;
  aiod_sqe* sq_ = nullptr;
  const aiod_cqe* cq_ = nullptr;
  std::byte* arena_ = nullptr;
  std::uint64_t arena_size_ = 0;
  ArenaAllocator arena_alloc_;
  SessionInfo info_;
  SpinPolicy spin_;  // how long each wait spins, up to ClientOptions::spin

  std::uint32_t sq_tail_ = 0;       // queued (private)
  std::uint32_t sq_published_ = 0;  // visible to the daemon
  std::uint32_t cq_head_ = 0;       // consumed (private copy of what we store)

  std::vector<PendingOp> ops_;
  std::vector<std::uint32_t> taken_;  // queue()'s scratch
  std::uint32_t free_head_ = 0;       // index + 1 of the first free slot; 0 = none
  std::uint32_t free_count_ = 0;
  std::uint64_t request_id_ = 0;
  bool dead_ = false;
};

}  // namespace aiod::detail
