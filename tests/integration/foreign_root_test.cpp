// SPDX-License-Identifier: MIT
// A client whose root is not the daemon's (here: chroot) — its paths never
// resolve against the daemon's root: absolute ones stay inside the client's,
// ".." cannot climb out, and ops that create or remove do so inside it.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

int code(std::error_code ec) { return ec ? ec.value() : 0; }

TEST(ForeignRoot, PathsStayInsideTheClientsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chroot";
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string jail = daemon.directory();
  { std::ofstream(jail + "/inside") << "in the jail"; }
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    std::vector<int> r;
    if (::chroot(jail.c_str()) != 0 || ::chdir("/") != 0) {
      r.push_back(-1);
    } else {
      ClientOptions o;
      o.socket_path = "/aiod.sock";  // the daemon's socket, as seen from inside
      auto c = Client::connect(o);
      if (!c) {
        r.push_back(-2);
      } else {
        Handle h;
        r.push_back(code(c->single(OpenAt{.path = "/inside", .out_file = &h})));
        r.push_back(code(c->single(OpenAt{.path = "/etc/hostname", .out_file = &h})));
        r.push_back(code(c->single(OpenAt{.path = "../../../etc/hostname", .out_file = &h})));
        r.push_back(code(c->single(MkdirAt{.path = "made"})));
        r.push_back(code(c->single(UnlinkAt{.path = "/inside"})));
      }
    }
    (void)!::write(p[1], r.data(), r.size() * sizeof(int));
    ::_exit(0);
  }
  ::close(p[1]);
  std::vector<int> r;
  int v;
  while (::read(p[0], &v, sizeof(v)) == sizeof(v)) r.push_back(v);
  ::close(p[0]);
  ::waitpid(child, nullptr, 0);
  ASSERT_EQ(r.size(), 5u) << (r.empty() ? "no result" : r[0] == -1 ? "chroot failed" : "connect failed");
  EXPECT_EQ(r[0], 0) << "an absolute path inside the client's root";
  EXPECT_EQ(r[1], ENOENT) << "an absolute path reached the daemon's /etc";
  EXPECT_EQ(r[2], ENOENT) << "'..' climbed out of the client's root";
  EXPECT_EQ(r[3], 0) << "MKDIR_AT inside the client's root";
  EXPECT_EQ(r[4], 0) << "UNLINK_AT of an absolute path inside the client's root";
  struct stat st {};
  EXPECT_EQ(::stat((jail + "/made").c_str(), &st), 0) << "the directory was not made in the client's root";
  EXPECT_NE(::stat("/made", &st), 0) << "the directory was made in the daemon's root";
  EXPECT_NE(::stat((jail + "/inside").c_str(), &st), 0) << "the client's own file is still there";
}

}  // namespace
}  // namespace aiod::test
