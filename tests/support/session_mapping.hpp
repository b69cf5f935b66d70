// SPDX-License-Identifier: MIT
// session_mapping.hpp — the client's side of a session's shared region, as the
// Welcome hands it over: the control socket, the mapping and its eventfds, and
// the ring and arena pointers into it. The base of the test clients that drive
// the rings by hand (RawSession, and the fuzzers' RingClient).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "aiod_shm.h"
#include "unique_fd.hpp"
#include "wire.hpp"

namespace aiod::test {

class SessionMapping {
 public:
  SessionMapping(const SessionMapping&) = delete;
  SessionMapping& operator=(const SessionMapping&) = delete;

 protected:
  SessionMapping() = default;
  ~SessionMapping();

  // Maps the region `welcome` describes and takes the descriptors that came
  // with it (`fds`: the region, the submit eventfd, the completion eventfd).
  // False if the region cannot be mapped.
  bool map_region(const wire::Welcome& welcome, std::vector<UniqueFd>& fds);

  UniqueFd sock_, region_fd_, submit_efd_, complete_efd_;
  std::byte* region_ = nullptr;
  std::size_t region_size_ = 0;
  aiod_shm_header* hdr_ = nullptr;
  aiod_sqe* sq_ = nullptr;
  aiod_cqe* cq_ = nullptr;
  std::byte* arena_ = nullptr;
  std::uint64_t arena_size_ = 0;
  std::uint32_t sq_entries_ = 0, cq_entries_ = 0;
  std::uint32_t sq_tail_ = 0, cq_head_ = 0;
};

}  // namespace aiod::test
