// SPDX-License-Identifier: MIT
// ring_io.cpp — the rings: queueing descriptors, publishing them, reaping completions.
#include <unistd.h>

#include <cstring>
#include <vector>

#include "connection.hpp"
#include "encode.hpp"
#include "shm_access.hpp"

namespace aiod::detail {
namespace {

using proto::load_own;
using proto::load_peer_flags;
using proto::load_peer_index;
using proto::publish_own_index;
using proto::store_load_fence;

constexpr std::uint64_t make_user_data(std::uint32_t slot, std::uint32_t generation) {
  return (std::uint64_t{generation} << 32) | slot;
}

}  // namespace

void Connection::release(PendingOp& op) {
  for (const ArenaBlock& b : op.blocks) arena_alloc_.free(b.offset, b.size);
  op.blocks.clear();
  op.copy_backs.clear();
  if (op.owned_fd >= 0) ::close(op.owned_fd);
  op.owned_fd = -1;
  op.in_use = false;
  op.owner = nullptr;
  op.out_error = nullptr;
  op.post = Post::none;
  op.out = op.out2 = op.out3 = nullptr;
  op.out_id = nullptr;
  op.registered = {};
  ++op.generation;
  const auto index = static_cast<std::uint32_t>(&op - ops_.data());
  op.next_free = free_head_;
  free_head_ = index + 1;
  ++free_count_;
}

std::error_code Connection::queue(std::span<Op> ops, Batch& owner) {
  if (dead_) return errc::daemon_gone;
  if (ops.empty()) return {};
  if (common_fields(ops.back()).link != Link::unlinked) return errc::invalid_batch;
  const std::uint32_t in_ring = sq_tail_ - load_peer_index(hdr_->sq_head);
  if (ops.size() > info_.sq_entries - in_ring || ops.size() > free_count_ ||
      owner.outstanding + ops.size() > owner.capacity) {
    return errc::queue_full;
  }
  // The slots about to be written were last read by the daemon, on another
  // CPU: ask for their cache lines now, so the misses overlap.
  for (std::uint32_t i = 0; i < ops.size() && i < 16; ++i) {
    __builtin_prefetch(&sq_[(sq_tail_ + i) & (info_.sq_entries - 1)], 1);
  }
  // Encode everything first; publish nothing until the whole call succeeded.
  const std::uint32_t first_tail = sq_tail_;
  std::vector<std::uint32_t>& taken = taken_;  // kept across calls: no allocation
  taken.clear();
  for (const Op& op : ops) {
    const std::uint32_t slot = free_head_ - 1;
    PendingOp& p = ops_[slot];
    free_head_ = p.next_free;
    --free_count_;
    taken.push_back(slot);
    p.in_use = true;
    p.owner = &owner;
    aiod_sqe sqe{};
    if (const std::error_code ec = encode_op(*this, op, sqe, p)) {
      // Undo the whole call, including handles registered for it (ChildExit).
      std::vector<std::uint32_t> orphans;
      for (std::uint32_t t : taken) {
        if (ops_[t].registered) orphans.push_back(ops_[t].registered.value);
        release(ops_[t]);
      }
      sq_tail_ = first_tail;
      if (!orphans.empty()) unregister(orphans);
      return ec;
    }
    const CommonFields common = common_fields(op);
    sqe.flags = common.link == Link::soft ? AIOD_SQE_LINK : common.link == Link::hard ? AIOD_SQE_HARDLINK : 0;
    sqe.user_data = make_user_data(slot, p.generation);
    p.userdata = common.userdata;
    p.out_error = common.out_error;
    p.out_id = common.out_id;
    std::memcpy(&sq_[sq_tail_ & (info_.sq_entries - 1)], &sqe, sizeof(sqe));
    __builtin_prefetch(&sq_[(sq_tail_ + 16) & (info_.sq_entries - 1)], 1);
    ++sq_tail_;
  }
  // The whole call is queued: now its ids and errors may be written.
  owner.outstanding += ops.size();
  for (std::uint32_t slot : taken) {
    PendingOp& p = ops_[slot];
    if (p.out_id != nullptr) *p.out_id = OpId{make_user_data(slot, p.generation)};
    if (p.out_error != nullptr) *p.out_error = {};
  }
  return {};
}

void Connection::submit() {
  if (sq_tail_ == sq_published_ || dead_) return;
  sq_published_ = sq_tail_;
  // Release: the descriptors are written before the tail that covers them.
  publish_own_index(hdr_->sq_tail, sq_published_);
  // Full fence: the tail store is visible before we read the daemon's flag,
  // which it sets before re-reading our tail (Dekker).
  store_load_fence();
  if (load_peer_flags(hdr_->daemon_flags) & AIOD_DAEMON_NEED_WAKEUP) ring_doorbell();
}

void Connection::ring_doorbell() {
  const std::uint64_t one = 1;
  (void)!::write(submit_efd_.get(), &one, sizeof(one));
}

void Connection::complete_op(std::uint32_t slot, int res) {
  PendingOp& op = ops_[slot];
  // AIOD_CHILD_EXIT_CLOSE closes the pidfd handle only when the wait
  // succeeds; after a failed (cancelled) one, dropping it is ours to do.
  if (op.post == Post::child_exit && res < 0 && op.registered) {
    const std::uint32_t handle = op.registered.value;
    (void)unregister({&handle, 1});
  }
  res = apply_result(op, res);
  retire(slot, result_error(res));
}

void Connection::retire(std::uint32_t slot, std::error_code error) {
  PendingOp& p = ops_[slot];
  if (p.out_error != nullptr) *p.out_error = error;
  Batch* owner = p.owner;
  const OpId id{make_user_data(slot, p.generation)};
  const std::uint64_t userdata = p.userdata;
  release(p);
  if (owner != nullptr) {  // last: the callback may queue more ops
    --owner->outstanding;
    ++owner->completed;
    if (error) ++owner->errors;
    if (owner->callback) owner->callback(id, userdata, static_cast<bool>(error));
  }
}

std::size_t Connection::reap() {
  const std::uint32_t tail = load_peer_index(hdr_->cq_tail);
  std::size_t n = 0;
  const std::uint32_t mask = info_.cq_entries - 1;
  while (cq_head_ != tail) {
    __builtin_prefetch(&cq_[(cq_head_ + 8) & mask]);  // four lines ahead
    const aiod_cqe cqe = cq_[cq_head_ & mask];
    ++cq_head_;
    const auto slot = static_cast<std::uint32_t>(cqe.user_data);
    const auto generation = static_cast<std::uint32_t>(cqe.user_data >> 32);
    // A completion for no op of ours would be a daemon bug; never act on it.
    if (slot >= ops_.size() || !ops_[slot].in_use || ops_[slot].generation != generation) continue;
    complete_op(slot, cqe.res);
    ++n;
  }
  // Release: we are done with these entries before the daemon may reuse them.
  if (n > 0 || load_own(hdr_->cq_head) != cq_head_) publish_own_index(hdr_->cq_head, cq_head_);
  return n;
}

}  // namespace aiod::detail
