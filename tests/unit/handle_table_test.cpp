// SPDX-License-Identifier: MIT
// Unit tests of daemon/handle_table: the only names a session's operations can
// use for descriptors. What must hold: handles are never 0 / AIOD_HANDLE_CWD and
// fit a completion result; a closed handle stays dead when its slot is reused;
// the descriptor outlives the handle while an operation still uses it, and is
// closed exactly when the last user lets go; the table never exceeds capacity.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aiod_shm.h"
#include "prepare/handle_table.hpp"

namespace aiod::daemon {
namespace {

// A fresh descriptor the table can own.
int new_fd() {
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  EXPECT_GE(fd, 0) << "eventfd: " << errno;
  return fd;
}

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }
bool fd_closed(int fd) { return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

// insert() for a fresh descriptor; returns the handle and its descriptor.
struct Inserted {
  std::uint32_t handle;
  int fd;
};
Inserted insert_new(HandleTable& t) {
  const int fd = new_fd();
  const std::int64_t h = t.insert(UniqueFd(fd));
  EXPECT_GT(h, 0);
  return {static_cast<std::uint32_t>(h), fd};
}

void expect_valid_handle_value(std::int64_t h) {
  EXPECT_GT(h, 0);
  EXPECT_LT(h, std::int64_t{1} << 31);
  EXPECT_NE(h, std::int64_t{AIOD_HANDLE_INVALID});
  EXPECT_NE(h, std::int64_t{AIOD_HANDLE_CWD});
}

TEST(HandleTable, InsertGivesAHandleThatAcquiresTheDescriptor) {
  HandleTable t(8);
  EXPECT_EQ(t.open_count(), 0u);
  const int fd = new_fd();
  const std::int64_t h = t.insert(UniqueFd(fd));
  expect_valid_handle_value(h);
  EXPECT_EQ(t.open_count(), 1u);
  const auto handle = static_cast<std::uint32_t>(h);
  EXPECT_EQ(t.acquire(handle), fd);
  t.release(handle);
  EXPECT_TRUE(fd_open(fd));
}

TEST(HandleTable, HandlesAreDistinctAndInRangeAcrossManySlots) {
  constexpr std::uint32_t kCount = 500;  // below the default RLIMIT_NOFILE
  HandleTable t(kCount);
  std::set<std::int64_t> seen;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    const std::int64_t h = t.insert(UniqueFd(new_fd()));
    expect_valid_handle_value(h);
    EXPECT_TRUE(seen.insert(h).second) << "duplicate handle " << h;
  }
  EXPECT_EQ(t.open_count(), kCount);
}

TEST(HandleTable, ReusingOneSlotManyTimesNeverRepeatsAHandleWithinTheGenerationPeriod) {
  // Closing and re-opening in a loop reuses the same slot each time; the
  // generation must make every one of those handles different (15 generation
  // bits: 32768 distinct values), and all stay in range.
  HandleTable t(1);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 32768; ++i) {
    const int fd = new_fd();
    const std::int64_t h = t.insert(UniqueFd(fd));
    expect_valid_handle_value(h);
    EXPECT_TRUE(seen.insert(h).second) << "handle " << h << " repeated after " << i << " reuses";
    ASSERT_EQ(t.close(static_cast<std::uint32_t>(h)), 0);
    EXPECT_TRUE(fd_closed(fd));
  }
}

TEST(HandleTable, UnknownHandlesAreEbadf) {
  HandleTable t(8);
  const Inserted a = insert_new(t);
  for (std::uint32_t bogus :
       {0u, AIOD_HANDLE_CWD, a.handle + 1, a.handle | (1u << 16), a.handle | (1u << 31), 0x7fffffffu, 12345u}) {
    if (bogus == a.handle) continue;
    EXPECT_EQ(t.acquire(bogus), -EBADF) << bogus;
    EXPECT_EQ(t.close(bogus), -EBADF) << bogus;
    t.release(bogus);  // harmless
  }
  EXPECT_EQ(t.acquire(a.handle), a.fd);
  t.release(a.handle);
}

