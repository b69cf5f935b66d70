// SPDX-License-Identifier: MIT
// Filesystem and file-range operations through aiod: rename, unlink, mkdir,
// symlink, openat2 with resolve flags, statx, fallocate, fadvise, ftruncate,
// sync_file_range, vectored IO, splice, poll, read_tty, close_dir.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

using FsOps = OpTest;

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

TEST_F(FsOps, RenameRefusesToReplaceByDefault) {
  { std::ofstream(path("a")) << "a"; }
  { std::ofstream(path("b")) << "b"; }
  EXPECT_EQ(client_->single(RenameAt{.old_path = path("missing").c_str(), .new_path = path("x").c_str()}), sys(ENOENT));
  EXPECT_EQ(client_->single(RenameAt{.old_path = path("a").c_str(), .new_path = path("b").c_str()}), sys(EEXIST));
  ASSERT_FALSE(client_->single(RenameAt{.old_path = path("a").c_str(), .new_path = path("c").c_str()}));
  EXPECT_FALSE(exists(path("a")));
  EXPECT_TRUE(exists(path("c")));
  // flags = 0: rename(2)'s replacing behaviour.
  ASSERT_FALSE(client_->single(RenameAt{.old_path = path("c").c_str(), .new_path = path("b").c_str(), .flags = 0}));
  std::ifstream in(path("b"));
  std::string content;
  in >> content;
  EXPECT_EQ(content, "a");
}

