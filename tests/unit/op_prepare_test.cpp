// SPDX-License-Identifier: MIT
// Unit tests of daemon/op_prepare: turning one descriptor, already copied out
// of shared memory, into a backend operation — or into -errno for that op only.
//
// What must hold: every field of a hostile descriptor is checked (opcode,
// flags, reserved and unused fields, buffers against the arena with
// overflow-safe arithmetic, handles against the session's table, paths);
// open_at resolves as the client would and never leaks a descriptor into a
// child or a controlling terminal into the daemon; a refused descriptor holds
// no handle reference (or a closed handle's descriptor would never close).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <linux/time_types.h>
// After linux/time_types.h: it uses __kernel_timespec.
#include <liburing/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "aiod_shm.h"
#include "control_message.hpp"
#include "op_table.hpp"
#include "backend/backend.hpp"
#include "fake_backend.hpp"
#include "prepare/handle_table.hpp"
#include "prepare/op_prepare.hpp"
#include "prepare/op_prepare_util.hpp"
#include "prepare/op_record.hpp"
#include "os/protected_sockets.hpp"

namespace aiod::daemon {
namespace {

constexpr std::size_t kArenaSize = 64 * 1024;
constexpr std::uint64_t kUserData = 0x1122334455667788ull;
constexpr std::uint16_t kPersonality = 7;

using test::FakeBackend;

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }
bool fd_closed(int fd) { return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

struct Inserted {
  std::uint32_t handle = 0;
  int fd = -1;
};

// The generic descriptor fields, to say which ones an opcode uses.
using enum proto::Field;

struct FieldSetter {
  unsigned bit;
  const char* name;
  void (*set)(aiod_sqe&);
};
const FieldSetter kFields[] = {
    {kHandle, "handle", [](aiod_sqe& s) { s.handle = 1; }},
    {kOff, "off", [](aiod_sqe& s) { s.off = 1; }},
    {kAddr, "addr", [](aiod_sqe& s) { s.addr = 64; }},
    {kLen, "len", [](aiod_sqe& s) { s.len = 1; }},
    {kOpFlags, "op_flags", [](aiod_sqe& s) { s.op_flags = 1; }},
    {kAddr2, "addr2", [](aiod_sqe& s) { s.addr2 = 64; }},
    {kLen2, "len2", [](aiod_sqe& s) { s.len2 = 1; }},
    {kMode, "mode", [](aiod_sqe& s) { s.mode = 1; }},
};

// Every opcode of the protocol: how many handles a valid descriptor of it
// names, and the backend opcode it becomes. The fields it uses come from the
// protocol's op table (proto/op_table.hpp).
struct OpSpec {
  OpSpec(std::uint8_t op, int handle_count, BackendOpcode backend)
      : opcode(op), name(proto::op_info(op)->name.data()), handles(handle_count), backend_op(backend) {}
  std::uint8_t opcode;
  const char* name;  // the table's (a NUL-terminated literal)
  int handles;       // 0, 1 (a) or 2 (a and b)
  BackendOpcode backend_op;
  [[nodiscard]] unsigned used() const { return proto::op_info(opcode)->used(); }
};
const OpSpec kOps[] = {
    {AIOD_OP_NOP, 0, BackendOpcode::nop},
    {AIOD_OP_READ, 1, BackendOpcode::read},
    {AIOD_OP_WRITE, 1, BackendOpcode::write},
    {AIOD_OP_FSYNC, 1, BackendOpcode::fsync},
    {AIOD_OP_TIMEOUT, 0, BackendOpcode::timeout},
    {AIOD_OP_OPEN_AT, 1, BackendOpcode::openat2},
    {AIOD_OP_CLOSE_FILE, 1, BackendOpcode::nop},
    {AIOD_OP_POLL, 1, BackendOpcode::poll_add},
    {AIOD_OP_READ_TTY, 1, BackendOpcode::read},
    {AIOD_OP_READV, 1, BackendOpcode::readv},
    {AIOD_OP_WRITEV, 1, BackendOpcode::writev},
    {AIOD_OP_ACCEPT, 1, BackendOpcode::accept},
    {AIOD_OP_CONNECT, 1, BackendOpcode::connect},
    {AIOD_OP_BIND, 1, BackendOpcode::bind},
    {AIOD_OP_LISTEN, 1, BackendOpcode::listen},
    {AIOD_OP_RECV, 1, BackendOpcode::recv},
    {AIOD_OP_SEND, 1, BackendOpcode::send},
    {AIOD_OP_RECV_MSG, 1, BackendOpcode::recvmsg},
    {AIOD_OP_SEND_MSG, 1, BackendOpcode::sendmsg},
    {AIOD_OP_SHUTDOWN, 1, BackendOpcode::shutdown},
    {AIOD_OP_CLOSE_DIR, 1, BackendOpcode::nop},
    {AIOD_OP_LINK_TIMEOUT, 0, BackendOpcode::link_timeout},
    {AIOD_OP_CANCEL, 0, BackendOpcode::cancel},
    {AIOD_OP_RENAME_AT, 2, BackendOpcode::renameat},
    {AIOD_OP_UNLINK_AT, 1, BackendOpcode::unlinkat},
    {AIOD_OP_MKDIR_AT, 1, BackendOpcode::mkdirat},
    {AIOD_OP_SYMLINK_AT, 1, BackendOpcode::symlinkat},
    {AIOD_OP_CHILD_EXIT, 1, BackendOpcode::poll_add},
    {AIOD_OP_SOCKET, 0, BackendOpcode::socket},
    {AIOD_OP_CLOSE_SOCKET, 1, BackendOpcode::nop},
    {AIOD_OP_NOTIFY_EVENT_SOURCE, 1, BackendOpcode::write},
    {AIOD_OP_WAIT_EVENT_SOURCE, 1, BackendOpcode::read},
    {AIOD_OP_CLOSE_EVENT_SOURCE, 1, BackendOpcode::nop},
    {AIOD_OP_SPLICE, 2, BackendOpcode::splice},
    {AIOD_OP_OPENAT2, 1, BackendOpcode::openat2},
    {AIOD_OP_STATX, 1, BackendOpcode::statx},
    {AIOD_OP_FALLOCATE, 1, BackendOpcode::fallocate},
    {AIOD_OP_FADVISE, 1, BackendOpcode::fadvise},
    {AIOD_OP_FTRUNCATE, 1, BackendOpcode::ftruncate},
    {AIOD_OP_SYNC_FILE_RANGE, 1, BackendOpcode::sync_file_range},
    {AIOD_OP_SETSOCKOPT, 1, BackendOpcode::setsockopt},
    {AIOD_OP_GETSOCKOPT, 1, BackendOpcode::getsockopt},
    {AIOD_OP_GETSOCKNAME, 1, BackendOpcode::getsockname},
    {AIOD_OP_GETPEERNAME, 1, BackendOpcode::getpeername},
};
static_assert(std::size(kOps) == AIOD_OP_LAST, "a new opcode needs its row here");

// Views of a prepared op whatever its payload, for checks shared by opcodes.
int dir_of(const BackendOp& op) {
  return std::visit(
      [](const auto& a) -> int {
        if constexpr (requires { a.dir; })
          return a.dir;
        else if constexpr (requires { a.old_dir; })
          return a.old_dir;
        else
          return -1;
      },
      op.args);
}
const char* path_of(const BackendOp& op) {
  return std::visit(
      [](const auto& a) -> const char* {
        if constexpr (requires { a.path; })
          return a.path;
        else if constexpr (requires { a.old_path; })
          return a.old_path;
        else if constexpr (requires {
                             a.target;
                             a.link_path;
                           })
          return a.target;
        else
          return nullptr;
      },
      op.args);
}
const char* path2_of(const BackendOp& op) {
  return std::visit(
      [](const auto& a) -> const char* {
        if constexpr (requires { a.new_path; })
          return a.new_path;
        else if constexpr (requires { a.link_path; })
          return a.link_path;
        else
          return nullptr;
      },
      op.args);
}
const void* buf_of(const BackendOp& op) {
  return std::visit(
      [](const auto& a) -> const void* {
        if constexpr (requires { a.buf; })
          return a.buf;
        else
          return nullptr;
      },
      op.args);
}
std::uint32_t msg_flags_of(const BackendOp& op) {
  return std::visit(
      [](const auto& a) -> std::uint32_t {
        if constexpr (requires {
                        a.flags;
                        a.buf;
                      })
          return a.flags;
        else if constexpr (requires {
                             a.flags;
                             a.msg;
                           })
          return a.flags;
        else
          return 0;
      },
      op.args);
}

const OpSpec& spec(unsigned opcode) {
  for (const OpSpec& op : kOps) {
    if (op.opcode == opcode) return op;
  }
  throw std::logic_error("no such opcode");
}

class OpPrepare : public ::testing::Test {
 protected:
  OpPrepare() : arena_(kArenaSize), handles_(64) {
    cwd_ = UniqueFd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    root_ = UniqueFd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    ctx_.arena = {arena_.data(), arena_.size()};
    ctx_.handles = &handles_;
    ctx_.cwd_fd = cwd_.get();
    ctx_.root_fd = root_.get();
    ctx_.personality = kPersonality;
    ctx_.umask = 022;
    ctx_.backend = &backend_;
  }

  Inserted insert() {
    const int fd = ::eventfd(0, EFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    const std::int64_t h = handles_.insert(UniqueFd(fd));
    EXPECT_GT(h, 0);
    return {static_cast<std::uint32_t>(h), fd};
  }

  // The record took no reference: closing the handle closes the descriptor.
  void expect_no_reference(const Inserted& f, const std::string& what) {
    ASSERT_EQ(handles_.close(f.handle), 0) << what;
    EXPECT_TRUE(fd_closed(f.fd)) << what << ": a refused descriptor still holds a handle reference";
  }
  // The record holds exactly one reference.
  void expect_one_reference(const Inserted& f, const std::string& what) {
    ASSERT_EQ(handles_.close(f.handle), 0) << what;
    EXPECT_TRUE(fd_open(f.fd)) << what << ": the record does not hold its handle";
    handles_.release(f.handle);
    EXPECT_TRUE(fd_closed(f.fd)) << what << ": more than one reference taken";
  }

  // Writes `bytes` into the arena at `offset`.
  void put(std::uint64_t offset, const std::string& bytes) {
    std::memcpy(arena_.data() + offset, bytes.data(), bytes.size());
  }

  static aiod_sqe sqe(std::uint8_t opcode) {
    aiod_sqe s{};
    s.opcode = opcode;
    s.user_data = kUserData;
    return s;
  }

  // Where valid descriptors keep their data in the arena.
  static constexpr std::uint64_t kBufAt = 256;     // 128-byte buffer
  static constexpr std::uint64_t kPathAt = 1024;   // "dir/file"
  static constexpr std::uint64_t kPath2At = 1152;  // "dir/other"
  static constexpr std::uint64_t kIovAt = 2048;    // aiod_iovec[2] over the buffer
  static constexpr std::uint64_t kMsgAt = 3072;    // aiod_msghdr
  static constexpr std::uint64_t kAddrAt = 3584;   // sockaddr_in
  static constexpr std::uint64_t kOutAt = 4096;    // aiod_sockaddr_out
  static constexpr std::uint64_t kStatxAt = 8192;  // struct statx
  static constexpr std::uint64_t kControlAt = 12288;

  template <class T>
  void put_struct(std::uint64_t offset, const T& v) {
    std::memcpy(arena_.data() + offset, &v, sizeof(v));
  }

  void put_iovecs() {
    const aiod_iovec iov[2] = {{kBufAt, 64}, {kBufAt + 64, 64}};
    put_struct(kIovAt, iov);
  }

  void put_msghdr(std::uint64_t control = 0, std::uint64_t control_len = 0) {
    put_iovecs();
    aiod_msghdr h{};
    h.iov = kIovAt;
    h.iov_count = 2;
    h.control = control;
    h.control_len = control_len;
    put_struct(kMsgAt, h);
  }

  // A descriptor of `op` that passes every check, naming `a` (and `b`) where
  // it takes handles.
  aiod_sqe valid(const OpSpec& op, const Inserted& a, const Inserted& b = {}) {
    aiod_sqe s = sqe(op.opcode);
    if ((op.used() & kHandle) != 0) s.handle = a.handle;
    switch (op.opcode) {
      case AIOD_OP_READ:
      case AIOD_OP_WRITE:
        s.addr = kBufAt;
        s.len = 128;
        s.off = 4096;
        break;
      case AIOD_OP_READ_TTY:
        s.addr = kBufAt;
        s.len = 128;
        break;
      case AIOD_OP_TIMEOUT:
      case AIOD_OP_LINK_TIMEOUT:
        s.off = 1000;
        break;
      case AIOD_OP_CANCEL:
        s.off = 42;  // a user_data
        break;
      case AIOD_OP_OPEN_AT:
      case AIOD_OP_OPENAT2:
        put(kPathAt, "dir/file");
        s.addr = kPathAt;
        s.len = 8;
        s.op_flags = O_CREAT | O_RDWR;
        s.mode = 0644;
        if (op.opcode == AIOD_OP_OPENAT2) s.off = RESOLVE_NO_MAGICLINKS;
        break;
      case AIOD_OP_POLL:
        s.op_flags = POLLIN | POLLOUT;
        break;
      case AIOD_OP_READV:
      case AIOD_OP_WRITEV:
        put_iovecs();
        s.addr = kIovAt;
        s.len = 2;
        s.off = 0;
        break;
      case AIOD_OP_ACCEPT:
        s.addr2 = kOutAt;
        s.len2 = sizeof(aiod_sockaddr_out);
        break;
      case AIOD_OP_CONNECT:
      case AIOD_OP_BIND: {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(8080);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        put_struct(kAddrAt, sin);
        s.addr = kAddrAt;
        s.len = sizeof(sin);
        break;
      }
      case AIOD_OP_LISTEN:
        s.op_flags = 16;  // backlog
        break;
      case AIOD_OP_RECV:
      case AIOD_OP_SEND:
        s.addr = kBufAt;
        s.len = 64;
        break;
      case AIOD_OP_RECV_MSG:
      case AIOD_OP_SEND_MSG:
        put_msghdr();
        s.addr = kMsgAt;
        s.len = sizeof(aiod_msghdr);
        break;
      case AIOD_OP_SHUTDOWN:
        s.op_flags = SHUT_WR;
        break;
      case AIOD_OP_RENAME_AT:
        put(kPathAt, "dir/file");
        put(kPath2At, "dir/other");
        s.addr = kPathAt;
        s.len = 8;
        s.off = b.handle;
        s.addr2 = kPath2At;
        s.len2 = 9;
        break;
      case AIOD_OP_UNLINK_AT:
        put(kPathAt, "dir/file");
        s.addr = kPathAt;
        s.len = 8;
        break;
      case AIOD_OP_MKDIR_AT:
        put(kPathAt, "dir/file");
        s.addr = kPathAt;
        s.len = 8;
        s.mode = 0755;
        break;
      case AIOD_OP_SYMLINK_AT:
        put(kPathAt, "dir/file");
        put(kPath2At, "dir/other");
        s.addr = kPathAt;
        s.len = 8;
        s.addr2 = kPath2At;
        s.len2 = 9;
        break;
      case AIOD_OP_SOCKET:
        s.off = AF_INET;
        s.op_flags = SOCK_STREAM;
        break;
      case AIOD_OP_SPLICE:
        s.mode = b.handle;  // out
        s.off = AIOD_OFFSET_CURRENT;
        s.addr2 = AIOD_OFFSET_CURRENT;
        s.len = 100;
        break;
      case AIOD_OP_STATX:
        put(kPathAt, "dir/file");
        s.addr = kPathAt;
        s.len = 8;
        s.mode = STATX_BASIC_STATS;
        s.addr2 = kStatxAt;
        s.len2 = sizeof(struct statx);
        break;
      case AIOD_OP_FALLOCATE:
        s.off = 0;
        s.addr2 = 4096;  // length
        break;
      case AIOD_OP_FADVISE:
        s.off = 0;
        s.len = 4096;
        s.op_flags = POSIX_FADV_SEQUENTIAL;
        break;
      case AIOD_OP_FTRUNCATE:
        s.off = 100;
        break;
      case AIOD_OP_SYNC_FILE_RANGE:
        s.off = 0;
        s.len = 4096;
        break;
      case AIOD_OP_SETSOCKOPT:
      case AIOD_OP_GETSOCKOPT:
        s.off = SOL_SOCKET;
        s.op_flags = SO_REUSEADDR;
        s.addr = kBufAt;
        s.len = sizeof(int);
        break;
      case AIOD_OP_GETSOCKNAME:
      case AIOD_OP_GETPEERNAME:
        s.addr = kBufAt;
        s.len = sizeof(sockaddr_storage);
        break;
      default:
        break;
    }
    return s;
  }

  // Both handles a descriptor of `op` may name.
  struct Pair {
    Inserted a, b;
  };
  Pair insert_for(const OpSpec& op) {
    Pair p;
    p.a = insert();
    if (op.handles == 2) p.b = insert();
    return p;
  }
  void expect_nothing_held(const OpSpec& op, const Pair& p, const std::string& what) {
    expect_no_reference(p.a, what);
    if (op.handles == 2) expect_no_reference(p.b, what + " (second handle)");
  }
  void expect_held(const OpSpec& op, const Pair& p, const std::string& what) {
    if (op.handles >= 1) {
      expect_one_reference(p.a, what);
    } else {
      expect_no_reference(p.a, what);
    }
    if (op.handles == 2) expect_one_reference(p.b, what + " (second handle)");
  }

  // Prepares into rec_, reset first as the session's pool does.
  int prepare(const aiod_sqe& s) {
    rec_.reset();
    return prepare_record(s, ctx_, rec_);
  }

  std::vector<std::byte> arena_;
  HandleTable handles_;
  FakeBackend backend_;
  UniqueFd cwd_, root_;
  PrepareContext ctx_;
  OpRecord rec_;
};

// ---------------------------------------------------------------------------
// Rules every opcode shares

TEST_F(OpPrepare, EveryOpcodeOfTheProtocolIsImplemented) {
  for (const OpSpec& op : kOps) {
    const Pair p = insert_for(op);
    EXPECT_EQ(prepare(valid(op, p.a, p.b)), 0) << op.name;
    EXPECT_EQ(rec_.user_data, kUserData) << op.name;
    EXPECT_EQ(rec_.opcode, op.opcode) << op.name;
    EXPECT_EQ(rec_.op.opcode(), op.backend_op) << op.name;
    EXPECT_EQ(rec_.op.personality, kPersonality) << op.name;
    EXPECT_EQ(rec_.link, Link::none) << op.name;
    EXPECT_EQ(rec_.handle, op.handles >= 1 ? p.a.handle : 0u) << op.name;
    expect_held(op, p, op.name);
  }
}

// A record's side buffers (how, ts, addr, msg) are not cleared between ops
// (OpRecord::reset): whatever an op points at must come out of its prepare
// the same whatever the record's last op left there.
TEST_F(OpPrepare, WhatAnOpPointsAtInItsRecordDoesNotDependOnTheRecordsLastOp) {
  struct Side {
    const char* name;
    std::byte* at;
    std::size_t size;
  };
  const Side sides[] = {{"how", reinterpret_cast<std::byte*>(&rec_.how), sizeof(rec_.how)},
                        {"ts", reinterpret_cast<std::byte*>(&rec_.ts), sizeof(rec_.ts)},
                        {"addr", reinterpret_cast<std::byte*>(&rec_.addr), sizeof(rec_.addr)},
                        {"msg", reinterpret_cast<std::byte*>(&rec_.msg), sizeof(rec_.msg)}};
  // Whether `bytes` hold, at any 8-byte step, a pointer to `side`.
  auto points_at = [](const void* bytes, std::size_t size, const Side& side) {
    for (std::size_t i = 0; i + sizeof(void*) <= size; i += sizeof(void*)) {
      const std::byte* p;
      std::memcpy(&p, static_cast<const std::byte*>(bytes) + i, sizeof(p));
      if (p == side.at) return true;
    }
    return false;
  };
  auto prepared_sides = [&](const aiod_sqe& s, std::byte fill) {
    for (const Side& side : sides) std::memset(side.at, static_cast<int>(fill), side.size);
    EXPECT_EQ(prepare(s), 0);
    std::vector<std::vector<std::byte>> out;
    for (const Side& side : sides) out.emplace_back(side.at, side.at + side.size);
    for (std::uint32_t h : {rec_.handle, rec_.handle2}) {
      if (h != 0) handles_.release(h);
    }
    for (std::uint32_t h : rec_.passed) handles_.release(h);
    rec_.handle = rec_.handle2 = 0;
    rec_.passed.clear();
    return out;
  };
  std::vector<int> users(std::size(sides), 0);
  for (const OpSpec& op : kOps) {
    const Pair p = insert_for(op);
    const aiod_sqe s = valid(op, p.a, p.b);
    const auto stale = prepared_sides(s, std::byte{0xa5});
    const auto clean = prepared_sides(s, std::byte{0});
    // The payload alone: the variant's other bytes are not the op's.
    const auto [payload, payload_size] = std::visit(
        [](const auto& a) { return std::pair<const void*, std::size_t>(&a, sizeof(a)); }, rec_.op.args);
    for (std::size_t i = 0; i < std::size(sides); ++i) {
      // Pointed at by the op, or by a message header it points at.
      const bool used = points_at(payload, payload_size, sides[i]) ||
                        (points_at(payload, payload_size, sides[3]) && points_at(&rec_.msg, sizeof(rec_.msg), sides[i]));
      if (!used) continue;
      ++users[i];
      EXPECT_EQ(stale[i], clean[i]) << op.name << " reads what the record's last op left in " << sides[i].name;
    }
  }
  for (std::size_t i = 0; i < std::size(sides); ++i) {
    EXPECT_GT(users[i], 0) << "no op points at " << sides[i].name << ": the check above saw nothing";
  }
}

TEST_F(OpPrepare, OpcodesPastTheLastAreEinval) {
  for (unsigned opcode = AIOD_OP_LAST; opcode <= 255; ++opcode) {
    aiod_sqe s = sqe(static_cast<std::uint8_t>(opcode));
    EXPECT_EQ(prepare(s), -EINVAL) << "opcode " << opcode;
    const Inserted f = insert();
    s.handle = f.handle;
    EXPECT_EQ(prepare(s), -EINVAL) << "opcode " << opcode;
    expect_no_reference(f, "opcode " + std::to_string(opcode));
  }
}

TEST_F(OpPrepare, AnOpTheBackendCannotRunIsEopnotsuppAndHoldsNothing) {
  // A known opcode this kernel cannot run is "not supported", not "malformed":
  // the client can tell the two apart.
  for (const OpSpec& op : kOps) {
    backend_.supported.fill(true);
    backend_.supported[static_cast<std::size_t>(op.backend_op)] = false;
    const Pair p = insert_for(op);
    EXPECT_EQ(prepare(valid(op, p.a, p.b)), -EOPNOTSUPP) << op.name;
    EXPECT_EQ(rec_.handle, 0u) << op.name;
    expect_nothing_held(op, p, op.name);
  }
  backend_.supported.fill(false);  // nothing at all
  for (const OpSpec& op : kOps) {
    const Pair p = insert_for(op);
    EXPECT_EQ(prepare(valid(op, p.a, p.b)), -EOPNOTSUPP) << op.name;
    expect_nothing_held(op, p, op.name);
  }
}

TEST_F(OpPrepare, FlagsOutsideTheValidSetAreEinval) {
  for (const OpSpec& op : kOps) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      const auto flag = static_cast<std::uint8_t>(1u << bit);
      if ((flag & AIOD_SQE_VALID_FLAGS) != 0) continue;
      const Pair p = insert_for(op);
      aiod_sqe s = valid(op, p.a, p.b);
      s.flags = flag;
      EXPECT_EQ(prepare(s), -EINVAL) << op.name << " flag " << unsigned{flag};
      expect_nothing_held(op, p, op.name);
    }
  }
}

TEST_F(OpPrepare, BothLinkKindsAtOnceAreEinval) {
  for (const OpSpec& op : kOps) {
    const Pair p = insert_for(op);
    aiod_sqe s = valid(op, p.a, p.b);
    s.flags = AIOD_SQE_LINK | AIOD_SQE_HARDLINK;
    EXPECT_EQ(prepare(s), -EINVAL) << op.name;
    expect_nothing_held(op, p, op.name);
  }
}

TEST_F(OpPrepare, LinkFlagsBecomeTheRecordsLink) {
  const Inserted f = insert();
  aiod_sqe s = valid(spec(AIOD_OP_READ), f);  // read
  s.flags = AIOD_SQE_LINK;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.link, Link::soft);
  handles_.release(f.handle);
  s.flags = AIOD_SQE_HARDLINK;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.link, Link::hard);
  handles_.release(f.handle);
  s.flags = 0;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.link, Link::none);
  handles_.release(f.handle);
}

