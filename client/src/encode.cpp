// SPDX-License-Identifier: MIT
// encode.cpp — every Op into one descriptor (proto/op_table.hpp has the field
// table), with its buffers placed in the arena and its result sinks recorded.
#include "encode.hpp"

#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "unix_address.hpp"

namespace aiod::detail {
namespace {

std::error_code invalid() { return std::make_error_code(std::errc::invalid_argument); }

struct Encoder {
  Connection& conn;
  aiod_sqe& sqe;
  PendingOp& p;

  // --- placing bytes in the arena -------------------------------------------------
  std::error_code place_in(const void* data, std::size_t size, std::uint64_t& offset) {
    if (size > 0xffffffffu) return std::make_error_code(std::errc::value_too_large);
    return conn.place(data, size, true, p, offset) ? std::error_code() : make_error_code(errc::arena_exhausted);
  }
  // Room the kernel fills; bytes come back to `data` at completion unless it
  // already is arena memory.
  std::error_code place_out(void* data, std::size_t size, std::uint64_t& offset) {
    if (size > 0xffffffffu) return std::make_error_code(std::errc::value_too_large);
    if (!conn.place(data, size, false, p, offset)) return errc::arena_exhausted;
    if (!conn.in_arena(data)) p.copy_backs.push_back({data, offset, size, false});
    return {};
  }
  std::error_code buffer_in(ConstBuffer b) {
    sqe.len = static_cast<std::uint32_t>(b.size());
    return place_in(b.data(), b.size(), sqe.addr);
  }
  std::error_code buffer_out(MutableBuffer b) {
    sqe.len = static_cast<std::uint32_t>(b.size());
    return place_out(b.data(), b.size(), sqe.addr);
  }
  // A path, sent without its NUL.
  std::error_code path(const char* s, std::uint64_t& offset, std::uint32_t& len) {
    if (s == nullptr) return invalid();
    const std::size_t n = std::strlen(s);
    len = static_cast<std::uint32_t>(n);
    return place_in(s, n, offset);
  }
  // An aiod_iovec table in the arena naming each buffer's arena copy.
  std::error_code iovecs(std::span<const iovec> iov, bool out, std::uint64_t& table, std::uint32_t& count) {
    if (iov.empty() || iov.size() > AIOD_IOV_MAX) return invalid();
    std::vector<aiod_iovec> entries(iov.size());
    for (std::size_t i = 0; i < iov.size(); ++i) {
      entries[i].len = iov[i].iov_len;
      const std::error_code ec = out ? place_out(iov[i].iov_base, iov[i].iov_len, entries[i].offset)
                                     : place_in(iov[i].iov_base, iov[i].iov_len, entries[i].offset);
      if (ec) return ec;
    }
    count = static_cast<std::uint32_t>(iov.size());
    return place_in(entries.data(), entries.size() * sizeof(aiod_iovec), table);
  }
  // A socket address; a relative AF_UNIX path is made absolute against the
  // cwd here (the daemon's cwd is not ours, and there is no connectat()).
  std::error_code address(const sockaddr* addr, socklen_t len, std::uint64_t& offset, std::uint32_t& out_len) {
    if (addr == nullptr || len == 0 || len > sizeof(sockaddr_storage)) return invalid();
    sockaddr_storage copy{};
    std::memcpy(&copy, addr, len);
    auto& un = reinterpret_cast<sockaddr_un&>(copy);
    if (copy.ss_family == AF_UNIX && proto::unix_path_room(len) > 0 && un.sun_path[0] != '\0' &&
        un.sun_path[0] != '/') {
      char cwd[PATH_MAX];
      if (::getcwd(cwd, sizeof(cwd)) == nullptr) return {errno, std::system_category()};
      const std::string full = std::string(cwd) + "/" + std::string(proto::unix_path(un, len));
      if (full.size() >= sizeof(un.sun_path)) return std::make_error_code(std::errc::filename_too_long);
      std::memset(un.sun_path, 0, sizeof(un.sun_path));
      std::memcpy(un.sun_path, full.c_str(), full.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + full.size() + 1);
    }
    out_len = len;
    return place_in(&copy, len, offset);
  }
  void sink(Post post, void* out) {
    if (out == nullptr) return;
    p.post = post;
    p.out = out;
  }

