// SPDX-License-Identifier: MIT
// uring_kernel.hpp — which Linux release brought each part of io_uring the
// io_uring backend uses: opcodes, io_uring_setup flags and feature bits.
//
// The running kernel is never judged by this table (distribution kernels
// backport io_uring: RHEL 9's 5.14 has opcodes from 6.x); the probe and
// io_uring_setup's answers are the truth. The table serves two purposes:
// the floor below which the backend refuses to start, and --emulate-kernel,
// which masks what the running kernel has down to what an older one had, so
// that the fallbacks those kernels need are tested here.
#pragma once

#include <cstdint>
#include <optional>

#include "os/kernel_version.hpp"

namespace aiod::daemon {

// The oldest kernel the io_uring backend runs on (Debian 11's 5.10): below
// it, `--backend auto` runs posix.
inline constexpr KernelVersion kUringFloor{5, 10};

// The release whose io_uring runs getsockopt and setsockopt as socket
// commands (IORING_OP_URING_CMD with SOCKET_URING_OP_*): URING_CMD itself is
// older (5.19), so the probe cannot tell; the backend asks a socket at start.
inline constexpr KernelVersion kSocketCommandsSince{6, 7};

// The release whose io_uring has this opcode (IORING_OP_*); nullopt for an
// opcode newer than this table.
[[nodiscard]] std::optional<KernelVersion> uring_opcode_since(std::uint8_t opcode);

// The IORING_SETUP_* bits of `flags` that `kernel`'s io_uring_setup accepts.
[[nodiscard]] unsigned uring_setup_flags_in(unsigned flags, KernelVersion kernel);

// The IORING_FEAT_* bits of `features` that `kernel` reports.
[[nodiscard]] unsigned uring_features_in(unsigned features, KernelVersion kernel);

}  // namespace aiod::daemon