TEST_F(OpPrepare, ReservedFieldsMustBeZero) {
  for (const OpSpec& op : kOps) {
    for (int which = 0; which < 2; ++which) {
      const Pair p = insert_for(op);
      aiod_sqe s = valid(op, p.a, p.b);
      if (which == 0) {
        s.reserved0 = 1;
      } else {
        s.reserved1 = std::uint64_t{1} << 63;
      }
      EXPECT_EQ(prepare(s), -EINVAL) << op.name << (which == 0 ? " reserved0" : " reserved1");
      expect_nothing_held(op, p, op.name);
    }
  }
}

TEST_F(OpPrepare, FieldsAnOpcodeDoesNotUseMustBeZero) {
  for (const OpSpec& op : kOps) {
    for (const FieldSetter& field : kFields) {
      if ((op.used() & field.bit) != 0) continue;
      const Pair p = insert_for(op);
      aiod_sqe s = valid(op, p.a, p.b);
      field.set(s);
      EXPECT_EQ(prepare(s), -EINVAL) << op.name << " with " << field.name << " set";
      expect_nothing_held(op, p, std::string(op.name) + " " + field.name);
    }
  }
}

TEST_F(OpPrepare, HandlesTheSessionDoesNotHaveAreEbadf) {
  const Inserted stale = insert();
  ASSERT_EQ(handles_.close(stale.handle), 0);
  const Inserted referenced_then_closed = insert();
  ASSERT_GE(handles_.acquire(referenced_then_closed.handle), 0);
  ASSERT_EQ(handles_.close(referenced_then_closed.handle), 0);
  const std::uint32_t bad_handles[] = {0u,       AIOD_HANDLE_CWD, stale.handle,
                                       0x7ffffu, 0x7fffffffu,     referenced_then_closed.handle};

  for (const OpSpec& op : kOps) {
    if (op.handles == 0) continue;
    const bool dir_op = op.opcode == AIOD_OP_OPEN_AT || op.opcode == AIOD_OP_OPENAT2 ||
                        op.opcode == AIOD_OP_RENAME_AT || op.opcode == AIOD_OP_UNLINK_AT ||
                        op.opcode == AIOD_OP_MKDIR_AT || op.opcode == AIOD_OP_SYMLINK_AT || op.opcode == AIOD_OP_STATX;
    for (std::uint32_t bad : bad_handles) {
      if (dir_op && bad == AIOD_HANDLE_CWD) continue;  // names the cwd for *_at
      // The first (or only) handle is bad; the second, if any, is good.
      Pair p = insert_for(op);
      aiod_sqe s = valid(op, p.a, p.b);
      s.handle = bad;
      EXPECT_EQ(prepare(s), -EBADF) << op.name << " handle " << bad;
      EXPECT_EQ(rec_.handle, 0u);
      expect_nothing_held(op, p, std::string(op.name) + " bad first handle");
      if (op.handles < 2) continue;
      // The second handle is bad; the first, good, must be let go again.
      p = insert_for(op);
      s = valid(op, p.a, p.b);
      if (op.opcode == AIOD_OP_SPLICE) {
        s.mode = bad;
      } else {
        s.off = bad;
      }
      EXPECT_EQ(prepare(s), -EBADF) << op.name << " second handle " << bad;
      expect_nothing_held(op, p, std::string(op.name) + " bad second handle");
    }
  }
  EXPECT_TRUE(fd_open(referenced_then_closed.fd));
  handles_.release(referenced_then_closed.handle);
  EXPECT_TRUE(fd_closed(referenced_then_closed.fd));
}

