// SPDX-License-Identifier: MIT
// session.hpp — one client connection: its socket, its shared region and rings,
// its handles and its operations in flight.
//
// Lifetime: created and owned by Shard::run_session() (a DetachedTask on the shard),
// which drives handshake → serving → shutdown. shutdown() returns only when
// the session is quiescent (see quiescent()): no operation, backend call,
// task or pending publication refers to it any more. Only then is it
// destroyed (its handles and eventfds closed, its region unmapped), so no
// completion can reach freed memory and no write a reused descriptor number.
//
// Threading: everything below is touched by the owning shard thread only,
// except `counters`, which any thread may read (see stats.hpp), and the
// identity fields (id, creds, name, kind). The handshake writes those on the
// shard thread and nothing writes them after it; other threads read them only
// in Shard::collect(), under the shard's lock, once Shard::list_session() has
// marked them final.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "prepare/handle_table.hpp"
#include "runtime/intrusive_list.hpp"
#include "prepare/op_prepare.hpp"
#include "prepare/op_record.hpp"
#include "os/peer_creds.hpp"
#include "session/chain.hpp"
#include "session/record_pool.hpp"
#include "session/session_host.hpp"
#include "session/session_rings.hpp"
#include "os/shm_region.hpp"
#include "stats/stats.hpp"
#include "runtime/backend_call.hpp"
#include "runtime/event.hpp"
#include "runtime/task.hpp"
#include "unique_fd.hpp"

namespace aiod::wire {
struct ReceivedMessage;
struct RecvBuffer;
struct Message;
}  // namespace aiod::wire

namespace aiod::daemon {

class Session : public IntrusiveListNode<Session> {
 public:
  Session(SessionHost& host, UniqueFd sock, std::uint64_t id, std::string refusal = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  // --- identity (immutable after the handshake) -----------------------------
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] const PeerCreds& creds() const noexcept { return creds_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] bool is_io() const noexcept { return is_io_; }
  // Whether it counts against max-sessions (a refused connection does not).
  [[nodiscard]] bool counted() const noexcept { return refusal_.empty(); }

  // Readable from any thread.
  SessionCounters counters;

  // --- lifecycle -------------------------------------------------------------
  Task<int> handshake();
  Task<> serve_control();
  Task<> shutdown();
  // Starts closing (from any code on the shard thread): the control loop ends
  // and run_session() proceeds to shutdown(). The first reason wins.
  void request_close(std::string reason);
  [[nodiscard]] bool closing() const noexcept { return closing_; }

  // --- submission side (shard thread) ----------------------------------------
  // Whether the pump could make progress now: new descriptors and room for at
  // least one, or corrupt indices to act on. Cheap: two loads from shared memory.
  [[nodiscard]] bool ready_to_drain();
  SessionRings& rings() noexcept { return rings_; }

  // --- completion side (shard thread) ----------------------------------------
  // Called by OpRecord::complete().
  void on_record_complete(OpRecord& rec, int res);
  // Makes this session's new completions visible and wakes the client if it
  // asked to be. Called by the shard after a batch of backend completions,
  // for every session marked dirty, and by shutdown().
  void publish_completions();

  // The parked pump's continuation (Shard::park / unpark).
  std::coroutine_handle<> parked_pump;

 private:
  enum class DrainResult { idle, more, blocked, corrupt };

