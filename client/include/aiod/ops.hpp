// ops.hpp — the operations a client can run through aiod.
//
// Each op is a plain struct; fill it with designated initializers:
//
//   std::size_t n = 0;
//   aiod::Read{.file = f, .buffer = buf, .offset = 0, .out_read = &n, .link = aiod::Link::soft}
//
// Every op ends with the same four fields, in this order:
//   link       how the next op of the same batch depends on this one
//   userdata   an opaque value handed back to completion callbacks
//   out_error  if set: written {} when the op is queued, its result when it completes
//   out_id     if set: written with the op's id when it is queued (for cancel)
// Out-pointers and buffers must stay valid until the op completes.
// docs/operations.md describes every op: fields, result, errors, links.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <variant>

#include "aiod/buffer.hpp"
#include "aiod/handle.hpp"

namespace aiod {

enum class Link : std::uint8_t {
  unlinked,  // the next op does not wait for this one
  soft,      // the next op starts after this one; if this one fails, the rest of the chain is cancelled
  hard,      // the next op starts after this one, whatever its result
};

// Read/write at the file position (and advance it) instead of at an offset.
inline constexpr std::uint64_t kOffsetCurrent = ~std::uint64_t{0};

#define AIOD_OP_COMMON_FIELDS                 \
  Link link = Link::unlinked;                 \
  std::uint64_t userdata = 0;                 \
  std::error_code* out_error = nullptr;       \
  OpId* out_id = nullptr

// Completes at once, successfully.
struct Nop {
  AIOD_OP_COMMON_FIELDS;
};

// Reads up to buffer.size() bytes. *out_read: bytes read (0 at end of file).
struct Read {
  Handle file{};
  MutableBuffer buffer{};
  std::uint64_t offset = kOffsetCurrent;
  std::size_t* out_read = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// Writes buffer. *out_written: bytes written (may be short).
struct Write {
  Handle file{};
  ConstBuffer buffer{};
  std::uint64_t offset = kOffsetCurrent;
  std::size_t* out_written = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// fsync(2), or fdatasync(2) with datasync.
struct Fsync {
  Handle file{};
  bool datasync = false;
  AIOD_OP_COMMON_FIELDS;
};

// Completes successfully when `duration` has passed (monotonic clock);
// with operation_canceled if cancelled first.
struct Timeout {
  std::chrono::nanoseconds duration{0};
  AIOD_OP_COMMON_FIELDS;
};

// openat(2) as the client: relative paths against `dir` (default: the client's
// cwd), absolute paths against the client's root. O_CLOEXEC is implied.
// *out_file: the new handle.
struct OpenAt {
  Handle dir = Handle::cwd();
  const char* path = nullptr;
  int flags = O_RDONLY;
  mode_t mode = 0;  // with O_CREAT or O_TMPFILE only
  Handle* out_file = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// Closes a file handle (once no earlier op of the session still uses it).
struct CloseFile {
  Handle file{};
  AIOD_OP_COMMON_FIELDS;
};

#undef AIOD_OP_COMMON_FIELDS

// Any operation.
using Op = std::variant<Nop, Read, Write, Fsync, Timeout, OpenAt, CloseFile>;

}  // namespace aiod
