// SPDX-License-Identifier: MIT
// Unit tests of daemon/systemd_notify: sd_notify(3)'s wire protocol written by
// hand — datagrams to a path or an abstract ('@') unix socket — and the
// environment variables systemd passes (NOTIFY_SOCKET, WATCHDOG_USEC/_PID).
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "system/systemd_notify.hpp"

namespace aiod::daemon {
namespace {

using namespace std::chrono_literals;

// A datagram socket standing in for the service manager's.
class FakeManager {
 public:
  // `address`: a path, or a name starting with '@' for the abstract namespace.
  explicit FakeManager(const std::string& address) : address_(address) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, address.data(), address.size());
    std::size_t len = offsetof(sockaddr_un, sun_path) + address.size();
    if (address.front() == '@') {
      addr.sun_path[0] = '\0';
    } else {
      len += 1;
    }
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), static_cast<socklen_t>(len)), 0) << std::strerror(errno);
  }
  ~FakeManager() {
    ::close(fd_);
    if (address_.front() == '/') ::unlink(address_.c_str());
  }
  // The next datagram, or "<timeout>" after 5 s.
  std::string receive() const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return "<timeout>";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? "<error>" : std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  std::string address_;
  int fd_ = -1;
};

std::string unique_name(const char* what) {
  return std::string("aiod-unit-") + what + "-" + std::to_string(::getpid());
}

TEST(Notifier, DisabledIsANoOp) {
  Notifier n;
  EXPECT_FALSE(n.enabled());
  EXPECT_EQ(n.notify("READY=1"), 0);
}

TEST(Notifier, SendsToAPathSocket) {
  const std::string path = "/tmp/" + unique_name("notify") + ".sock";
  FakeManager manager(path);
  Notifier n;
  std::string error;
  ASSERT_EQ(n.open(path, error), 0) << error;
  ASSERT_TRUE(n.enabled());
  EXPECT_EQ(n.notify("READY=1\nSTATUS=Serving"), 0);
  EXPECT_EQ(manager.receive(), "READY=1\nSTATUS=Serving");
  EXPECT_EQ(n.notify("WATCHDOG=1"), 0);
  EXPECT_EQ(manager.receive(), "WATCHDOG=1");
}

TEST(Notifier, SendsToAnAbstractSocket) {
  const std::string address = "@" + unique_name("abstract");
  FakeManager manager(address);
  Notifier n;
  std::string error;
  ASSERT_EQ(n.open(address, error), 0) << error;
  EXPECT_EQ(n.notify("STOPPING=1"), 0);
  EXPECT_EQ(manager.receive(), "STOPPING=1");
}

TEST(Notifier, ReportsAnAbsentManager) {
  Notifier n;
  std::string error;
  ASSERT_EQ(n.open("/tmp/" + unique_name("nobody") + ".sock", error), 0) << error;
  EXPECT_EQ(n.notify("READY=1"), -ENOENT);
}

TEST(Notifier, RejectsMalformedAddresses) {
  Notifier n;
  std::string error;
  EXPECT_EQ(n.open("relative/path", error), -EINVAL);
  EXPECT_NE(error.find("relative/path"), std::string::npos);
  EXPECT_EQ(n.open("@", error), -EINVAL);
  EXPECT_EQ(n.open("/" + std::string(200, 'x'), error), -ENAMETOOLONG);
  EXPECT_FALSE(n.enabled());
}

TEST(Notifier, TakenFromTheEnvironmentOnce) {
  const std::string address = "@" + unique_name("env");
  FakeManager manager(address);
  ::setenv("NOTIFY_SOCKET", address.c_str(), 1);
  std::string error;
  Notifier n = take_notifier(error);
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_EQ(::getenv("NOTIFY_SOCKET"), nullptr);  // children must not inherit it
  EXPECT_EQ(n.notify("READY=1"), 0);
  EXPECT_EQ(manager.receive(), "READY=1");

  Notifier none = take_notifier(error);
  EXPECT_FALSE(none.enabled());
}

TEST(WatchdogInterval, AbsentMeansNone) {
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  std::string error;
  EXPECT_EQ(take_watchdog_interval(error).count(), 0);
  EXPECT_TRUE(error.empty());
}

TEST(WatchdogInterval, ForThisProcess) {
  ::setenv("WATCHDOG_USEC", "20000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  std::string error;
  EXPECT_EQ(take_watchdog_interval(error), 20s);
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_EQ(::getenv("WATCHDOG_USEC"), nullptr);
  EXPECT_EQ(::getenv("WATCHDOG_PID"), nullptr);
}

TEST(WatchdogInterval, WithoutPidItIsOurs) {
  ::setenv("WATCHDOG_USEC", "500000", 1);
  ::unsetenv("WATCHDOG_PID");
  std::string error;
  EXPECT_EQ(take_watchdog_interval(error), 500ms);
}

TEST(WatchdogInterval, MeantForAnotherProcess) {
  ::setenv("WATCHDOG_USEC", "500000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  std::string error;
  EXPECT_EQ(take_watchdog_interval(error).count(), 0);
  EXPECT_TRUE(error.empty());
}

TEST(WatchdogInterval, MalformedValuesAreReported) {
  for (const char* bad : {"", "0", "-5", "12abc", "99999999999999999999999"}) {
    ::setenv("WATCHDOG_USEC", bad, 1);
    ::unsetenv("WATCHDOG_PID");
    std::string error;
    EXPECT_EQ(take_watchdog_interval(error).count(), 0) << bad;
    EXPECT_NE(error.find("WATCHDOG_USEC"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace aiod::daemon
