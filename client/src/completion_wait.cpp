// SPDX-License-Identifier: MIT
// completion_wait.cpp — waiting for completions: spin, then sleep until woken.
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "connection.hpp"
#include "shm_access.hpp"

namespace aiod::detail {
namespace {

using proto::load_peer_flags;
using proto::load_peer_index;
using proto::store_load_fence;
using proto::store_own_flags;

}  // namespace

bool Connection::daemon_on_this_cpu() const {
  const std::uint32_t daemon_cpu = load_peer_flags(hdr_->daemon_cpu);  // a hint: CPU + 1, 0 unknown
  return daemon_cpu != 0 && static_cast<int>(daemon_cpu - 1) == ::sched_getcpu();
}

bool Connection::keep_off_daemon_cpu() const {
  // The daemon writes its CPU at session setup, before it answers the hello.
  const std::uint32_t hint = load_peer_flags(hdr_->daemon_cpu);
  if (hint == 0 || hint - 1 >= CPU_SETSIZE) return false;
  const unsigned cpu = hint - 1;
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return false;
  if (!CPU_ISSET(cpu, &set) || CPU_COUNT(&set) < 2) return false;  // off it already, or nowhere else to go
  CPU_CLR(cpu, &set);
  return ::sched_setaffinity(0, sizeof(set), &set) == 0;
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
    if (!daemon_on_this_cpu()) {
      const auto deadline = std::chrono::steady_clock::now() + spin_.next();
      for (unsigned i = 1; !completions_ready(); ++i) {
        proto::cpu_pause();
        if (i % 64 == 0 && std::chrono::steady_clock::now() >= deadline) break;  // the clock, now and then
      }
      if (completions_ready()) {
        spin_.caught();
        continue;
      }
      spin_.missed();
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
    }
    store_own_flags(hdr_->client_flags, 0);
  }
}

}  // namespace aiod::detail
