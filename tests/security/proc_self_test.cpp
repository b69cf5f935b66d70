// SPDX-License-Identifier: MIT
// The daemon itself is out of reach: no path a client names resolves through
// /proc/self, /proc/thread-self, /proc/<aiod pid>, /dev/fd or a magic link
// into aiod's own descriptors, memory or root.
//
// The threat: every op runs inside the daemon's process, so "/proc/self" is
// aiod — a root process holding every session's shared memory (memfds),
// eventfds, cwd and root directory handles. The kernel lets a thread reach
// its own process's /proc entries whatever its credentials, so a client
// running as nobody that opens "proc/self/fd/N" through aiod reopens the
// daemon's descriptor N: another session's region, a directory it could not
// reach itself. Each test below runs the client as nobody (uid/gid 65534)
// with a root client connected beside it, and asserts that every attempt
// fails and that nothing of the root session's region is ever read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxFd = 64;  // probe the daemon's descriptors 0..kMaxFd

// How a probe names its starting directory.
enum class Dir { cwd, proc_handle };

struct Probe {
  std::string path;
  int flags = O_RDONLY;
  Dir dir = Dir::cwd;
  bool openat2 = false;
  std::uint64_t resolve = 0;
};

std::string rel(const std::string& absolute) { return absolute.substr(1); }  // from the cwd "/"

class ProcSelf : public ::testing::Test {
 protected:
  void SetUp() override {
    AIOD_SEC_REQUIRE_ROOT();
    daemon_.emplace();
    ASSERT_TRUE(daemon_->running());
    auto c = Client::connect(daemon_->client_options());
    ASSERT_TRUE(c) << c.message();
    root_.emplace(std::move(*c));
    // A secret in the root session's shared region: its arena is part of the
    // memfd the daemon holds.
    std::random_device rd;
    std::ostringstream m;
    m << "root-session-secret-" << std::hex << rd() << rd();
    marker_ = m.str();
    auto block = root_->arena_alloc(256);
    ASSERT_TRUE(block) << block.message();
    std::memcpy(block->data(), marker_.data(), marker_.size());
  }

  // The daemon's descriptors (from /proc, as root) whose link names `what`.
  std::vector<int> daemon_fds_naming(const std::string& what) const {
    std::vector<int> out;
    for (int fd = 0; fd <= kMaxFd; ++fd) {
      std::error_code ec;
      const auto target =
          std::filesystem::read_symlink("/proc/" + std::to_string(daemon_->pid()) + "/fd/" + std::to_string(fd), ec);
      if (!ec && target.string().find(what) != std::string::npos) out.push_back(fd);
    }
    return out;
  }

  // Runs every probe in a nobody client (after `prepare`, run as nobody in
  // the child), and returns: [connect, then err, magic, marker per probe].
  Outcome run_probes(const std::vector<Probe>& probes, std::function<void(Channel&)> prepare = {}) {
    const ClientOptions options = daemon_->client_options();
    const std::string marker = marker_;
    return as_user({}, [&, options, marker](Channel& ch) {
      if (prepare) prepare(ch);
      auto c = Client::connect(options);
      ch.put(c ? 0 : code(c.error()));
      if (!c) {
        ch.note("connect: " + c.message());
        return;
      }
      Handle proc;
      bool need_proc = false;
      for (const Probe& p : probes) need_proc |= p.dir == Dir::proc_handle;
      if (need_proc) {
        // A directory the client may open itself, handed to the daemon.
        const int fd = ::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        auto h = c->register_fd(fd);
        if (h)
          proc = *h;
        else
          ch.note("register /proc: " + h.message());
        ::close(fd);
      }
      for (const Probe& p : probes) {
        const Handle dir = p.dir == Dir::proc_handle ? proc : Handle::cwd();
        const OpenProbe r = probe_open(*c, dir, p.path, p.flags, marker, p.openat2, p.resolve);
        ch.put(r.err);
        ch.put(r.magic);
        ch.put(r.marker);
      }
    });
  }