TEST_F(FsOps, RenameBetweenDirectoryHandles) {
  ASSERT_EQ(::mkdir(path("d1").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(path("d2").c_str(), 0755), 0);
  { std::ofstream(path("d1/f")) << "f"; }
  const Handle d1 = open(path("d1"), O_RDONLY | O_DIRECTORY), d2 = open(path("d2"), O_RDONLY | O_DIRECTORY);
  ASSERT_FALSE(client_->single(RenameAt{.old_dir = d1, .old_path = "f", .new_dir = d2, .new_path = "g"}));
  EXPECT_TRUE(exists(path("d2/g")));
  EXPECT_FALSE(client_->single(CloseDir{.dir = d1}));
  EXPECT_EQ(client_->single(RenameAt{.old_dir = d1, .old_path = "x", .new_dir = d2, .new_path = "y"}), sys(EBADF));
}

TEST_F(FsOps, UnlinkFilesAndDirectories) {
  { std::ofstream(path("f")) << "f"; }
  ASSERT_EQ(::mkdir(path("d").c_str(), 0755), 0);
  EXPECT_EQ(client_->single(UnlinkAt{.path = path("missing").c_str()}), sys(ENOENT));
  ASSERT_FALSE(client_->single(UnlinkAt{.path = path("f").c_str()}));
  EXPECT_FALSE(exists(path("f")));
  EXPECT_EQ(client_->single(UnlinkAt{.path = path("d").c_str()}), sys(EISDIR));
  ASSERT_FALSE(client_->single(UnlinkAt{.path = path("d").c_str(), .remove_dir = true}));
  EXPECT_FALSE(exists(path("d")));
}

TEST_F(FsOps, MkdirUsesTheModeUnderTheUmask) {
  ASSERT_FALSE(client_->single(MkdirAt{.path = path("made").c_str(), .mode = 0777}));
  struct stat st {};
  ASSERT_EQ(::stat(path("made").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0777u & ~mask);
  EXPECT_EQ(client_->single(MkdirAt{.path = path("made").c_str()}), sys(EEXIST));
}

TEST_F(FsOps, SymlinkMayDangle) {
  ASSERT_FALSE(client_->single(SymlinkAt{.target = "nowhere", .link_path = path("link").c_str()}));
  char target[64] = {};
  ASSERT_EQ(::readlink(path("link").c_str(), target, sizeof(target)), 7);
  EXPECT_STREQ(target, "nowhere");
  EXPECT_FALSE(exists(path("link")));  // dangling
  EXPECT_EQ(client_->single(SymlinkAt{.target = "nowhere", .link_path = path("link").c_str()}), sys(EEXIST));
}

TEST_F(FsOps, Openat2ResolveFlags) {
  ASSERT_EQ(::mkdir(path("jail").c_str(), 0755), 0);
  { std::ofstream(path("outside")) << "secret"; }
  ASSERT_EQ(::symlink("../outside", path("jail/escape").c_str()), 0);
  const Handle jail = open(path("jail"), O_RDONLY | O_DIRECTORY);
  Handle f;
  EXPECT_EQ(client_->single(OpenAt2{.dir = jail, .path = "../outside", .resolve = RESOLVE_BENEATH, .out_file = &f}),
            sys(EXDEV));
  EXPECT_EQ(client_->single(OpenAt2{.dir = jail, .path = "escape", .resolve = RESOLVE_NO_SYMLINKS, .out_file = &f}),
            sys(ELOOP));
  EXPECT_FALSE(client_->single(OpenAt2{.dir = jail, .path = "escape", .out_file = &f}));
  EXPECT_EQ(client_->single(OpenAt2{.dir = jail, .path = "x", .resolve = 1ull << 40, .out_file = &f}), sys(EINVAL));
}

TEST_F(FsOps, StatxByPathAndByHandle) {
  { std::ofstream(path("sized")) << "0123456789"; }
  struct statx sx {};
  ASSERT_FALSE(client_->single(Statx{.path = path("sized").c_str(), .mask = STATX_SIZE, .out_statx = &sx}));
  EXPECT_EQ(sx.stx_size, 10u);
  const Handle f = open(path("sized"), O_RDONLY);
  struct statx by_handle {};
  ASSERT_FALSE(client_->single(
      Statx{.dir = f, .path = "", .flags = AT_EMPTY_PATH, .mask = STATX_SIZE | STATX_INO, .out_statx = &by_handle}));
  EXPECT_EQ(by_handle.stx_size, 10u);
  EXPECT_EQ(by_handle.stx_ino, sx.stx_ino);
  EXPECT_EQ(client_->single(Statx{.path = path("missing").c_str(), .out_statx = &sx}), sys(ENOENT));
}

TEST_F(FsOps, FileRangeOps) {
  const Handle f = open(path("range"), O_RDWR | O_CREAT, 0600);
  ASSERT_FALSE(client_->single(Fallocate{.file = f, .offset = 0, .len = 8192}));
  struct stat st {};
  ASSERT_EQ(::stat(path("range").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8192);
  EXPECT_FALSE(client_->single(Fadvise{.file = f, .offset = 0, .len = 0, .advice = POSIX_FADV_SEQUENTIAL}));
  EXPECT_FALSE(client_->single(SyncFileRange{.file = f, .offset = 0, .len = 4096, .flags = SYNC_FILE_RANGE_WRITE}));
  ASSERT_FALSE(client_->single(Ftruncate{.file = f, .length = 100}));
  ASSERT_EQ(::stat(path("range").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 100);
  EXPECT_EQ(client_->single(Ftruncate{.file = Handle{31337}, .length = 1}), sys(EBADF));
}

TEST_F(FsOps, VectoredIo) {
  const Handle f = open(path("vec"), O_RDWR | O_CREAT, 0600);
  char foo[] = "foo", bar[] = "bar";
  const iovec out[] = {{foo, 3}, {bar, 3}};
  std::size_t written = 0;
  ASSERT_FALSE(client_->single(Writev{.file = f, .iov = out, .offset = 0, .out_written = &written}));
  EXPECT_EQ(written, 6u);
  char a[2] = {}, b[8] = {};
  const iovec in[] = {{a, 2}, {b, 8}};
  std::size_t got = 0;
  ASSERT_FALSE(client_->single(Readv{.file = f, .iov = in, .offset = 0, .out_read = &got}));
  EXPECT_EQ(got, 6u);
  EXPECT_EQ(std::string(a, 2), "fo");
  EXPECT_EQ(std::string(b, 4), "obar");
  EXPECT_EQ(client_->single(Readv{.file = f, .iov = {}, .offset = 0, .out_read = &got}), std::errc::invalid_argument);
}

TEST_F(FsOps, SpliceFromAPipeIntoAFile) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(::write(p[1], "hello world", 11), 11);
  auto rd = client_->register_fd(p[0]);
  ::close(p[0]);
  ::close(p[1]);
  ASSERT_TRUE(rd);
  const Handle f = open(path("spliced"), O_RDWR | O_CREAT, 0600);
  std::size_t moved = 0;
  ASSERT_FALSE(client_->single(Splice{.in = *rd, .out = f, .out_offset = 0, .len = 11, .out_written = &moved}));
  EXPECT_EQ(moved, 11u);
  std::ifstream in(path("spliced"));
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "hello world");
}

TEST_F(FsOps, PollReportsReadiness) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto h = client_->register_fds(std::array<int, 2>{p[0], p[1]});
  ::close(p[0]);
  ::close(p[1]);
  ASSERT_TRUE(h);
  std::uint32_t events = 0;
  ASSERT_FALSE(client_->single(Poll{.fd = (*h)[1], .events = POLLOUT, .out_events = &events}));
  EXPECT_TRUE(events & POLLOUT);
  // Readable only after a write: linked, the poll waits for it.
  ASSERT_FALSE(client_->multi(Write{.file = (*h)[1], .buffer = "x", .link = Link::soft},
                              Poll{.fd = (*h)[0], .events = POLLIN, .out_events = &events}));
  EXPECT_TRUE(events & POLLIN);
  EXPECT_EQ(client_->single(Poll{.fd = (*h)[0], .events = 0x80000000u}), sys(EINVAL));
}

TEST_F(FsOps, ReadTtyReadsATerminal) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  const std::string slave_path = ::ptsname(master);
  const Handle tty = open(slave_path, O_RDWR);
  ASSERT_TRUE(tty);
  ASSERT_EQ(::write(master, "typed\n", 6), 6);
  char buf[32] = {};
  std::size_t n = 0;
  ASSERT_FALSE(client_->single(ReadTty{.tty = tty, .buffer = buf, .out_read = &n}));
  EXPECT_EQ(std::string(buf, n), "typed\n");
  ::close(master);
}

}  // namespace
}  // namespace aiod::test
