#include "encode.hpp"

#include <cstring>

namespace aiod::detail {
namespace {

struct Encoder {
  Connection& conn;
  aiod_sqe& sqe;
  PendingOp& p;

  std::error_code buffer(const void* data, std::size_t size, bool copy_in) {
    if (size > 0xffffffffu) return std::make_error_code(std::errc::value_too_large);
    std::uint64_t offset = 0;
    if (!conn.place(data, size, copy_in, p, offset)) return errc::arena_exhausted;
    sqe.addr = offset;
    sqe.len = static_cast<std::uint32_t>(size);
    return {};
  }

  std::error_code path(const char* path) {
    if (path == nullptr) return std::make_error_code(std::errc::invalid_argument);
    return buffer(path, std::strlen(path), true);  // sent without its NUL
  }

  std::error_code operator()(const Nop&) {
    sqe.opcode = AIOD_OP_NOP;
    return {};
  }
  std::error_code operator()(const Read& op) {
    sqe.opcode = AIOD_OP_READ;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    p.out_size = op.out_read;
    if (auto ec = buffer(op.buffer.data(), op.buffer.size(), false)) return ec;
    const auto* start = static_cast<const std::byte*>(op.buffer.data());
    if (start < conn.arena_base() || start >= conn.arena_base() + conn.arena_size()) {
      p.copy_back = op.buffer.data();
      p.copy_back_offset = sqe.addr;
      p.copy_back_len = op.buffer.size();
    }
    return {};
  }
  std::error_code operator()(const Write& op) {
    sqe.opcode = AIOD_OP_WRITE;
    sqe.handle = op.file.value;
    sqe.off = op.offset;
    p.out_size = op.out_written;
    return buffer(op.buffer.data(), op.buffer.size(), true);
  }
  std::error_code operator()(const Fsync& op) {
    sqe.opcode = AIOD_OP_FSYNC;
    sqe.handle = op.file.value;
    sqe.op_flags = op.datasync ? AIOD_FSYNC_DATASYNC : 0;
    return {};
  }
  std::error_code operator()(const Timeout& op) {
    if (op.duration.count() < 0) return std::make_error_code(std::errc::invalid_argument);
    sqe.opcode = AIOD_OP_TIMEOUT;
    sqe.off = static_cast<std::uint64_t>(op.duration.count());
    return {};
  }
  std::error_code operator()(const OpenAt& op) {
    sqe.opcode = AIOD_OP_OPEN_AT;
    sqe.handle = op.dir.value;
    sqe.op_flags = static_cast<std::uint32_t>(op.flags);
    sqe.mode = op.mode;
    p.out_handle = op.out_file;
    return path(op.path);
  }
  std::error_code operator()(const CloseFile& op) {
    sqe.opcode = AIOD_OP_CLOSE_FILE;
    sqe.handle = op.file.value;
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
