// SPDX-License-Identifier: MIT
// raw_session.hpp — a session driven by hand, below libaiod: the test writes
// descriptors (valid or not) straight into the submission ring and reads the
// completion ring itself. For the hostile-client tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aiod_shm.h"
#include "session_mapping.hpp"

namespace aiod::test {

class RawSession : private SessionMapping {
 public:
  // Connects and completes the handshake; on failure `error()` says why.
  explicit RawSession(const std::string& socket_path, std::uint32_t sq_entries = 64);
  // Over an already connected socket (a daemon side running in the same
  // thread): sends the hello only. Once the daemon side has answered,
  // finish_handshake() takes the welcome without waiting; false (and
  // `error()`) if there is none or it is bad.
  RawSession(UniqueFd connected, std::uint32_t sq_entries);
  bool finish_handshake();
  RawSession(const RawSession&) = delete;
  RawSession& operator=(const RawSession&) = delete;

  [[nodiscard]] bool ok() const noexcept { return hdr_ != nullptr; }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

  [[nodiscard]] aiod_shm_header* header() const noexcept { return hdr_; }
  [[nodiscard]] std::byte* arena() const noexcept { return arena_; }
  [[nodiscard]] std::uint64_t arena_size() const noexcept { return arena_size_; }
  [[nodiscard]] std::uint32_t sq_entries() const noexcept { return sq_entries_; }
  [[nodiscard]] std::uint32_t cq_entries() const noexcept { return cq_entries_; }

  // Writes a descriptor at the private tail (not yet visible).
  void push(const aiod_sqe& sqe);
  // Publishes the private tail and rings the doorbell.
  void publish();
  // Stores an arbitrary value as the published tail (ring corruption).
  void publish_raw_tail(std::uint32_t tail);
  // Waits up to `timeout` for `n` completions; returns what arrived (with a
  // zero timeout: what has arrived, without waiting).
  std::vector<aiod_cqe> wait(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once the daemon has closed the control socket, waiting up to `timeout`.
  bool disconnected(std::chrono::milliseconds timeout);
  // Registers a descriptor; returns the handle.
  std::optional<std::uint32_t> register_fd(int fd);
  // A client about to sleep: raises AIOD_CLIENT_NEED_WAKEUP (and leaves it).
  void ask_to_be_woken();
  // Wake-ups the daemon has written to the completion eventfd since the last
  // call (reads and so resets its count; 0 if none).
  std::uint64_t take_wakeups();
  // A hostile client's wake-up: raises AIOD_CLIENT_NEED_WAKEUP and leaves it
  // raised, with its completion eventfd held at its maximum, so that every
  // wake-up write the daemon makes would have to wait.
  void ask_to_be_woken_with_a_full_eventfd();

 private:
  bool send_hello(std::uint32_t sq_entries);
  void receive_welcome(int timeout_ms);

  std::string error_;
};

}  // namespace aiod::test