// Options whose value holds a descriptor number (eBPF programs) or a pointer
// (classic BPF's sock_fprog, an AF_XDP umem) would be read by the kernel in
// the daemon's descriptor table or address space, not the client's; so
// would options whose answer the kernel gives as the daemon sees it (a
// pidfd, pages mapped into the caller). Only listed options pass.
TEST_F(OpPrepare, SocketOptionsPassOnlyFromTheList) {
  struct Case {
    std::uint8_t opcode;
    int level, name, want;
  };
  const Case cases[] = {
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_ATTACH_BPF, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_ATTACH_FILTER, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_DETACH_FILTER, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_PASSCRED, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, 76 /* SO_PASSPIDFD */, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_PACKET, PACKET_FANOUT_DATA, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_XDP, 4 /* XDP_UMEM_REG */, -EPERM},
      {AIOD_OP_GETSOCKOPT, SOL_SOCKET, SO_ATTACH_FILTER /* SO_GET_FILTER */, -EPERM},
      {AIOD_OP_GETSOCKOPT, SOL_SOCKET, 77 /* SO_PEERPIDFD */, -EPERM},
      {AIOD_OP_GETSOCKOPT, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, -EPERM},
      {AIOD_OP_GETSOCKOPT, SOL_XDP, 1, -EPERM},
      {AIOD_OP_SETSOCKOPT, SOL_PACKET, 1, -EOPNOTSUPP},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_PASSSEC, -EOPNOTSUPP},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_TYPE, -EOPNOTSUPP},  // read-only
      {AIOD_OP_SETSOCKOPT, IPPROTO_IP, IP_OPTIONS, -EOPNOTSUPP},
      {AIOD_OP_SETSOCKOPT, IPPROTO_TCP, TCP_REPAIR, -EOPNOTSUPP},
      {AIOD_OP_GETSOCKOPT, SOL_SOCKET, SO_PEERSEC, -EOPNOTSUPP},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_REUSEADDR, 0},
      {AIOD_OP_SETSOCKOPT, SOL_SOCKET, SO_MARK, 0},  // the kernel checks the client's capabilities
      {AIOD_OP_SETSOCKOPT, IPPROTO_TCP, TCP_NODELAY, 0},
      {AIOD_OP_SETSOCKOPT, IPPROTO_IPV6, IPV6_V6ONLY, 0},
      {AIOD_OP_GETSOCKOPT, SOL_SOCKET, SO_TYPE, 0},
      {AIOD_OP_GETSOCKOPT, SOL_SOCKET, SO_PEERCRED, 0},
      {AIOD_OP_GETSOCKOPT, IPPROTO_TCP, TCP_INFO, 0},
  };
  for (const Case& c : cases) {
    const Inserted f = insert();
    aiod_sqe s = valid(spec(c.opcode), f);
    s.off = static_cast<std::uint64_t>(c.level);
    s.op_flags = static_cast<std::uint32_t>(c.name);
    const std::string what = std::to_string(c.opcode) + " " + std::to_string(c.level) + "/" + std::to_string(c.name);
    ASSERT_EQ(prepare(s), c.want) << what;
    if (c.want < 0) {
      expect_no_reference(f, what);
    } else {
      expect_one_reference(f, what);
    }
  }
}

