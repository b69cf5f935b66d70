// SPDX-License-Identifier: MIT
// handle_table.hpp — one session's handles: the only names its operations can
// use for files, directories and sockets.
//
// A handle is (generation << 16 | slot + 1) with a 15-bit generation: never 0
// (AIOD_HANDLE_INVALID), always below 2^31 (so never AIOD_HANDLE_CWD, and it fits
// a completion result), and a handle that was closed stays invalid even after its
// slot is reused (the generation moves on).
//
// The descriptor behind a handle is closed only when the handle is closed AND
// no in-flight operation still refers to it. That ordering matters: io_uring
// looks a descriptor number up when the op is issued, which may be later than
// our validation; were the number freed and reused by another session's open in
// between, the op would reach the other session's file.
//
// Not thread-safe: owned by the session's shard thread.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "prepare/uid_shares.hpp"
#include "unique_fd.hpp"

namespace aiod::daemon {

class HandleTable {
 public:
  // `capacity` is the most handles open at once (at most 2^16 - 1).
  explicit HandleTable(std::uint32_t capacity);
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;
  // Closes every descriptor still held. No operation may be in flight.
  ~HandleTable();

  // From now on every descriptor the table holds counts against `uid`'s
  // share of handles in `shares` (at most `limit`); `shares` must outlive
  // the table. Called before the first insert().
  void count_against(UidShares* shares, uid_t uid, std::uint32_t limit);

  // Who else holds the descriptor's open file description. A client that
  // shares it can change its status flags (fcntl F_SETFL O_DIRECT) at any
  // moment; one the daemon opened itself (an open or socket op) is the
  // daemon's alone until it is sent away (mark_shared).
  enum class Description : std::uint8_t { shared, daemons_own };

  // Takes ownership of `fd`. Returns the new handle (> 0) or -EMFILE (the
  // table or the uid's share is full; the descriptor is then closed).
  [[nodiscard]] std::int64_t insert(UniqueFd fd, Description description = Description::shared);

  // Looks up an open handle and takes a reference on it for an in-flight
  // operation. Returns the descriptor or -EBADF.
  [[nodiscard]] int acquire(std::uint32_t handle);
  // Drops a reference taken by acquire().
  void release(std::uint32_t handle);

  // Whether `handle` is open.
  [[nodiscard]] bool is_open(std::uint32_t handle) const;

  // The handle's descriptor was sent with SCM_RIGHTS: its description is
  // shared from now on.
  void mark_shared(std::uint32_t handle);

  // Whether a read of `handle` may be tried at once on the shard thread
  // (backend_op.hpp, op::Read::try_at_once): a regular file, not O_DIRECT
  // (a direct read waits for the device even with RWF_NOWAIT), whose open
  // file description the daemon alone holds, so that neither can change.
  // Asked of the kernel once per descriptor (type from the inode it holds,
  // never waiting for a filesystem) and remembered.
  [[nodiscard]] bool may_read_at_once(std::uint32_t handle);
  // A try was refused (the filesystem has no RWF_NOWAIT): never again.
  void no_read_at_once(std::uint32_t handle);

  // Whether `handle` is a pipe (or FIFO). Its reads and writes take the
  // pipe's mutex even when told not to block, and a client holding the other
  // end can keep that mutex (a blocking splice into it, for one): no op on it
  // may run on the shard thread (BackendOp::never_inline, set by
  // prep::acquire). Asked of the kernel once per descriptor, like
  // may_read_at_once(); a descriptor's type never changes.
  [[nodiscard]] bool is_pipe(std::uint32_t handle);

  // Closes the handle: acquire() fails from now on; the descriptor is closed
  // once the last reference is released. Returns 0 or -EBADF.
  int close(std::uint32_t handle);

  [[nodiscard]] std::uint32_t open_count() const noexcept { return open_; }

 private:
  enum class AtOnce : std::uint8_t { unknown, yes, no };
  struct Entry {
    int fd = -1;
    std::uint32_t refs = 0;
    std::uint16_t generation = 0;
    bool open = false;
    Description description = Description::shared;
    AtOnce at_once = AtOnce::unknown;
    AtOnce pipe = AtOnce::unknown;  // yes: a pipe or FIFO (is_pipe())
  };
  Entry* find(std::uint32_t handle);
  void maybe_free(std::uint32_t slot);

  std::vector<Entry> entries_;
  std::deque<std::uint32_t> free_slots_;
  std::uint32_t capacity_;
  std::uint32_t open_ = 0;
  std::uint32_t held_ = 0;  // descriptors held (open handles and closed ones still referenced)
  UidShares* shares_ = nullptr;
  uid_t uid_ = 0;
  std::uint32_t uid_limit_ = 0;
};

}  // namespace aiod::daemon
