// SPDX-License-Identifier: MIT
// ring_client.hpp — a session driven by hand, for the live-daemon fuzzers:
// the test owns every byte the client side writes (descriptors, ring indices,
// flags, the arena, raw control datagrams), so it can be as well-behaved or
// as hostile as a test wants. Every wait is bounded.
//
// Not thread-safe: one thread drives one RingClient.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aiod_shm.h"
#include "session_mapping.hpp"
#include "unique_fd.hpp"
#include "wire.hpp"

namespace aiod::fuzz {

class RingClient : private test::SessionMapping {
 public:
  struct Options {
    std::uint32_t sq_entries = 64;
    std::uint64_t arena_bytes = 1 << 20;
    // The directory sent as cwd and as root; empty: the process's own.
    // A root other than "/" makes the session's paths confined to it.
    std::string directory;
  };

  // Connects and completes the handshake; nullptr and `error` on failure.
  static std::unique_ptr<RingClient> connect(const std::string& socket_path, const Options& opt, std::string& error);
  RingClient(const RingClient&) = delete;
  RingClient& operator=(const RingClient&) = delete;

  [[nodiscard]] aiod_shm_header* header() const noexcept { return hdr_; }
  [[nodiscard]] std::span<std::byte> arena() const noexcept { return {arena_, arena_size_}; }
  [[nodiscard]] std::uint32_t sq_entries() const noexcept { return sq_entries_; }
  [[nodiscard]] std::uint32_t cq_entries() const noexcept { return cq_entries_; }
  [[nodiscard]] int control_fd() const noexcept { return sock_.get(); }
  [[nodiscard]] std::uint32_t sq_tail() const noexcept { return sq_tail_; }

  // Free submission slots, from the daemon's published head.
  [[nodiscard]] std::uint32_t sq_room() const;
  // Writes descriptors at the private tail (no room check), publishes the
  // tail and rings the doorbell.
  void submit(std::span<const aiod_sqe> sqes);
  // Stores raw values into the client-written indices (corruption), and rings.
  void store_sq_tail(std::uint32_t tail);
  void store_cq_head(std::uint32_t head);
  void ring_doorbell();

  // Completions that arrived, consumed at once (non-blocking).
  std::vector<aiod_cqe> reap();
  // Sleeps until completions are there or `deadline` passes (the protocol's
  // sleeper half: flag, fence, re-check, doorbell when stalled).
  void wait_for_completions(std::chrono::steady_clock::time_point deadline);

  // True once the daemon closed the control socket, waiting up to `timeout`.
  bool disconnected(std::chrono::milliseconds timeout);

  // Control channel: one datagram out, one reply in (bounded).
  int send_raw(std::span<const std::uint8_t> bytes, std::span<const int> fds = {});
  // The next reply's bytes, or nullopt on timeout / EOF / error.
  std::optional<wire::ReceivedMessage> receive(std::chrono::milliseconds timeout);
  // RegisterFds round trip; the handles or nullopt.
  std::optional<std::vector<std::uint32_t>> register_fds(std::span<const int> fds);

 private:
  RingClient() = default;
  std::uint64_t next_id_ = 100;
};

// Connects a socket to the daemon without a handshake (for handshake fuzzing).
UniqueFd connect_socket(const std::string& socket_path);

}  // namespace aiod::fuzz