// Lengths: a set value may be empty (the kernel decides), a get needs room;
// neither may exceed 4 KiB. An address's room is clamped to what the kernel
// writes at most.
TEST_F(OpPrepare, SocketOptionAndAddressLengths) {
  struct Case {
    std::uint8_t opcode;
    std::uint32_t len;
    int want;
  };
  const Case cases[] = {
      {AIOD_OP_SETSOCKOPT, 0, 0},         {AIOD_OP_GETSOCKOPT, 0, -EINVAL},  {AIOD_OP_SETSOCKOPT, 4096, 0},
      {AIOD_OP_GETSOCKOPT, 4096, 0},      {AIOD_OP_SETSOCKOPT, 4097, -EINVAL}, {AIOD_OP_GETSOCKOPT, 4097, -EINVAL},
      {AIOD_OP_GETSOCKNAME, 0, -EINVAL},  {AIOD_OP_GETPEERNAME, 0, -EINVAL},
  };
  for (const Case& c : cases) {
    const Inserted f = insert();
    aiod_sqe s = valid(spec(c.opcode), f);
    s.len = c.len;
    const std::string what = std::to_string(c.opcode) + " len " + std::to_string(c.len);
    ASSERT_EQ(prepare(s), c.want) << what;
    if (c.want < 0) {
      expect_no_reference(f, what);
    } else {
      expect_one_reference(f, what);
    }
  }
  const Inserted f = insert();
  aiod_sqe s = valid(spec(AIOD_OP_GETSOCKNAME), f);
  s.len = 1000;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.op.as<op::Getsockname>().len, sizeof(sockaddr_storage));
  EXPECT_EQ(static_cast<const void*>(rec_.op.as<op::Getsockname>().addr),
            static_cast<const void*>(arena_.data() + kBufAt));
  expect_one_reference(f, "getsockname");
}

TEST_F(OpPrepare, ARecordIsResetBetweenUses) {
  const Inserted f = insert();
  ASSERT_EQ(prepare(valid(spec(AIOD_OP_READ), f)), 0);  // read: holds f
  handles_.release(f.handle);
  ASSERT_EQ(prepare(sqe(AIOD_OP_NOP)), 0);
  EXPECT_EQ(rec_.handle, 0u) << "a reused record still names the previous op's handle";
  EXPECT_TRUE(rec_.op.is<op::Nop>());
  EXPECT_EQ(rec_.finish, Finish::plain);
  EXPECT_EQ(rec_.user_data, kUserData);
  expect_no_reference(f, "nop after read");
}

// ---------------------------------------------------------------------------
// Per-opcode rules

TEST_F(OpPrepare, ReadAndWritePointIntoTheArena) {
  for (std::uint8_t opcode : {std::uint8_t{AIOD_OP_READ}, std::uint8_t{AIOD_OP_WRITE}}) {
    const Inserted f = insert();
    aiod_sqe s = sqe(opcode);
    s.handle = f.handle;
    s.addr = 1000;
    s.len = 300;
    s.off = 12345;
    ASSERT_EQ(prepare(s), 0);
    if (opcode == AIOD_OP_READ) {
      const auto& r = rec_.op.as<op::Read>();
      EXPECT_EQ(r.fd, f.fd);
      EXPECT_EQ(r.buf, static_cast<void*>(arena_.data() + 1000));
      EXPECT_EQ(r.len, 300u);
      EXPECT_EQ(r.offset, 12345u);
    } else {
      const auto& w = rec_.op.as<op::Write>();
      EXPECT_EQ(w.fd, f.fd);
      EXPECT_EQ(w.buf, static_cast<void*>(arena_.data() + 1000));
      EXPECT_EQ(w.len, 300u);
      EXPECT_EQ(w.offset, 12345u);
    }
    EXPECT_EQ(rec_.finish, Finish::plain);
    expect_one_reference(f, "read/write");

    const Inserted g = insert();
    s.handle = g.handle;
    s.off = AIOD_OFFSET_CURRENT;
    ASSERT_EQ(prepare(s), 0);
    const std::uint64_t offset =
        opcode == AIOD_OP_READ ? rec_.op.as<op::Read>().offset : rec_.op.as<op::Write>().offset;
    EXPECT_EQ(offset, std::numeric_limits<std::uint64_t>::max()) << "the file position";
    expect_one_reference(g, "read/write at the file position");
  }
}

TEST_F(OpPrepare, BuffersMustLieInsideTheArena) {
  const std::uint64_t size = kArenaSize;
  const std::uint64_t max64 = std::numeric_limits<std::uint64_t>::max();
  const struct {
    std::uint64_t addr;
    std::uint32_t len;
    int expected;
  } cases[] = {
      {0, 0, 0},
      {0, static_cast<std::uint32_t>(size), 0},
      {size - 10, 10, 0},
      {size, 0, 0},
      {size - 10, 11, -EFAULT},
      {size, 1, -EFAULT},
      {size + 1, 0, -EFAULT},
      {0, static_cast<std::uint32_t>(size) + 1, -EFAULT},
      {1, 0xffffffffu, -EFAULT},
      {max64, 2, -EFAULT},                            // addr + len wraps to 1
      {max64 - 0xfffffffeull, 0xffffffffu, -EFAULT},  // wraps to 0
      {max64, 0, -EFAULT},
      {std::uint64_t{1} << 63, 16, -EFAULT},
  };
  for (std::uint8_t opcode : {std::uint8_t{AIOD_OP_READ}, std::uint8_t{AIOD_OP_WRITE}}) {
    for (const auto& c : cases) {
      const Inserted f = insert();
      aiod_sqe s = sqe(opcode);
      s.handle = f.handle;
      s.addr = c.addr;
      s.len = c.len;
      const std::string what =
          "opcode " + std::to_string(opcode) + " addr " + std::to_string(c.addr) + " len " + std::to_string(c.len);
      EXPECT_EQ(prepare(s), c.expected) << what;
      if (c.expected == 0) {
        EXPECT_EQ(buf_of(rec_.op), static_cast<void*>(arena_.data() + c.addr)) << what;
        expect_one_reference(f, what);
      } else {
        expect_no_reference(f, what);
      }
    }
  }
}

TEST_F(OpPrepare, FsyncFlags) {
  Inserted f = insert();
  aiod_sqe s = sqe(AIOD_OP_FSYNC);
  s.handle = f.handle;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.op.as<op::Fsync>().fd, f.fd);
  EXPECT_FALSE(rec_.op.as<op::Fsync>().datasync);
  handles_.release(f.handle);

  s.op_flags = AIOD_FSYNC_DATASYNC;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_TRUE(rec_.op.as<op::Fsync>().datasync);
  handles_.release(f.handle);

  for (std::uint32_t bad : {2u, 4u, 0x80000000u, AIOD_FSYNC_DATASYNC | 2u}) {
    s.op_flags = bad;
    EXPECT_EQ(prepare(s), -EINVAL) << bad;
  }
  expect_no_reference(f, "fsync");
}

