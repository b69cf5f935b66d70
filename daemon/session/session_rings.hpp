// SPDX-License-Identifier: MIT
// session_rings.hpp — the daemon's side of one session's rings.
//
// The region is shared with a client that may be hostile. The rules:
//  - indices the client writes (sq_tail, cq_head, client_flags) are loaded once
//    per use with acquire ordering and checked before they are believed;
//  - indices the daemon writes (sq_head, cq_tail, daemon_flags) are kept in
//    private copies and only ever stored to shared memory, never read back;
//  - a descriptor is copied out in one memcpy, and only the copy is examined.
// A client index that no well-behaved client could produce (a tail more than a
// ring ahead, a head moving backwards or past the tail) is corruption: the caller
// disconnects that client.
//
// Not thread-safe: used by the session's shard thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "aiod_shm.h"
#include "os/layout.hpp"

namespace aiod::daemon {

class SessionRings {
 public:
  SessionRings() = default;
  // Initialises the header of a fresh, zeroed region and takes its geometry.
  void attach(std::byte* base, const SessionLayout& layout);

  [[nodiscard]] std::uint32_t sq_entries() const noexcept { return sq_entries_; }
  [[nodiscard]] std::uint32_t cq_entries() const noexcept { return cq_entries_; }

  // --- submission ring ------------------------------------------------------
  // Descriptors published by the client and not consumed yet, or nullopt when
  // the client's tail is corrupt.
  [[nodiscard]] std::optional<std::uint32_t> pending_submissions() const;
  // Copies the descriptor `i` places past the consumed head into `out`.
  void copy_submission(std::uint32_t i, aiod_sqe& out) const;
  // A hint that descriptor `i` will be copied soon.
  void prefetch_submission(std::uint32_t i) const { __builtin_prefetch(&sq_[(sq_head_ + i) & (sq_entries_ - 1)]); }
  // Consumes `n` descriptors and tells the client (release: the copies are done).
  void consume(std::uint32_t n);

  // --- completion ring ------------------------------------------------------
  // Reloads the client's consumed head; false when it is corrupt.
  [[nodiscard]] bool refresh_cq_head();
  // Completion slots in use: posted and not yet consumed by the client.
  [[nodiscard]] std::uint32_t cq_used() const noexcept { return cq_tail_ - cq_head_; }
  // Writes one completion. The caller guarantees cq_used() < cq_entries().
  void post(std::uint64_t user_data, std::int32_t res, std::uint32_t flags = 0);
  [[nodiscard]] bool has_unpublished() const noexcept { return cq_tail_ != cq_published_; }
  // Makes posted completions visible. Returns true when the client asked to be
  // woken (it sleeps, or is about to).
  [[nodiscard]] bool publish();

  // --- wake-up flags --------------------------------------------------------
  // Whether the client has said it sleeps (or is about to) and not yet that it
  // woke. For a second look after a publish(), which fenced.
  [[nodiscard]] bool client_asleep() const;
  // Tells the client whether the daemon may sleep (so it must ring the doorbell).
  // The caller issues a full fence before re-checking for work.
  void set_need_wakeup(bool on);
  // Tells the client which CPU serves it (a hint for its spinning).
  void set_daemon_cpu(std::uint32_t cpu) {
    if (cpu + 1 == daemon_cpu_) return;
    daemon_cpu_ = cpu + 1;
    store_daemon_cpu();
  }
  void set_stopping();

 private:
  void store_daemon_flags();
  void store_daemon_cpu();

  aiod_shm_header* hdr_ = nullptr;
  const aiod_sqe* sq_ = nullptr;
  aiod_cqe* cq_ = nullptr;
  std::uint32_t sq_entries_ = 0;
  std::uint32_t cq_entries_ = 0;

  // Private copies: the truth for the daemon, whatever the shared page says.
  std::uint32_t sq_head_ = 0;
  std::uint32_t cq_tail_ = 0;
  std::uint32_t cq_published_ = 0;
  std::uint32_t cq_head_ = 0;  // last head the client validly published
  std::uint32_t daemon_flags_ = 0;
  std::uint32_t daemon_cpu_ = 0;  // + 1, as stored
};

}  // namespace aiod::daemon
