// SPDX-License-Identifier: MIT
// op_prepare_util.hpp — helpers shared by the per-family descriptor
// validators (op_prepare_*.cpp). Internal to the daemon.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "aiod_shm.h"
#include "op_table.hpp"
#include "prepare/op_prepare.hpp"

namespace aiod::daemon::prep {

using enum proto::Field;

// Whether every descriptor field outside `used` (proto::Field bits, from the
// op table) is zero.
[[nodiscard]] bool unused_fields_zero(const aiod_sqe& s, unsigned used);

// (offset, length) inside the arena, or nullptr.
[[nodiscard]] std::byte* arena_ptr(const PrepareContext& ctx, std::uint64_t off, std::uint64_t len);

// Copies a path out of the arena (the kernel reads it later; the client could
// change the shared copy meanwhile). Returns 0 or -ENOENT (empty, unless
// allowed), -ENAMETOOLONG, -EFAULT, -EINVAL (an embedded NUL).
[[nodiscard]] int copy_path(const PrepareContext& ctx, std::uint64_t off, std::uint32_t len, std::string& out,
                            bool allow_empty = false);

// Copies an aiod_iovec array of `count` entries at arena offset `table` and
// turns it into rec.iov, every range checked; adds the bytes to rec.expected.
// Returns 0 or -EFAULT.
[[nodiscard]] int copy_iovecs(const PrepareContext& ctx, std::uint64_t table, std::uint32_t count, OpRecord& rec);

// Takes a reference on `handle` for the record (into rec.handle, or rec.handle2
// when rec.handle is taken). Returns the descriptor or -EBADF.
[[nodiscard]] int acquire(const PrepareContext& ctx, OpRecord& rec, std::uint32_t handle);

// The directory descriptor a non-open *_at `path` resolves against: the cwd
// for AIOD_HANDLE_CWD, else the handle's; for a foreign root (see
// PrepareContext::foreign_root) an absolute path starts at the client's root,
// and rec.op.resolve confines every walk (RESOLVE_IN_ROOT).
[[nodiscard]] int path_dir(const PrepareContext& ctx, OpRecord& rec, std::uint32_t handle, const std::string& path);

// Where the backend walks an AF_UNIX path from (op::Connect::unix_root and
// the like): the client's root, or -1 for the daemon's when they are the same.
[[nodiscard]] int unix_root(const PrepareContext& ctx);

// Checks that an AF_UNIX address resolves as it would for the client: absolute
// paths only (the client library makes relative ones absolute), walked by the
// backend from unix_root() (and rec.op.resolve; see backend/confined_path.hpp). Unnamed addresses pass, and abstract
// ones but the daemon's own notify socket (protected_sockets.hpp). Returns 0, -EINVAL, -EACCES.
[[nodiscard]] int fix_unix_address(const PrepareContext& ctx, OpRecord& rec, sockaddr_storage& addr, socklen_t& len);

// Per-family validators; each returns 0 or -errno, like prepare_record().
int prepare_io(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec);
int prepare_fs(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec);
int prepare_net(const aiod_sqe& s, const PrepareContext& ctx, OpRecord& rec);

}  // namespace aiod::daemon::prep