TEST_F(OpPrepare, TimeoutTurnsNanosecondsIntoATimespec) {
  const struct {
    std::uint64_t ns;
    std::int64_t sec;
    long long nsec;
  } cases[] = {
      {0, 0, 0},
      {1, 0, 1},
      {999'999'999, 0, 999'999'999},
      {1'000'000'000, 1, 0},
      {1'500'000'007, 1, 500'000'007},
      {std::numeric_limits<std::uint64_t>::max(), 18'446'744'073, 709'551'615},
  };
  for (const auto& c : cases) {
    aiod_sqe s = sqe(AIOD_OP_TIMEOUT);
    s.off = c.ns;
    ASSERT_EQ(prepare(s), 0) << c.ns;
    ASSERT_EQ(rec_.op.as<op::Timeout>().ts, &rec_.ts) << "the timespec must live in the record";
    EXPECT_EQ(rec_.ts.tv_sec, c.sec) << c.ns;
    EXPECT_EQ(rec_.ts.tv_nsec, c.nsec) << c.ns;
    EXPECT_EQ(rec_.finish, Finish::timer);
    EXPECT_EQ(rec_.handle, 0u);
  }
}

TEST_F(OpPrepare, CloseFileHoldsTheHandleUntilTheCloseHappens) {
  const Inserted f = insert();
  aiod_sqe s = sqe(AIOD_OP_CLOSE_FILE);
  s.handle = f.handle;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_TRUE(rec_.op.is<op::Nop>());
  EXPECT_EQ(rec_.finish, Finish::close_handle);
  EXPECT_EQ(rec_.handle, f.handle);
  expect_one_reference(f, "close_file");
}

// ---------------------------------------------------------------------------
// Vectored IO and messages: every range inside the arena

TEST_F(OpPrepare, VectoredIoChecksEveryEntry) {
  for (std::uint8_t opcode : {std::uint8_t{AIOD_OP_READV}, std::uint8_t{AIOD_OP_WRITEV}}) {
    const OpSpec& op = spec(opcode);
    const Inserted f = insert();
    ASSERT_EQ(prepare(valid(op, f)), 0);
    const iovec* iov = opcode == AIOD_OP_READV ? rec_.op.as<op::Readv>().iov : rec_.op.as<op::Writev>().iov;
    const std::uint32_t count =
        opcode == AIOD_OP_READV ? rec_.op.as<op::Readv>().count : rec_.op.as<op::Writev>().count;
    ASSERT_NE(iov, nullptr);
    EXPECT_EQ(count, 2u);
    EXPECT_EQ(iov[0].iov_base, static_cast<void*>(arena_.data() + kBufAt));
    EXPECT_EQ(iov[0].iov_len, 64u);
    EXPECT_EQ(iov[1].iov_base, static_cast<void*>(arena_.data() + kBufAt + 64));
    const char* arena_begin = reinterpret_cast<const char*>(arena_.data());
    const auto* table = reinterpret_cast<const char*>(iov);
    EXPECT_FALSE(table >= arena_begin && table < arena_begin + kArenaSize)
        << "the kernel would read the iovec table from shared memory";
    expect_one_reference(f, op.name);

    const std::uint64_t max64 = std::numeric_limits<std::uint64_t>::max();
    const struct {
      std::uint64_t table;
      std::uint32_t count;
      aiod_iovec second;
      int expected;
      const char* what;
    } cases[] = {
        {kIovAt, 0, {kBufAt, 1}, -EINVAL, "no entries"},
        {kIovAt, AIOD_IOV_MAX + 1, {kBufAt, 1}, -EINVAL, "too many entries"},
        {kArenaSize - 16, 2, {kBufAt, 1}, -EFAULT, "table past the arena's end"},
        {max64 - 8, 2, {kBufAt, 1}, -EFAULT, "table wrapping"},
        {kIovAt, 2, {kArenaSize - 8, 9}, -EFAULT, "entry past the arena's end"},
        {kIovAt, 2, {max64, 2}, -EFAULT, "entry wrapping"},
        {kIovAt, 2, {kArenaSize, 0}, 0, "empty entry at the end"},
    };
    for (const auto& c : cases) {
      const Inserted g = insert();
      aiod_sqe s = valid(op, g);
      const aiod_iovec entries[2] = {{kBufAt, 8}, c.second};
      put_struct(kIovAt, entries);
      s.addr = c.table;
      s.len = c.count;
      EXPECT_EQ(prepare(s), c.expected) << op.name << ": " << c.what;
      if (c.expected == 0) {
        expect_one_reference(g, c.what);
      } else {
        expect_no_reference(g, c.what);
      }
    }
  }
}

TEST_F(OpPrepare, MessageHeaderRules) {
  for (std::uint8_t opcode : {std::uint8_t{AIOD_OP_RECV_MSG}, std::uint8_t{AIOD_OP_SEND_MSG}}) {
    const OpSpec& op = spec(opcode);
    struct Case {
      const char* what;
      void (*edit)(aiod_sqe&, aiod_msghdr&);
      int expected;
    };
    const Case cases[] = {
        {"short header", [](aiod_sqe& s, aiod_msghdr&) { s.len = sizeof(aiod_msghdr) - 1; }, -EINVAL},
        {"long header", [](aiod_sqe& s, aiod_msghdr&) { s.len = sizeof(aiod_msghdr) + 1; }, -EINVAL},
        {"header outside", [](aiod_sqe& s, aiod_msghdr&) { s.addr = kArenaSize - 8; }, -EFAULT},
        {"reserved", [](aiod_sqe&, aiod_msghdr& h) { h.reserved = 1; }, -EINVAL},
        {"too many iovecs", [](aiod_sqe&, aiod_msghdr& h) { h.iov_count = AIOD_IOV_MAX + 1; }, -EINVAL},
        {"iovecs outside", [](aiod_sqe&, aiod_msghdr& h) { h.iov = kArenaSize - 8; }, -EFAULT},
        {"huge control",
         [](aiod_sqe&, aiod_msghdr& h) {
           h.control = 0;
           h.control_len = std::uint64_t{1} << 40;
         },
         -EINVAL},
        {"control outside",
         [](aiod_sqe&, aiod_msghdr& h) {
           h.control = kArenaSize - 8;
           h.control_len = 64;
         },
         -EFAULT},
        {"name outside",
         [](aiod_sqe&, aiod_msghdr& h) {
           h.name = kArenaSize;
           h.name_len = 16;
         },
         -EFAULT},
    };
    for (const Case& c : cases) {
      const Inserted f = insert();
      aiod_sqe s = valid(op, f);
      aiod_msghdr h{};
      std::memcpy(&h, arena_.data() + kMsgAt, sizeof(h));
      c.edit(s, h);
      put_struct(kMsgAt, h);
      EXPECT_EQ(prepare(s), c.expected) << op.name << ": " << c.what;
      expect_no_reference(f, std::string(op.name) + ": " + c.what);
    }
  }
}

// Writes a control message (SCM_RIGHTS by default) carrying `handles` into the
// arena at `offset`; returns its length.
std::uint64_t put_rights(std::vector<std::byte>& arena, std::uint64_t offset, const std::vector<std::uint32_t>& handles,
                         int level = SOL_SOCKET, int type = SCM_RIGHTS) {
  const std::vector<std::byte> control = aiod::test::handles_message(handles, level, type);
  std::memcpy(arena.data() + offset, control.data(), control.size());
  return control.size();
}

TEST_F(OpPrepare, SendMsgTurnsHandlesIntoDescriptorsAndHoldsThem) {
  const Inserted sock = insert();
  const Inserted x = insert();
  const Inserted y = insert();
  aiod_sqe s = valid(spec(AIOD_OP_SEND_MSG), sock);
  put_msghdr(kControlAt, put_rights(arena_, kControlAt, {x.handle, y.handle}));
  ASSERT_EQ(prepare(s), 0);
  const msghdr* m = rec_.op.as<op::Sendmsg>().msg;
  ASSERT_NE(m, nullptr);
  ASSERT_NE(m->msg_control, nullptr);
  const cmsghdr* c = CMSG_FIRSTHDR(m);
  ASSERT_NE(c, nullptr);
  int fds[2];
  std::memcpy(fds, CMSG_DATA(c), sizeof(fds));
  EXPECT_EQ(fds[0], x.fd) << "the kernel must see the daemon's descriptor, not the handle";
  EXPECT_EQ(fds[1], y.fd);
  EXPECT_EQ(rec_.passed.size(), 2u);
  expect_one_reference(x, "passed handle x");
  expect_one_reference(y, "passed handle y");
  expect_one_reference(sock, "socket");
}

// A read is marked to be tried at once only for a regular file the daemon
// opened itself, and not once that descriptor has been sent away: a client
// holding the description could switch it to O_DIRECT.
// A pipe's reads and writes take its mutex even when told not to block, and
// a client's blocking splice into the pipe holds it: every op on a pipe (an
// "event source" that is really a pipe included) is marked never to run on
// the shard thread, and the same op on an eventfd is not.
TEST_F(OpPrepare, OpsOnAPipeNeverRunInline) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const auto r = handles_.insert(UniqueFd(p[0]));
  const auto w = handles_.insert(UniqueFd(p[1]));
  ASSERT_GT(r, 0);
  ASSERT_GT(w, 0);
  const Inserted read_end{static_cast<std::uint32_t>(r), p[0]};
  const Inserted write_end{static_cast<std::uint32_t>(w), p[1]};
  const Inserted efd = insert();
  for (std::uint8_t opcode : {AIOD_OP_READ, AIOD_OP_READ_TTY, AIOD_OP_READV, AIOD_OP_WRITE, AIOD_OP_WRITEV,
                              AIOD_OP_WAIT_EVENT_SOURCE, AIOD_OP_NOTIFY_EVENT_SOURCE, AIOD_OP_POLL}) {
    const OpSpec& op = spec(opcode);
    const bool reads = opcode == AIOD_OP_READ || opcode == AIOD_OP_READ_TTY || opcode == AIOD_OP_READV ||
                       opcode == AIOD_OP_WAIT_EVENT_SOURCE || opcode == AIOD_OP_POLL;
    ASSERT_EQ(prepare(valid(op, reads ? read_end : write_end)), 0) << op.name;
    EXPECT_TRUE(rec_.op.never_inline) << op.name << " on a pipe may run on the shard thread";
    handles_.release(rec_.handle);
    ASSERT_EQ(prepare(valid(op, efd)), 0) << op.name;
    EXPECT_FALSE(rec_.op.never_inline) << op.name << " on an eventfd is kept off the shard for nothing";
    handles_.release(rec_.handle);
  }
}

TEST_F(OpPrepare, OnlyReadsOfTheDaemonsOwnFilesMayBeTriedAtOnce) {
  char dir[] = "/tmp/aiod-prepare-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/f";
  auto open_as = [&](HandleTable::Description d) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    const std::int64_t h = handles_.insert(UniqueFd(fd), d);
    EXPECT_GT(h, 0);
    return Inserted{static_cast<std::uint32_t>(h), fd};
  };
  auto tried_at_once = [&](const Inserted& f) {
    EXPECT_EQ(prepare(valid(spec(AIOD_OP_READ), f)), 0);
    const op::Read read = rec_.op.as<op::Read>();
    handles_.release(f.handle);
    EXPECT_EQ(read.at_once_refused, read.try_at_once ? &rec_.at_once_refused : nullptr);
    return read.try_at_once;
  };
  const Inserted own = open_as(HandleTable::Description::daemons_own);
  const Inserted registered = open_as(HandleTable::Description::shared);
  EXPECT_TRUE(tried_at_once(own));
  EXPECT_FALSE(tried_at_once(registered)) << "a descriptor the client passed in";
  const Inserted sock = insert();
  aiod_sqe s = valid(spec(AIOD_OP_SEND_MSG), sock);
  put_msghdr(kControlAt, put_rights(arena_, kControlAt, {own.handle}));
  ASSERT_EQ(prepare(s), 0);
  EXPECT_FALSE(tried_at_once(own)) << "a descriptor sent away with SCM_RIGHTS";
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST_F(OpPrepare, SendMsgWithABadPassedHandleHoldsNothing) {
  const Inserted sock = insert();
  const Inserted x = insert();
  aiod_sqe s = valid(spec(AIOD_OP_SEND_MSG), sock);
  put_msghdr(kControlAt, put_rights(arena_, kControlAt, {x.handle, 0x7ffffu}));
  EXPECT_EQ(prepare(s), -EBADF);
  EXPECT_TRUE(rec_.passed.empty());
  expect_no_reference(x, "the good handle before the bad one");
  expect_no_reference(sock, "socket");
}

TEST_F(OpPrepare, SendMsgMayNotForgeCredentials) {
  const Inserted sock = insert();
  aiod_sqe s = valid(spec(AIOD_OP_SEND_MSG), sock);
  put_msghdr(kControlAt, put_rights(arena_, kControlAt, {0, 0, 0}, SOL_SOCKET, SCM_CREDENTIALS));
  EXPECT_EQ(prepare(s), -EPERM);
  expect_no_reference(sock, "socket");
}

// A cmsg_len larger than the control data must be refused before the daemon
// reads handles from (and writes descriptors to) memory past its copy.
TEST_F(OpPrepare, SendMsgControlLengthsAreCheckedBeforeUse) {
  const Inserted sock = insert();
  const Inserted x = insert();
  // First use of the record: 32 bytes of control data, an unrelated message
  // whose payload is x's handle four times (the record keeps that buffer).
  aiod_sqe s = valid(spec(AIOD_OP_SEND_MSG), sock);
  put_msghdr(kControlAt, put_rights(arena_, kControlAt, {x.handle, x.handle, x.handle, x.handle}, SOL_SOCKET, 99));
  ASSERT_EQ(prepare(s), 0);
  handles_.release(sock.handle);
  // Second use: 20 bytes of control data (header + one handle) whose header
  // claims 32.
  const std::uint64_t len = put_rights(arena_, kControlAt, {x.handle, x.handle, x.handle, x.handle});
  ASSERT_EQ(len, 32u);
  put_msghdr(kControlAt, CMSG_LEN(sizeof(int)));
  const int err = prepare(s);
  EXPECT_EQ(err, -EINVAL) << "a control message longer than the control data was accepted";
  if (err == 0) {
    EXPECT_LE(rec_.passed.size(), 1u) << "handles were taken from past the control data";
    return;
  }
  expect_no_reference(x, "the handle in the control data");
  expect_no_reference(sock, "socket");
}

TEST_F(OpPrepare, DescriptorsTheKernelCreatesAreCloseOnExec) {
  const Inserted f = insert();
  ASSERT_EQ(prepare(valid(spec(AIOD_OP_SOCKET), f)), 0);
  EXPECT_NE(rec_.op.as<op::Socket>().type & SOCK_CLOEXEC, 0) << "socket";
  EXPECT_EQ(rec_.op.as<op::Socket>().type & ~SOCK_CLOEXEC, SOCK_STREAM);
  EXPECT_EQ(rec_.op.as<op::Socket>().domain, AF_INET) << "domain";
  ASSERT_EQ(prepare(valid(spec(AIOD_OP_ACCEPT), f)), 0);
  EXPECT_NE(rec_.op.as<op::Accept>().flags & SOCK_CLOEXEC, 0u) << "accept";
  handles_.release(f.handle);
  ASSERT_EQ(prepare(valid(spec(AIOD_OP_RECV_MSG), f)), 0);
  EXPECT_NE(rec_.op.as<op::Recvmsg>().flags & MSG_CMSG_CLOEXEC, 0u) << "descriptors received by recv_msg";
  handles_.release(f.handle);
  expect_no_reference(f, "cloexec");
}

TEST_F(OpPrepare, SendsNeverRaiseSigpipeInTheDaemon) {
  for (std::uint8_t opcode : {std::uint8_t{AIOD_OP_SEND}, std::uint8_t{AIOD_OP_SEND_MSG}}) {
    const Inserted f = insert();
    ASSERT_EQ(prepare(valid(spec(opcode), f)), 0);
    EXPECT_NE(msg_flags_of(rec_.op) & MSG_NOSIGNAL, 0u) << spec(opcode).name;
    expect_one_reference(f, spec(opcode).name);
  }
}

TEST_F(OpPrepare, OpFlagsOutsideEachOpcodesSetAreEinval) {
  const struct {
    std::uint8_t opcode;
    std::uint32_t op_flags;
  } cases[] = {
      {AIOD_OP_POLL, 1u << 30},
      {AIOD_OP_ACCEPT, SOCK_CLOEXEC},
      {AIOD_OP_ACCEPT, 1},
      {AIOD_OP_LISTEN, 0x80000000u},
      {AIOD_OP_SHUTDOWN, 3},
      {AIOD_OP_RECV, 1u << 31},
      {AIOD_OP_SEND, 1u << 31},
      {AIOD_OP_RECV_MSG, 1u << 31},
      {AIOD_OP_SEND_MSG, 1u << 31},
      {AIOD_OP_RENAME_AT, 1u << 10},
      {AIOD_OP_UNLINK_AT, AT_SYMLINK_NOFOLLOW},
      {AIOD_OP_CHILD_EXIT, 2},
      {AIOD_OP_SPLICE, 1u << 10},
      {AIOD_OP_STATX, AT_REMOVEDIR},
      {AIOD_OP_FSYNC, 2},
  };
  for (const auto& c : cases) {
    const OpSpec& op = spec(c.opcode);
    const Pair p = insert_for(op);
    aiod_sqe s = valid(op, p.a, p.b);
    s.op_flags = c.op_flags;
    EXPECT_EQ(prepare(s), -EINVAL) << op.name << " op_flags " << std::hex << c.op_flags;
    expect_nothing_held(op, p, op.name);
  }
}

TEST_F(OpPrepare, NumericArgumentsOutOfRangeAreRefused) {
  const Inserted f = insert();
  aiod_sqe s = valid(spec(AIOD_OP_SOCKET), f);
  s.off = std::uint64_t{1} << 32;  // domain
  EXPECT_EQ(prepare(s), -EINVAL);
  s = valid(spec(AIOD_OP_SOCKET), f);
  s.mode = 0x80000000u;  // protocol
  EXPECT_EQ(prepare(s), -EINVAL);
  s = valid(spec(AIOD_OP_OPENAT2), f);
  s.off = std::uint64_t{1} << 40;  // unknown RESOLVE_* bit
  EXPECT_EQ(prepare(s), -EINVAL);
  s = valid(spec(AIOD_OP_RENAME_AT), f, f);
  s.off = std::uint64_t{f.handle} | (std::uint64_t{1} << 32);  // not a 32-bit handle
  EXPECT_EQ(prepare(s), -EBADF);
  expect_no_reference(f, "numeric ranges");
}

TEST_F(OpPrepare, SocketAddressesAreCopiedAndChecked) {
  for (std::uint8_t opcode : {std::uint8_t{AIOD_OP_CONNECT}, std::uint8_t{AIOD_OP_BIND}}) {
    const OpSpec& op = spec(opcode);
    const Inserted f = insert();
    ASSERT_EQ(prepare(valid(op, f)), 0);
    const sockaddr* copy = opcode == AIOD_OP_CONNECT ? rec_.op.as<op::Connect>().addr : rec_.op.as<op::Bind>().addr;
    const socklen_t copy_len =
        opcode == AIOD_OP_CONNECT ? rec_.op.as<op::Connect>().addr_len : rec_.op.as<op::Bind>().addr_len;
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy_len, sizeof(sockaddr_in));
    std::memset(arena_.data() + kAddrAt, 0, sizeof(sockaddr_in));  // the client changes it afterwards
    const auto* sin = reinterpret_cast<const sockaddr_in*>(copy);
    EXPECT_EQ(sin->sin_family, AF_INET) << "the kernel would read the address from shared memory";
    EXPECT_EQ(sin->sin_port, htons(8080));
    expect_one_reference(f, op.name);

    for (const auto& [addr, len, expected] :
         {std::tuple{kAddrAt, std::uint32_t{0}, -EINVAL},
          std::tuple{kAddrAt, std::uint32_t{sizeof(sockaddr_storage) + 1}, -EINVAL},
          std::tuple{std::uint64_t{kArenaSize - 4}, std::uint32_t{sizeof(sockaddr_in)}, -EFAULT}}) {
      const Inserted g = insert();
      aiod_sqe s = valid(op, g);
      s.addr = addr;
      s.len = len;
      EXPECT_EQ(prepare(s), expected) << op.name << " len " << len;
      expect_no_reference(g, op.name);
    }
  }
}

// Writes an AF_UNIX address of `path` into the arena at `offset`; returns its length.
std::uint32_t put_unix(std::vector<std::byte>& arena, std::uint64_t offset, const std::string& path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.data(), std::min(path.size(), sizeof(un.sun_path)));
  std::memcpy(arena.data() + offset, &un, sizeof(un));
  return static_cast<std::uint32_t>(offsetof(sockaddr_un, sun_path) + path.size());
}

