// SPDX-License-Identifier: MIT
// uring_backend_fixture.hpp — the shared driver of the io_uring backend's unit
// tests (uring_backend_ops_test.cpp, uring_backend_links_test.cpp): a real
// ring from make_uring_backend(), driven as a shard drives it.
//
// Every test skips, with the backend's own sentence, where io_uring is
// unavailable. Waits are bounded (kLimit) and fail the test clearly; nothing
// sleeps to synchronise. One thread drives a backend: the one that made it
// (the ring is single-issuer).
#pragma once

#include <fcntl.h>
#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/backend.hpp"

namespace aiod::daemon::uring_test {

using namespace std::chrono_literals;

inline constexpr auto kLimit = 5s;

// Records every result it is given; `count` > 1 breaks "every op completes
// exactly once". `order` is the value of a shared sequence when it completed.
struct Recorder final : Completion {
  explicit Recorder(int* sequence = nullptr) : sequence_(sequence) {}
  void complete(int res) override {
    ++count;
    result = res;
    if (sequence_ != nullptr) order = ++*sequence_;
  }
  int count = 0;
  int result = 0;
  int order = 0;

 private:
  int* sequence_;
};

// Drives `backend` as a shard does until `done` holds; false on timeout.
inline bool run_until(Backend& backend, const std::function<bool()>& done, std::chrono::nanoseconds limit = kLimit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    backend.flush();
    backend.drain();
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    backend.wait(10ms);
  }
}

// Prepares `op`, runs it to its completion and returns its result (checked
// to come exactly once).
inline int run_op(Backend& backend, const BackendOp& op) {
  Recorder r;
  EXPECT_EQ(backend.prepare(op, &r), 0);
  EXPECT_TRUE(run_until(backend, [&] { return r.count > 0; }))
      << "op " << static_cast<int>(op.opcode()) << " did not complete within " << kLimit.count() << " s";
  backend.drain();  // a second completion would show up here
  EXPECT_EQ(r.count, 1);
  return r.result;
}

class UringBackendFixture : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(make(64)); }
  void TearDown() override {
    backend_.reset();  // before the descriptors its pending ops may name
    for (int fd : fds_) ::close(fd);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // A fresh backend of `entries` slots, with the io_uring of `emulate` if
  // given, else of AIOD_TEST_EMULATE_KERNEL if set (the kernel-X.Y runs of
  // these suites). Skips the test without io_uring.
  void make(unsigned entries, std::optional<KernelVersion> emulate = std::nullopt) {
    backend_.reset();
    if (!emulate) {
      if (const char* env = std::getenv("AIOD_TEST_EMULATE_KERNEL")) emulate = KernelVersion::parse(env);
    }
    std::string error;
    backend_ = make_uring_backend(entries, 4, emulate, error);
    if (!backend_) GTEST_SKIP() << error;
  }

  bool run_until(const std::function<bool()>& done, std::chrono::nanoseconds limit = kLimit) {
    return uring_test::run_until(*backend_, done, limit);
  }
  bool finish(Recorder& r) {
    return run_until([&] { return r.count > 0; });
  }
  bool finish(Recorder& a, Recorder& b) {
    return run_until([&] { return a.count > 0 && b.count > 0; });
  }
  bool finish(Recorder& a, Recorder& b, Recorder& c) {
    return run_until([&] { return a.count > 0 && b.count > 0 && c.count > 0; });
  }
  // A few more turns after everything completed: a second completion of any
  // op would be delivered here.
  void settle() {
    for (int i = 0; i < 3; ++i) {
      backend_->flush();
      backend_->drain();
    }
  }
  int run(const BackendOp& op) { return run_op(*backend_, op); }

  // Descriptors closed at the end of the test.
  int keep(int fd) {
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }
  void socketpair(int type, int (&sv)[2]) {
    ASSERT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
    keep(sv[0]);
    keep(sv[1]);
  }
  const std::string& dir() {
    if (dir_.empty()) {
      char tmpl[] = "/tmp/aiod-uring-XXXXXX";
      const char* made = ::mkdtemp(tmpl);
      EXPECT_NE(made, nullptr) << "mkdtemp: " << std::strerror(errno);
      dir_ = made != nullptr ? made : "/nonexistent";
    }
    return dir_;
  }
  std::string path(const std::string& name) { return dir() + "/" + name; }
  int dir_fd() { return keep(::open(dir().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)); }
  // A file of the test directory, opened with `flags` (created empty).
  int file(const std::string& name, int flags = O_RDWR) {
    return keep(::open(path(name).c_str(), flags | O_CREAT | O_CLOEXEC, 0600));
  }
  static std::string contents(int fd) {
    std::string out(4096, '\0');
    const ssize_t n = ::pread(fd, out.data(), out.size(), 0);
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
  }
  static off_t size_of(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? st.st_size : -1;
  }

  static BackendOp recv_op(int fd, void* buf, std::uint32_t len) {
    return BackendOp(op::Recv{.fd = fd, .buf = buf, .len = len});
  }
  static BackendOp send_op(int fd, const void* buf, std::uint32_t len) {
    return BackendOp(op::Send{.fd = fd, .buf = buf, .len = len});
  }
  static BackendOp write_op(int fd, const void* buf, std::uint32_t len, std::uint64_t offset = 0) {
    return BackendOp(op::Write{.fd = fd, .buf = buf, .len = len, .offset = offset});
  }
  static BackendOp link_timer_op(const __kernel_timespec& ts) { return BackendOp(op::LinkTimeout{.ts = &ts}); }
  static BackendOp linked(BackendOp op, Link link) {
    op.link = link;
    return op;
  }

  std::unique_ptr<Backend> backend_;
  std::vector<int> fds_;
  std::string dir_;
};

}  // namespace aiod::daemon::uring_test
