// SPDX-License-Identifier: MIT
// The io_uring backend's lone read: a positioned read of a regular file that
// is the turn's only op for the ring is tried at once (preadv2 RWF_NOWAIT)
// and goes to the ring when that cannot finish it. Whichever way it runs,
// it must end as the ring would end it: the same result and bytes, exactly
// one completion delivered by drain(), the queue's room and order kept, and a
// cancel or a sleep that finds it held still served.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "uring_backend_fixture.hpp"

namespace aiod::daemon::uring_test {
namespace {

class UringBackendReadAtOnceTest : public UringBackendFixture {
 protected:
  // A file holding `text`, written and synced.
  int file_with(const std::string& text) {
    const int fd = file("f");
    EXPECT_EQ(::pwrite(fd, text.data(), text.size(), 0), static_cast<ssize_t>(text.size()));
    EXPECT_EQ(::fsync(fd), 0);
    return fd;
  }
  static BackendOp read_op(int fd, void* buf, std::uint32_t len, std::uint64_t offset) {
    return BackendOp(op::Read{.fd = fd, .buf = buf, .len = len, .offset = offset, .try_at_once = true});
  }
};

TEST_F(UringBackendReadAtOnceTest, ALoneCachedReadCompletesOnceFromDrain) {
  const int fd = file_with("hello world");
  char buf[8] = {};
  Recorder r;
  ASSERT_EQ(backend_->prepare(read_op(fd, buf, 5, 6), &r), 0);
  EXPECT_EQ(backend_->flush(), 1);
  EXPECT_EQ(r.count, 0) << "a completion runs from drain(), never from flush()";
  ASSERT_TRUE(finish(r));
  settle();
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.result, 5);
  EXPECT_STREQ(buf, "world");
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 0);
}

// Past the end, 0; across it, the bytes there are (a short count the ring
// gives too); a zero-length read, 0.
TEST_F(UringBackendReadAtOnceTest, EndOfFileAndShortReadsAreTheRings) {
  const int fd = file_with("hello world");
  char buf[32] = {};
  EXPECT_EQ(run(read_op(fd, buf, sizeof(buf), 100)), 0);
  EXPECT_EQ(run(read_op(fd, buf, sizeof(buf), 6)), 5);
  EXPECT_EQ(std::string(buf, 5), "world");
  EXPECT_EQ(run(read_op(fd, buf, 0, 0)), 0);
}

// Pages dropped from the cache: the try cannot finish the read, the ring
// reads them (where the filesystem keeps pages in memory only, the try
// finishes it; both give the bytes).
TEST_F(UringBackendReadAtOnceTest, AnUncachedReadGoesToTheRing) {
  const std::string text(64 * 1024, 'x');
  const int fd = file_with(text);
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  std::vector<char> buf(text.size());
  EXPECT_EQ(run(read_op(fd, buf.data(), static_cast<std::uint32_t>(buf.size()), 0)),
            static_cast<int>(text.size()));
  EXPECT_EQ(std::string(buf.data(), buf.size()), text);
}

// Errors are the ring's: a descriptor that cannot be read positionally.
TEST_F(UringBackendReadAtOnceTest, ErrorsAreTheRings) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  keep(p[0]);
  keep(p[1]);
  ASSERT_EQ(::write(p[1], "abcdef", 6), 6);
  char buf[8] = {};
  const BackendOp op(op::Read{.fd = p[0], .buf = buf, .len = 3, .offset = 0});
  const int ring = run(op);  // never tried at once: not marked as a regular file
  EXPECT_EQ(run(read_op(p[0], buf, 3, 0)), ring);
  const int wronly = file("w", O_WRONLY);
  EXPECT_EQ(run(read_op(wronly, buf, 3, 0)), -EBADF);
}

