// connection_io.cpp — the hot path: queueing descriptors, publishing them,
// reaping completions, waiting.
#include <poll.h>
#include <sys/epoll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

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
using proto::store_own_flags;

constexpr std::uint64_t make_user_data(std::uint32_t slot, std::uint32_t generation) {
  return (std::uint64_t{generation} << 32) | slot;
}

}  // namespace

bool Connection::place(const void* data, std::size_t size, bool copy_in, PendingOp& op, std::uint64_t& offset) {
  const auto* p = static_cast<const std::byte*>(data);
  if (in_arena(p) && size <= static_cast<std::size_t>(arena_ + arena_size_ - p)) {
    offset = static_cast<std::uint64_t>(p - arena_);  // already shared: no copy
    return true;
  }
  if (!scratch(size, op, offset)) return false;
  if (copy_in && size > 0) std::memcpy(arena_ + offset, data, size);
  return true;
}

bool Connection::scratch(std::size_t size, PendingOp& op, std::uint64_t& offset) {
  const auto got = arena_alloc_.allocate(size);
  if (!got) return false;
  op.blocks.push_back({*got, size == 0 ? 1 : size});
  offset = *got;
  return true;
}

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

bool Connection::daemon_on_this_cpu() const {
  const std::uint32_t daemon_cpu = load_peer_flags(hdr_->daemon_cpu);  // a hint: CPU + 1, 0 unknown
  return daemon_cpu != 0 && static_cast<int>(daemon_cpu - 1) == ::sched_getcpu();
}

void Connection::nudge_if_stalled() {
  if (sq_published_ != load_peer_index(hdr_->sq_head) &&
      (load_peer_flags(hdr_->daemon_flags) & AIOD_DAEMON_NEED_WAKEUP)) {
    ring_doorbell();
  }
}

bool Connection::arm_completion_fd() {
  // Drain the eventfd, so that polling completion_fd() (which re-checks its
  // members' readiness) reports only new completions.
  std::uint64_t stale;
  (void)!::read(complete_efd_.get(), &stale, sizeof(stale));  // non-blocking eventfd
  store_own_flags(hdr_->client_flags, AIOD_CLIENT_NEED_WAKEUP);
  // Full fence: the flag is visible before we look at the daemon's tail, which
  // it publishes before looking at our flag (Dekker, as in wait()).
  store_load_fence();
  if (completions_ready() || dead_) return true;
  // The daemon's departure must wake an event loop as completions do: the
  // caller polls completion_fd(), which includes the control socket, and
  // learns of it here.
  if (peer_closed()) {
    dead_ = true;
    return true;
  }
  nudge_if_stalled();
  return false;
}

void Connection::wake() const noexcept {
  const std::uint64_t one = 1;
  (void)!::write(complete_efd_.get(), &one, sizeof(one));
}

bool Connection::completions_ready() const { return load_peer_index(hdr_->cq_tail) != cq_head_; }

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

bool Connection::peer_closed() {
  char byte;
  const ssize_t n = ::recv(sock_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

void Connection::fail_everything() {
  dead_ = true;
  for (std::uint32_t slot = 0; slot < ops_.size(); ++slot) {
    if (ops_[slot].in_use) retire(slot, make_error_code(errc::daemon_gone));
  }
}

std::error_code Connection::wait(const std::function<bool()>& pred) {
  for (;;) {
    reap();
    if (pred()) return {};
    if (dead_) {
      fail_everything();
      return errc::daemon_gone;
    }
    // Spin first: the daemon usually answers within microseconds — unless it
    // runs on this very CPU, where spinning only keeps it from answering.
    const bool spun = !daemon_on_this_cpu();
    std::chrono::steady_clock::time_point spin_start{};
    if (spun) {
      spin_start = std::chrono::steady_clock::now();
      const auto deadline = spin_start + spin_budget_;
      for (unsigned i = 1; !completions_ready(); ++i) {
        proto::cpu_pause();
        if (i % 64 == 0 && std::chrono::steady_clock::now() >= deadline) break;  // the clock, now and then
      }
      if (completions_ready()) {
        adapt_spin(true);
        continue;
      }
    }

    // About to sleep: say so, then look once more (Dekker with the daemon's
    // publish: it stores its tail, fences, then reads our flag).
    store_own_flags(hdr_->client_flags, AIOD_CLIENT_NEED_WAKEUP);
    store_load_fence();
    if (!completions_ready()) {
      nudge_if_stalled();
      // One call: the epoll holds the completion eventfd (edge-triggered, so
      // it needs no read) and the control socket, so the daemon's death
      // wakes us too.
      epoll_event events[2];
      const int ready = ::epoll_wait(notify_fd_.get(), events, 2, -1);
      bool socket_event = false;
      for (int i = 0; i < ready; ++i) socket_event |= events[i].data.fd == sock_.get();
      if (socket_event && peer_closed()) {
        store_own_flags(hdr_->client_flags, 0);
        reap();  // completions posted before the daemon went away still count
        dead_ = true;
        continue;
      }
      // Would a full-length spin have caught this answer?
      if (spun) adapt_spin(std::chrono::steady_clock::now() - spin_start < spin_);
    }
    store_own_flags(hdr_->client_flags, 0);
  }
}

void Connection::adapt_spin(bool worth_spinning) {
  // Doubling on success and halving on failure settles near the daemon's
  // actual answer time. The floor keeps a short look, so that a daemon that
  // becomes quick again is noticed by spinning, not only after a sleep.
  if (worth_spinning) {
    spin_budget_ = std::min<std::chrono::nanoseconds>(spin_budget_ * 2, spin_);
  } else {
    spin_budget_ = std::max<std::chrono::nanoseconds>(spin_budget_ / 2, std::chrono::nanoseconds(spin_) / 64);
  }
}

}  // namespace aiod::detail
