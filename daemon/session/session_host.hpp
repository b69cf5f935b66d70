// SPDX-License-Identifier: MIT
// session_host.hpp — what a Session needs from its shard and from the daemon.
//
// The narrow interfaces that let session/ sit below shard/ and the daemon
// (Shard implements SessionHost, Daemon implements DaemonServices).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "backend/backend.hpp"
#include "os/peer_creds.hpp"
#include "prepare/uid_shares.hpp"
#include "runtime/config.hpp"
#include "runtime/scheduler.hpp"
#include "stats/stats.hpp"
#include "unique_fd.hpp"

namespace aiod::daemon {

class Session;

// A control request only the daemon's main loop may carry out (it owns the
// settings and the stop), handed over by a session on a shard thread. The
// main loop fills in the outcome and then writes 1 to `done`, an eventfd the
// session reads through its backend, so the shard thread never blocks and
// never touches the daemon's state.
struct ControlAction {
  enum class Kind { reload, shutdown };
  Kind kind = Kind::reload;
  std::string requester;  // for the log: "uid 0, pid 1234"
  UniqueFd done;          // eventfd (EFD_CLOEXEC | EFD_NONBLOCK); may be empty for shutdown

  // The outcome (reload only). The mutex, not the eventfd, orders these
  // fields between the threads: the eventfd may be read by the kernel's
  // io_uring, which no race detector sees.
  void finish(bool ok, std::string text) {
    {
      std::lock_guard lock(mutex_);
      accepted_ = ok;
      message_ = std::move(text);
    }
    if (done) {
      const std::uint64_t one = 1;
      (void)!::write(done.get(), &one, sizeof(one));
    }
  }
  [[nodiscard]] std::pair<bool, std::string> outcome() const {
    std::lock_guard lock(mutex_);
    return {accepted_, message_};
  }

 private:
  mutable std::mutex mutex_;
  bool accepted_ = false;
  std::string message_;
};

// Daemon-wide facts and shares. Thread-safety: callable from any shard thread.
class DaemonServices {
 public:
  // Sessions are listed only if `include_sessions`, and only those of
  // `visible_uid` unless that is root.
  [[nodiscard]] virtual StatsSnapshot collect_stats(bool include_sessions, uid_t visible_uid) const = 0;
  // The daemon's own credentials.
  [[nodiscard]] virtual const PeerCreds& identity() const noexcept = 0;
  // The shards' backend ("io_uring" or "posix").
  [[nodiscard]] virtual std::string_view backend_name() const noexcept = 0;
  // Per-uid shares of sessions, handles and memory.
  [[nodiscard]] virtual UidShares& shares() noexcept = 0;
  // A session admitted by the daemon has ended.
  virtual void session_ended(std::uint64_t session_id) = 0;
  // An admitted session turned out to be a Control one (aioctl): stats count
  // it apart from the applications' sessions.
  virtual void control_session_began(std::uint64_t /*session_id*/) {}
  // Queues `action` for the main loop and wakes it; returns at once. Hosts
  // without a main loop (unit tests' hosts) refuse it.
  virtual void request_control_action(std::shared_ptr<ControlAction> action) {
    action->finish(false, "this host has no main loop to carry it out");
  }

 protected:
  ~DaemonServices() = default;
};

// The shard side of a session. Every method is called on the shard thread.
class SessionHost {
 public:
  [[nodiscard]] virtual DaemonServices& daemon() noexcept = 0;
  [[nodiscard]] virtual const Config& config() const noexcept = 0;
  [[nodiscard]] virtual Backend& backend() noexcept = 0;
  [[nodiscard]] virtual Scheduler& scheduler() noexcept = 0;
  // The shard is stopping: sessions are being closed.
  [[nodiscard]] virtual bool stopping() const noexcept = 0;
  // The clock and the CPU as of this loop turn (read once per turn).
  [[nodiscard]] virtual std::uint64_t turn_ns() = 0;
  [[nodiscard]] virtual std::uint32_t cpu() = 0;

  // The session's pump sleeps (`pump` is resumed by unpark) until its ring
  // has work, polled by the host's loop, or its doorbell rings.
  virtual void park(Session& s, std::coroutine_handle<> pump) = 0;
  virtual void unpark(Session& s) = 0;
  // The session has completions to publish at the end of this loop turn.
  virtual void mark_dirty(Session& s) = 0;

  // Personalities for a credential set (shared by sessions with the same
  // identity). Returns the id (> 0) or -errno.
  virtual int acquire_personality(const PeerCreds& creds) = 0;
  virtual void release_personality(std::uint16_t id) = 0;

  // co_await host.park_until_ready(session)
  struct ParkAwaiter {
    SessionHost& host;
    Session& session;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { host.park(session, h); }
    void await_resume() const noexcept {}
  };
  ParkAwaiter park_until_ready(Session& s) { return {*this, s}; }

  // Counted for every op the host's sessions complete; read by stats.
  OpcodeCounters opcode_counters;
  LatencyHistogram latency;

 protected:
  ~SessionHost() = default;
};

}  // namespace aiod::daemon
