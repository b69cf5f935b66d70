// SPDX-License-Identifier: MIT
// pending_op.hpp — the client's record of one op between queueing and completion.
//
// Also the Batch that counts a set of ops' completions, and where an op's
// results go (arena blocks to free, bytes to copy back, a result to convert).
// Owned by a Connection's table of ops in flight; not thread-safe.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <system_error>
#include <vector>

#include "aiod/handle.hpp"

namespace aiod::detail {

// A set of ops whose completions are counted together (a Dynamic, or one
// immediate call).
struct Batch {
  std::size_t outstanding = 0;  // queued or in flight
  std::size_t capacity = ~std::size_t{0};
  std::size_t completed = 0;  // reaped and not yet reported
  std::size_t errors = 0;     // of those, failed
  std::function<void(OpId, std::uint64_t, bool)> callback;
};

// An arena range owned by one op, freed when it completes.
struct ArenaBlock {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// Bytes to copy out of the arena into the caller's memory when the op
// completes: the first `res` bytes spread over the entries in order, or the
// whole entry when `whole`.
struct CopyBack {
  void* dst = nullptr;
  std::uint64_t offset = 0;
  std::size_t len = 0;
  bool whole = false;
};

// What to do with a successful result besides copying bytes back.
enum class Post : std::uint8_t {
  none,
  size,        // *out = (std::size_t)res
  handle,      // *out = Handle{res}
  events,      // *out = (std::uint32_t)res
  socklen,     // *out = (socklen_t)res
  accept,      // handle; peer address (aiod_sockaddr_out at aux[0]) to out2, its length to out3
  recv_msg,    // the msghdr at out, from the aiod_msghdr at aux[0]
  child_exit,  // reap the child through the pidfd in owned_fd
};

// The client's record of one op between queue() and its completion. Vectors
// keep their capacity across reuse, so steady-state queueing does not allocate.
struct PendingOp {
  Batch* owner = nullptr;
  std::uint32_t generation = 0;
  bool in_use = false;
  std::uint64_t userdata = 0;
  std::error_code* out_error = nullptr;
  OpId* out_id = nullptr;  // written once the queue call succeeded
  Post post = Post::none;
  void* out = nullptr;
  void* out2 = nullptr;
  void* out3 = nullptr;
  std::uint64_t aux[3] = {};
  int owned_fd = -1;  // closed when the op completes or is abandoned
  // Registered while encoding (ChildExit's pidfd). Dropped here if the queue
  // call fails, or if the op fails (the daemon closes it only on success).
  Handle registered{};
  std::vector<ArenaBlock> blocks;
  std::vector<CopyBack> copy_backs;
  std::uint32_t next_free = 0;
};

}  // namespace aiod::detail