TEST_F(OpPrepare, UnixSocketPathsResolveAsTheClientsWould) {
  const Inserted f = insert();
  aiod_sqe s = valid(spec(AIOD_OP_CONNECT), f);
  s.len = put_unix(arena_, kAddrAt, "/run/app.sock");
  EXPECT_EQ(prepare(s), 0) << "absolute";
  handles_.release(f.handle);
  s.len = put_unix(arena_, kAddrAt, std::string("\0abstract", 9));
  EXPECT_EQ(prepare(s), 0) << "abstract";
  handles_.release(f.handle);
  s.len = put_unix(arena_, kAddrAt, "app.sock");
  EXPECT_EQ(prepare(s), -EINVAL) << "relative: the daemon's cwd is not the client's";
  protect_socket("@aiod-unit-protected");
  s.len = put_unix(arena_, kAddrAt, std::string("\0aiod-unit-protected", 20));
  EXPECT_EQ(prepare(s), -EACCES) << "the daemon's own notify socket";
  ctx_.foreign_root = true;
  s.len = put_unix(arena_, kAddrAt, "/run/app.sock");
  ASSERT_EQ(prepare(s), 0) << "a foreign root's socket path";
  EXPECT_EQ(rec_.op.as<op::Connect>().unix_root, root_.get()) << "walked from the client's root";
  EXPECT_NE(rec_.op.resolve & RESOLVE_IN_ROOT, 0u);
  handles_.release(f.handle);
  s.len = put_unix(arena_, kAddrAt, std::string("\0abstract", 9));
  EXPECT_EQ(prepare(s), 0) << "abstract names are not paths";
  handles_.release(f.handle);
  expect_no_reference(f, "unix paths");
}

