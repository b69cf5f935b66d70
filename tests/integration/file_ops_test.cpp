// SPDX-License-Identifier: MIT
// Every operation of the walking skeleton through a real aiod: nop, read,
// write, fsync, timeout, open_at, close_file; arena and copied buffers;
// descriptors passed over the control socket.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <aiod/aiod.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

class FileOps : public OpTest {
 protected:
  static std::string slurp(const std::string& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
  }
};

TEST_F(FileOps, NopCompletesSuccessfully) {
  std::error_code err = make_error_code(errc::protocol_error);
  EXPECT_FALSE(client_->single(Nop{.out_error = &err}));
  EXPECT_FALSE(err);
}

TEST_F(FileOps, WriteThenReadAtOffsets) {
  const Handle f = open(path("data"), O_RDWR | O_CREAT, 0600);
  ASSERT_TRUE(f);
  std::size_t written = 0;
  ASSERT_FALSE(client_->single(Write{.file = f, .buffer = "foobar", .offset = 0, .out_written = &written}));
  EXPECT_EQ(written, 6u);
  EXPECT_EQ(slurp(path("data")), "foobar");
  char buf[16] = {};
  std::size_t got = 0;
  ASSERT_FALSE(client_->single(Read{.file = f, .buffer = buf, .offset = 3, .out_read = &got}));
  EXPECT_EQ(got, 3u);
  EXPECT_EQ(std::string(buf, got), "bar");
}

TEST_F(FileOps, ReadAtEndOfFileReturnsZero) {
  const Handle f = open(path("empty"), O_RDWR | O_CREAT, 0600);
  char buf[8];
  std::size_t got = 99;
  ASSERT_FALSE(client_->single(Read{.file = f, .buffer = buf, .offset = 0, .out_read = &got}));
  EXPECT_EQ(got, 0u);
}

TEST_F(FileOps, CurrentPositionAdvances) {
  const Handle f = open(path("pos"), O_RDWR | O_CREAT, 0600);
  ASSERT_FALSE(client_->single(Write{.file = f, .buffer = "abc"}));
  ASSERT_FALSE(client_->single(Write{.file = f, .buffer = "def"}));
  EXPECT_EQ(slurp(path("pos")), "abcdef");
}

TEST_F(FileOps, ReadOfWriteOnlyFileFailsWithEbadf) {
  const Handle f = open(path("wo"), O_WRONLY | O_CREAT, 0600);
  char buf[4];
  std::size_t got = 0;
  EXPECT_EQ(client_->single(Read{.file = f, .buffer = buf, .offset = 0, .out_read = &got}),
            std::error_code(EBADF, std::system_category()));
}

TEST_F(FileOps, WriteOfReadOnlyFileFailsWithEbadf) {
  { std::ofstream(path("ro")) << "x"; }
  const Handle f = open(path("ro"), O_RDONLY);
  EXPECT_EQ(client_->single(Write{.file = f, .buffer = "y", .offset = 0}),
            std::error_code(EBADF, std::system_category()));
}

TEST_F(FileOps, FsyncAndDatasync) {
  const Handle f = open(path("sync"), O_RDWR | O_CREAT, 0600);
  EXPECT_FALSE(client_->single(Fsync{.file = f}));
  EXPECT_FALSE(client_->single(Fsync{.file = f, .datasync = true}));
}

TEST_F(FileOps, TimeoutWaitsAtLeastItsDurationAndSucceeds) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(client_->single(Timeout{.duration = std::chrono::milliseconds(50)}));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
}

TEST_F(FileOps, OpenMissingFileFailsWithEnoent) {
  Handle h;
  EXPECT_EQ(client_->single(OpenAt{.path = path("missing").c_str(), .out_file = &h}),
            std::error_code(ENOENT, std::system_category()));
  EXPECT_FALSE(h);
}