  // Every probe failed; no session region and no root secret was read.
  static void expect_all_refused(const std::vector<Probe>& probes, const Outcome& o) {
    ASSERT_TRUE(o.ok()) << o.describe();
    ASSERT_EQ(o.values.size(), 1 + 3 * probes.size()) << o.describe();
    ASSERT_EQ(o.values[0], 0) << "nobody could not even connect: " << o.describe();
    std::ostringstream opened;
    std::size_t n_opened = 0, n_magic = 0, n_marker = 0;
    for (std::size_t i = 0; i < probes.size(); ++i) {
      const std::int64_t err = o.values[1 + 3 * i];
      const bool magic = o.values[2 + 3 * i] != 0, marker = o.values[3 + 3 * i] != 0;
      if (err == 0) {
        ++n_opened;
        opened << " " << probes[i].path << ((probes[i].flags & O_ACCMODE) != O_RDONLY ? "(rw)" : "(ro)")
               << (magic ? "[AIOD]" : "") << (marker ? "[root secret]" : "");
      }
      n_magic += magic;
      n_marker += marker;
    }
    // What the attempts gave, for the log: the evidence when they all fail.
    std::map<std::int64_t, int> results;
    for (std::size_t i = 0; i < probes.size(); ++i) ++results[o.values[1 + 3 * i]];
    std::cout << "[ results  ] " << probes.size() << " attempts:";
    for (const auto& [err, n] : results) {
      const char* name = err > 0 ? ::strerrorname_np(static_cast<int>(err)) : nullptr;
      std::cout << " " << (err == 0 ? "opened" : name != nullptr ? name : std::to_string(err)) << " x" << n;
    }
    std::cout << "\n";
    EXPECT_EQ(n_opened, 0u) << "nobody opened, through aiod, " << n_opened << " of " << probes.size()
                            << " paths into the daemon:" << opened.str();
    EXPECT_EQ(n_magic, 0u) << "nobody read " << n_magic << " session regions (magic AIOD)";
    EXPECT_EQ(n_marker, 0u) << "nobody read the root session's secret from its region " << n_marker << " times";
  }

  std::optional<DaemonProcess> daemon_;
  std::optional<Client> root_;
  std::string marker_;
};

std::vector<Probe> fd_probes(const std::string& prefix, Dir dir = Dir::cwd) {
  std::vector<Probe> out;
  for (int fd = 0; fd <= kMaxFd; ++fd) {
    out.push_back({.path = prefix + std::to_string(fd), .flags = O_RDWR, .dir = dir});
    out.push_back({.path = prefix + std::to_string(fd), .flags = O_RDONLY, .dir = dir});
  }
  return out;
}

// "proc/self/fd/N" from the cwd "/" reopens the daemon's descriptor N: among
// them the root session's memfd, which nobody must never read. Two walls: no
// path reaches the daemon's descriptors, and the daemon holds no session
// memfd once it has passed it to its client.
TEST_F(ProcSelf, NobodyCannotOpenTheDaemonsDescriptors) {
  // An op completed: the root session's handshake (which closes the memfd
  // after sending it) is over.
  ASSERT_FALSE(root_->single(Nop{}));
  EXPECT_TRUE(daemon_fds_naming("memfd:aiod-session").empty())
      << "the daemon still holds a session's memfd after handing it to the client";
  const std::vector<int> held = daemon_fds_naming("");  // every descriptor the daemon holds
  ASSERT_GT(held.size(), 3u) << "the daemon holds no descriptor beyond stdio: the probe would prove nothing";
  const std::vector<Probe> probes = fd_probes("proc/self/fd/");
  // The control: nobody cannot open one of the daemon's descriptors on its own.
  const std::string direct = "/proc/" + std::to_string(daemon_->pid()) + "/fd/" + std::to_string(held.back());
  const Outcome control = as_user({}, [&](Channel& ch) {
    const int fd = ::open(direct.c_str(), O_RDWR | O_CLOEXEC);
    ch.put(fd < 0 ? errno : 0);
  });
  ASSERT_TRUE(control.ok()) << control.describe();
  ASSERT_NE(control.values.at(0), 0) << "nobody can open " << direct << " itself: the test proves nothing here";
  expect_all_refused(probes, run_probes(probes));
}

