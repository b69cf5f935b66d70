// SPDX-License-Identifier: MIT
// encode.hpp — one Op into one 64-byte descriptor (and the client-side record
// of where its results go).
#pragma once

#include <system_error>

#include "aiod/ops.hpp"
#include "aiod_shm.h"
#include "connection.hpp"

namespace aiod::detail {

// Fills `sqe` (zeroed by the caller) and the result sinks of `pending`; places
// buffers and paths in the arena. Returns {} or the reason the op cannot be
// queued (errc::arena_exhausted, std::errc::invalid_argument...).
std::error_code encode_op(Connection& conn, const Op& op, aiod_sqe& sqe, PendingOp& pending);

// The common fields every op has.
struct CommonFields {
  Link link;
  std::uint64_t userdata;
  std::error_code* out_error;
  OpId* out_id;
};
CommonFields common_fields(const Op& op);

}  // namespace aiod::detail
