// SPDX-License-Identifier: MIT
// uid_shares.hpp — what each client uid holds of what all clients share, and
// the most it may hold.
//
// Sessions, descriptors (handles) and session memory are finite for the whole
// daemon (max-sessions, LimitNOFILE, RAM). Each is also counted per uid, with
// a limit per uid, so that one user at its limits leaves every other user
// fully served: its next session, open or accept fails with a clear error
// (EUSERS, EMFILE, ENOMEM) for that user alone. (The share of blocked posix
// workers is kept by the posix backend itself; see posix_backend.hpp.)
//
// Thread-safety: every method may be called from any thread (the main thread
// admits sessions, shard threads open and close handles).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace aiod::daemon {

enum class Shared : std::uint8_t { sessions, handles, memory, count };

class UidShares {
 public:
  // Takes `amount` of `what` for `uid` if the uid then holds at most `limit`.
  [[nodiscard]] bool try_take(uid_t uid, Shared what, std::uint64_t amount, std::uint64_t limit);
  // Gives back what try_take() took.
  void give_back(uid_t uid, Shared what, std::uint64_t amount);
  [[nodiscard]] std::uint64_t held(uid_t uid, Shared what) const;

 private:
  using Held = std::array<std::uint64_t, static_cast<std::size_t>(Shared::count)>;
  mutable std::mutex mutex_;
  std::unordered_map<uid_t, Held> held_;  // uids that hold something
};

// One amount of one shared resource held for a uid, given back on destruction.
class UidShare {
 public:
  UidShare() = default;
  UidShare(UidShares* shares, uid_t uid, Shared what, std::uint64_t amount)
      : shares_(shares), uid_(uid), what_(what), amount_(amount) {}
  UidShare(UidShare&& other) noexcept { *this = std::move(other); }
  UidShare& operator=(UidShare&& other) noexcept {
    if (this != &other) {
      reset();
      shares_ = std::exchange(other.shares_, nullptr);
      uid_ = other.uid_;
      what_ = other.what_;
      amount_ = other.amount_;
    }
    return *this;
  }
  UidShare(const UidShare&) = delete;
  UidShare& operator=(const UidShare&) = delete;
  ~UidShare() { reset(); }
  void reset() {
    if (shares_ != nullptr) shares_->give_back(uid_, what_, amount_);
    shares_ = nullptr;
  }

 private:
  UidShares* shares_ = nullptr;
  uid_t uid_ = 0;
  Shared what_ = Shared::sessions;
  std::uint64_t amount_ = 0;
};

}  // namespace aiod::daemon
