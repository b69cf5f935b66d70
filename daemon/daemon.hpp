// SPDX-License-Identifier: MIT
// daemon.hpp — the process: listener, shards, signals.
//
// The main thread owns the listener and the signals: it accepts connections
// and deals them to the least loaded shard; shards do everything else.
// SIGINT/SIGTERM: stop accepting, let every shard cancel and reap its sessions'
// operations (clients receive those completions), close the sessions, exit 0.
// Under systemd it reports READY=1, STATUS= and STOPPING=1 through the
// Notifier, and sends WATCHDOG=1 only while every shard's loop is turning
// (see watchdog.hpp).
//
// `aioctl reload` and `aioctl shutdown` reach the main loop as ControlActions
// (request_control_action), and run the very code SIGHUP and SIGTERM run.
//
// Thread-safety: collect_stats(), identity(), backend_name(), shares(),
// session_ended(), control_session_began() and request_control_action() may
// be called from shard threads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/config.hpp"
#include "session/session_host.hpp"
#include "system/listener.hpp"
#include "os/peer_creds.hpp"
#include "stats/stats.hpp"
#include "system/systemd_notify.hpp"
#include "prepare/uid_shares.hpp"
#include "system/watchdog.hpp"

namespace aiod::daemon {

class Shard;

class Daemon final : public DaemonServices {
 public:
  // Takes ownership of config.listen_fd, if any. `notifier` reports to the
  // service manager (a disabled one outside systemd).
  explicit Daemon(Config config, Notifier notifier = {});
  ~Daemon();

  // Runs until a stop signal. Returns the process exit code.
  int run();

  // DaemonServices (session_host.hpp). backend_name is set by start(),
  // before any session exists.
  [[nodiscard]] StatsSnapshot collect_stats(bool include_sessions, uid_t visible_uid) const override;
  [[nodiscard]] const PeerCreds& identity() const noexcept override { return identity_; }
  [[nodiscard]] std::string_view backend_name() const noexcept override { return backend_name_; }
  void session_ended(std::uint64_t session_id) override;
  [[nodiscard]] UidShares& shares() noexcept override { return shares_; }
  void control_session_began(std::uint64_t session_id) override;
  void request_control_action(std::shared_ptr<ControlAction> action) override;

 private:
  int start(std::string& error);
  void accept_connection(UniqueFd conn);
  void reject(int fd, int code, const std::string& message);
  void stop();
  // SIGHUP and `aioctl reload` (`by` names which, for the log): rebuilds the
  // settings from the config file and the command line; a bad file is
  // rejected (with its line and reason) and the old settings stay.
  struct ReloadResult {
    bool accepted = false;
    std::string message;  // what was done, or why the file was rejected
  };
  ReloadResult reload(const std::string& by);
  // Carries out the queued ControlActions; returns whether one asks to stop.
  bool run_control_actions();
  void watchdog_tick();
  // Sends `state` to the service manager (no-op outside systemd); logs failures.
  void tell_manager(const std::string& state);
  [[nodiscard]] std::string serving_status() const;
  [[nodiscard]] std::vector<std::uint64_t> heartbeats() const;

  Config config_;
  Notifier notifier_;
  ShardWatchdog watchdog_;
  PeerCreds identity_;
  Listener listener_;
  bool socket_activated_ = false;
  bool stall_reported_ = false;  // main thread only
  std::vector<std::unique_ptr<Shard>> shards_;
  std::string backend_name_;
  std::atomic<std::uint32_t> sessions_active_{0};
  UidShares shares_;
  std::mutex admitted_mutex_;
  std::unordered_map<std::uint64_t, UidShare> admitted_;  // session id -> its uid's session share
  std::atomic<std::uint64_t> next_session_id_{1};
  // Control sessions among the admitted (aioctl's, not the applications').
  std::unordered_set<std::uint64_t> control_sessions_;  // guarded by admitted_mutex_
  std::atomic<std::uint32_t> control_active_{0};
  std::atomic<std::uint64_t> control_total_{0};
  // ControlActions from the shards, for the main loop; control_wake_ (an
  // eventfd in the main loop's poll set) says there are some.
  std::mutex actions_mutex_;
  std::vector<std::shared_ptr<ControlAction>> actions_;
  UniqueFd control_wake_;
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> reload_failures_{0};
  std::chrono::steady_clock::time_point started_;
};

}  // namespace aiod::daemon
