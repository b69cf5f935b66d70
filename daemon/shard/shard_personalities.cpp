// SPDX-License-Identifier: MIT
// shard_personalities.cpp — the backend personalities a shard's sessions share.
#include "shard/shard.hpp"

#include <tuple>
#include <utility>

#include "os/peer_creds.hpp"

namespace aiod::daemon {

int Shard::acquire_personality(const PeerCreds& creds) {
  auto key = std::make_tuple(creds.uid, creds.gid, creds.groups, creds.cap_effective);
  if (auto it = personalities_.find(key); it != personalities_.end()) {
    ++it->second.refs;
    return it->second.id;
  }
  const int id = with_peer_identity(creds, [this] { return backend_->register_personality(); });
  if (id < 0) return id;
  personalities_.emplace(std::move(key), PersonalityEntry{static_cast<std::uint16_t>(id), 1});
  return id;
}

void Shard::release_personality(std::uint16_t id) {
  for (auto it = personalities_.begin(); it != personalities_.end(); ++it) {
    if (it->second.id != id) continue;
    if (--it->second.refs == 0) {
      backend_->unregister_personality(id);
      personalities_.erase(it);
    }
    return;
  }
}

}  // namespace aiod::daemon
