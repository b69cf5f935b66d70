// SPDX-License-Identifier: MIT
// record_pool.hpp — a session's fixed pool of OpRecords: their one owner.
//
// Sized once, at the handshake, to the session's in-flight quota, and never
// reallocated while records are in use (the backend holds their addresses as
// Completions). acquire() hands out a reset record; release() gives back
// what it holds — its handle references, its share of control data — and
// returns it to the free list. Shard thread only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "prepare/op_record.hpp"

namespace aiod::daemon {

class HandleTable;
class Session;

class RecordPool {
 public:
  // `control_in_flight` is the session's count of control bytes records
  // hold (PrepareContext::control_in_flight); release() gives a record's back.
  RecordPool(HandleTable& handles, std::uint64_t& control_in_flight)
      : handles_(handles), control_in_flight_(control_in_flight) {}
  RecordPool(const RecordPool&) = delete;
  RecordPool& operator=(const RecordPool&) = delete;

  // Creates `size` records belonging to `session`. Once, before any acquire().
  void init(Session* session, std::uint32_t size);

  // A reset record, marked live. The caller admits work only while
  // in_flight() < size(), so the pool is never empty here.
  [[nodiscard]] OpRecord& acquire();
  // Releases everything the record holds and takes it back.
  void release(OpRecord& rec);

  [[nodiscard]] std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(records_.size()); }
  // Records acquired and not released: consumed descriptors whose completion
  // is not posted yet.
  [[nodiscard]] std::uint32_t in_flight() const noexcept { return in_flight_; }
  // Every record, live or free (check OpRecord::live).
  [[nodiscard]] std::span<OpRecord> all() noexcept { return records_; }

 private:
  HandleTable& handles_;
  std::uint64_t& control_in_flight_;
  std::vector<OpRecord> records_;
  OpRecord* free_ = nullptr;
  std::uint32_t in_flight_ = 0;
};

}  // namespace aiod::daemon