// /proc/self/mem is the daemon's whole address space: every session's
// region, every buffer in flight.
TEST_F(ProcSelf, NobodyCannotOpenTheDaemonsMemory) {
  const std::vector<Probe> probes = {
      {.path = "proc/self/mem", .flags = O_RDONLY},        {.path = "proc/self/mem", .flags = O_RDWR},
      {.path = "/proc/self/mem", .flags = O_RDONLY},       {.path = "/proc/self/mem", .flags = O_RDWR},
      {.path = "proc/thread-self/mem", .flags = O_RDONLY},
  };
  expect_all_refused(probes, run_probes(probes));
}

// /proc/self/maps (and smaps, environ, ...) describe the daemon: the
// addresses of every session's mapping, what a further attack needs.
TEST_F(ProcSelf, NobodyCannotReadTheDaemonsMemoryMap) {
  const std::vector<Probe> probes = {
      {.path = "proc/self/maps"},    {.path = "/proc/self/maps"},  {.path = "proc/self/smaps"},
      {.path = "proc/self/environ"}, {.path = "proc/self/status"},
  };
  expect_all_refused(probes, run_probes(probes));
}

// /proc/thread-self is the thread running the op: a daemon thread.
TEST_F(ProcSelf, ThreadSelfDoesNotLeadIntoTheDaemon) {
  std::vector<Probe> probes = fd_probes("proc/thread-self/fd/");
  probes.push_back({.path = "proc/thread-self/maps"});
  probes.push_back({.path = "/proc/thread-self/maps"});
  expect_all_refused(probes, run_probes(probes));
}

// The daemon's pid is no secret (SO_PEERCRED on the client's own socket).
TEST_F(ProcSelf, TheDaemonsPidDoesNotLeadIntoTheDaemon) {
  const std::string pid = std::to_string(daemon_->pid());
  std::vector<Probe> probes = fd_probes("proc/" + pid + "/fd/");
  probes.push_back({.path = "proc/" + pid + "/maps"});
  probes.push_back({.path = "/proc/" + pid + "/maps"});
  probes.push_back({.path = "proc/" + pid + "/task/" + pid + "/maps"});
  expect_all_refused(probes, run_probes(probes));
}

// /dev/fd is a symlink to /proc/self/fd.
TEST_F(ProcSelf, DevFdDoesNotLeadIntoTheDaemonsDescriptors) {
  const std::vector<Probe> probes = fd_probes("dev/fd/");
  expect_all_refused(probes, run_probes(probes));
}

// A symlink the client planted itself (in a directory it may write) that
// points at /proc/self: followed by the daemon, it names the daemon.
TEST_F(ProcSelf, APlantedSymlinkToProcSelfDoesNotLeadIntoTheDaemon) {
  const std::string w = make_dir(daemon_->directory(), "w", 0777);
  const std::string link = w + "/me";
  std::vector<Probe> probes = fd_probes(rel(link) + "/fd/");
  probes.push_back({.path = rel(link) + "/maps"});
  probes.push_back({.path = link + "/maps"});
  const Outcome o = run_probes(probes, [link](Channel& ch) {
    if (::symlink("/proc/self", link.c_str()) != 0) ch.note(std::string("symlink: ") + std::strerror(errno));
  });
  struct stat st {};
  ASSERT_EQ(::lstat(link.c_str(), &st), 0) << "the client could not plant its link";
  ASSERT_EQ(st.st_uid, kNobody);
  expect_all_refused(probes, o);
}

