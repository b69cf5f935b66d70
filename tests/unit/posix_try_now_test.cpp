// SPDX-License-Identifier: MIT
// What the posix backend tries at once on the shard thread, and what it
// leaves to a worker. A transfer on a regular file or block device whose
// description a client shares is never tried there: the client may switch it
// to O_DIRECT at any moment, and a direct transfer waits for the device even
// with RWF_NOWAIT, which would stall every session of the shard.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "backend/posix/posix_op.hpp"
#include "unique_fd.hpp"

namespace aiod::daemon::posix {
namespace {

class PosixTryNow : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/var/tmp/aiod-try-now-XXXXXX";
    file_ = UniqueFd(::mkstemp(path));
    ASSERT_TRUE(file_) << std::strerror(errno);
    ::unlink(path);
    ASSERT_EQ(::pwrite(file_.get(), "hello", 5, 0), 5);
  }
  UniqueFd file_;
  std::uint64_t syscalls_ = 0;
};

TEST_F(PosixTryNow, ASharedRegularFileGoesToAWorkerUntried) {
  char buf[8] = {};
  const BackendOp read(op::Read{.fd = file_.get(), .buf = buf, .len = 5, .offset = 0});
  EXPECT_EQ(try_now(read, syscalls_), std::nullopt);
  EXPECT_EQ(buf[0], '\0') << "the read ran on the shard thread";
  const BackendOp write(op::Write{.fd = file_.get(), .buf = "HELLO", .len = 5, .offset = 0});
  EXPECT_EQ(try_now(write, syscalls_), std::nullopt);
  char back[8] = {};
  EXPECT_EQ(::pread(file_.get(), back, 5, 0), 5);
  EXPECT_STREQ(back, "hello") << "the write ran on the shard thread";
}

TEST_F(PosixTryNow, ABufferedFileOfTheDaemonsOwnIsReadAtOnce) {
  char buf[8] = {};
  const BackendOp read(op::Read{.fd = file_.get(), .buf = buf, .len = 5, .offset = 0, .try_at_once = true});
  EXPECT_EQ(try_now(read, syscalls_), std::optional<int>(5));
  EXPECT_STREQ(buf, "hello");
}

// At the file position the kernel takes the description's position lock
// first, which RWF_NOWAIT does not cover and a client's own stuck call may
// hold: never on the shard, marked or not, for a file or a directory.
TEST_F(PosixTryNow, AReadAtTheFilePositionIsNeverTriedOnAFileOrDirectory) {
  char buf[8] = {};
  const BackendOp read(op::Read{.fd = file_.get(), .buf = buf, .len = 5, .try_at_once = true});
  EXPECT_EQ(try_now(read, syscalls_), std::nullopt);
  EXPECT_EQ(buf[0], '\0');
  const UniqueFd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  const BackendOp dir_read(op::Read{.fd = dir.get(), .buf = buf, .len = 5});
  EXPECT_EQ(try_now(dir_read, syscalls_), std::nullopt);
}

// A file without RWF_NOWAIT (an eventfd's write) would be tried on the shard
// only by trusting its O_NONBLOCK, which a client sharing the description
// can clear between the look and the call: an eventfd whose count the client
// has filled then blocks the shard thread for good. Such a transfer goes to
// a worker, whatever the flag says.
TEST_F(PosixTryNow, ATransferWithoutRwfNowaitGoesToAWorkerWhateverItsONonblock) {
  const UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(efd);
  const std::uint64_t one = 1;
  const BackendOp write(op::Write{.fd = efd.get(), .buf = &one, .len = sizeof(one)});
  EXPECT_EQ(try_now(write, syscalls_), std::nullopt);
  std::uint64_t count = 0;
  EXPECT_EQ(::read(efd.get(), &count, sizeof(count)), -1) << "the write ran on the shard thread (count " << count << ")";
  EXPECT_EQ(errno, EAGAIN);
}

// A pipe's read takes its mutex even with RWF_NOWAIT, and a client's
// blocking splice into the pipe holds that mutex: never on the shard, even
// with data waiting and not marked never_inline.
TEST_F(PosixTryNow, APipeGoesToAWorkerUntried) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  const UniqueFd r(p[0]), w(p[1]);
  ASSERT_EQ(::write(w.get(), "abc", 3), 3);
  char buf[4] = {};
  const BackendOp read(op::Read{.fd = r.get(), .buf = buf, .len = 3});
  EXPECT_EQ(try_now(read, syscalls_), std::nullopt);
  EXPECT_EQ(buf[0], '\0') << "the read ran on the shard thread";
  const BackendOp write(op::Write{.fd = w.get(), .buf = "d", .len = 1});
  EXPECT_EQ(try_now(write, syscalls_), std::nullopt);
}

TEST_F(PosixTryNow, AReadyEventfdIsStillReadAtOnce) {
  const UniqueFd efd(::eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(efd);
  std::uint64_t value = 0;
  const BackendOp read(op::Read{.fd = efd.get(), .buf = &value, .len = sizeof(value)});
  EXPECT_EQ(try_now(read, syscalls_), std::optional<int>(8));
  EXPECT_EQ(value, 3u);
}

}  // namespace
}  // namespace aiod::daemon::posix