  DetachedTask pump();
  DrainResult drain(std::uint32_t budget);
  void start_chain(const aiod_sqe* descs, std::uint32_t count);
  void submit_single(OpRecord& rec);
  void submit_next_segment(Chain& chain);
  void cancel_chain_rest(Chain& chain, std::uint32_t from);
  void fail_chain(std::vector<OpRecord*>& recs, const std::vector<int>& errors);
  int finish_result(OpRecord& rec, int res);
  // Asks the backend to cancel this session's ops that name `handle`.
  void cancel_backend_ops_on(std::uint32_t handle);
  // Posts a record's completion and frees it; returns whether it breaks its
  // chain. The chain's bookkeeping is the caller's.
  bool settle(OpRecord& rec, int res);
  void write_peer_address(const OpRecord& rec);
  void write_back_message(OpRecord& rec);
  void resolve_cancel(OpRecord& cancel);
  OpRecord* find_live(std::uint64_t user_data, const OpRecord* except);
  void post(const OpRecord& rec, int res);
  // Writes the client's completion eventfd: a backend op counted in waker_.
  void wake_client();
  std::uint32_t capacity();
  void arm_doorbell();
  // Whether the session is closing and nothing refers to it any more: no
  // record allocated, no doorbell read or wake-up write with the backend, no
  // pump, and no completions waiting for the shard to publish them (a
  // publication may start a wake-up write). Once true it stays true: nothing
  // left can start new work for the session.
  [[nodiscard]] bool quiescent() const noexcept;
  // Sets quiet_ once the session is quiescent; called wherever one of the
  // conditions may have become true.
  void maybe_quiet();

  // Receives one control message; with a limit, gives -ECANCELED after it.
  Task<int> receive(wire::ReceivedMessage& out, std::chrono::nanoseconds limit = {});
  void handle_message(const wire::Message& msg, wire::ReceivedMessage& in);
  int setup_io(const wire::Message& hello_msg, wire::ReceivedMessage& in);
  int reply(std::span<const std::uint8_t> bytes, std::span<const int> fds = {});
  int reply_error(std::uint64_t request_id, int code, const std::string& message);

  // Counts the completion-eventfd writes in flight (they share this one
  // Completion); shutdown waits for them: their completion refers to this
  // session, and the eventfd's number must not be freed — and reused — while
  // the kernel may still write to it.
  class Waker final : public Completion {
   public:
    explicit Waker(Session& s) : s_(s) {}
    void complete(int res) override;
    std::uint32_t in_flight = 0;
    // Completions were published to a sleeping client while the write was in
    // flight: it may have landed already, so its end asks again.
    bool again = false;

   private:
    Session& s_;
  };

  class Doorbell final : public Completion {
   public:
    explicit Doorbell(Session& s) : s_(s) {}
    void complete(int res) override;
    std::uint64_t value = 0;
    bool armed = false;

   private:
    Session& s_;
  };

  // --- immutable after the handshake -----------------------------------------
  SessionHost& host_;
  const std::uint64_t id_;
  UniqueFd sock_;
  PeerCreds creds_;
  std::string name_;
  bool is_io_ = false;
  std::uint16_t personality_ = 0;
  ShmRegion region_;
  UniqueFd submit_efd_;    // client writes: "new descriptors"
  UniqueFd complete_efd_;  // daemon writes: "new completions"
  UniqueFd cwd_;
  UniqueFd root_;
  UniqueFd netns_;         // the client's network namespace, when it is not the daemon's
  UidShare memory_share_;  // region_'s size, held against the client uid's share
  PrepareContext prepare_ctx_;
  std::uint32_t max_in_flight_ = 0;

  // --- shard-thread state ------------------------------------------------------
  SessionRings rings_;
  HandleTable handles_;
  std::uint64_t control_in_flight_ = 0;               // control data records hold (PrepareContext::control_in_flight)
  RecordPool records_{handles_, control_in_flight_};  // sized at the handshake
  Chains chains_;
  std::uint32_t blocked_need_ = 1;  // room the next chain needs before the pump can go on
  std::uint32_t seen_pending_ = 0;  // unconsumed descriptors the pump already looked at
  std::vector<aiod_sqe> scratch_;   // private copies of one chain's descriptors
  Doorbell doorbell_{*this};
  Waker waker_{*this};
  std::unique_ptr<wire::RecvBuffer> recv_buf_;
  CancelScope control_calls_;
  Event quiet_;  // set when quiescent() while closing; shutdown() waits for it
  bool closing_ = false;
  bool pump_running_ = false;
  bool dirty_ = false;  // has unpublished completions (listed by the shard for publish_dirty)
  std::string close_reason_;
  std::string refusal_;  // non-empty: answer the hello with this error and close
};

}  // namespace aiod::daemon