TEST(HandleTable, ClosedHandleIsDeadAndStaysDeadAfterItsSlotIsReused) {
  HandleTable t(1);  // one slot: the second insert must reuse it
  const Inserted first = insert_new(t);
  ASSERT_EQ(t.close(first.handle), 0);
  EXPECT_TRUE(fd_closed(first.fd));
  EXPECT_EQ(t.open_count(), 0u);
  EXPECT_EQ(t.acquire(first.handle), -EBADF);
  EXPECT_EQ(t.close(first.handle), -EBADF);

  const Inserted second = insert_new(t);
  EXPECT_NE(second.handle, first.handle);
  EXPECT_EQ(t.acquire(first.handle), -EBADF) << "a stale handle names the slot's new descriptor";
  EXPECT_EQ(t.close(first.handle), -EBADF);
  EXPECT_EQ(t.acquire(second.handle), second.fd);
  t.release(second.handle);
  EXPECT_TRUE(fd_open(second.fd));
  EXPECT_EQ(t.open_count(), 1u);
}

TEST(HandleTable, CloseWithoutReferencesClosesTheDescriptorAtOnce) {
  HandleTable t(4);
  const Inserted a = insert_new(t);
  EXPECT_TRUE(fd_open(a.fd));
  ASSERT_EQ(t.close(a.handle), 0);
  EXPECT_TRUE(fd_closed(a.fd));
  EXPECT_EQ(t.close(a.handle), -EBADF) << "double close";
}

TEST(HandleTable, DescriptorOutlivesTheHandleUntilTheLastReferenceIsReleased) {
  HandleTable t(4);
  const Inserted a = insert_new(t);
  ASSERT_EQ(t.acquire(a.handle), a.fd);
  ASSERT_EQ(t.acquire(a.handle), a.fd);

  ASSERT_EQ(t.close(a.handle), 0);
  EXPECT_EQ(t.open_count(), 0u);
  EXPECT_TRUE(fd_open(a.fd)) << "closed under an in-flight operation";
  EXPECT_EQ(t.acquire(a.handle), -EBADF) << "a closed handle can still be acquired";
  EXPECT_EQ(t.close(a.handle), -EBADF);

  t.release(a.handle);
  EXPECT_TRUE(fd_open(a.fd)) << "closed while one reference remains";
  t.release(a.handle);
  EXPECT_TRUE(fd_closed(a.fd)) << "not closed after the last reference";
  EXPECT_EQ(t.acquire(a.handle), -EBADF);
}

TEST(HandleTable, ReleaseWithoutCloseKeepsTheDescriptor) {
  HandleTable t(4);
  const Inserted a = insert_new(t);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(t.acquire(a.handle), a.fd);
  for (int i = 0; i < 3; ++i) t.release(a.handle);
  EXPECT_TRUE(fd_open(a.fd));
  EXPECT_EQ(t.acquire(a.handle), a.fd);
  t.release(a.handle);
}

TEST(HandleTable, SurplusReleaseDoesNotDropSomeoneElsesReference) {
  HandleTable t(4);
  const Inserted a = insert_new(t);
  ASSERT_EQ(t.acquire(a.handle), a.fd);
  t.release(a.handle);
  t.release(a.handle);  // one too many: must be ignored
  ASSERT_EQ(t.acquire(a.handle), a.fd);
  ASSERT_EQ(t.close(a.handle), 0);
  EXPECT_TRUE(fd_open(a.fd)) << "an unbalanced release freed a referenced descriptor";
  t.release(a.handle);
  EXPECT_TRUE(fd_closed(a.fd));
}

TEST(HandleTable, StaleReleaseDoesNotTouchTheSlotsNewOccupant) {
  HandleTable t(1);
  const Inserted first = insert_new(t);
  ASSERT_EQ(t.close(first.handle), 0);
  const Inserted second = insert_new(t);
  ASSERT_EQ(t.acquire(second.handle), second.fd);
  ASSERT_EQ(t.close(second.handle), 0);
  t.release(first.handle);  // stale: must not count against `second`
  EXPECT_TRUE(fd_open(second.fd));
  t.release(second.handle);
  EXPECT_TRUE(fd_closed(second.fd));
}

