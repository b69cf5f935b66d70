// SPDX-License-Identifier: MIT
#include "backend/uring_kernel.hpp"

#include <liburing.h>

#include <array>
#include <utility>

namespace aiod::daemon {
namespace {

using K = KernelVersion;

// By opcode number (the uapi's numbers never change), from the kernel's
// io_uring/opdef.c history.
constexpr std::array<K, 58> kOpcodeSince{{
    {5, 1},   // 0 NOP
    {5, 1},   // 1 READV
    {5, 1},   // 2 WRITEV
    {5, 1},   // 3 FSYNC
    {5, 1},   // 4 READ_FIXED
    {5, 1},   // 5 WRITE_FIXED
    {5, 1},   // 6 POLL_ADD
    {5, 1},   // 7 POLL_REMOVE
    {5, 2},   // 8 SYNC_FILE_RANGE
    {5, 3},   // 9 SENDMSG
    {5, 3},   // 10 RECVMSG
    {5, 4},   // 11 TIMEOUT
    {5, 5},   // 12 TIMEOUT_REMOVE
    {5, 5},   // 13 ACCEPT
    {5, 5},   // 14 ASYNC_CANCEL
    {5, 5},   // 15 LINK_TIMEOUT
    {5, 5},   // 16 CONNECT
    {5, 6},   // 17 FALLOCATE
    {5, 6},   // 18 OPENAT
    {5, 6},   // 19 CLOSE
    {5, 6},   // 20 FILES_UPDATE
    {5, 6},   // 21 STATX
    {5, 6},   // 22 READ
    {5, 6},   // 23 WRITE
    {5, 6},   // 24 FADVISE
    {5, 6},   // 25 MADVISE
    {5, 6},   // 26 SEND
    {5, 6},   // 27 RECV
    {5, 6},   // 28 OPENAT2
    {5, 6},   // 29 EPOLL_CTL
    {5, 7},   // 30 SPLICE
    {5, 7},   // 31 PROVIDE_BUFFERS
    {5, 7},   // 32 REMOVE_BUFFERS
    {5, 8},   // 33 TEE
    {5, 11},  // 34 SHUTDOWN
    {5, 11},  // 35 RENAMEAT
    {5, 11},  // 36 UNLINKAT
    {5, 15},  // 37 MKDIRAT
    {5, 15},  // 38 SYMLINKAT
    {5, 15},  // 39 LINKAT
    {5, 18},  // 40 MSG_RING
    {5, 19},  // 41 FSETXATTR
    {5, 19},  // 42 SETXATTR
    {5, 19},  // 43 FGETXATTR
    {5, 19},  // 44 GETXATTR
    {5, 19},  // 45 SOCKET
    {5, 19},  // 46 URING_CMD
    {6, 0},   // 47 SEND_ZC
    {6, 1},   // 48 SENDMSG_ZC
    {6, 7},   // 49 READ_MULTISHOT
    {6, 7},   // 50 WAITID
    {6, 7},   // 51 FUTEX_WAIT
    {6, 7},   // 52 FUTEX_WAKE
    {6, 7},   // 53 FUTEX_WAITV
    {6, 8},   // 54 FIXED_FD_INSTALL
    {6, 9},   // 55 FTRUNCATE
    {6, 11},  // 56 BIND
    {6, 11},  // 57 LISTEN
}};
static_assert(IORING_OP_LAST <= kOpcodeSince.size(), "liburing knows an opcode this table lacks");

// A flag or feature bit and the release that brought it. Bits not listed
// are older than the floor or unused by the backend.
using Bit = std::pair<unsigned, K>;

constexpr Bit kSetupSince[] = {
    {IORING_SETUP_CQSIZE, {5, 5}},        {IORING_SETUP_SUBMIT_ALL, {5, 18}},   {IORING_SETUP_COOP_TASKRUN, {5, 19}},
    {IORING_SETUP_TASKRUN_FLAG, {5, 19}}, {IORING_SETUP_SINGLE_ISSUER, {6, 0}}, {IORING_SETUP_DEFER_TASKRUN, {6, 1}},
};

constexpr Bit kFeatureSince[] = {
    {IORING_FEAT_SINGLE_MMAP, {5, 4}},     {IORING_FEAT_NODROP, {5, 5}},           {IORING_FEAT_SUBMIT_STABLE, {5, 5}},
    {IORING_FEAT_RW_CUR_POS, {5, 6}},      {IORING_FEAT_CUR_PERSONALITY, {5, 6}},  {IORING_FEAT_FAST_POLL, {5, 7}},
    {IORING_FEAT_POLL_32BITS, {5, 9}},     {IORING_FEAT_SQPOLL_NONFIXED, {5, 11}}, {IORING_FEAT_EXT_ARG, {5, 11}},
    {IORING_FEAT_NATIVE_WORKERS, {5, 12}}, {IORING_FEAT_RSRC_TAGS, {5, 13}},       {IORING_FEAT_CQE_SKIP, {5, 17}},
    {IORING_FEAT_LINKED_FILE, {5, 17}},
};

// The listed bits of `bits` that `kernel` has; unlisted bits are dropped
// (the backend never asks for them, or they are newer than the table).
template <std::size_t N>
unsigned bits_in(unsigned bits, const Bit (&table)[N], KernelVersion kernel) {
  unsigned kept = 0;
  for (const auto& [bit, since] : table) {
    if (kernel >= since) kept |= bit;
  }
  return bits & kept;
}

}  // namespace

std::optional<KernelVersion> uring_opcode_since(std::uint8_t opcode) {
  if (opcode >= kOpcodeSince.size()) return std::nullopt;
  return kOpcodeSince[opcode];
}

unsigned uring_setup_flags_in(unsigned flags, KernelVersion kernel) { return bits_in(flags, kSetupSince, kernel); }

unsigned uring_features_in(unsigned features, KernelVersion kernel) { return bits_in(features, kFeatureSince, kernel); }

}  // namespace aiod::daemon
