// SPDX-License-Identifier: MIT
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
#include <poll.h>
#include <stdio.h>  // RENAME_NOREPLACE
#include <sys/socket.h>
#include <sys/stat.h>  // struct statx
#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
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

#define AIOD_OP_COMMON_FIELDS           \
  Link link = Link::unlinked;           \
  std::uint64_t userdata = 0;           \
  std::error_code* out_error = nullptr; \
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

// Closes a directory handle.
struct CloseDir {
  Handle dir{};
  AIOD_OP_COMMON_FIELDS;
};

// Waits until `fd` is ready for one of `events` (POLLIN, POLLOUT...).
// *out_events: the events that are ready.
struct Poll {
  Handle fd{};
  std::uint32_t events = POLLIN;
  std::uint32_t* out_events = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// Reads from a terminal (read(2) at the current position).
struct ReadTty {
  Handle tty{};
  MutableBuffer buffer{};
  std::size_t* out_read = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// readv(2) / preadv(2) into several buffers. The iovec array itself may go
// out of scope once the op is queued; the buffers it names may not.
struct Readv {
  Handle file{};
  std::span<const iovec> iov{};
  std::uint64_t offset = kOffsetCurrent;
  std::size_t* out_read = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

struct Writev {
  Handle file{};
  std::span<const iovec> iov{};
  std::uint64_t offset = kOffsetCurrent;
  std::size_t* out_written = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// accept4(2). The new socket is close-on-exec; `flags` may add SOCK_NONBLOCK.
// With out_addr, *inout_addrlen is its size on entry and the address's on exit.
struct Accept {
  Handle socket{};
  sockaddr* out_addr = nullptr;
  socklen_t* inout_addrlen = nullptr;
  int flags = 0;
  Handle* out_socket = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// connect(2). AF_UNIX paths may be relative (made absolute against the cwd).
struct Connect {
  Handle socket{};
  const sockaddr* addr = nullptr;
  socklen_t addrlen = 0;
  AIOD_OP_COMMON_FIELDS;
};

// bind(2).
struct Bind {
  Handle socket{};
  const sockaddr* addr = nullptr;
  socklen_t addrlen = 0;
  AIOD_OP_COMMON_FIELDS;
};

// listen(2).
struct Listen {
  Handle socket{};
  int backlog = 128;
  AIOD_OP_COMMON_FIELDS;
};

// recv(2) with MSG_* flags (honoured). *out_read: bytes (0: orderly shutdown).
struct Recv {
  Handle socket{};
  MutableBuffer buffer{};
  int flags = 0;
  std::size_t* out_read = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// send(2) with MSG_* flags (honoured; MSG_NOSIGNAL is implied).
struct Send {
  Handle socket{};
  ConstBuffer buffer{};
  int flags = 0;
  std::size_t* out_written = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// recvmsg(2). On completion msg's msg_namelen, msg_controllen and msg_flags
// are updated. Descriptors received with SCM_RIGHTS arrive as Handle values.
struct RecvMsg {
  Handle socket{};
  msghdr* msg = nullptr;
  int flags = 0;
  std::size_t* out_read = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// sendmsg(2). SCM_RIGHTS control messages carry Handle values (uint32_t), not
// descriptors: the daemon passes the files behind them.
struct SendMsg {
  Handle socket{};
  const msghdr* msg = nullptr;
  int flags = 0;
  std::size_t* out_written = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// shutdown(2); how: SHUT_RD, SHUT_WR or SHUT_RDWR.
struct Shutdown {
  Handle socket{};
  int how = SHUT_RDWR;
  AIOD_OP_COMMON_FIELDS;
};

// Bounds the op linked right before it (that op's link must not be
// unlinked). If the timer fires first, that op is cancelled and this one
// fails with ETIME; if the op finishes first, this one succeeds.
struct LinkTimeout {
  std::chrono::nanoseconds duration{0};
  AIOD_OP_COMMON_FIELDS;
};

// Cancels the op with this id (from its out_id). Succeeds if it was cancelled;
// fails with ENOENT if no such op is pending, EALREADY if it is running and
// cannot be stopped. A cancelled op fails with ECANCELED.
struct Cancel {
  OpId id{};
  AIOD_OP_COMMON_FIELDS;
};

// renameat2(2). By default the target must not exist (RENAME_NOREPLACE);
// set flags = 0 for rename(2)'s replacing behaviour.
struct RenameAt {
  Handle old_dir = Handle::cwd();
  const char* old_path = nullptr;
  Handle new_dir = Handle::cwd();
  const char* new_path = nullptr;
  unsigned flags = RENAME_NOREPLACE;
  AIOD_OP_COMMON_FIELDS;
};

// unlinkat(2): a file, or with remove_dir an empty directory.
struct UnlinkAt {
  Handle dir = Handle::cwd();
  const char* path = nullptr;
  bool remove_dir = false;
  AIOD_OP_COMMON_FIELDS;
};

// mkdirat(2), under the client's umask.
struct MkdirAt {
  Handle dir = Handle::cwd();
  const char* path = nullptr;
  mode_t mode = 0755;
  AIOD_OP_COMMON_FIELDS;
};

// symlinkat(2): creates link_path (relative to dir) pointing at target.
struct SymlinkAt {
  const char* target = nullptr;
  Handle dir = Handle::cwd();
  const char* link_path = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// How a child ended (from waitid(2)).
struct ChildStatus {
  enum class Kind { exited, signaled, stopped, unknown };
  Kind kind = Kind::unknown;
  int value = 0;  // the exit code, or the signal
};

// Waits for one of this process's children to exit, and reaps it. Name the
// child by pid, or by a pidfd (pidfd_open(2)) the caller keeps open.
struct ChildExit {
  pid_t child = 0;
  int pidfd = -1;
  ChildStatus* out_status = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// socket(2); the socket is close-on-exec. *out_socket: its handle.
struct Socket {
  int domain = AF_INET;
  int type = SOCK_STREAM;
  int protocol = 0;
  Handle* out_socket = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// Closes a socket handle, cancelling the ops still pending on it first.
struct CloseSocket {
  Handle socket{};
  AIOD_OP_COMMON_FIELDS;
};

// Event sources (see event_source.hpp): a counting semaphore. Notify adds one;
// Wait completes once it has taken one; Close drops the daemon's handle.
struct NotifyEventSource {
  Handle source{};
  AIOD_OP_COMMON_FIELDS;
};
struct WaitEventSource {
  Handle source{};
  AIOD_OP_COMMON_FIELDS;
};
struct CloseEventSource {
  Handle source{};
  AIOD_OP_COMMON_FIELDS;
};

// splice(2) between two handles, one of them a pipe. kOffsetCurrent: no
// offset (required on the pipe side). *out_written: bytes moved.
struct Splice {
  Handle in{};
  std::uint64_t in_offset = kOffsetCurrent;
  Handle out{};
  std::uint64_t out_offset = kOffsetCurrent;
  std::uint32_t len = 0;
  unsigned flags = 0;
  std::size_t* out_written = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// openat2(2): OpenAt with RESOLVE_* flags (RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS...).
struct OpenAt2 {
  Handle dir = Handle::cwd();
  const char* path = nullptr;
  int flags = O_RDONLY;
  mode_t mode = 0;
  std::uint64_t resolve = 0;
  Handle* out_file = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// statx(2). An empty path with AT_EMPTY_PATH describes `dir` itself.
struct Statx {
  Handle dir = Handle::cwd();
  const char* path = "";
  int flags = 0;
  unsigned mask = STATX_BASIC_STATS;
  struct statx* out_statx = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// fallocate(2).
struct Fallocate {
  Handle file{};
  int mode = 0;
  std::uint64_t offset = 0;
  std::uint64_t len = 0;
  AIOD_OP_COMMON_FIELDS;
};

// posix_fadvise(2); len 0 means to the end of the file.
struct Fadvise {
  Handle file{};
  std::uint64_t offset = 0;
  std::uint32_t len = 0;
  int advice = POSIX_FADV_NORMAL;
  AIOD_OP_COMMON_FIELDS;
};

// ftruncate(2) (the kernel needs io_uring's ftruncate, Linux 6.9: EOPNOTSUPP before).
struct Ftruncate {
  Handle file{};
  std::uint64_t length = 0;
  AIOD_OP_COMMON_FIELDS;
};

// sync_file_range(2).
struct SyncFileRange {
  Handle file{};
  std::uint64_t offset = 0;
  std::uint32_t len = 0;
  unsigned flags = 0;
  AIOD_OP_COMMON_FIELDS;
};

// setsockopt(2): `value` holds the option's bytes (an int for most options).
struct SetSockOpt {
  Handle socket{};
  int level = SOL_SOCKET;
  int name = 0;
  ConstBuffer value{};
  AIOD_OP_COMMON_FIELDS;
};

// getsockopt(2): `value` is the room for the option (an int for most
// options); *out_len is the length the kernel wrote.
struct GetSockOpt {
  Handle socket{};
  int level = SOL_SOCKET;
  int name = 0;
  MutableBuffer value{};
  std::size_t* out_len = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// getsockname(2): *inout_addrlen is the room at out_addr on entry and the
// address's full length on exit (longer than the room: truncated).
struct GetSockName {
  Handle socket{};
  sockaddr* out_addr = nullptr;
  socklen_t* inout_addrlen = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

// getpeername(2), as GetSockName.
struct GetPeerName {
  Handle socket{};
  sockaddr* out_addr = nullptr;
  socklen_t* inout_addrlen = nullptr;
  AIOD_OP_COMMON_FIELDS;
};

#undef AIOD_OP_COMMON_FIELDS

// Any operation.
using Op =
    std::variant<Nop, Read, Write, Fsync, Timeout, OpenAt, CloseFile, CloseDir, Poll, ReadTty, Readv, Writev, Accept,
                 Connect, Bind, Listen, Recv, Send, RecvMsg, SendMsg, Shutdown, LinkTimeout, Cancel, RenameAt, UnlinkAt,
                 MkdirAt, SymlinkAt, ChildExit, Socket, CloseSocket, NotifyEventSource, WaitEventSource,
                 CloseEventSource, Splice, OpenAt2, Statx, Fallocate, Fadvise, Ftruncate, SyncFileRange, SetSockOpt,
                 GetSockOpt, GetSockName, GetPeerName>;

}  // namespace aiod
