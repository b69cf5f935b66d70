// SPDX-License-Identifier: MIT
// op_table.hpp — every opcode of the protocol, described once: its name, what
// each descriptor field carries, what its result counts as, and the Linux
// version whose io_uring runs it natively.
//
// Both sides use it: the daemon refuses a descriptor with a field its opcode
// does not use, names opcodes in stats with it and counts bytes by it; the
// client's encoder, docs/operations.md and the daemon's per-op preparation are
// checked against it by tests (tests/unit/op_table_test.cpp). Adding an
// opcode starts here (docs/architecture.md, "Adding an operation").
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "aiod_shm.h"

namespace aiod::proto {

// What one descriptor field carries for an opcode.
enum class Carries : std::uint8_t {
  nothing,     // must be 0
  handle,      // a handle of the session
  dir_handle,  // a directory handle, or AIOD_HANDLE_CWD
  number,      // an offset, length, count, mode or other plain value
  flags,       // per-opcode flag bits (checked by the op)
  nanoseconds,
  user_data,  // another op's user_data (CANCEL)
  buffer,     // arena offset of bytes; the next field is their length
  path,       // arena offset of a path; the next field is its length (no NUL)
  iovecs,     // arena offset of aiod_iovec[]; the next field is their count
  sockaddr,   // arena offset of a socket address; the next field is its length
  msghdr,     // arena offset of an aiod_msghdr; the next field is its size
  result,     // arena offset of a struct the daemon writes; the next field is its room
  length,     // the length, size, count or room of the field before
};

// What a successful result counts as in the byte statistics.
enum class Bytes : std::uint8_t { none, in, out };

// The kind of op, as the reference and the daemon's validation group them
// (daemon/prepare/: op_prepare.cpp, op_prepare_io.cpp, op_prepare_fs.cpp,
// op_prepare_net.cpp).
enum class Group : std::uint8_t { control, data, file, socket };

// The descriptor fields an opcode may use, as bits (struct aiod_sqe order).
enum Field : std::uint16_t {
  kHandle = 1u << 0,
  kOff = 1u << 1,
  kAddr = 1u << 2,
  kLen = 1u << 3,
  kOpFlags = 1u << 4,
  kAddr2 = 1u << 5,
  kLen2 = 1u << 6,
  kMode = 1u << 7,
};

struct OpInfo {
  std::uint8_t opcode;
  std::string_view name;  // lower case, as in stats and docs (NOP: "nop")
  // What each field of struct aiod_sqe carries, in declaration order.
  Carries handle, off, addr, len, op_flags, addr2, len2, mode;
  Bytes bytes;
  Group group;
  // The first Linux whose io_uring has what this op needs ("" for ops the
  // daemon completes itself or always runs in its posix part).
  std::string_view native_since;

