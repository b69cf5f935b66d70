// SPDX-License-Identifier: MIT
// Fuzzes descriptor validation in process (daemon/op_prepare*.cpp), with no
// daemon: valid descriptors of every opcode, mutated field by field towards
// boundary values, against an arena whose iovec tables, msghdrs, socket
// addresses, control data and paths are mutated too.
//
// Asserts, for every descriptor: no crash and no undefined behaviour (run it
// under ASan+UBSan); a rejection is a negative errno from the documented set
// and holds no handle reference; an accepted descriptor points the backend
// only at memory inside the arena or owned by its record, names only the
// session's descriptors, and holds references that, once released, let every
// closed handle's descriptor close.
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.hpp"
#include "descriptor_gen.hpp"
#include "fake_backend.hpp"
#include "fuzz_support.hpp"
#include "prepare/handle_table.hpp"
#include "prepare/op_prepare.hpp"
#include "prepare/op_record.hpp"

namespace aiod::fuzz {
namespace {

using daemon::BackendOpcode;
using daemon::Finish;
using daemon::OpRecord;

// A backend that runs nothing; each iteration decides what it claims to support.
using test::FakeBackend;

const std::set<int> kRejections = {-EINVAL, -EFAULT, -EBADF, -ENOENT, -ENAMETOOLONG, -EXDEV, -EPERM, -EOPNOTSUPP};

class PrepareFuzz : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aiod-fuzz-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    templates_[0] = {::open((dir_ + "/file").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600), HandleKind::file};
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    templates_[1] = {p[0], HandleKind::pipe_read};
    templates_[2] = {p[1], HandleKind::pipe_write};
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ::close(sv[1]);
    templates_[3] = {sv[0], HandleKind::socket};
    templates_[4] = {::eventfd(0, EFD_CLOEXEC), HandleKind::eventfd};
    templates_[5] = {::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), HandleKind::directory};
    for (const auto& t : templates_) ASSERT_GE(t.fd, 0);
    cwd_ = ::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    root_ = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(cwd_, 0);
    ASSERT_GE(root_, 0);
    arena_.resize(ArenaMap::kMinArena);
  }
  void TearDown() override {
    for (const auto& t : templates_) ::close(t.fd);
    ::close(cwd_);
    ::close(root_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  bool in_arena(const void* p, std::uint64_t len) const {
    const auto* b = static_cast<const std::byte*>(p);
    return b >= arena_.data() && static_cast<std::uint64_t>(b - arena_.data()) <= arena_.size() &&
           len <= arena_.size() - static_cast<std::uint64_t>(b - arena_.data());
  }
  bool arena_range(std::uint64_t off, std::uint64_t len) const {
    return off <= arena_.size() && len <= arena_.size() - off;
  }

  // What an accepted record hands the backend must stay inside the arena or
  // the record, and name only descriptors of this session.
  void check_accepted(const aiod_sqe& s, const OpRecord& rec, const std::set<int>& fds) {
    const daemon::BackendOp& op = rec.op;
    namespace bop = daemon::op;
    auto fd_ok = [&](int fd) { return fd == -1 || fd == cwd_ || fd == root_ || fds.count(fd) == 1; };
    auto path_ok = [](const char* p, const std::string& owned, bool may_be_empty) {
      return p == owned.c_str() && std::strlen(p) == owned.size() && owned.size() < PATH_MAX &&
             (may_be_empty || !owned.empty());
    };
    // Every descriptor and path of the payload, whatever its type.
    std::visit(
        [&](const auto& a) {
          if constexpr (requires { a.fd; }) {
            EXPECT_TRUE(fd_ok(a.fd)) << "fd " << a.fd;
          }
          if constexpr (requires { a.dir; }) {
            EXPECT_TRUE(fd_ok(a.dir)) << "dir " << a.dir;
          }
          if constexpr (requires { a.old_dir; }) {
            EXPECT_TRUE(fd_ok(a.old_dir) && fd_ok(a.new_dir));
          }
          if constexpr (requires { a.in; }) {
            EXPECT_TRUE(fd_ok(a.in) && fd_ok(a.out));
          }
          if constexpr (requires { a.unix_root; }) {
            EXPECT_TRUE(fd_ok(a.unix_root));
          }
          if constexpr (requires { a.path; }) {
            EXPECT_TRUE(path_ok(a.path, rec.path, op.is<bop::Statx>()));
          }
          if constexpr (requires { a.old_path; }) {
            EXPECT_TRUE(path_ok(a.old_path, rec.path, false));
            EXPECT_TRUE(path_ok(a.new_path, rec.path2, false));
          }
          if constexpr (requires { a.link_path; }) {
            EXPECT_TRUE(path_ok(a.target, rec.path, false));
            EXPECT_TRUE(path_ok(a.link_path, rec.path2, false));
          }
        },
        op.args);
    EXPECT_EQ(rec.user_data, s.user_data);
    auto check_vector = [&](const iovec* iov, std::uint32_t count) {
      EXPECT_EQ(iov, rec.iov.data());
      EXPECT_EQ(count, rec.iov.size());
      EXPECT_LE(rec.iov.size(), AIOD_IOV_MAX);
      for (const iovec& v : rec.iov) EXPECT_TRUE(in_arena(v.iov_base, v.iov_len)) << "iovec outside the arena";
    };
    auto check_message = [&](const msghdr* msg) {
      EXPECT_EQ(msg, &rec.msg);
      const msghdr& m = rec.msg;
      if (m.msg_name != nullptr) {
        EXPECT_TRUE(m.msg_name == &rec.addr || in_arena(m.msg_name, m.msg_namelen)) << "name outside the arena";
        EXPECT_LE(m.msg_namelen, sizeof(sockaddr_storage));
      }
      EXPECT_EQ(m.msg_iov, rec.iov.data());
      EXPECT_EQ(m.msg_iovlen, rec.iov.size());
      for (const iovec& v : rec.iov) EXPECT_TRUE(in_arena(v.iov_base, v.iov_len)) << "iovec outside the arena";
      if (m.msg_control != nullptr) {
        EXPECT_EQ(m.msg_control, rec.control.data());
        EXPECT_EQ(m.msg_controllen, rec.control.size());
        EXPECT_LE(m.msg_controllen, 64u * 1024);
      }
    };
    auto check_address = [&](const sockaddr* addr, socklen_t len) {
      EXPECT_EQ(static_cast<const void*>(addr), static_cast<const void*>(&rec.addr));
      EXPECT_GT(len, 0u);
      EXPECT_LE(len, sizeof(sockaddr_storage));
    };
    switch (op.opcode()) {
      case BackendOpcode::read:
      case BackendOpcode::write: {
        const auto [buf, len] =
            op.is<bop::Read>()
                ? std::pair<const void*, std::uint32_t>{op.as<bop::Read>().buf, op.as<bop::Read>().len}
                : std::pair<const void*, std::uint32_t>{op.as<bop::Write>().buf, op.as<bop::Write>().len};
        if (rec.finish == Finish::eventfd_rw) {
          EXPECT_EQ(len, 8u);
        } else {
          EXPECT_TRUE(in_arena(buf, len)) << "buffer outside the arena";
        }
        break;
      }
      case BackendOpcode::recv:
        EXPECT_TRUE(in_arena(op.as<bop::Recv>().buf, op.as<bop::Recv>().len)) << "buffer outside the arena";
        break;
      case BackendOpcode::send:
        EXPECT_TRUE(in_arena(op.as<bop::Send>().buf, op.as<bop::Send>().len)) << "buffer outside the arena";
        break;
      case BackendOpcode::readv:
        check_vector(op.as<bop::Readv>().iov, op.as<bop::Readv>().count);
        break;
      case BackendOpcode::writev:
        check_vector(op.as<bop::Writev>().iov, op.as<bop::Writev>().count);
        break;
      case BackendOpcode::sendmsg:
        check_message(op.as<bop::Sendmsg>().msg);
        break;
      case BackendOpcode::recvmsg:
        check_message(op.as<bop::Recvmsg>().msg);
        EXPECT_TRUE(arena_range(rec.out_offset, sizeof(aiod_msghdr))) << "msghdr written back outside the arena";
        if (!rec.control.empty()) {
          EXPECT_TRUE(arena_range(rec.out_offset2, rec.control.size())) << "control written back outside";
        }
        break;
      case BackendOpcode::accept:
        EXPECT_EQ(static_cast<const void*>(op.as<bop::Accept>().addr), static_cast<const void*>(&rec.addr));
        if (rec.out_offset != OpRecord::kNoOffset) {
          EXPECT_TRUE(arena_range(rec.out_offset, sizeof(aiod_sockaddr_out))) << "address written outside";
        }
        break;
      case BackendOpcode::connect:
        check_address(op.as<bop::Connect>().addr, op.as<bop::Connect>().addr_len);
        break;
      case BackendOpcode::bind:
        check_address(op.as<bop::Bind>().addr, op.as<bop::Bind>().addr_len);
        break;
      case BackendOpcode::statx:
        EXPECT_TRUE(in_arena(op.as<bop::Statx>().out, sizeof(struct statx))) << "statx result outside the arena";
        break;
      case BackendOpcode::openat2:
        EXPECT_EQ(op.as<bop::Openat2>().how, &rec.how);
        EXPECT_NE(rec.how.flags & O_CLOEXEC, 0u);
        EXPECT_EQ(rec.how.mode & ~07777u, 0u);
        break;
      default:
        break;
    }
  }

  std::string dir_;
  struct Template {
    int fd = -1;
    HandleKind kind = HandleKind::file;
  };
  std::array<Template, 6> templates_{};
  int cwd_ = -1, root_ = -1;
  std::vector<std::byte> arena_;
};

TEST_F(PrepareFuzz, MutatedDescriptorsAndArenaStructures) {
  const Params p = params(0xa10d0001, 30000);
  FakeBackend backend;
  std::uint64_t accepted = 0, rejected = 0;
  run(p, [&](Rng& rng, std::uint64_t) {
    // A fresh table per iteration: after the last release, every descriptor
    // of a closed handle must be closed (no reference leaked).
    daemon::HandleTable table(16);
    HandlePool pool;
    std::vector<int> fds;
    std::set<int> fd_set;
    for (const Template& t : templates_) {
      const int fd = ::fcntl(t.fd, F_DUPFD_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      const std::int64_t h = table.insert(UniqueFd(fd));
      ASSERT_GT(h, 0);
      fds.push_back(fd);
      fd_set.insert(fd);
      pool.entries.push_back({static_cast<std::uint32_t>(h), t.kind});
    }
    pool.foreign = {pool.entries[0].handle + (1u << 16), 9, 0x7fff0001u};
    GenOptions opt;
    write_arena(rng, arena_, opt);
    backend.support_all_but(rng.chance(1, 8) ? rng.next() : 0);
    daemon::PrepareContext ctx;
    ctx.arena = arena_;
    ctx.handles = &table;
    ctx.cwd_fd = cwd_;
    ctx.root_fd = root_;
    ctx.umask = static_cast<std::uint32_t>(rng.below(01000));
    ctx.foreign_root = rng.chance(1, 4);
    ctx.backend = &backend;
    for (int d = 0; d < 8; ++d) {
      if (rng.chance(1, 2)) mutate_arena(rng, arena_, pool, opt);
      aiod_sqe s = valid_descriptor(rng, random_opcode(rng), arena_.size(), pool, opt);
      if (rng.chance(3, 4)) mutate_descriptor(rng, s, arena_.size(), pool);
      s.user_data = rng.next();
      OpRecord rec;
      const int res = daemon::prepare_record(s, ctx, rec);
      ++(res < 0 ? rejected : accepted);
      if (res < 0) {
        EXPECT_EQ(kRejections.count(res), 1u) << "opcode " << int(s.opcode) << " rejected with " << res;
        EXPECT_EQ(rec.handle, 0u);
        EXPECT_EQ(rec.handle2, 0u);
        EXPECT_TRUE(rec.passed.empty());
      } else {
        EXPECT_EQ(res, 0);
        check_accepted(s, rec, fd_set);
        if (rec.handle != 0) table.release(rec.handle);
        if (rec.handle2 != 0) table.release(rec.handle2);
        for (std::uint32_t h : rec.passed) table.release(h);
      }
      if (::testing::Test::HasFailure()) {
        ADD_FAILURE() << "descriptor " << d << ": opcode " << int(s.opcode) << " flags " << int(s.flags) << " handle "
                      << s.handle << " off " << s.off << " addr " << s.addr << " len " << s.len << " op_flags "
                      << s.op_flags << " addr2 " << s.addr2 << " len2 " << s.len2 << " mode " << s.mode;
        return;
      }
    }
    for (const auto& e : pool.entries) (void)table.close(e.handle);
    for (int fd : fds) {
      EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "a reference was not released: fd " << fd << " still open";
    }
  });
  // Both sides of validation must be exercised, or the mutations are off.
  EXPECT_GT(accepted, p.iterations) << rejected << " rejected";
  EXPECT_GT(rejected, p.iterations) << accepted << " accepted";
  RecordProperty("accepted", static_cast<int>(accepted));
  RecordProperty("rejected", static_cast<int>(rejected));
}

}  // namespace
}  // namespace aiod::fuzz