TEST(HandleTable, SlotOfAClosedButReferencedHandleIsNotReused) {
  HandleTable t(2);
  const Inserted a = insert_new(t);
  ASSERT_EQ(t.acquire(a.handle), a.fd);
  ASSERT_EQ(t.close(a.handle), 0);
  const Inserted b = insert_new(t);
  EXPECT_NE(b.handle, a.handle);
  EXPECT_NE(b.handle & 0xffffu, a.handle & 0xffffu) << "slot reused while still referenced";
  EXPECT_EQ(t.acquire(b.handle), b.fd);
  t.release(b.handle);
  t.release(a.handle);
  EXPECT_TRUE(fd_closed(a.fd));
  EXPECT_TRUE(fd_open(b.fd));
}

TEST(HandleTable, FullTableRefusesWithEmfileAndClosesTheOfferedDescriptor) {
  HandleTable t(2);
  const Inserted a = insert_new(t);
  const Inserted b = insert_new(t);
  const int extra = new_fd();
  EXPECT_EQ(t.insert(UniqueFd(extra)), -EMFILE);
  EXPECT_TRUE(fd_closed(extra)) << "the refused descriptor leaked";
  EXPECT_EQ(t.open_count(), 2u);
  EXPECT_TRUE(fd_open(a.fd));
  EXPECT_TRUE(fd_open(b.fd));

  ASSERT_EQ(t.close(a.handle), 0);
  const Inserted c = insert_new(t);
  EXPECT_EQ(t.acquire(c.handle), c.fd);
  t.release(c.handle);
}

TEST(HandleTable, AClosedButReferencedHandleStillCountsAgainstCapacity) {
  HandleTable t(1);
  const Inserted a = insert_new(t);
  ASSERT_EQ(t.acquire(a.handle), a.fd);
  ASSERT_EQ(t.close(a.handle), 0);
  const int extra = new_fd();
  EXPECT_EQ(t.insert(UniqueFd(extra)), -EMFILE);
  EXPECT_TRUE(fd_closed(extra));
  t.release(a.handle);
  EXPECT_TRUE(fd_closed(a.fd));
  const Inserted b = insert_new(t);
  EXPECT_TRUE(fd_open(b.fd));
}

TEST(HandleTable, ZeroCapacityRefusesEverything) {
  HandleTable t(0);
  const int fd = new_fd();
  EXPECT_EQ(t.insert(UniqueFd(fd)), -EMFILE);
  EXPECT_TRUE(fd_closed(fd));
}

TEST(HandleTable, DestructorClosesEveryDescriptorStillHeld) {
  std::vector<int> fds;
  {
    HandleTable t(8);
    const Inserted plain = insert_new(t);
    const Inserted referenced = insert_new(t);
    const Inserted closed_but_referenced = insert_new(t);
    const Inserted closed = insert_new(t);
    ASSERT_EQ(t.acquire(referenced.handle), referenced.fd);
    ASSERT_EQ(t.acquire(closed_but_referenced.handle), closed_but_referenced.fd);
    ASSERT_EQ(t.close(closed_but_referenced.handle), 0);
    ASSERT_EQ(t.close(closed.handle), 0);
    fds = {plain.fd, referenced.fd, closed_but_referenced.fd};
    for (int fd : fds) ASSERT_TRUE(fd_open(fd));
  }
  for (int fd : fds) EXPECT_TRUE(fd_closed(fd)) << fd;
}


// Which reads may be tried at once on the shard thread: a buffered regular
// file whose open file description the daemon alone holds. A description a
// client shares could be switched to O_DIRECT at any moment, and a direct read
// waits for the device even with RWF_NOWAIT.
std::uint32_t insert_fd(HandleTable& t, int fd, HandleTable::Description d) {
  EXPECT_GE(fd, 0) << "open: " << errno;
  const std::int64_t h = t.insert(UniqueFd(fd), d);
  EXPECT_GT(h, 0);
  return static_cast<std::uint32_t>(h);
}