  // --- ops ------------------------------------------------------------------------------
  std::error_code operator()(const Nop&) {
    sqe.opcode = AIOD_OP_NOP;
    return {};
  }
  std::error_code operator()(const Read& op) {
    sqe.opcode = AIOD_OP_READ;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    sink(Post::size, op.out_read);
    return buffer_out(op.buffer);
  }
  std::error_code operator()(const Write& op) {
    sqe.opcode = AIOD_OP_WRITE;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    sink(Post::size, op.out_written);
    return buffer_in(op.buffer);
  }
  std::error_code operator()(const ReadTty& op) {
    sqe.opcode = AIOD_OP_READ_TTY;
    sqe.handle = op.tty.value;
    sink(Post::size, op.out_read);
    return buffer_out(op.buffer);
  }
  std::error_code operator()(const Readv& op) {
    sqe.opcode = AIOD_OP_READV;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    sink(Post::size, op.out_read);
    return iovecs(op.iov, true, sqe.addr, sqe.len);
  }
  std::error_code operator()(const Writev& op) {
    sqe.opcode = AIOD_OP_WRITEV;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    sink(Post::size, op.out_written);
    return iovecs(op.iov, false, sqe.addr, sqe.len);
  }
  std::error_code operator()(const Fsync& op) {
    sqe.opcode = AIOD_OP_FSYNC;
    sqe.handle = op.file.value;
    sqe.op_flags = op.datasync ? AIOD_FSYNC_DATASYNC : 0;
    return {};
  }
  std::error_code operator()(const Timeout& op) {
    if (op.duration.count() < 0) return invalid();
    sqe.opcode = AIOD_OP_TIMEOUT;
    sqe.off = static_cast<std::uint64_t>(op.duration.count());
    return {};
  }
  std::error_code operator()(const LinkTimeout& op) {
    if (op.duration.count() < 0) return invalid();
    sqe.opcode = AIOD_OP_LINK_TIMEOUT;
    sqe.off = static_cast<std::uint64_t>(op.duration.count());
    return {};
  }
  std::error_code operator()(const Cancel& op) {
    sqe.opcode = AIOD_OP_CANCEL;
    sqe.off = op.id.value;
    return {};
  }
  std::error_code operator()(const Poll& op) {
    sqe.opcode = AIOD_OP_POLL;
    sqe.handle = op.fd.value;
    sqe.op_flags = op.events;
    sink(Post::events, op.out_events);
    return {};
  }
  std::error_code operator()(const OpenAt& op) {
    sqe.opcode = AIOD_OP_OPEN_AT;
    sqe.handle = op.dir.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.flags);
    sqe.mode = op.mode;
    sink(Post::handle, op.out_file);
    return path(op.path, sqe.addr, sqe.len);
  }
  std::error_code operator()(const OpenAt2& op) {
    sqe.opcode = AIOD_OP_OPENAT2;
    sqe.handle = op.dir.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.flags);
    sqe.mode = op.mode;
    sqe.off = op.resolve;
    sink(Post::handle, op.out_file);
    return path(op.path, sqe.addr, sqe.len);
  }
  std::error_code operator()(const CloseFile& op) { return close(AIOD_OP_CLOSE_FILE, op.file); }
  std::error_code operator()(const CloseDir& op) { return close(AIOD_OP_CLOSE_DIR, op.dir); }
  std::error_code operator()(const CloseSocket& op) { return close(AIOD_OP_CLOSE_SOCKET, op.socket); }
  std::error_code operator()(const CloseEventSource& op) { return close(AIOD_OP_CLOSE_EVENT_SOURCE, op.source); }
  std::error_code close(std::uint8_t opcode, Handle h) {
    sqe.opcode = opcode;
    sqe.handle = h.value;
    return {};
  }
  std::error_code operator()(const NotifyEventSource& op) { return close(AIOD_OP_NOTIFY_EVENT_SOURCE, op.source); }
  std::error_code operator()(const WaitEventSource& op) { return close(AIOD_OP_WAIT_EVENT_SOURCE, op.source); }
  std::error_code operator()(const RenameAt& op) {
    sqe.opcode = AIOD_OP_RENAME_AT;
    sqe.handle = op.old_dir.value;
    sqe.off = op.new_dir.value;
    sqe.op_flags = op.flags;
    if (auto ec = path(op.old_path, sqe.addr, sqe.len)) return ec;
    return path(op.new_path, sqe.addr2, sqe.len2);
  }
  std::error_code operator()(const UnlinkAt& op) {
    sqe.opcode = AIOD_OP_UNLINK_AT;
    sqe.handle = op.dir.value;
    sqe.op_flags = op.remove_dir ? AT_REMOVEDIR : 0;
    return path(op.path, sqe.addr, sqe.len);
  }
  std::error_code operator()(const MkdirAt& op) {
    sqe.opcode = AIOD_OP_MKDIR_AT;
    sqe.handle = op.dir.value;
    sqe.mode = op.mode;
    return path(op.path, sqe.addr, sqe.len);
  }
  std::error_code operator()(const SymlinkAt& op) {
    sqe.opcode = AIOD_OP_SYMLINK_AT;
    sqe.handle = op.dir.value;
    if (auto ec = path(op.target, sqe.addr, sqe.len)) return ec;
    return path(op.link_path, sqe.addr2, sqe.len2);
  }
  std::error_code operator()(const Statx& op) {
    sqe.opcode = AIOD_OP_STATX;
    sqe.handle = op.dir.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.flags);
    sqe.mode = op.mask;
    if (op.out_statx == nullptr) return invalid();
    if (auto ec = path(op.path, sqe.addr, sqe.len)) return ec;
    sqe.len2 = sizeof(struct statx);
    if (!conn.scratch(sizeof(struct statx), p, sqe.addr2)) return errc::arena_exhausted;
    p.copy_backs.push_back({op.out_statx, sqe.addr2, sizeof(struct statx), true});
    return {};
  }
  std::error_code operator()(const ChildExit& op) {
    // The daemon watches a pidfd; this process reaps the child when it fires.
    int local = op.pidfd >= 0 ? ::fcntl(op.pidfd, F_DUPFD_CLOEXEC, 0)
                              : static_cast<int>(::syscall(SYS_pidfd_open, op.child, 0));
    if (local < 0) return {errno, std::system_category()};
    p.owned_fd = local;
    // Only a child of this process can be waited for (and reaped) here.
    siginfo_t probe{};
    if (::syscall(SYS_waitid, P_PIDFD, local, &probe, WEXITED | WNOHANG | WNOWAIT, nullptr) < 0) {
      return {errno, std::system_category()};
    }
    auto handles = conn.register_fds({&local, 1});
    if (!handles) return handles.error();
    p.registered = handles->front();
    sqe.opcode = AIOD_OP_CHILD_EXIT;
    sqe.handle = handles->front().value;
    sqe.op_flags = AIOD_CHILD_EXIT_CLOSE;
    p.post = Post::child_exit;
    p.out = op.out_status;
    return {};
  }
  std::error_code operator()(const Socket& op) {
    if (op.domain < 0 || op.type < 0 || op.protocol < 0) return invalid();
    sqe.opcode = AIOD_OP_SOCKET;
    sqe.off = static_cast<std::uint64_t>(op.domain);
    sqe.op_flags = static_cast<std::uint32_t>(op.type);
    sqe.mode = static_cast<std::uint32_t>(op.protocol);
    sink(Post::handle, op.out_socket);
    return {};
  }
  std::error_code operator()(const Accept& op) {
    sqe.opcode = AIOD_OP_ACCEPT;
    sqe.handle = op.socket.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.flags);
    p.post = Post::accept;
    p.out = op.out_socket;
    if (op.out_addr != nullptr) {
      if (op.inout_addrlen == nullptr) return invalid();
      if (!conn.scratch(sizeof(aiod_sockaddr_out), p, sqe.addr2)) return errc::arena_exhausted;
      sqe.len2 = sizeof(aiod_sockaddr_out);
      p.aux[0] = sqe.addr2;
      p.out2 = op.out_addr;
      p.out3 = op.inout_addrlen;
    }
    return {};
  }
  std::error_code operator()(const Connect& op) {
    sqe.opcode = AIOD_OP_CONNECT;
    sqe.handle = op.socket.value;
    return address(op.addr, op.addrlen, sqe.addr, sqe.len);
  }
  std::error_code operator()(const Bind& op) {
    sqe.opcode = AIOD_OP_BIND;
    sqe.handle = op.socket.value;
    return address(op.addr, op.addrlen, sqe.addr, sqe.len);
  }
  std::error_code operator()(const Listen& op) {
    if (op.backlog < 0) return invalid();
    sqe.opcode = AIOD_OP_LISTEN;
    sqe.handle = op.socket.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.backlog);
    return {};
  }
  std::error_code operator()(const Shutdown& op) {
    if (op.how < 0) return invalid();
    sqe.opcode = AIOD_OP_SHUTDOWN;
    sqe.handle = op.socket.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.how);
    return {};
  }
  std::error_code operator()(const Recv& op) {
    sqe.opcode = AIOD_OP_RECV;
    sqe.handle = op.socket.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.flags);
    sink(Post::size, op.out_read);
    return buffer_out(op.buffer);
  }
  std::error_code operator()(const Send& op) {
    sqe.opcode = AIOD_OP_SEND;
    sqe.handle = op.socket.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.flags);
    sink(Post::size, op.out_written);
    return buffer_in(op.buffer);
  }
  std::error_code operator()(const RecvMsg& op) {
    return message(AIOD_OP_RECV_MSG, op.socket, op.msg, op.flags, op.out_read);
  }
  std::error_code operator()(const SendMsg& op) {
    return message(AIOD_OP_SEND_MSG, op.socket, const_cast<msghdr*>(op.msg), op.flags, op.out_written);
  }
  // An aiod_msghdr in the arena with its name, buffers and control data.
  std::error_code message(std::uint8_t opcode, Handle socket, msghdr* msg, int flags, std::size_t* out_bytes) {
    if (msg == nullptr || msg->msg_iovlen > AIOD_IOV_MAX) return invalid();
    const bool recv = opcode == AIOD_OP_RECV_MSG;
    sqe.opcode = opcode;
    sqe.handle = socket.value;
    sqe.op_flags = static_cast<std::uint32_t>(flags);
    aiod_msghdr h{};
    if (msg->msg_name != nullptr && msg->msg_namelen > 0) {
      if (recv) {
        h.name_len = msg->msg_namelen;
        if (!conn.scratch(msg->msg_namelen, p, h.name)) return errc::arena_exhausted;
      } else if (auto ec = address(static_cast<const sockaddr*>(msg->msg_name), msg->msg_namelen, h.name, h.name_len)) {
        return ec;
      }
    }
    if (msg->msg_iovlen > 0) {
      if (auto ec = iovecs({msg->msg_iov, msg->msg_iovlen}, recv, h.iov, h.iov_count)) return ec;
    }
    if (msg->msg_control != nullptr && msg->msg_controllen > 0) {
      h.control_len = msg->msg_controllen;
      const bool ok = recv ? conn.scratch(msg->msg_controllen, p, h.control)
                           : conn.place(msg->msg_control, msg->msg_controllen, true, p, h.control);
      if (!ok) return errc::arena_exhausted;
    }
    sqe.len = sizeof(aiod_msghdr);
    if (auto ec = place_in(&h, sizeof(h), sqe.addr)) return ec;
    if (recv) {
      p.post = Post::recv_msg;
      p.out = msg;
      p.out2 = out_bytes;
      p.aux[0] = sqe.addr;
      p.aux[1] = h.name;
      p.aux[2] = h.control;
    } else {
      sink(Post::size, out_bytes);
    }
    return {};
  }
  std::error_code operator()(const Splice& op) {
    sqe.opcode = AIOD_OP_SPLICE;
    sqe.handle = op.in.value;
    sqe.off = op.in_offset;
    sqe.mode = op.out.value;
    sqe.addr2 = op.out_offset;
    sqe.len = op.len;
    sqe.op_flags = op.flags;
    sink(Post::size, op.out_written);
    return {};
  }
  std::error_code operator()(const Fallocate& op) {
    if (op.mode < 0) return invalid();
    sqe.opcode = AIOD_OP_FALLOCATE;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    sqe.addr2 = op.len;
    sqe.op_flags = static_cast<std::uint32_t>(op.mode);
    return {};
  }
  std::error_code operator()(const Fadvise& op) {
    if (op.advice < 0) return invalid();
    sqe.opcode = AIOD_OP_FADVISE;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    sqe.len = op.len;
    sqe.op_flags = static_cast<std::uint32_t>(op.advice);
    return {};
  }
  std::error_code operator()(const Ftruncate& op) {
    sqe.opcode = AIOD_OP_FTRUNCATE;
    sqe.handle = op.file.value;
    sqe.off = op.length;
    return {};
  }
  std::error_code operator()(const SetSockOpt& op) {
    if (op.level < 0 || op.name < 0) return invalid();
    sqe.opcode = AIOD_OP_SETSOCKOPT;
    sqe.handle = op.socket.value;
    sqe.off = static_cast<std::uint32_t>(op.level);
    sqe.op_flags = static_cast<std::uint32_t>(op.name);
    return buffer_in(op.value);
  }
  std::error_code operator()(const GetSockOpt& op) {
    if (op.level < 0 || op.name < 0) return invalid();
    sqe.opcode = AIOD_OP_GETSOCKOPT;
    sqe.handle = op.socket.value;
    sqe.off = static_cast<std::uint32_t>(op.level);
    sqe.op_flags = static_cast<std::uint32_t>(op.name);
    sink(Post::size, op.out_len);
    return buffer_out(op.value);  // the first `res` bytes come back
  }
  std::error_code operator()(const GetSockName& op) { return local_address(AIOD_OP_GETSOCKNAME, op); }
  std::error_code operator()(const GetPeerName& op) { return local_address(AIOD_OP_GETPEERNAME, op); }
  // Room for the address in the arena; its first bytes come back to out_addr
  // and its full length to *inout_addrlen.
  template <class GetName>
  std::error_code local_address(std::uint8_t opcode, const GetName& op) {
    if (op.out_addr == nullptr || op.inout_addrlen == nullptr || *op.inout_addrlen == 0) return invalid();
    sqe.opcode = opcode;
    sqe.handle = op.socket.value;
    p.post = Post::socklen;
    p.out = op.inout_addrlen;
    const std::size_t room = std::min<std::size_t>(*op.inout_addrlen, sizeof(sockaddr_storage));
    return buffer_out(MutableBuffer(op.out_addr, room));
  }
  std::error_code operator()(const SyncFileRange& op) {
    sqe.opcode = AIOD_OP_SYNC_FILE_RANGE;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    sqe.len = op.len;
    sqe.op_flags = op.flags;
    return {};
  }
};

}  // namespace

std::error_code encode_op(Connection& conn, const Op& op, aiod_sqe& sqe, PendingOp& pending) {
  return std::visit(Encoder{conn, sqe, pending}, op);
}

CommonFields common_fields(const Op& op) {
  return std::visit([](const auto& o) { return CommonFields{o.link, o.userdata, o.out_error, o.out_id}; }, op);
}

}  // namespace aiod::detail