TEST_F(OpPrepare, AcceptPeerAddressRules) {
  const OpSpec& op = spec(AIOD_OP_ACCEPT);
  const struct {
    std::uint64_t addr2;
    std::uint32_t len2;
    int expected;
  } cases[] = {
      {0, 0, 0},
      {kOutAt, sizeof(aiod_sockaddr_out), 0},
      {kOutAt, sizeof(aiod_sockaddr_out) - 1, -EINVAL},
      {kOutAt, 0, -EINVAL},
      {kArenaSize - 8, sizeof(aiod_sockaddr_out), -EFAULT},
  };
  for (const auto& c : cases) {
    const Inserted f = insert();
    aiod_sqe s = valid(op, f);
    s.addr2 = c.addr2;
    s.len2 = c.len2;
    EXPECT_EQ(prepare(s), c.expected) << "addr2 " << c.addr2 << " len2 " << c.len2;
    if (c.expected == 0) {
      EXPECT_NE(static_cast<void*>(rec_.op.as<op::Accept>().addr_len), static_cast<void*>(arena_.data() + kOutAt))
          << "the kernel would write the address length into shared memory";
      expect_one_reference(f, "accept");
    } else {
      expect_no_reference(f, "accept");
    }
  }
}

// ---------------------------------------------------------------------------
// Paths of the other *_at operations

TEST_F(OpPrepare, PathOpsApplyThePathRulesToEveryPath) {
  for (std::uint8_t opcode :
       {std::uint8_t{AIOD_OP_UNLINK_AT}, std::uint8_t{AIOD_OP_MKDIR_AT}, std::uint8_t{AIOD_OP_RENAME_AT},
        std::uint8_t{AIOD_OP_SYMLINK_AT}, std::uint8_t{AIOD_OP_STATX}, std::uint8_t{AIOD_OP_OPENAT2}}) {
    const OpSpec& op = spec(opcode);
    const bool two_paths = opcode == AIOD_OP_RENAME_AT || opcode == AIOD_OP_SYMLINK_AT;
    put(0, std::string("a\0b", 3));
    const struct {
      std::uint64_t addr;
      std::uint32_t len;
      int expected;
    } cases[] = {
        {kPathAt, 0, -ENOENT},
        {0, 3, -EINVAL},
        {0, PATH_MAX, -ENAMETOOLONG},
        {kArenaSize - 2, 3, -EFAULT},
    };
    for (const auto& c : cases) {
      for (int which = 0; which < (two_paths ? 2 : 1); ++which) {
        const Pair p = insert_for(op);
        aiod_sqe s = valid(op, p.a, p.b);
        if (which == 0) {
          s.addr = c.addr;
          s.len = c.len;
        } else {
          s.addr2 = c.addr;
          s.len2 = c.len;
        }
        EXPECT_EQ(prepare(s), c.expected) << op.name << (which == 0 ? " path" : " second path") << " len " << c.len;
        expect_nothing_held(op, p, op.name);
      }
    }
    // Paths are private copies.
    const Pair p = insert_for(op);
    ASSERT_EQ(prepare(valid(op, p.a, p.b)), 0) << op.name;
    put(kPathAt, "XXXXXXXX");
    put(kPath2At, "YYYYYYYYY");
    EXPECT_STREQ(path_of(rec_.op), "dir/file") << op.name;
    if (two_paths) {
      EXPECT_STREQ(path2_of(rec_.op), "dir/other") << op.name;
    }
    expect_held(op, p, op.name);
  }
}

TEST_F(OpPrepare, MkdirModeIsMaskedByTheClientsUmask) {
  const Inserted f = insert();
  ctx_.umask = 027;
  aiod_sqe s = valid(spec(AIOD_OP_MKDIR_AT), f);
  s.mode = 0777;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.op.as<op::Mkdirat>().mode, 0750u);
  handles_.release(f.handle);
  s.mode = 0xffffffffu;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.op.as<op::Mkdirat>().mode, 07750u) << "only permission bits reach the kernel";
  handles_.release(f.handle);
  expect_no_reference(f, "mkdir");
}

TEST_F(OpPrepare, StatxRules) {
  const OpSpec& op = spec(AIOD_OP_STATX);
  {
    const Inserted f = insert();
    aiod_sqe s = valid(op, f);
    ASSERT_EQ(prepare(s), 0);
    EXPECT_EQ(static_cast<void*>(rec_.op.as<op::Statx>().out), static_cast<void*>(arena_.data() + kStatxAt));
    EXPECT_EQ(rec_.op.as<op::Statx>().mask, unsigned{STATX_BASIC_STATS}) << "mask";
    expect_one_reference(f, "statx");
  }
  const struct {
    const char* what;
    std::uint64_t addr2;
    std::uint32_t len2;
    int expected;
  } cases[] = {
      {"short result", kStatxAt, sizeof(struct statx) - 1, -EINVAL},
      {"result outside", kArenaSize - 8, sizeof(struct statx), -EFAULT},
      {"no result", 0, 0, -EINVAL},
  };
  for (const auto& c : cases) {
    const Inserted f = insert();
    aiod_sqe s = valid(op, f);
    s.addr2 = c.addr2;
    s.len2 = c.len2;
    EXPECT_EQ(prepare(s), c.expected) << c.what;
    expect_no_reference(f, c.what);
  }
  // An empty path names the handle itself, with AT_EMPTY_PATH only.
  const Inserted f = insert();
  aiod_sqe s = valid(op, f);
  s.addr = 0;
  s.len = 0;
  EXPECT_EQ(prepare(s), -ENOENT);
  s.op_flags = AT_EMPTY_PATH;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.op.as<op::Statx>().dir, f.fd);
  expect_one_reference(f, "statx of a handle");
}

TEST_F(OpPrepare, AForeignRootConfinesOrRefusesPaths) {
  ctx_.foreign_root = true;
  // Opens are confined to where they start.
  for (std::uint8_t opcode : {std::uint8_t{AIOD_OP_OPEN_AT}, std::uint8_t{AIOD_OP_OPENAT2}}) {
    for (bool cwd : {true, false}) {
      const Inserted f = insert();
      aiod_sqe s = valid(spec(opcode), f);
      if (cwd) s.handle = AIOD_HANDLE_CWD;
      ASSERT_EQ(prepare(s), 0) << spec(opcode).name;
      EXPECT_NE(rec_.how.resolve & RESOLVE_IN_ROOT, 0u) << spec(opcode).name << (cwd ? " from the cwd" : "");
      if (cwd) {
        expect_no_reference(f, "open from the cwd");
      } else {
        expect_one_reference(f, "open from a directory handle");
      }
    }
  }
  // The other path ops are confined the same way (the backend walks with
  // rec.op.resolve).
  for (std::uint8_t opcode :
       {std::uint8_t{AIOD_OP_UNLINK_AT}, std::uint8_t{AIOD_OP_MKDIR_AT}, std::uint8_t{AIOD_OP_RENAME_AT},
        std::uint8_t{AIOD_OP_SYMLINK_AT}, std::uint8_t{AIOD_OP_STATX}}) {
    const OpSpec& op = spec(opcode);
    const Pair p = insert_for(op);
    aiod_sqe s = valid(op, p.a, p.b);
    ASSERT_EQ(prepare(s), 0) << op.name;
    EXPECT_NE(rec_.op.resolve & RESOLVE_IN_ROOT, 0u) << op.name;
    expect_held(op, p, op.name);
  }
  // An absolute path starts at the client's root.
  aiod_sqe s = valid(spec(AIOD_OP_MKDIR_AT), insert());
  put(kPathAt, "/etc/x");
  s.handle = AIOD_HANDLE_CWD;
  s.addr = kPathAt;
  s.len = 6;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(dir_of(rec_.op), root_.get()) << "an absolute path of a foreign root must start at the client's root";
  EXPECT_NE(rec_.op.resolve & RESOLVE_IN_ROOT, 0u);
}

TEST_F(OpPrepare, SpliceNamesBothEnds) {
  const Inserted in = insert();
  const Inserted out = insert();
  aiod_sqe s = valid(spec(AIOD_OP_SPLICE), in, out);
  s.off = 10;
  s.addr2 = 20;
  ASSERT_EQ(prepare(s), 0);
  const auto& splice = rec_.op.as<op::Splice>();
  EXPECT_EQ(splice.in, in.fd);
  EXPECT_EQ(splice.in_offset, 10u);
  EXPECT_EQ(splice.out, out.fd);
  EXPECT_EQ(splice.out_offset, 20u);
  EXPECT_EQ(splice.len, 100u);
  expect_one_reference(in, "splice in");
  expect_one_reference(out, "splice out");
}

// ---------------------------------------------------------------------------
// open_at

TEST_F(OpPrepare, OpenAtRelativeToTheCwd) {
  put(kPathAt, "sub/notes.txt");
  aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
  s.handle = AIOD_HANDLE_CWD;
  s.addr = kPathAt;
  s.len = 13;
  s.op_flags = O_RDONLY;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.op.as<op::Openat2>().dir, cwd_.get());
  EXPECT_EQ(rec_.path, "sub/notes.txt");
  EXPECT_EQ(rec_.op.as<op::Openat2>().path, rec_.path.c_str()) << "the path must be the record's copy";
  EXPECT_EQ(rec_.op.as<op::Openat2>().how, &rec_.how);
  EXPECT_EQ(rec_.how.resolve & RESOLVE_IN_ROOT, 0u);
  EXPECT_EQ(rec_.finish, Finish::new_handle);
  EXPECT_EQ(rec_.handle, 0u) << "the cwd is not a handle";
}

TEST_F(OpPrepare, OpenAtAbsoluteResolvesInTheClientsRoot) {
  put(kPathAt, "/etc/hostname");
  for (std::uint32_t dir : {AIOD_HANDLE_CWD, 0u}) {
    aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
    s.handle = dir;
    s.addr = kPathAt;
    s.len = 13;
    ASSERT_EQ(prepare(s), 0) << dir;
    EXPECT_EQ(rec_.op.as<op::Openat2>().dir, root_.get());
    EXPECT_EQ(rec_.how.resolve, std::uint64_t{RESOLVE_IN_ROOT});
    EXPECT_EQ(rec_.path, "/etc/hostname");
  }
}