// A filesystem without RWF_NOWAIT (tmpfs on some kernels) refuses the try:
// the ring reads, and the refusal is reported so that the handle is not
// tried again. Where the filesystem has it, nothing is reported.
TEST_F(UringBackendReadAtOnceTest, ARefusedTryIsReportedAndTheRingReads) {
  char path[] = "/dev/shm/aiod-read-at-once-XXXXXX";
  const int fd = keep(::mkstemp(path));
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ::unlink(path);
  ASSERT_EQ(::pwrite(fd, "hello", 5, 0), 5);
  char probe;
  const iovec one{&probe, 1};
  const bool refused_here = ::preadv2(fd, &one, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP;
  char buf[8] = {};
  bool refused = false;
  BackendOp op = read_op(fd, buf, 5, 0);
  op.as<op::Read>().at_once_refused = &refused;
  EXPECT_EQ(run(op), 5);
  EXPECT_STREQ(buf, "hello");
  EXPECT_EQ(refused, refused_here);
}

// A held read takes a slot, as if it were on the ring already; every read
// of the turn completes once, with its own bytes.
TEST_F(UringBackendReadAtOnceTest, AHeldReadKeepsItsSlotAndItsPlace) {
  ASSERT_NO_FATAL_FAILURE(make(4));
  const int fd = file_with("abcdefgh");
  char bufs[4][2] = {};
  std::vector<Recorder> rs(5);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(backend_->prepare(read_op(fd, bufs[i], 2, 2u * i), &rs[i]), 0) << i;
  EXPECT_EQ(backend_->space(), 0u);
  EXPECT_EQ(backend_->prepare(read_op(fd, bufs[0], 2, 0), &rs[4]), -EAGAIN);
  EXPECT_EQ(backend_->flush(), 4);
  ASSERT_TRUE(run_until([&] { return rs[0].count && rs[1].count && rs[2].count && rs[3].count; }));
  settle();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(rs[i].count, 1) << i;
    EXPECT_EQ(rs[i].result, 2) << i;
    EXPECT_EQ(std::string(bufs[i], 2), std::string("abcdefgh").substr(2 * i, 2)) << i;
  }
  EXPECT_EQ(rs[4].count, 0);
}

// A read followed by a write of the same bytes in one turn: the read was
// prepared first and reads what was there before.
TEST_F(UringBackendReadAtOnceTest, AnOpAfterAHeldReadFollowsIt) {
  const int fd = file_with("old!");
  char buf[4] = {};
  Recorder read, write;
  ASSERT_EQ(backend_->prepare(read_op(fd, buf, 4, 0), &read), 0);
  ASSERT_EQ(backend_->prepare(write_op(fd, "new!", 4, 0), &write), 0);
  ASSERT_TRUE(finish(read, write));
  settle();
  EXPECT_EQ(read.count, 1);
  EXPECT_EQ(write.count, 1);
  EXPECT_EQ(read.result, 4);
  EXPECT_EQ(write.result, 4);
  EXPECT_EQ(std::string(buf, 4), "old!");
  EXPECT_EQ(contents(fd), "new!");
}

// Cancelling a read still held: it completes once, read or cancelled.
TEST_F(UringBackendReadAtOnceTest, CancellingAHeldReadCompletesItOnce) {
  const int fd = file_with("hello");
  char buf[8] = {};
  Recorder r;
  ASSERT_EQ(backend_->prepare(read_op(fd, buf, 5, 0), &r), 0);
  ASSERT_EQ(backend_->cancel(&r), 0);
  ASSERT_TRUE(finish(r));
  settle();
  EXPECT_EQ(r.count, 1);
  EXPECT_TRUE(r.result == 5 || r.result == -ECANCELED) << r.result;
}

// A shard that goes to sleep with a read held (no flush first) must not
// sleep on it: wait() runs it and returns at once, and drain() delivers it.
TEST_F(UringBackendReadAtOnceTest, WaitServesAHeldRead) {
  const int fd = file_with("hello");
  char buf[8] = {};
  Recorder r;
  ASSERT_EQ(backend_->prepare(read_op(fd, buf, 5, 0), &r), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(backend_->wait(kLimit), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kLimit) << "wait() slept with a read to do";
  backend_->drain();
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.result, 5);
  EXPECT_STREQ(buf, "hello");
}

}  // namespace
}  // namespace aiod::daemon::uring_test
