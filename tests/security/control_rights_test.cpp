// SPDX-License-Identifier: MIT
// Who may reload or stop the daemon everyone shares (aioctl reload/shutdown):
// only a peer that could signal it itself. Root by uid alone is not enough:
// a root that gave up CAP_KILL (a sandboxed service) or that lives in a pid
// namespace of its own (a container without a user namespace) cannot kill
// the daemon, so it may not stop it through the socket either.
#include <fstream>

#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

// A daemon with a config file (so a reload has something to read), open to
// every user, and aioctl command lines for it.
class OwnedDaemon {
 public:
  OwnedDaemon() {
    char tmpl[] = "/tmp/aiod-test-rights-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
    std::ofstream(conf()) << "log-level = warn\n";
    daemon_ = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", conf()});
  }
  ~OwnedDaemon() {
    daemon_.reset();
    ::unlink(conf().c_str());
    ::rmdir(dir_.c_str());
  }
  OwnedDaemon(const OwnedDaemon&) = delete;
  OwnedDaemon& operator=(const OwnedDaemon&) = delete;

  [[nodiscard]] DaemonProcess& daemon() { return *daemon_; }
  // `wrapper` + aioctl --socket S `command`.
  [[nodiscard]] CommandResult aioctl(std::vector<std::string> wrapper, const std::string& command) const {
    wrapper.insert(wrapper.end(), {AIOCTL_PATH, "--socket", daemon_->socket_path(), command});
    return run_command(wrapper, std::chrono::seconds(20), /*merge_stderr=*/true);
  }

 private:
  [[nodiscard]] std::string conf() const { return dir_ + "/aiod.conf"; }
  std::string dir_;
  std::unique_ptr<DaemonProcess> daemon_;
};

void expect_refused_and_serving(OwnedDaemon& d, const std::vector<std::string>& wrapper, const std::string& who) {
  for (const char* command : {"reload", "shutdown"}) {
    const CommandResult r = d.aioctl(wrapper, command);
    EXPECT_EQ(r.exit_code, 1) << who << " " << command << ": " << r.out;
    EXPECT_NE(r.out.find(std::strerror(EPERM)), std::string::npos) << who << " " << command << ": " << r.out;
  }
  const CommandResult stats = d.aioctl({}, "ping");
  EXPECT_EQ(stats.exit_code, 0) << "the daemon stopped for " << who << ": " << stats.out;
  const CommandResult json = run_command({AIOCTL_PATH, "--socket", d.daemon().socket_path(), "stats", "--json"});
  EXPECT_NE(json.out.find("\"config_reloads\":0,"), std::string::npos) << who << "'s reload ran: " << json.out;
}

TEST(ControlRights, RootWithoutCapKillMayNotReloadOrStopTheDaemon) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  OwnedDaemon d;
  ASSERT_TRUE(d.daemon().running());
  const std::vector<std::string> no_kill{"/usr/bin/setpriv", "--bounding-set=-kill", "--inh-caps=-kill", "--"};
  ASSERT_EQ(d.aioctl(no_kill, "ping").exit_code, 0) << "setpriv must work for this test to mean anything";
  expect_refused_and_serving(d, no_kill, "root without CAP_KILL");
  // Root with CAP_KILL, in the daemon's pid namespace, may.
  EXPECT_EQ(d.aioctl({}, "reload").exit_code, 0);
}

TEST(ControlRights, RootInAnotherPidNamespaceMayNotReloadOrStopTheDaemon) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (run_command({"/usr/bin/unshare", "--pid", "--fork", "true"}).exit_code != 0) {
    GTEST_SKIP() << "cannot create a pid namespace here";
  }
  OwnedDaemon d;
  ASSERT_TRUE(d.daemon().running());
  const std::vector<std::string> own_pidns{"/usr/bin/unshare", "--pid", "--fork", "--"};
  ASSERT_EQ(d.aioctl(own_pidns, "ping").exit_code, 0);
  expect_refused_and_serving(d, own_pidns, "root in its own pid namespace");
  EXPECT_EQ(d.aioctl({}, "reload").exit_code, 0);
}

}  // namespace
}  // namespace aiod::test::sec
