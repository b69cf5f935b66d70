// SPDX-License-Identifier: MIT
// backend_op.hpp — one validated operation as a backend receives it: a typed
// payload per opcode (`op.as<op::Socket>().domain`), never an overloaded field.
//
// Prepared by prepare/ from a client's descriptor (or built by the daemon for
// its own doorbells and control messages). Pointers refer to daemon-owned
// memory (the op's OpRecord) or to a session's mapped arena; they stay valid
// until the op's Completion runs. Every path and AF_UNIX path address is
// resolved by the backend under the rules of backend/confined_path.hpp.
#pragma once

#include <linux/openat2.h>
#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <iterator>
#include <string_view>
#include <variant>

struct statx;

namespace aiod::daemon {

class Completion;

// The payload types' order is the opcode's value (checked below).
enum class BackendOpcode : std::uint8_t {
  nop,
  read,
  write,
  fsync,
  timeout,
  openat2,
  close,
  recvmsg,
  sendmsg,
  accept,
  poll_add,
  readv,
  writev,
  connect,
  bind,
  listen,
  recv,
  send,
  shutdown,
  link_timeout,
  cancel,
  renameat,
  unlinkat,
  mkdirat,
  symlinkat,
  socket,
  splice,
  statx,
  fallocate,
  fadvise,
  ftruncate,
  sync_file_range,
  setsockopt,
  getsockopt,
  getsockname,
  getpeername,
  count,  // not an opcode
};

// Lower-case names, in BackendOpcode order, for stats.
inline constexpr std::string_view kBackendOpNames[] = {
    "nop",        "read",   "write",    "fsync",        "timeout",   "openat2",  "close",     "recvmsg",
    "sendmsg",    "accept", "poll_add", "readv",        "writev",    "connect",  "bind",      "listen",
    "recv",       "send",   "shutdown", "link_timeout", "cancel",    "renameat", "unlinkat",  "mkdirat",
    "symlinkat",  "socket", "splice",   "statx",        "fallocate", "fadvise",  "ftruncate", "sync_file_range",
    "setsockopt", "getsockopt", "getsockname", "getpeername",
};
static_assert(std::size(kBackendOpNames) == static_cast<std::size_t>(BackendOpcode::count));
[[nodiscard]] constexpr std::string_view backend_op_name(BackendOpcode op) {
  return kBackendOpNames[static_cast<std::size_t>(op)];
}

namespace op {

// The file position instead of an offset (io_uring's -1 too).
inline constexpr std::uint64_t kCurrentPosition = ~std::uint64_t{0};

struct Nop {
  static constexpr BackendOpcode kOpcode = BackendOpcode::nop;
};
struct Read {
  static constexpr BackendOpcode kOpcode = BackendOpcode::read;
  int fd = -1;
  void* buf = nullptr;
  std::uint32_t len = 0;
  std::uint64_t offset = kCurrentPosition;
  // A buffered read of a regular file whose status flags only the daemon
  // can change (HandleTable::may_read_at_once): it waits for no other party,
  // and with RWF_NOWAIT not even for the disk, so a backend may first try it
  // at once. If the filesystem refuses RWF_NOWAIT, the backend sets
  // `*at_once_refused` (when not null; it lives as long as the op).
  bool try_at_once = false;
  bool* at_once_refused = nullptr;
};
struct Write {
  static constexpr BackendOpcode kOpcode = BackendOpcode::write;
  int fd = -1;
  const void* buf = nullptr;
  std::uint32_t len = 0;
  std::uint64_t offset = kCurrentPosition;
};
struct Fsync {
  static constexpr BackendOpcode kOpcode = BackendOpcode::fsync;
  int fd = -1;
  bool datasync = false;
};
// Relative; expiry completes it with -ETIME.
struct Timeout {
  static constexpr BackendOpcode kOpcode = BackendOpcode::timeout;
  const __kernel_timespec* ts = nullptr;
};
struct Openat2 {
  static constexpr BackendOpcode kOpcode = BackendOpcode::openat2;
  int dir = -1;
  const char* path = nullptr;
  const open_how* how = nullptr;
};
struct Close {
  static constexpr BackendOpcode kOpcode = BackendOpcode::close;
  int fd = -1;
};
struct Recvmsg {
  static constexpr BackendOpcode kOpcode = BackendOpcode::recvmsg;
  int fd = -1;
  msghdr* msg = nullptr;
  std::uint32_t flags = 0;  // MSG_*
};
// An AF_UNIX path in msg_name is walked from `unix_root` (-1: the daemon's root).
struct Sendmsg {
  static constexpr BackendOpcode kOpcode = BackendOpcode::sendmsg;
  int fd = -1;
  const msghdr* msg = nullptr;
  std::uint32_t flags = 0;  // MSG_*
  int unix_root = -1;
};
struct Accept {
  static constexpr BackendOpcode kOpcode = BackendOpcode::accept;
  int fd = -1;
  sockaddr* addr = nullptr;       // the peer's address, or null
  socklen_t* addr_len = nullptr;  // in: room; out: the address's length
  std::uint32_t flags = 0;        // SOCK_*
};
// Completes with the revents.
struct PollAdd {
  static constexpr BackendOpcode kOpcode = BackendOpcode::poll_add;
  int fd = -1;
  std::uint32_t events = 0;
};
struct Readv {
  static constexpr BackendOpcode kOpcode = BackendOpcode::readv;
  int fd = -1;
  const iovec* iov = nullptr;
  std::uint32_t count = 0;
  std::uint64_t offset = kCurrentPosition;
};
struct Writev {
  static constexpr BackendOpcode kOpcode = BackendOpcode::writev;
  int fd = -1;
  const iovec* iov = nullptr;
  std::uint32_t count = 0;
  std::uint64_t offset = kCurrentPosition;
};
// An AF_UNIX path is walked from `unix_root` (-1: the daemon's root).
struct Connect {
  static constexpr BackendOpcode kOpcode = BackendOpcode::connect;
  int fd = -1;
  const sockaddr* addr = nullptr;
  socklen_t addr_len = 0;
  int unix_root = -1;
};
// As Connect; a socket file is created with the client's `umask`.
struct Bind {
  static constexpr BackendOpcode kOpcode = BackendOpcode::bind;
  int fd = -1;
  const sockaddr* addr = nullptr;
  socklen_t addr_len = 0;
  int unix_root = -1;
  mode_t umask = 022;
};
struct Listen {
  static constexpr BackendOpcode kOpcode = BackendOpcode::listen;
  int fd = -1;
  int backlog = 0;
};
struct Recv {
  static constexpr BackendOpcode kOpcode = BackendOpcode::recv;
  int fd = -1;
  void* buf = nullptr;
  std::uint32_t len = 0;
  std::uint32_t flags = 0;  // MSG_*
};
struct Send {
  static constexpr BackendOpcode kOpcode = BackendOpcode::send;
  int fd = -1;
  const void* buf = nullptr;
  std::uint32_t len = 0;
  std::uint32_t flags = 0;  // MSG_*
};
struct Shutdown {
  static constexpr BackendOpcode kOpcode = BackendOpcode::shutdown;
  int fd = -1;
  int how = 0;  // SHUT_*
};
// Prepared right after the op it guards, which links to it.
struct LinkTimeout {
  static constexpr BackendOpcode kOpcode = BackendOpcode::link_timeout;
  const __kernel_timespec* ts = nullptr;
};
// Cancels the op whose Completion is `target`.
struct Cancel {
  static constexpr BackendOpcode kOpcode = BackendOpcode::cancel;
  Completion* target = nullptr;
};
struct Renameat {
  static constexpr BackendOpcode kOpcode = BackendOpcode::renameat;
  int old_dir = -1;
  const char* old_path = nullptr;
  int new_dir = -1;
  const char* new_path = nullptr;
  std::uint32_t flags = 0;  // RENAME_*
};
struct Unlinkat {
  static constexpr BackendOpcode kOpcode = BackendOpcode::unlinkat;
  int dir = -1;
  const char* path = nullptr;
  int flags = 0;  // AT_REMOVEDIR
};
struct Mkdirat {
  static constexpr BackendOpcode kOpcode = BackendOpcode::mkdirat;
  int dir = -1;
  const char* path = nullptr;
  mode_t mode = 0;  // the client's umask already applied
};
struct Symlinkat {
  static constexpr BackendOpcode kOpcode = BackendOpcode::symlinkat;
  const char* target = nullptr;  // stored as it is, never resolved
  int dir = -1;
  const char* link_path = nullptr;
};
// Created in network namespace `netns` (-1: the daemon's).
struct Socket {
  static constexpr BackendOpcode kOpcode = BackendOpcode::socket;
  int domain = 0;
  int type = 0;  // with SOCK_* flags
  int protocol = 0;
  int netns = -1;
};
struct Splice {
  static constexpr BackendOpcode kOpcode = BackendOpcode::splice;
  int in = -1;
  std::uint64_t in_offset = kCurrentPosition;
  int out = -1;
  std::uint64_t out_offset = kCurrentPosition;
  std::uint32_t len = 0;
  std::uint32_t flags = 0;  // SPLICE_F_*
};
struct Statx {
  static constexpr BackendOpcode kOpcode = BackendOpcode::statx;
  int dir = -1;
  const char* path = nullptr;
  int flags = 0;           // AT_*
  std::uint32_t mask = 0;  // STATX_*
  struct statx* out = nullptr;
};
struct Fallocate {
  static constexpr BackendOpcode kOpcode = BackendOpcode::fallocate;
  int fd = -1;
  int mode = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};
struct Fadvise {
  static constexpr BackendOpcode kOpcode = BackendOpcode::fadvise;
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint32_t len = 0;
  int advice = 0;
};
struct Ftruncate {
  static constexpr BackendOpcode kOpcode = BackendOpcode::ftruncate;
  int fd = -1;
  std::uint64_t length = 0;
};
struct SyncFileRange {
  static constexpr BackendOpcode kOpcode = BackendOpcode::sync_file_range;
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint32_t len = 0;
  std::uint32_t flags = 0;
};
// The value is read from the session's arena (validated: see prepare/).
struct Setsockopt {
  static constexpr BackendOpcode kOpcode = BackendOpcode::setsockopt;
  int fd = -1;
  int level = SOL_SOCKET;
  int name = 0;
  const void* value = nullptr;
  socklen_t len = 0;
};
// Completes with the value's length (<= len); the kernel writes the value in
// place, at most `len` bytes.
struct Getsockopt {
  static constexpr BackendOpcode kOpcode = BackendOpcode::getsockopt;
  int fd = -1;
  int level = SOL_SOCKET;
  int name = 0;
  void* value = nullptr;
  socklen_t len = 0;
};
// Completes with the address's full length, which may exceed `len`: the
// kernel writes at most `len` bytes of it at `addr`.
struct Getsockname {
  static constexpr BackendOpcode kOpcode = BackendOpcode::getsockname;
  int fd = -1;
  sockaddr* addr = nullptr;
  socklen_t len = 0;
};
struct Getpeername {
  static constexpr BackendOpcode kOpcode = BackendOpcode::getpeername;
  int fd = -1;
  sockaddr* addr = nullptr;
  socklen_t len = 0;
};

using Args =
    std::variant<Nop, Read, Write, Fsync, Timeout, Openat2, Close, Recvmsg, Sendmsg, Accept, PollAdd, Readv, Writev,
                 Connect, Bind, Listen, Recv, Send, Shutdown, LinkTimeout, Cancel, Renameat, Unlinkat, Mkdirat,
                 Symlinkat, Socket, Splice, Statx, Fallocate, Fadvise, Ftruncate, SyncFileRange, Setsockopt,
                 Getsockopt, Getsockname, Getpeername>;

template <std::size_t... I>
constexpr bool indices_match_opcodes(std::index_sequence<I...>) {
  return ((std::variant_alternative_t<I, Args>::kOpcode == static_cast<BackendOpcode>(I)) && ...);
}
static_assert(std::variant_size_v<Args> == static_cast<std::size_t>(BackendOpcode::count));
static_assert(indices_match_opcodes(std::make_index_sequence<std::variant_size_v<Args>>{}),
              "op::Args must list the payloads in BackendOpcode order");

}  // namespace op

enum class Link : std::uint8_t {
  none,  // the op ends its chain segment
  soft,  // the next op runs after this one; a failure cancels the rest
  hard,  // the next op runs after this one, whatever the result
};

struct BackendOp {
  BackendOp() = default;
  template <class T>
  explicit BackendOp(const T& payload) : args(payload) {}

