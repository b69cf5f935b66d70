// SPDX-License-Identifier: MIT
#include "session/session_rings.hpp"

#include <cstring>

#include "shm_access.hpp"

namespace aiod::daemon {
using proto::load_peer_flags;
using proto::load_peer_index;
using proto::publish_own_index;
using proto::store_load_fence;
using proto::store_own_flags;

void SessionRings::attach(std::byte* base, const SessionLayout& layout) {
  hdr_ = reinterpret_cast<aiod_shm_header*>(base);
  sq_ = reinterpret_cast<const aiod_sqe*>(base + layout.sq_offset);
  cq_ = reinterpret_cast<aiod_cqe*>(base + layout.cq_offset);
  sq_entries_ = layout.sq_entries;
  cq_entries_ = layout.cq_entries;
  hdr_->magic = AIOD_SHM_MAGIC;
  hdr_->version = AIOD_PROTOCOL_VERSION;
  hdr_->sq_entries = layout.sq_entries;
  hdr_->cq_entries = layout.cq_entries;
  hdr_->sq_offset = layout.sq_offset;
  hdr_->cq_offset = layout.cq_offset;
  hdr_->arena_offset = layout.arena_offset;
  hdr_->arena_size = layout.arena_size;
  hdr_->total_size = layout.total_size;
}

std::optional<std::uint32_t> SessionRings::pending_submissions() const {
  const std::uint32_t tail = load_peer_index(hdr_->sq_tail);
  const std::uint32_t n = tail - sq_head_;  // free-running: wraps correctly
  if (n > sq_entries_) return std::nullopt;
  return n;
}

void SessionRings::copy_submission(std::uint32_t i, aiod_sqe& out) const {
  std::memcpy(&out, &sq_[(sq_head_ + i) & (sq_entries_ - 1)], sizeof(out));
}

void SessionRings::consume(std::uint32_t n) {
  sq_head_ += n;
  // Release: our copies of the consumed descriptors happen before the client
  // may overwrite those slots.
  publish_own_index(hdr_->sq_head, sq_head_);
}

bool SessionRings::refresh_cq_head() {
  const std::uint32_t head = load_peer_index(hdr_->cq_head);
  // Valid heads lie between the last valid head and what we published.
  if (head - cq_head_ > cq_published_ - cq_head_) return false;
  cq_head_ = head;
  return true;
}

void SessionRings::post(std::uint64_t user_data, std::int32_t res, std::uint32_t flags) {
  // The client read these slots last, on its CPU: fetch a few lines ahead for writing.
  __builtin_prefetch(&cq_[(cq_tail_ + 8) & (cq_entries_ - 1)], 1);
  aiod_cqe& cqe = cq_[cq_tail_ & (cq_entries_ - 1)];
  cqe.user_data = user_data;
  cqe.res = res;
  cqe.flags = flags;
  ++cq_tail_;
}

bool SessionRings::publish() {
  if (cq_tail_ == cq_published_) return false;
  cq_published_ = cq_tail_;
  // Release: the completion entries are written before the tail that covers them.
  publish_own_index(hdr_->cq_tail, cq_published_);
  // Full fence: our tail store must be visible before we look at the client's
  // flag, and the client sets its flag before re-checking our tail (Dekker).
  store_load_fence();
  return (load_peer_flags(hdr_->client_flags) & AIOD_CLIENT_NEED_WAKEUP) != 0;
}

bool SessionRings::client_asleep() const {
  return (load_peer_flags(hdr_->client_flags) & AIOD_CLIENT_NEED_WAKEUP) != 0;
}

void SessionRings::set_need_wakeup(bool on) {
  const std::uint32_t want =
      on ? (daemon_flags_ | AIOD_DAEMON_NEED_WAKEUP) : (daemon_flags_ & ~AIOD_DAEMON_NEED_WAKEUP);
  if (want == daemon_flags_) return;
  daemon_flags_ = want;
  store_daemon_flags();
}

void SessionRings::set_stopping() {
  daemon_flags_ |= AIOD_DAEMON_STOPPING;
  store_daemon_flags();
}

void SessionRings::store_daemon_cpu() { store_own_flags(hdr_->daemon_cpu, daemon_cpu_); }

void SessionRings::store_daemon_flags() { store_own_flags(hdr_->daemon_flags, daemon_flags_); }

}  // namespace aiod::daemon
