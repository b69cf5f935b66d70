// SPDX-License-Identifier: MIT
// shard.hpp — one daemon thread with its own backend, scheduler and sessions.
//
// The loop: run ready tasks (handshakes, control messages, session pumps);
// hand prepared ops to the kernel; deliver finished ones; publish completions
// and wake the clients that sleep; look at parked sessions' rings; and when
// nothing happened for `poll` microseconds, raise every parked session's
// NEED_WAKEUP flag and sleep in the backend until a doorbell, a completion or
// the inbox wakes it. An idle shard therefore costs no CPU.
//
// Thread-safety: adopt(), request_stop(), collect() and session_count() may be
// called from any thread; everything else only from the shard's own thread.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "runtime/config.hpp"
#include "runtime/intrusive_list.hpp"
#include "os/peer_creds.hpp"
#include "stats/stats.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"
#include "session/session_host.hpp"
#include "unique_fd.hpp"

namespace aiod::daemon {

class Session;

// Implements SessionHost for the sessions it runs.
class Shard final : public SessionHost {
 public:
  Shard(DaemonServices& daemon, unsigned index, const Config& config);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // Starts the thread and waits until its backend is up (the one
  // config.backend asks for; automatic falls back to posix, logging why).
  // Returns 0, or -errno with `error` set (the thread has then ended).
  int start(std::string& error);
  // The name of the backend in use; valid once start() has succeeded.
  [[nodiscard]] const std::string& backend_name() const noexcept { return backend_name_; }
  void request_stop();
  void join();

  // New settings (a reload): the shard takes them at its next loop turn.
  // Sessions keep the quotas they were given at their handshake.
  void update_config(const Config& config);

  // Hands an accepted connection to this shard. With a `refusal`, the shard
  // only reads the client's hello and answers it with that error (so the
  // client learns why), without counting it as a session.
  void adopt(UniqueFd conn, std::uint64_t session_id, std::string refusal = {});
  [[nodiscard]] std::size_t session_count() const;
  // Adds this shard's numbers to `into`.
  void collect(StatsSnapshot& into, bool include_sessions, uid_t visible_uid) const;
  // Proof of life for the watchdog: grows by one every turn of the loop. An
  // idle shard wakes every config.shard_wake (when set) to keep it growing.
  [[nodiscard]] std::uint64_t heartbeat() const noexcept { return heartbeat_.load(std::memory_order_relaxed); }

  // --- shard thread only -------------------------------------------------------
  [[nodiscard]] unsigned index() const noexcept { return index_; }
  [[nodiscard]] DaemonServices& daemon() noexcept override { return daemon_; }
  [[nodiscard]] const Config& config() const noexcept override { return config_; }
  [[nodiscard]] Backend& backend() noexcept override { return *backend_; }
  [[nodiscard]] Scheduler& scheduler() noexcept override { return sched_; }
  [[nodiscard]] bool stopping() const noexcept override { return stopping_; }
  [[nodiscard]] std::uint64_t now_ns() const;
  [[nodiscard]] std::uint64_t turn_ns() override {
    if (!turn_ns_valid_) {
      turn_ns_ = now_ns();
      turn_ns_valid_ = true;
    }
    return turn_ns_;
  }
  [[nodiscard]] std::uint32_t cpu() override;

  void park(Session& s, std::coroutine_handle<> pump) override;
  void unpark(Session& s) override;

  void add_session(Session& s);
  // The session's handshake has succeeded: its identity (name, credentials,
  // kind) is final, and stats readers on other threads may show it from now on.
  void list_session(Session& s);
  void remove_session(Session& s);
  void mark_dirty(Session& s) override;

  // Personalities are per ring; sessions with the same identity share one.
  int acquire_personality(const PeerCreds& creds) override;
  void release_personality(std::uint16_t id) override;

 private:
  // Owns a freshly accepted connection's Session: handshake, serving, then
  // shutdown; with a `refusal`, only answers the client's hello with it.
  DetachedTask run_session(UniqueFd sock, std::uint64_t id, std::string refusal);
  void thread_main();
  void loop();
  void take_inbox();
  bool poll_parked();
  void prepare_to_sleep();
  void publish_dirty();
  void begin_stop();

  class InboxReader final : public Completion {
   public:
    explicit InboxReader(Shard& s) : s_(s) {}
    void complete(int res) override;
    void arm();
    std::uint64_t value = 0;
    bool armed = false;

   private:
    Shard& s_;
  };

  DaemonServices& daemon_;
  const unsigned index_;
  Config config_;  // shard thread; replaced from pending_config_ on reload
  std::thread thread_;
  std::string backend_name_;  // written before start() returns, then constant

  // --- shared with other threads ------------------------------------------------
  mutable std::mutex mutex_;  // guards inbox_ and sessions_ (the entries, not the sessions)
  struct Incoming {
    UniqueFd conn;
    std::uint64_t id;
    std::string refusal;
  };
  std::vector<Incoming> inbox_;
  struct SessionEntry {
    Session* session;
    // Set by list_session(). A session's identity is written on the shard
    // thread before that, and never after: a thread that sees `listed` under
    // mutex_ may read it. Other threads read nothing else but its counters.
    bool listed = false;
  };
  std::vector<SessionEntry> sessions_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> config_pending_{false};
  std::unique_ptr<Config> pending_config_;  // guarded by mutex_
  UniqueFd inbox_efd_;
  SessionCounters retired_;  // counters of sessions that have ended
  Counter sessions_total_;
  std::atomic<std::uint64_t> syscalls_{0};
  std::atomic<std::uint64_t> heartbeat_{0};  // written by the shard thread only

  // --- shard thread only ----------------------------------------------------------
  std::unique_ptr<Backend> backend_;
  std::uint64_t turn_ns_ = 0;
  bool turn_ns_valid_ = false;
  std::uint32_t cpu_ = 0;
  bool cpu_valid_ = false;
  Scheduler sched_;
  IntrusiveList<Session> parked_;
  std::vector<Session*> dirty_;
  InboxReader inbox_reader_{*this};
  bool stopping_ = false;
  struct PersonalityEntry {
    std::uint16_t id;
    unsigned refs;
  };
  std::map<std::tuple<uid_t, gid_t, std::vector<gid_t>, std::uint64_t>, PersonalityEntry> personalities_;
};

}  // namespace aiod::daemon