  op::Args args;
  Link link = Link::none;
  std::uint16_t personality = 0;  // 0: the daemon's own credentials
  // Whose share of the posix backend's workers the op uses: a client uid + 1,
  // or 0 for the daemon's own ops (doorbells, control receives), never held back.
  std::uint32_t owner = 0;
  std::uint64_t resolve = 0;  // RESOLVE_* for every path walk (RESOLVE_IN_ROOT: a foreign root)
  // Never run on the shard thread, not even tried without blocking: the
  // kernel's non-blocking try could still sleep on a lock a client's own call
  // holds (a pipe's mutex). Both backends give it to a posix worker (io-wq
  // would not do: it retries an op on a pollable file on the submitting
  // thread once the file is ready).
  bool never_inline = false;

  [[nodiscard]] BackendOpcode opcode() const noexcept { return static_cast<BackendOpcode>(args.index()); }
  template <class T>
  [[nodiscard]] bool is() const noexcept {
    return std::holds_alternative<T>(args);
  }
  // The payload; the op must be a T (checked: a mismatch is a daemon bug).
  template <class T>
  [[nodiscard]] T& as() {
    return std::get<T>(args);
  }
  template <class T>
  [[nodiscard]] const T& as() const {
    return std::get<T>(args);
  }
  // Makes the op a T with default fields and returns it.
  template <class T>
  T& set() {
    return args.emplace<T>();
  }
};

}  // namespace aiod::daemon
