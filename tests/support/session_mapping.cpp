// SPDX-License-Identifier: MIT
#include "session_mapping.hpp"

#include <sys/mman.h>

#include <utility>

namespace aiod::test {

SessionMapping::~SessionMapping() {
  if (region_ != nullptr) ::munmap(region_, region_size_);
}

bool SessionMapping::map_region(const wire::Welcome& welcome, std::vector<UniqueFd>& fds) {
  region_size_ = welcome.region_size();
  void* base = ::mmap(nullptr, region_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0].get(), 0);
  if (base == MAP_FAILED) return false;
  region_ = static_cast<std::byte*>(base);
  region_fd_ = std::move(fds[0]);
  submit_efd_ = std::move(fds[1]);
  complete_efd_ = std::move(fds[2]);
  sq_entries_ = welcome.sq_entries();
  cq_entries_ = welcome.cq_entries();
  sq_ = reinterpret_cast<aiod_sqe*>(region_ + welcome.sq_offset());
  cq_ = reinterpret_cast<aiod_cqe*>(region_ + welcome.cq_offset());
  arena_ = region_ + welcome.arena_offset();
  arena_size_ = welcome.arena_size();
  hdr_ = reinterpret_cast<aiod_shm_header*>(region_);
  return true;
}

}  // namespace aiod::test