TEST_F(FileOps, OpenCreatesWithModeUnderTheClientsUmask) {
  // The umask in force when the client connects is the one its creates get.
  const mode_t old = ::umask(027);
  auto c = Client::connect(daemon_.client_options());
  ::umask(old);
  ASSERT_TRUE(c) << c.message();
  Handle f;
  ASSERT_FALSE(c->single(
      OpenAt{.path = path("created").c_str(), .flags = O_WRONLY | O_CREAT | O_EXCL, .mode = 0666, .out_file = &f}));
  struct stat st {};
  ASSERT_EQ(::stat(path("created").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(FileOps, ModeWithoutCreateIsInvalid) {
  Handle f;
  EXPECT_EQ(client_->single(OpenAt{.path = path("x").c_str(), .flags = O_RDONLY, .mode = 0644, .out_file = &f}),
            std::error_code(EINVAL, std::system_category()));
}

TEST_F(FileOps, RelativePathsResolveAgainstTheClientsCwd) {
  // The client's cwd is passed at connect: change it first, then connect.
  const std::string sub = path("sub");
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  { std::ofstream(sub + "/rel.txt") << "relative"; }
  char old[4096];
  ASSERT_NE(::getcwd(old, sizeof(old)), nullptr);
  ASSERT_EQ(::chdir(sub.c_str()), 0);
  auto c = Client::connect(daemon_.client_options());
  ASSERT_EQ(::chdir(old), 0);
  ASSERT_TRUE(c) << c.message();
  Handle f;
  ASSERT_FALSE(c->single(OpenAt{.path = "rel.txt", .out_file = &f}));
  char buf[16] = {};
  std::size_t got = 0;
  ASSERT_FALSE(c->single(Read{.file = f, .buffer = buf, .offset = 0, .out_read = &got}));
  EXPECT_EQ(std::string(buf, got), "relative");
}

TEST_F(FileOps, OpenRelativeToADirectoryHandle) {
  ASSERT_EQ(::mkdir(path("dir").c_str(), 0755), 0);
  { std::ofstream(path("dir/inner")) << "inner"; }
  const Handle dir = open(path("dir"), O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dir);
  Handle f;
  ASSERT_FALSE(client_->single(OpenAt{.dir = dir, .path = "inner", .out_file = &f}));
  EXPECT_TRUE(f);
}

TEST_F(FileOps, CloseFileInvalidatesTheHandle) {
  const Handle f = open(path("closeme"), O_RDWR | O_CREAT, 0600);
  ASSERT_FALSE(client_->single(CloseFile{.file = f}));
  EXPECT_EQ(client_->single(Write{.file = f, .buffer = "x", .offset = 0}),
            std::error_code(EBADF, std::system_category()));
  EXPECT_EQ(client_->single(CloseFile{.file = f}), std::error_code(EBADF, std::system_category()));
}

TEST_F(FileOps, ArenaBuffersAreUsedInPlace) {
  const Handle f = open(path("arena"), O_RDWR | O_CREAT, 0600);
  auto block = client_->arena_alloc(4096);
  ASSERT_TRUE(block);
  std::memset(block->data(), 'z', 4096);
  std::size_t written = 0;
  ASSERT_FALSE(client_->single(
      Write{.file = f, .buffer = MutableBuffer(block->data(), 4096), .offset = 0, .out_written = &written}));
  EXPECT_EQ(written, 4096u);
  std::memset(block->data(), 0, 4096);
  std::size_t got = 0;
  ASSERT_FALSE(
      client_->single(Read{.file = f, .buffer = MutableBuffer(block->data(), 4096), .offset = 0, .out_read = &got}));
  EXPECT_EQ(got, 4096u);
  EXPECT_EQ(static_cast<char>((*block)[4095]), 'z');
  client_->arena_free(*block);
}

TEST_F(FileOps, LargeCopiedTransfersRoundTrip) {
  const Handle f = open(path("large"), O_RDWR | O_CREAT, 0600);
  std::string data(512 * 1024, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  std::size_t written = 0;
  ASSERT_FALSE(client_->single(Write{.file = f, .buffer = data, .offset = 0, .out_written = &written}));
  ASSERT_EQ(written, data.size());
  std::string back(data.size(), '\0');
  std::size_t got = 0;
  ASSERT_FALSE(client_->single(Read{.file = f, .buffer = back, .offset = 0, .out_read = &got}));
  EXPECT_EQ(got, data.size());
  EXPECT_EQ(back, data);
}

TEST_F(FileOps, BufferLargerThanTheArenaIsRefusedBeforeSubmission) {
  const Handle f = open(path("huge"), O_RDWR | O_CREAT, 0600);
  std::string huge(client_->info().arena_bytes + 1, 'x');
  EXPECT_EQ(client_->single(Write{.file = f, .buffer = huge, .offset = 0}), make_error_code(errc::arena_exhausted));
  // Nothing was lost: the session still works.
  EXPECT_FALSE(client_->single(Nop{}));
}

TEST_F(FileOps, PassedDescriptorsBecomeHandles) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto handles = client_->register_fds(std::array<int, 2>{p[0], p[1]});
  ASSERT_TRUE(handles) << handles.message();
  ::close(p[0]);
  ::close(p[1]);  // the daemon holds its own copies
  const Handle rd = (*handles)[0], wr = (*handles)[1];
  char buf[8] = {};
  std::size_t got = 0, put = 0;
  ASSERT_FALSE(client_->multi(Write{.file = wr, .buffer = "ping", .out_written = &put},
                              Read{.file = rd, .buffer = buf, .out_read = &got}));
  EXPECT_EQ(put, 4u);
  EXPECT_EQ(std::string(buf, got), "ping");
  ASSERT_FALSE(client_->unregister(*handles));
  EXPECT_EQ(client_->single(Write{.file = wr, .buffer = "x"}), std::error_code(EBADF, std::system_category()));
  EXPECT_EQ(client_->unregister(*handles), make_error_code(errc::rejected));
}

TEST_F(FileOps, CompleteCountsFailures) {
  Handle bad{12345};
  auto r = client_->complete(Nop{}, CloseFile{.file = bad}, Nop{}, Fsync{.file = bad});
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(client_->multi(Nop{}, CloseFile{.file = bad}), make_error_code(errc::some_operation_failed));
}

TEST_F(FileOps, OutErrorIsWrittenOnSuccessAndFailure) {
  std::error_code a = make_error_code(errc::protocol_error), b;
  auto r = client_->complete(Nop{.out_error = &a}, CloseFile{.file = Handle{777}, .out_error = &b});
  ASSERT_TRUE(r);
  EXPECT_FALSE(a);
  EXPECT_EQ(b, std::error_code(EBADF, std::system_category()));
}

TEST_F(FileOps, DynamicQueueCompletesBlockingAndNonblocking) {
  Dynamic q(*client_, 8);
  int called = 0;
  q.set_callback([&](OpId, std::uint64_t userdata, bool failed) {
    EXPECT_EQ(userdata, 42u);
    EXPECT_FALSE(failed);
    ++called;
  });
  // Nothing outstanding: blocking returns at once.
  auto none = q.complete(CompletionMode::blocking);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->num_completed, 0u);
  OpId id1, id2;
  ASSERT_FALSE(q.queue(Nop{.userdata = 42, .out_id = &id1}, Nop{.userdata = 42, .out_id = &id2}));
  EXPECT_NE(id1, id2);
  EXPECT_EQ(q.outstanding(), 2u);
  auto all = q.complete_all();
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 0u);
  EXPECT_EQ(called, 2);
  EXPECT_EQ(q.outstanding(), 0u);
}

TEST_F(FileOps, DynamicQueueIsAtomicAndBounded) {
  Dynamic q(*client_, 3);
  ASSERT_FALSE(q.queue(Nop{}, Nop{}));
  EXPECT_EQ(q.queue(Nop{}, Nop{}), make_error_code(errc::queue_full));
  EXPECT_EQ(q.outstanding(), 2u);  // the refused call queued nothing
  EXPECT_EQ(q.queue(Nop{.link = Link::soft}), make_error_code(errc::invalid_batch));
  auto n = q.complete_all();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
}

TEST_F(FileOps, NonblockingCompleteDoesNotWait) {
  Dynamic q(*client_, 4);
  ASSERT_FALSE(q.queue(Timeout{.duration = std::chrono::seconds(2)}));
  const auto start = std::chrono::steady_clock::now();
  auto r = q.complete(CompletionMode::nonblocking);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num_completed, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  // The destructor waits for the timeout: that it returns is part of the test.
}

}  // namespace
}  // namespace aiod::test
