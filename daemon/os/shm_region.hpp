// SPDX-License-Identifier: MIT
// shm_region.hpp — a session's shared memory: a memfd, mapped shared and
// writable by the daemon, sealed against resizing before the client sees it.
//
// The daemon keeps only the mapping: the memfd itself goes to the client
// (take_fd()) and the daemon's copy is closed.
//
// Sealing with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL means a client can never
// truncate the file under the daemon's mapping (which would turn the daemon's
// next access into SIGBUS). Writes stay allowed: the client must write the
// rings; the daemon treats the contents as hostile.
#pragma once

#include <cstddef>
#include <string>

#include "unique_fd.hpp"

namespace aiod::daemon {

class ShmRegion {
 public:
  ShmRegion() = default;
  ShmRegion(ShmRegion&& other) noexcept;
  ShmRegion& operator=(ShmRegion&& other) noexcept;
  ShmRegion(const ShmRegion&) = delete;
  ShmRegion& operator=(const ShmRegion&) = delete;
  // Unmaps. Only after every operation that points into the region completed.
  ~ShmRegion();

  // Creates, sizes (zero-filled), maps and seals a region of `size` bytes.
  // Returns 0 or -errno; `error` says which step failed.
  [[nodiscard]] static int create(std::size_t size, const char* name, ShmRegion& out, std::string& error);

  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // The memfd, handed over once: the daemon passes it to its client and
  // closes its own copy, so that it never holds a descriptor of a session's
  // memory that anything could reopen (the mapping stays until destruction).
  [[nodiscard]] UniqueFd take_fd() noexcept { return std::move(fd_); }

 private:
  void reset() noexcept;

  UniqueFd fd_;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace aiod::daemon
