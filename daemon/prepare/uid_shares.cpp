// SPDX-License-Identifier: MIT
#include "prepare/uid_shares.hpp"

namespace aiod::daemon {

bool UidShares::try_take(uid_t uid, Shared what, std::uint64_t amount, std::uint64_t limit) {
  std::lock_guard lock(mutex_);
  std::uint64_t& held = held_[uid][static_cast<std::size_t>(what)];
  if (amount > limit || held > limit - amount) return false;
  held += amount;
  return true;
}

void UidShares::give_back(uid_t uid, Shared what, std::uint64_t amount) {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(uid);
  if (it == held_.end()) return;
  std::uint64_t& held = it->second[static_cast<std::size_t>(what)];
  held -= amount < held ? amount : held;
  for (std::uint64_t h : it->second) {
    if (h != 0) return;
  }
  held_.erase(it);
}

std::uint64_t UidShares::held(uid_t uid, Shared what) const {
  std::lock_guard lock(mutex_);
  const auto it = held_.find(uid);
  return it == held_.end() ? 0 : it->second[static_cast<std::size_t>(what)];
}

}  // namespace aiod::daemon
