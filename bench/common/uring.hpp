// SPDX-License-Identifier: MIT
// uring.hpp — the in-process io_uring every benchmark compares against.
#pragma once

#include <liburing.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bench.hpp"

namespace aiod::bench {

// The same setup the daemon's backend prefers (single issuer, deferred task
// work, Linux 6.1+), falling back to what older kernels have, so both sides
// of a comparison run on equally tuned rings. Returns the setup flags used.
inline unsigned init_ring(io_uring& ring, unsigned entries) {
  const unsigned attempts[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
      0,
  };
  int ret = -EINVAL;
  for (unsigned flags : attempts) {
    io_uring_params p{};
    p.flags = flags;
    ret = io_uring_queue_init_params(entries, &ring, &p);
    if (ret == 0) return p.flags;
    if (ret != -EINVAL) break;
  }
  die("io_uring_queue_init: %s", std::strerror(-ret));
}

// RAII for a ring.
class Ring {
 public:
  explicit Ring(unsigned entries) { flags_ = init_ring(ring_, entries); }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() { io_uring_queue_exit(&ring_); }
  io_uring* get() noexcept { return &ring_; }
  [[nodiscard]] unsigned flags() const noexcept { return flags_; }

  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (s == nullptr) die("the submission ring is full");
    return s;
  }

 private:
  io_uring ring_{};
  unsigned flags_ = 0;
};

}  // namespace aiod::bench