TEST_F(OpPrepare, OpenAtRelativeToADirectoryHandle) {
  const Inserted dir = insert();
  put(kPathAt, "x");
  aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
  s.handle = dir.handle;
  s.addr = kPathAt;
  s.len = 1;
  ASSERT_EQ(prepare(s), 0);
  EXPECT_EQ(rec_.op.as<op::Openat2>().dir, dir.fd);
  EXPECT_EQ(rec_.handle, dir.handle);
  expect_one_reference(dir, "open_at dir handle");

  s.handle = dir.handle;  // closed now
  EXPECT_EQ(prepare(s), -EBADF);
  s.handle = 0;
  EXPECT_EQ(prepare(s), -EBADF);
}

TEST_F(OpPrepare, OpenAtAlwaysAddsCloexecAndNoctty) {
  put(kPathAt, "f");
  for (std::uint32_t flags : {unsigned{O_RDONLY}, unsigned{O_WRONLY | O_APPEND}, unsigned{O_RDWR | O_CLOEXEC},
                              unsigned{O_RDONLY | O_DIRECTORY | O_NOFOLLOW}}) {
    aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
    s.handle = AIOD_HANDLE_CWD;
    s.addr = kPathAt;
    s.len = 1;
    s.op_flags = flags;
    ASSERT_EQ(prepare(s), 0) << std::hex << flags;
    EXPECT_EQ(rec_.how.flags, std::uint64_t{flags | O_CLOEXEC | O_NOCTTY}) << std::hex << flags;
    EXPECT_EQ(rec_.how.mode, 0u);
  }
}

TEST_F(OpPrepare, OpenAtModeIsMaskedByTheClientsUmask) {
  put(kPathAt, "f");
  const struct {
    std::uint32_t flags, mode, umask, expected;
  } cases[] = {
      {O_CREAT | O_WRONLY, 0666, 022, 0644},       {O_CREAT | O_WRONLY, 0666, 0, 0666},
      {O_CREAT | O_RDWR, 0777, 077, 0700},         {O_CREAT | O_EXCL | O_RDWR, 07777, 022, 07755},
      {O_CREAT | O_WRONLY, 0100644, 022, 0644},  // file-type bits are not permissions
      {O_CREAT | O_WRONLY, 0xffffffffu, 0, 07777}, {O_CREAT | O_WRONLY, 0, 022, 0},
      {O_TMPFILE | O_RDWR, 0600, 022, 0600},       {O_TMPFILE | O_WRONLY, 0666, 027, 0640},
  };
  for (const auto& c : cases) {
    ctx_.umask = c.umask;
    aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
    s.handle = AIOD_HANDLE_CWD;
    s.addr = kPathAt;
    s.len = 1;
    s.op_flags = c.flags;
    s.mode = c.mode;
    ASSERT_EQ(prepare(s), 0) << std::oct << "mode " << c.mode << " umask " << c.umask;
    EXPECT_EQ(rec_.how.mode, std::uint64_t{c.expected}) << std::oct << "mode " << c.mode << " umask " << c.umask;
  }
}

TEST_F(OpPrepare, OpenAtModeWithoutCreatingIsEinval) {
  put(kPathAt, "f");
  const Inserted dir = insert();
  for (std::uint32_t flags :
       {unsigned{O_RDONLY}, unsigned{O_RDWR | O_TRUNC}, unsigned{O_DIRECTORY}, unsigned{O_WRONLY | O_EXCL}}) {
    aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
    s.handle = dir.handle;
    s.addr = kPathAt;
    s.len = 1;
    s.op_flags = flags;
    s.mode = 0644;
    EXPECT_EQ(prepare(s), -EINVAL) << std::hex << flags;
  }
  expect_no_reference(dir, "open_at with a stray mode");
}

TEST_F(OpPrepare, OpenAtPathRules) {
  const Inserted dir = insert();
  const std::string longest(PATH_MAX - 1, 'a');
  const std::string too_long(PATH_MAX, 'a');
  put(0, std::string("a\0b", 3));
  put(16, std::string("\0ab", 3));
  put(32, std::string("ab\0", 3));
  put(4096, longest);
  put(16384, too_long);
  put(kArenaSize - 4, "tail");
  const struct {
    std::uint64_t addr;
    std::uint32_t len;
    int expected;
    const char* what;
  } cases[] = {
      {kPathAt, 0, -ENOENT, "empty"},
      {0, 3, -EINVAL, "embedded NUL"},
      {16, 3, -EINVAL, "leading NUL"},
      {32, 3, -EINVAL, "NUL counted in the length"},
      {4096, PATH_MAX - 1, 0, "PATH_MAX - 1 bytes"},
      {16384, PATH_MAX, -ENAMETOOLONG, "PATH_MAX bytes"},
      {0, 0xffffffffu, -ENAMETOOLONG, "4 GiB"},
      {kArenaSize - 4, 4, 0, "at the arena's end"},
      {kArenaSize - 4, 5, -EFAULT, "past the arena's end"},
      {kArenaSize, 1, -EFAULT, "outside the arena"},
      {std::numeric_limits<std::uint64_t>::max(), 2, -EFAULT, "wrapping"},
  };
  for (const auto& c : cases) {
    for (std::uint32_t h : {AIOD_HANDLE_CWD, dir.handle}) {
      aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
      s.handle = h;
      s.addr = c.addr;
      s.len = c.len;
      EXPECT_EQ(prepare(s), c.expected) << c.what;
      if (c.expected == 0) {
        EXPECT_EQ(rec_.path.size(), c.len) << c.what;
        if (h == dir.handle) handles_.release(dir.handle);
      }
    }
  }
  expect_no_reference(dir, "open_at path rules");
}

TEST_F(OpPrepare, OpenAtPathIsAPrivateCopy) {
  put(kPathAt, "original");
  aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
  s.handle = AIOD_HANDLE_CWD;
  s.addr = kPathAt;
  s.len = 8;
  ASSERT_EQ(prepare(s), 0);
  put(kPathAt, "/etc/shadow");  // the client rewrites the arena afterwards
  const char* path = rec_.op.as<op::Openat2>().path;
  EXPECT_STREQ(path, "original");
  EXPECT_EQ(rec_.op.as<op::Openat2>().dir, cwd_.get());
  const char* arena_begin = reinterpret_cast<const char*>(arena_.data());
  EXPECT_FALSE(path >= arena_begin && path < arena_begin + kArenaSize)
      << "the kernel would read the path from shared memory";
}

// Runs a prepared open the way the backend would: openat2(dir, path, how).
int run_openat2(const OpRecord& rec) {
  const auto& o = rec.op.as<op::Openat2>();
  const long fd = ::syscall(SYS_openat2, o.dir, o.path, o.how, sizeof(open_how));
  return fd < 0 ? -errno : static_cast<int>(fd);
}

TEST_F(OpPrepare, PreparedOpensWorkForReal) {
  char tmpl[] = "/tmp/aiod-unit-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path base(tmpl);
  std::ofstream(base / "file") << "data";
  UniqueFd cwd(::open(tmpl, O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(cwd.valid());
  ctx_.cwd_fd = cwd.get();

  const struct {
    std::string path;
    std::uint32_t flags;
  } cases[] = {
      {"file", O_RDONLY},
      {"file", O_RDWR | O_APPEND},
      {".", O_RDONLY | O_DIRECTORY},
      {base.string() + "/file", O_RDONLY},  // absolute: inside the root, here "/"
  };
  for (const auto& c : cases) {
    put(kPathAt, c.path);
    aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
    s.handle = AIOD_HANDLE_CWD;
    s.addr = kPathAt;
    s.len = static_cast<std::uint32_t>(c.path.size());
    s.op_flags = c.flags;
    ASSERT_EQ(prepare(s), 0) << c.path;
    const int fd = run_openat2(rec_);
    EXPECT_GE(fd, 0) << c.path << " flags " << std::hex << c.flags << ": " << std::strerror(-fd);
    if (fd >= 0) {
      EXPECT_TRUE((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0) << "the daemon's descriptor would leak to a child";
      ::close(fd);
    }
  }
  std::filesystem::remove_all(base);
}

TEST_F(OpPrepare, OpenAtWithOPathIsAcceptedByTheKernel) {
  // Regression: O_NOCTTY was added to every open, and openat2() refuses O_PATH
  // combined with anything but O_DIRECTORY/O_NOFOLLOW/O_CLOEXEC.
  for (std::uint32_t flags : {unsigned{O_PATH}, unsigned{O_PATH | O_DIRECTORY}, unsigned{O_PATH | O_NOFOLLOW}}) {
    put(kPathAt, "/tmp");
    aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
    s.handle = AIOD_HANDLE_CWD;
    s.addr = kPathAt;
    s.len = 4;
    s.op_flags = flags;
    ASSERT_EQ(prepare(s), 0);
    EXPECT_NE(rec_.how.flags & O_CLOEXEC, 0u);
    const int fd = run_openat2(rec_);
    EXPECT_GE(fd, 0) << "O_PATH open_at: " << std::strerror(-fd);
    if (fd >= 0) ::close(fd);
  }
}

// A client confined to base/root (a chroot or container) with its cwd at
// base/root/sub: neither "../../secret" nor a symlink to base/secret's absolute
// path may reach base/secret, which lies outside its root. Resolves the
// prepared open with openat2(), as the kernel would.
TEST_F(OpPrepare, RelativePathsStayInsideTheClientsRoot) {
  char tmpl[] = "/tmp/aiod-unit-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path base(tmpl);
  std::filesystem::create_directories(base / "root" / "sub");
  std::ofstream(base / "secret") << "outside";
  std::ofstream(base / "root" / "secret") << "inside";
  std::filesystem::create_symlink(base / "secret", base / "root" / "sub" / "link");
  UniqueFd root(::open((base / "root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd cwd(::open((base / "root" / "sub").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(root.valid() && cwd.valid());
  ctx_.root_fd = root.get();
  ctx_.cwd_fd = cwd.get();
  ctx_.foreign_root = true;

  for (const std::string path : {"../../secret", "link"}) {
    put(kPathAt, path);
    aiod_sqe s = sqe(AIOD_OP_OPEN_AT);
    s.handle = AIOD_HANDLE_CWD;
    s.addr = kPathAt;
    s.len = static_cast<std::uint32_t>(path.size());
    s.op_flags = O_RDONLY;
    if (prepare(s) != 0) continue;  // refusing is fine too
    const int fd = run_openat2(rec_);
    if (fd < 0) continue;
    char buf[16] = {};
    const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    EXPECT_NE(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "outside")
        << path << " escaped the client's root";
  }
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace aiod::daemon
