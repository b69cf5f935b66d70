// SPDX-License-Identifier: MIT
// op_prepare.hpp — validation of one descriptor (already copied out of shared
// memory) into a backend operation.
//
// Every field is checked: unknown opcodes and flags, reserved fields, buffers
// outside the arena (overflow-safe), unknown handles, paths that are empty, too
// long or contain NUL. A failed check yields -errno for that op's completion and
// leaves no reference held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "aiod_shm.h"
#include "prepare/op_record.hpp"

namespace aiod::daemon {

class Backend;
class HandleTable;

// What validation may consult; supplied by the session.
struct PrepareContext {
  std::span<std::byte> arena;  // the session's arena in the daemon's mapping
  HandleTable* handles = nullptr;
  int cwd_fd = -1;   // relative paths resolve here
  int root_fd = -1;  // absolute paths resolve here (RESOLVE_IN_ROOT)
  std::uint16_t personality = 0;
  std::uint32_t owner = 0;    // BackendOp::owner of every op: the client's uid + 1
  std::uint32_t umask = 022;  // the client's; the daemon itself runs with umask 0
  // The client's root is not the daemon's (a chroot, another mount
  // namespace): every walk is RESOLVE_IN_ROOT — absolute paths from the
  // client's root, relative ones confined to their starting directory.
  bool foreign_root = false;
  // The client's network namespace when it is not the daemon's (-1 when it
  // is): sockets are created there (BackendOp::netns).
  int netns_fd = -1;
  // Control data (SEND_MSG, RECV_MSG) the session's records hold, and the
  // most they may: a descriptor that would exceed it fails with -ENOBUFS.
  std::uint64_t* control_in_flight = nullptr;
  std::uint64_t max_control_bytes = 0;
  const Backend* backend = nullptr;
};

// Fills `rec`, a fresh record (RecordPool::acquire, OpRecord::reset), from `sqe`. Returns 0, or -errno: EINVAL
// (malformed), EFAULT (a buffer outside the arena), EBADF (a handle this session does not have), ENOENT (an empty
// path), ENAMETOOLONG, EXDEV (absolute with RESOLVE_BENEATH), EACCES (the daemon's notify socket), EPERM
// (SCM_CREDENTIALS), EOPNOTSUPP (an op this kernel cannot run). On success the record holds a reference on every handle
// it names.
[[nodiscard]] int prepare_record(const aiod_sqe& sqe, const PrepareContext& ctx, OpRecord& rec);

// Overflow-safe bounds check of (offset, length) inside an arena of `size`.
[[nodiscard]] constexpr bool arena_range_ok(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

}  // namespace aiod::daemon
