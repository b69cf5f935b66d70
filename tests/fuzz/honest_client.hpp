// SPDX-License-Identifier: MIT
// honest_client.hpp — the well-behaved client that runs beside a hostile
// one: its own thread and session, doing real IO without pause (a write
// through a pipe, then the read that must return the same bytes, plus
// nops), and checking that every op it submits completes exactly once, with
// the right result and data, within a bounded time.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aiod::fuzz {

class HonestClient {
 public:
  // Connects and starts the thread; error() says why when it could not.
  explicit HonestClient(std::string socket_path);
  ~HonestClient();
  HonestClient(const HonestClient&) = delete;
  HonestClient& operator=(const HonestClient&) = delete;

  // Stops the thread (after its current round) and waits for it.
  void stop();
  // The first problem seen (empty: none). Valid after stop().
  [[nodiscard]] std::string error() const;
  [[nodiscard]] std::uint64_t ops_completed() const noexcept { return ops_.load(); }
  [[nodiscard]] std::uint64_t rounds() const noexcept { return rounds_.load(); }

 private:
  void run();
  void fail(const std::string& what);

  std::string socket_path_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> ops_{0}, rounds_{0};
  mutable std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

}  // namespace aiod::fuzz