  // The fields this opcode uses (Field bits); every other one must be 0.
  [[nodiscard]] constexpr std::uint16_t used() const noexcept {
    const Carries all[] = {handle, off, addr, len, op_flags, addr2, len2, mode};
    std::uint16_t mask = 0;
    for (unsigned i = 0; i < 8; ++i) {
      if (all[i] != Carries::nothing) mask = static_cast<std::uint16_t>(mask | (1u << i));
    }
    return mask;
  }
  // The fields that name a handle (Field bits).
  [[nodiscard]] constexpr std::uint16_t handles() const noexcept {
    const Carries all[] = {handle, off, addr, len, op_flags, addr2, len2, mode};
    std::uint16_t mask = 0;
    for (unsigned i = 0; i < 8; ++i) {
      if (all[i] == Carries::handle || all[i] == Carries::dir_handle)
        mask = static_cast<std::uint16_t>(mask | (1u << i));
    }
    return mask;
  }
};

namespace table {
using C = Carries;
using B = Bytes;
using G = Group;
constexpr C _ = C::nothing;
// clang-format off
//                        opcode                        name                   handle         off             addr          len          op_flags  addr2      len2       mode       bytes    group      native
inline constexpr std::array<OpInfo, AIOD_OP_LAST> kOps{{
  {AIOD_OP_NOP,                 "nop",                 _,             _,              _,            _,           _,        _,         _,         _,         B::none, G::control, "5.1"},
  {AIOD_OP_READ,                "read",                C::handle,     C::number,      C::buffer,    C::length,   _,        _,         _,         _,         B::in,   G::data,    "5.6"},
  {AIOD_OP_WRITE,               "write",               C::handle,     C::number,      C::buffer,    C::length,   _,        _,         _,         _,         B::out,  G::data,    "5.6"},
  {AIOD_OP_FSYNC,               "fsync",               C::handle,     _,              _,            _,           C::flags, _,         _,         _,         B::none, G::data,    "5.1"},
  {AIOD_OP_TIMEOUT,             "timeout",             _,             C::nanoseconds, _,            _,           _,        _,         _,         _,         B::none, G::control, "5.4"},
  {AIOD_OP_OPEN_AT,             "open_at",             C::dir_handle, _,              C::path,      C::length,   C::flags, _,         _,         C::number, B::none, G::file,    ""},
  {AIOD_OP_CLOSE_FILE,          "close_file",          C::handle,     _,              _,            _,           _,        _,         _,         _,         B::none, G::control, "5.1"},
  {AIOD_OP_POLL,                "poll",                C::handle,     _,              _,            _,           C::flags, _,         _,         _,         B::none, G::control, "5.1"},
  {AIOD_OP_READ_TTY,            "read_tty",            C::handle,     _,              C::buffer,    C::length,   _,        _,         _,         _,         B::in,   G::data,    "5.6"},
  {AIOD_OP_READV,               "readv",               C::handle,     C::number,      C::iovecs,    C::length,   _,        _,         _,         _,         B::in,   G::data,    "5.1"},
  {AIOD_OP_WRITEV,              "writev",              C::handle,     C::number,      C::iovecs,    C::length,   _,        _,         _,         _,         B::out,  G::data,    "5.1"},
  {AIOD_OP_ACCEPT,              "accept",              C::handle,     _,              _,            _,           C::flags, C::result, C::length, _,         B::none, G::socket,  "5.5"},
  {AIOD_OP_CONNECT,             "connect",             C::handle,     _,              C::sockaddr,  C::length,   _,        _,         _,         _,         B::none, G::socket,  "5.5"},
  {AIOD_OP_BIND,                "bind",                C::handle,     _,              C::sockaddr,  C::length,   _,        _,         _,         _,         B::none, G::socket,  "6.11"},
  {AIOD_OP_LISTEN,              "listen",              C::handle,     _,              _,            _,           C::number, _,        _,         _,         B::none, G::socket,  "6.11"},
  {AIOD_OP_RECV,                "recv",                C::handle,     _,              C::buffer,    C::length,   C::flags, _,         _,         _,         B::in,   G::socket,  "5.6"},
  {AIOD_OP_SEND,                "send",                C::handle,     _,              C::buffer,    C::length,   C::flags, _,         _,         _,         B::out,  G::socket,  "5.6"},
  {AIOD_OP_RECV_MSG,            "recv_msg",            C::handle,     _,              C::msghdr,    C::length,   C::flags, _,         _,         _,         B::in,   G::socket,  "5.3"},
  {AIOD_OP_SEND_MSG,            "send_msg",            C::handle,     _,              C::msghdr,    C::length,   C::flags, _,         _,         _,         B::out,  G::socket,  "5.3"},
  {AIOD_OP_SHUTDOWN,            "shutdown",            C::handle,     _,              _,            _,           C::number, _,        _,         _,         B::none, G::socket,  "5.11"},
  {AIOD_OP_CLOSE_DIR,           "close_dir",           C::handle,     _,              _,            _,           _,        _,         _,         _,         B::none, G::control, "5.1"},
  {AIOD_OP_LINK_TIMEOUT,        "link_timeout",        _,             C::nanoseconds, _,            _,           _,        _,         _,         _,         B::none, G::control, "5.5"},
  {AIOD_OP_CANCEL,              "cancel",              _,             C::user_data,   _,            _,           _,        _,         _,         _,         B::none, G::control, "5.5"},
  {AIOD_OP_RENAME_AT,           "rename_at",           C::dir_handle, C::dir_handle,  C::path,      C::length,   C::flags, C::path,   C::length, _,         B::none, G::file,    ""},
  {AIOD_OP_UNLINK_AT,           "unlink_at",           C::dir_handle, _,              C::path,      C::length,   C::flags, _,         _,         _,         B::none, G::file,    ""},
  {AIOD_OP_MKDIR_AT,            "mkdir_at",            C::dir_handle, _,              C::path,      C::length,   _,        _,         _,         C::number, B::none, G::file,    ""},
  {AIOD_OP_SYMLINK_AT,          "symlink_at",          C::dir_handle, _,              C::path,      C::length,   _,        C::path,   C::length, _,         B::none, G::file,    ""},
  {AIOD_OP_CHILD_EXIT,          "child_exit",          C::handle,     _,              _,            _,           C::flags, _,         _,         _,         B::none, G::control, "5.1"},
  {AIOD_OP_SOCKET,              "socket",              _,             C::number,      _,            _,           C::flags, _,         _,         C::number, B::none, G::socket,  "5.19"},
  {AIOD_OP_CLOSE_SOCKET,        "close_socket",        C::handle,     _,              _,            _,           _,        _,         _,         _,         B::none, G::control, "5.1"},
  {AIOD_OP_NOTIFY_EVENT_SOURCE, "notify_event_source", C::handle,     _,              _,            _,           _,        _,         _,         _,         B::none, G::control, "5.6"},
  {AIOD_OP_WAIT_EVENT_SOURCE,   "wait_event_source",   C::handle,     _,              _,            _,           _,        _,         _,         _,         B::none, G::control, "5.6"},
  {AIOD_OP_CLOSE_EVENT_SOURCE,  "close_event_source",  C::handle,     _,              _,            _,           _,        _,         _,         _,         B::none, G::control, "5.1"},
  {AIOD_OP_SPLICE,              "splice",              C::handle,     C::number,      _,            C::number,   C::flags, C::number, _,         C::handle, B::out,  G::data,    "5.7"},
  {AIOD_OP_OPENAT2,             "openat2",             C::dir_handle, C::flags,       C::path,      C::length,   C::flags, _,         _,         C::number, B::none, G::file,    ""},
  {AIOD_OP_STATX,               "statx",               C::dir_handle, _,              C::path,      C::length,   C::flags, C::result, C::length, C::flags,  B::none, G::file,    ""},
  {AIOD_OP_FALLOCATE,           "fallocate",           C::handle,     C::number,      _,            _,           C::flags, C::number, _,         _,         B::none, G::data,    "5.6"},
  {AIOD_OP_FADVISE,             "fadvise",             C::handle,     C::number,      _,            C::number,   C::flags, _,         _,         _,         B::none, G::data,    "5.6"},
  {AIOD_OP_FTRUNCATE,           "ftruncate",           C::handle,     C::number,      _,            _,           _,        _,         _,         _,         B::none, G::data,    "6.9"},
  {AIOD_OP_SYNC_FILE_RANGE,     "sync_file_range",     C::handle,     C::number,      _,            C::number,   C::flags, _,         _,         _,         B::none, G::data,    "5.2"},
  {AIOD_OP_SETSOCKOPT,          "setsockopt",          C::handle,     C::number,      C::buffer,    C::length,   C::number, _,        _,         _,         B::none, G::socket,  "6.7"},
  {AIOD_OP_GETSOCKOPT,          "getsockopt",          C::handle,     C::number,      C::buffer,    C::length,   C::number, _,        _,         _,         B::none, G::socket,  "6.7"},
  {AIOD_OP_GETSOCKNAME,         "getsockname",         C::handle,     _,              C::buffer,    C::length,   _,        _,         _,         _,         B::none, G::socket,  ""},
  {AIOD_OP_GETPEERNAME,         "getpeername",         C::handle,     _,              C::buffer,    C::length,   _,        _,         _,         _,         B::none, G::socket,  ""},
}};
// clang-format on

constexpr bool rows_in_opcode_order() {
  for (unsigned i = 0; i < kOps.size(); ++i) {
    if (kOps[i].opcode != i) return false;
  }
  return true;
}
static_assert(rows_in_opcode_order(), "kOps must have one row per opcode, in opcode order");
}  // namespace table

// The row of `opcode`, or nullptr for a number that is no opcode.
[[nodiscard]] constexpr const OpInfo* op_info(unsigned opcode) noexcept {
  return opcode < table::kOps.size() ? &table::kOps[opcode] : nullptr;
}

// Every row, in opcode order.
[[nodiscard]] constexpr const std::array<OpInfo, AIOD_OP_LAST>& all_ops() noexcept { return table::kOps; }

}  // namespace aiod::proto
