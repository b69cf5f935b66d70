// SPDX-License-Identifier: MIT
// Unit tests of daemon/socket_activation: taking the listening socket systemd
// passes as descriptor 3 (sd_listen_fds(3)), refusing anything aiod cannot
// serve, and never touching descriptors meant for another process.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "system/socket_activation.hpp"

namespace aiod::daemon {
namespace {

// A unix socket of `type` at `path` (listening if `listen`).
UniqueFd make_socket(int type, const std::string& path, bool listen) {
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  if (listen) {
    EXPECT_EQ(::listen(fd.get(), 8), 0) << std::strerror(errno);
  }
  return fd;
}

// Puts descriptors at 3, 4, ... as systemd would, and restores what the test
// process had there afterwards.
class ActivationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = "/tmp/aiod-unit-activation-" + std::to_string(::getpid()) + ".sock";
    for (int fd = 3; fd < 5; ++fd) saved_[fd - 3] = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
  }
  void TearDown() override {
    for (int fd = 3; fd < 5; ++fd) {
      if (saved_[fd - 3] >= 0) {
        ::dup2(saved_[fd - 3], fd);
        ::close(saved_[fd - 3]);
      } else {
        ::close(fd);
      }
    }
    ::unlink(path_.c_str());
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
  }
  void pass(const UniqueFd& socket, int at) { ASSERT_EQ(::dup2(socket.get(), at), at); }
  void set_env(const std::string& pid, const std::string& fds, const char* names = nullptr) {
    ::setenv("LISTEN_PID", pid.c_str(), 1);
    ::setenv("LISTEN_FDS", fds.c_str(), 1);
    if (names != nullptr) ::setenv("LISTEN_FDNAMES", names, 1);
  }
  static bool env_cleared() {
    return ::getenv("LISTEN_PID") == nullptr && ::getenv("LISTEN_FDS") == nullptr &&
           ::getenv("LISTEN_FDNAMES") == nullptr;
  }
  std::string path_;
  int saved_[2] = {-1, -1};
};

TEST_F(ActivationTest, NotActivated) {
  ActivatedSocket out;
  std::string error;
  EXPECT_EQ(take_activated_socket(out, error), -ENOENT);
  EXPECT_FALSE(out.fd.valid());
}

TEST_F(ActivationTest, TakesTheListeningSocket) {
  UniqueFd listener = make_socket(SOCK_SEQPACKET, path_, true);
  pass(listener, 3);
  set_env(std::to_string(::getpid()), "1", "aiod.socket");
  ActivatedSocket out;
  std::string error;
  ASSERT_EQ(take_activated_socket(out, error), 0) << error;
  EXPECT_EQ(out.fd.get(), 3);
  EXPECT_EQ(out.name, "aiod.socket");
  EXPECT_EQ(out.path, path_);
  EXPECT_TRUE(::fcntl(3, F_GETFL) & O_NONBLOCK);  // the accept loop drains until EAGAIN
  EXPECT_TRUE(::fcntl(3, F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(env_cleared());
  (void)out.fd.release();  // TearDown closes descriptor 3
}

TEST_F(ActivationTest, LeavesAnotherProcessesDescriptorsAlone) {
  UniqueFd listener = make_socket(SOCK_SEQPACKET, path_, true);
  pass(listener, 3);
  set_env(std::to_string(::getpid() + 1), "1");
  ActivatedSocket out;
  std::string error;
  EXPECT_EQ(take_activated_socket(out, error), -ENOENT);
  EXPECT_TRUE(env_cleared());
  EXPECT_GE(::fcntl(3, F_GETFD), 0);  // still open
}

TEST_F(ActivationTest, RefusesAStreamSocket) {
  UniqueFd listener = make_socket(SOCK_STREAM, path_, true);
  pass(listener, 3);
  set_env(std::to_string(::getpid()), "1");
  ActivatedSocket out;
  std::string error;
  EXPECT_EQ(take_activated_socket(out, error), -ESOCKTNOSUPPORT);
  EXPECT_NE(error.find("ListenSequentialPacket"), std::string::npos) << error;
}

TEST_F(ActivationTest, RefusesMoreThanOneSocketAndClosesThem) {
  UniqueFd a = make_socket(SOCK_SEQPACKET, path_, true);
  UniqueFd b = make_socket(SOCK_SEQPACKET, path_ + "2", true);
  ::unlink((path_ + "2").c_str());
  pass(a, 3);
  pass(b, 4);
  set_env(std::to_string(::getpid()), "2");
  ActivatedSocket out;
  std::string error;
  EXPECT_EQ(take_activated_socket(out, error), -EINVAL);
  EXPECT_NE(error.find("exactly one"), std::string::npos) << error;
  EXPECT_EQ(::fcntl(4, F_GETFD), -1);  // not leaked
}

TEST_F(ActivationTest, RefusesMalformedVariables) {
  ActivatedSocket out;
  std::string error;
  set_env("12x", "1");
  EXPECT_EQ(take_activated_socket(out, error), -EINVAL);
  EXPECT_NE(error.find("LISTEN_PID"), std::string::npos);
  set_env(std::to_string(::getpid()), "-1");
  EXPECT_EQ(take_activated_socket(out, error), -EINVAL);
  EXPECT_NE(error.find("LISTEN_FDS"), std::string::npos);
}

TEST(CheckListeningSocket, AcceptsOnlyListeningSeqpacketUnixSockets) {
  const std::string path = "/tmp/aiod-unit-check-" + std::to_string(::getpid()) + ".sock";
  std::string error;
  {
    UniqueFd ok = make_socket(SOCK_SEQPACKET, path, true);
    EXPECT_EQ(check_listening_socket(ok.get(), error), 0) << error;
  }
  {
    UniqueFd idle = make_socket(SOCK_SEQPACKET, path, false);
    EXPECT_EQ(check_listening_socket(idle.get(), error), -EINVAL);
    EXPECT_NE(error.find("not listening"), std::string::npos);
  }
  {
    UniqueFd dgram = make_socket(SOCK_DGRAM, path, false);
    EXPECT_EQ(check_listening_socket(dgram.get(), error), -ESOCKTNOSUPPORT);
  }
  {
    UniqueFd inet(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(inet.valid());
    EXPECT_EQ(check_listening_socket(inet.get(), error), -EAFNOSUPPORT);
  }
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  EXPECT_EQ(check_listening_socket(pipe_fds[0], error), -ENOTSOCK);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace aiod::daemon
