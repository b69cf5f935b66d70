// daemon.hpp — the process: listener, shards, signals.
//
// The main thread owns the listener and the signals: it accepts connections
// and deals them to the least loaded shard; shards do everything else.
// SIGINT/SIGTERM: stop accepting, let every shard cancel and reap its sessions'
// operations (clients receive those completions), close the sessions, exit 0.
//
// Thread-safety: collect_stats(), identity(), backend_name() and
// session_ended() may be called from shard threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "listener.hpp"
#include "peer_creds.hpp"
#include "stats.hpp"

namespace aiod::daemon {

class Shard;

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();

  // Runs until a stop signal. Returns the process exit code.
  int run();

  [[nodiscard]] StatsSnapshot collect_stats(bool include_sessions) const;
  [[nodiscard]] const PeerCreds& identity() const noexcept { return identity_; }
  [[nodiscard]] std::string_view backend_name() const noexcept { return "io_uring"; }
  void session_ended() { sessions_active_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  int start(std::string& error);
  void accept_connection(UniqueFd conn);
  void reject(int fd, int code, const std::string& message);
  void stop();

  Config config_;
  PeerCreds identity_;
  Listener listener_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint32_t> sessions_active_{0};
  std::atomic<std::uint64_t> next_session_id_{1};
  std::chrono::steady_clock::time_point started_;
};

}  // namespace aiod::daemon