// A directory handle on /proc that the client opened itself and passed in
// (RegisterFds): "self/..." below it is the daemon's /proc/self.
TEST_F(ProcSelf, AProcDirectoryHandleDoesNotLeadIntoTheDaemon) {
  std::vector<Probe> probes = fd_probes("self/fd/", Dir::proc_handle);
  probes.push_back({.path = "self/maps", .dir = Dir::proc_handle});
  probes.push_back({.path = "thread-self/maps", .dir = Dir::proc_handle});
  expect_all_refused(probes, run_probes(probes));
}

// OPENAT2 without resolve flags walks like OPEN_AT of a relative path.
TEST_F(ProcSelf, Openat2WithoutResolveFlagsDoesNotLeadIntoTheDaemon) {
  std::vector<Probe> probes;
  for (int fd = 0; fd <= kMaxFd; ++fd) {
    probes.push_back({.path = "proc/self/fd/" + std::to_string(fd), .flags = O_RDWR, .openat2 = true});
  }
  probes.push_back({.path = "proc/self/maps", .openat2 = true});
  probes.push_back({.path = "/proc/self/maps", .openat2 = true});
  probes.push_back({.path = "proc/self/mem", .flags = O_RDWR, .openat2 = true});
  expect_all_refused(probes, run_probes(probes));
}

// STATX has no resolve control: "/proc/self/fd/N" describes the daemon's
// descriptor N (which sessions exist, their region sizes, files other
// sessions have open).
TEST_F(ProcSelf, StatxCannotDescribeTheDaemonsDescriptors) {
  const ClientOptions options = daemon_->client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    for (int fd = 0; fd <= kMaxFd; ++fd) {
      for (const std::string prefix : {"/proc/self/fd/", "proc/self/fd/"}) {
        struct statx st {};
        const std::string path = prefix + std::to_string(fd);
        ch.put(code(c->single(Statx{.path = path.c_str(), .out_statx = &st})));
      }
    }
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 1u + 2u * (kMaxFd + 1)) << o.describe();
  ASSERT_EQ(o.values[0], 0) << o.describe();
  std::ostringstream described;
  int n = 0;
  for (int fd = 0; fd <= kMaxFd; ++fd) {
    for (int v = 0; v < 2; ++v) {
      if (o.values[1 + 2 * fd + v] == 0) {
        ++n;
        described << " " << (v == 0 ? "/" : "") << "proc/self/fd/" << fd;
      }
    }
  }
  EXPECT_EQ(n, 0) << "nobody described " << n << " of the daemon's descriptors with STATX:" << described.str();
}

