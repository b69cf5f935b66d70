// SPDX-License-Identifier: MIT
// Operations run with the client's credentials: a client running as another
// user cannot, through aiod, open, rename or unlink a file it could not touch
// itself. Needs root (to become another user); skipped otherwise.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <fstream>

#include "op_fixture.hpp"

namespace aiod::test {
namespace {

constexpr uid_t kNobody = 65534;

// Runs `body` in a child process that has dropped to uid/gid 65534; the body's
// results (errno values) come back through a pipe.
template <class Body>
std::vector<int> as_nobody(Body body) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return {};
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(p[0]);
    std::vector<int> results;
    if (::chdir("/") != 0 || ::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) {
      results.push_back(-1);
    } else {
      results = body();
    }
    (void)!::write(p[1], results.data(), results.size() * sizeof(int));
    ::_exit(0);
  }
  ::close(p[1]);
  std::vector<int> results;
  int value;
  while (::read(p[0], &value, sizeof(value)) == sizeof(value)) results.push_back(value);
  ::close(p[0]);
  ::waitpid(child, nullptr, 0);
  return results;
}

int code(std::error_code ec) { return ec ? ec.value() : 0; }

TEST(Credentials, AnotherUserCannotTouchRootOnlyFilesThroughTheDaemon) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string dir = daemon.directory();  // root-owned, 0755
  const std::string secret = dir + "/secret", open_file = dir + "/public";
  { std::ofstream(secret) << "root only"; }
  { std::ofstream(open_file) << "for everyone"; }
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  ASSERT_EQ(::chmod(open_file.c_str(), 0644), 0);

  const std::vector<int> r = as_nobody([&] {
    std::vector<int> out;
    auto c = Client::connect(daemon.client_options());
    if (!c) return std::vector<int>{-2};
    Handle h;
    out.push_back(code(c->single(OpenAt{.path = secret.c_str(), .out_file = &h})));
    out.push_back(code(c->single(RenameAt{.old_path = secret.c_str(), .new_path = (dir + "/moved").c_str()})));
    out.push_back(code(c->single(UnlinkAt{.path = secret.c_str()})));
    out.push_back(code(
        c->single(OpenAt{.path = (dir + "/new").c_str(), .flags = O_WRONLY | O_CREAT, .mode = 0644, .out_file = &h})));
    out.push_back(code(c->single(MkdirAt{.path = (dir + "/sub").c_str()})));
    // The control: what the user may do, it may do through aiod.
    out.push_back(code(c->single(OpenAt{.path = open_file.c_str(), .out_file = &h})));
    return out;
  });
  ASSERT_EQ(r.size(), 6u) << (r.empty() ? "no result" : r[0] == -1 ? "could not become nobody" : "could not connect");
  EXPECT_EQ(r[0], EACCES) << "open of a 0600 root file";
  EXPECT_EQ(r[1], EACCES) << "rename in a root-owned directory";
  EXPECT_EQ(r[2], EACCES) << "unlink in a root-owned directory";
  EXPECT_EQ(r[3], EACCES) << "create in a root-owned directory";
  EXPECT_EQ(r[4], EACCES) << "mkdir in a root-owned directory";
  EXPECT_EQ(r[5], 0) << "open of a world-readable file";
  // Nothing happened to the files.
  struct stat st {};
  EXPECT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_NE(::stat((dir + "/moved").c_str(), &st), 0);
  EXPECT_NE(::stat((dir + "/new").c_str(), &st), 0);
}

TEST(Credentials, FilesCreatedForAnotherUserBelongToThatUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  const std::string dir = daemon.directory() + "/shared";
  ASSERT_EQ(::mkdir(dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  const std::string file = dir + "/made-by-nobody";
  const std::vector<int> r = as_nobody([&] {
    auto c = Client::connect(daemon.client_options());
    if (!c) return std::vector<int>{-2};
    Handle h;
    return std::vector<int>{
        code(c->single(OpenAt{.path = file.c_str(), .flags = O_WRONLY | O_CREAT, .mode = 0600, .out_file = &h}))};
  });
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], 0);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kNobody);
  EXPECT_EQ(st.st_gid, kNobody);
}

}  // namespace
}  // namespace aiod::test
