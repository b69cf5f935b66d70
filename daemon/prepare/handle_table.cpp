// SPDX-License-Identifier: MIT
#include "prepare/handle_table.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace aiod::daemon {
namespace {
constexpr std::uint32_t kSlotBits = 16;
constexpr std::uint32_t kSlotMask = (1u << kSlotBits) - 1;
// 15 generation bits keep every handle below 2^31: it travels as a completion's
// non-negative int32 result.
constexpr std::uint32_t kGenerationMask = (1u << 15) - 1;

std::uint32_t encode(std::uint32_t slot, std::uint16_t generation) {
  return (static_cast<std::uint32_t>(generation) << kSlotBits) | (slot + 1);
}
}  // namespace

HandleTable::HandleTable(std::uint32_t capacity) : capacity_(std::min<std::uint32_t>(capacity, kSlotMask)) {}

HandleTable::~HandleTable() {
  for (Entry& e : entries_) {
    if (e.fd >= 0) ::close(e.fd);
  }
  if (shares_ != nullptr) shares_->give_back(uid_, Shared::handles, held_);
}

void HandleTable::count_against(UidShares* shares, uid_t uid, std::uint32_t limit) {
  shares_ = shares;
  uid_ = uid;
  uid_limit_ = limit;
}

std::int64_t HandleTable::insert(UniqueFd fd, Description description) {
  if (shares_ != nullptr && !shares_->try_take(uid_, Shared::handles, 1, uid_limit_)) return -EMFILE;
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    // Oldest free slot first: a closed handle's slot comes back as late as
    // possible, so its generation lasts as many reuses as there are slots.
    slot = free_slots_.front();
    free_slots_.pop_front();
  } else if (entries_.size() < capacity_) {
    slot = static_cast<std::uint32_t>(entries_.size());
    entries_.emplace_back();
  } else {
    if (shares_ != nullptr) shares_->give_back(uid_, Shared::handles, 1);
    return -EMFILE;
  }
  Entry& e = entries_[slot];
  e.fd = fd.release();
  ++held_;
  e.refs = 0;
  e.open = true;
  e.description = description;
  e.at_once = AtOnce::unknown;
  e.pipe = AtOnce::unknown;  // a reused slot: not what its last descriptor was
  ++open_;
  return encode(slot, e.generation);
}

HandleTable::Entry* HandleTable::find(std::uint32_t handle) {
  const std::uint32_t low = handle & kSlotMask;
  if (low == 0 || low > entries_.size()) return nullptr;
  Entry& e = entries_[low - 1];
  if (e.generation != (handle >> kSlotBits) || e.fd < 0) return nullptr;
  return &e;
}

bool HandleTable::is_open(std::uint32_t handle) const {
  const std::uint32_t low = handle & kSlotMask;
  if (low == 0 || low > entries_.size()) return false;
  const Entry& e = entries_[low - 1];
  return e.generation == (handle >> kSlotBits) && e.fd >= 0 && e.open;
}

void HandleTable::mark_shared(std::uint32_t handle) {
  if (Entry* e = find(handle)) e->description = Description::shared;
}

bool HandleTable::may_read_at_once(std::uint32_t handle) {
  Entry* e = find(handle);
  if (e == nullptr || e->description != Description::daemons_own) return false;
  if (e->at_once == AtOnce::unknown) {
    // AT_STATX_DONT_SYNC: the type comes from the inode the descriptor
    // holds; a network or FUSE filesystem is not asked. The status flags
    // cannot change later: nobody else holds the description.
    struct statx st {};
    const int flags = ::fcntl(e->fd, F_GETFL);
    const bool yes = flags >= 0 && !(flags & O_DIRECT) &&
                     ::statx(e->fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &st) == 0 &&
                     (st.stx_mask & STATX_TYPE) != 0 && S_ISREG(st.stx_mode);
    e->at_once = yes ? AtOnce::yes : AtOnce::no;
  }
  return e->at_once == AtOnce::yes;
}

void HandleTable::no_read_at_once(std::uint32_t handle) {
  if (Entry* e = find(handle)) e->at_once = AtOnce::no;
}

bool HandleTable::is_pipe(std::uint32_t handle) {
  Entry* e = find(handle);
  if (e == nullptr) return false;
  if (e->pipe == AtOnce::unknown) {
    struct statx st {};
    // An unknown type counts as a pipe: the cost is a hand-off, not a stall.
    const bool known = ::statx(e->fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &st) == 0 &&
                       (st.stx_mask & STATX_TYPE) != 0;
    e->pipe = !known || S_ISFIFO(st.stx_mode) ? AtOnce::yes : AtOnce::no;
  }
  return e->pipe == AtOnce::yes;
}

int HandleTable::acquire(std::uint32_t handle) {
  Entry* e = find(handle);
  if (e == nullptr || !e->open) return -EBADF;
  ++e->refs;
  return e->fd;
}

void HandleTable::release(std::uint32_t handle) {
  Entry* e = find(handle);
  if (e == nullptr || e->refs == 0) return;
  --e->refs;
  maybe_free((handle & kSlotMask) - 1);
}

int HandleTable::close(std::uint32_t handle) {
  Entry* e = find(handle);
  if (e == nullptr || !e->open) return -EBADF;
  e->open = false;
  --open_;
  maybe_free((handle & kSlotMask) - 1);
  return 0;
}

void HandleTable::maybe_free(std::uint32_t slot) {
  Entry& e = entries_[slot];
  if (e.open || e.refs != 0 || e.fd < 0) return;
  ::close(e.fd);
  e.fd = -1;
  --held_;
  if (shares_ != nullptr) shares_->give_back(uid_, Shared::handles, 1);
  e.generation = static_cast<std::uint16_t>((e.generation + 1) & kGenerationMask);
  free_slots_.push_back(slot);
}

}  // namespace aiod::daemon