// A pipe's reads and writes take its mutex even when told not to block, and
// a client holding the other end can keep it: they never run on the shard.
TEST(HandleTable, PipesAreToldApartFromOtherFiles) {
  HandleTable t(16);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const auto r = t.insert(UniqueFd(p[0]));
  const auto w = t.insert(UniqueFd(p[1]));
  const auto e = t.insert(UniqueFd(::eventfd(0, EFD_CLOEXEC)));
  const auto f = t.insert(UniqueFd(::open("/proc/self/stat", O_RDONLY | O_CLOEXEC)));
  ASSERT_GT(r, 0);
  ASSERT_GT(w, 0);
  ASSERT_GT(e, 0);
  ASSERT_GT(f, 0);
  EXPECT_TRUE(t.is_pipe(static_cast<std::uint32_t>(r)));
  EXPECT_TRUE(t.is_pipe(static_cast<std::uint32_t>(w)));
  EXPECT_FALSE(t.is_pipe(static_cast<std::uint32_t>(e)));
  EXPECT_FALSE(t.is_pipe(static_cast<std::uint32_t>(f)));
  EXPECT_FALSE(t.is_pipe(9999)) << "no such handle";
  // A slot given back and reused is asked again: the pipe's slot, once the
  // file's, must not keep the file's answer.
  ASSERT_EQ(t.close(static_cast<std::uint32_t>(f)), 0);
  int q[2];
  ASSERT_EQ(::pipe2(q, O_CLOEXEC), 0);
  ::close(q[1]);
  const auto reused = t.insert(UniqueFd(q[0]));
  ASSERT_GT(reused, 0);
  EXPECT_EQ(reused & 0xffff, f & 0xffff) << "the test meant to reuse the file's slot";
  EXPECT_TRUE(t.is_pipe(static_cast<std::uint32_t>(reused))) << "a reused slot kept its last descriptor's type";
}

TEST(HandleTable, OnlyBufferedRegularFilesOfTheDaemonsOwnMayBeReadAtOnce) {
  using D = HandleTable::Description;
  HandleTable t(16);
  char dir[] = "/var/tmp/aiod-handles-XXXXXX";  // a disk filesystem: O_DIRECT opens there
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/f";
  auto open_file = [&](int flags) { return ::open(file.c_str(), flags | O_CREAT | O_CLOEXEC, 0600); };
  const std::uint32_t own = insert_fd(t, open_file(O_RDWR), D::daemons_own);
  const std::uint32_t shared = insert_fd(t, open_file(O_RDWR), D::shared);
  const std::uint32_t directory = insert_fd(t, ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), D::daemons_own);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  const std::uint32_t pipe_end = insert_fd(t, pipe_fds[0], D::daemons_own);
  ::close(pipe_fds[1]);
  const std::uint32_t event = insert_fd(t, new_fd(), D::daemons_own);
  EXPECT_TRUE(t.may_read_at_once(own));
  EXPECT_TRUE(t.may_read_at_once(own));  // the remembered answer
  EXPECT_FALSE(t.may_read_at_once(shared)) << "a client shares this description: it may turn on O_DIRECT";
  EXPECT_FALSE(t.may_read_at_once(directory));
  EXPECT_FALSE(t.may_read_at_once(pipe_end));
  EXPECT_FALSE(t.may_read_at_once(event));
  EXPECT_FALSE(t.may_read_at_once(0));
  EXPECT_FALSE(t.may_read_at_once(own + 1));
  if (const int direct = open_file(O_RDONLY | O_DIRECT); direct >= 0) {
    EXPECT_FALSE(t.may_read_at_once(insert_fd(t, direct, D::daemons_own)));
  }
  // Sent away with SCM_RIGHTS: shared from then on, whatever was answered.
  t.mark_shared(own);
  EXPECT_FALSE(t.may_read_at_once(own));
  // Refused by the filesystem once: never tried again.
  const std::uint32_t refused = insert_fd(t, open_file(O_RDONLY), D::daemons_own);
  ASSERT_TRUE(t.may_read_at_once(refused));
  t.no_read_at_once(refused);
  EXPECT_FALSE(t.may_read_at_once(refused));
  // A slot reused by another descriptor is asked again.
  ASSERT_EQ(t.close(refused), 0);
  std::uint32_t reused = 0;
  for (int i = 0; i < 16 && reused == 0; ++i) {
    const std::uint32_t h = insert_fd(t, open_file(O_RDONLY), D::daemons_own);
    if ((h & 0xffff) == (refused & 0xffff)) reused = h;
  }
  ASSERT_NE(reused, 0u) << "the closed slot was not reused";
  EXPECT_TRUE(t.may_read_at_once(reused));
  ::unlink(file.c_str());
  ::rmdir(dir);
}

}  // namespace
}  // namespace aiod::daemon