// MKDIR_AT, SYMLINK_AT, UNLINK_AT and RENAME_AT under "/proc/self/fd/N" work
// in whatever directory the daemon holds as N — here one another session
// opened, inside a directory nobody may not enter.
TEST_F(ProcSelf, PathOpsCannotReachAnotherSessionsDirectoryThroughTheDaemonsDescriptors) {
  const std::string priv = make_dir(daemon_->directory(), "private", 0700);
  const std::string shared = make_dir(priv, "shared", 0777);  // writable, but only for who can reach it
  for (const char* victim : {"/victim-unlink", "/victim-rename"}) {
    std::ofstream(shared + victim) << "root's";
  }
  Handle dir;
  ASSERT_FALSE(root_->single(OpenAt{.path = shared.c_str(), .flags = O_RDONLY | O_DIRECTORY, .out_file = &dir}));
  ASSERT_FALSE(daemon_fds_naming(shared).empty())
      << "the daemon holds no descriptor of " << shared << " within 0.." << kMaxFd << ": the test proves nothing";

  const ClientOptions options = daemon_->client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    // The control: nobody cannot reach the directory itself.
    ch.put(::mkdir((shared + "/direct").c_str(), 0755) == 0 ? 0 : errno);
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    for (int fd = 0; fd <= kMaxFd; ++fd) {
      const std::string base = "/proc/self/fd/" + std::to_string(fd);
      const std::string made = base + "/made-" + std::to_string(fd), link = base + "/link-" + std::to_string(fd);
      const std::string gone = base + "/victim-unlink", from = base + "/victim-rename",
                        to = base + "/renamed-" + std::to_string(fd);
      ch.put(code(c->single(MkdirAt{.path = made.c_str()})));
      ch.put(code(c->single(SymlinkAt{.target = "x", .link_path = link.c_str()})));
      ch.put(code(c->single(UnlinkAt{.path = gone.c_str()})));
      ch.put(code(c->single(RenameAt{.old_path = from.c_str(), .new_path = to.c_str()})));
    }
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 2u + 4u * (kMaxFd + 1)) << o.describe();
  ASSERT_NE(o.values[0], 0) << "nobody can reach " << shared << " itself: the test proves nothing";
  ASSERT_EQ(o.values[1], 0) << o.describe();
  const char* names[] = {"MKDIR_AT", "SYMLINK_AT", "UNLINK_AT", "RENAME_AT"};
  for (int op = 0; op < 4; ++op) {
    std::ostringstream which;
    int n = 0;
    for (int fd = 0; fd <= kMaxFd; ++fd) {
      if (o.values[2 + 4 * fd + op] == 0) {
        ++n;
        which << " " << fd;
      }
    }
    EXPECT_EQ(n, 0) << names[op] << " under /proc/self/fd/N succeeded for N =" << which.str();
  }
  // Nothing changed in the directory nobody cannot reach.
  std::vector<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(shared)) entries.push_back(e.path().filename());
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"victim-rename", "victim-unlink"}));
}

// "/proc/self/root/..." and "/proc/self/cwd/..." are the daemon's root and
// cwd, not the client's: for a client in a chroot or another mount
// namespace an escape, for any client a path through the daemon.
TEST_F(ProcSelf, PathOpsDoNotResolveThroughTheDaemonsRootOrCwd) {
  const std::string w = make_dir(daemon_->directory(), "w", 0777);
  std::error_code ec;
  const std::filesystem::path daemon_cwd =
      std::filesystem::read_symlink("/proc/" + std::to_string(daemon_->pid()) + "/cwd", ec);
  ASSERT_FALSE(ec) << ec.message();
  const std::string via_cwd = std::filesystem::path(w).lexically_relative(daemon_cwd).string();
  const std::vector<std::string> paths = {
      "/proc/self/root" + w + "/root-abs",           "proc/self/root" + w + "/root-rel",
      "/proc/self/cwd/" + via_cwd + "/cwd-abs",      "proc/self/cwd/" + via_cwd + "/cwd-rel",
      "/proc/thread-self/root" + w + "/thread-root",
  };
  const ClientOptions options = daemon_->client_options();
  const Outcome o = as_user({}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) return;
    for (const std::string& p : paths) {
      ch.put(code(c->single(MkdirAt{.path = (p + "-dir").c_str()})));
      ch.put(code(c->single(SymlinkAt{.target = "x", .link_path = (p + "-link").c_str()})));
    }
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 1 + 2 * paths.size()) << o.describe();
  ASSERT_EQ(o.values[0], 0) << o.describe();
  for (std::size_t i = 0; i < paths.size(); ++i) {
    EXPECT_NE(o.values[1 + 2 * i], 0) << "MKDIR_AT " << paths[i] << "-dir resolved through the daemon";
    EXPECT_NE(o.values[2 + 2 * i], 0) << "SYMLINK_AT " << paths[i] << "-link resolved through the daemon";
  }
  std::vector<std::string> made;
  for (const auto& e : std::filesystem::directory_iterator(w)) made.push_back(e.path().filename());
  EXPECT_TRUE(made.empty()) << "created in " << w << " through the daemon's links: " << ::testing::PrintToString(made);
}

}  // namespace
}  // namespace aiod::test::sec
