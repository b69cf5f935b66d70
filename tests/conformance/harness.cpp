// SPDX-License-Identifier: MIT
// harness.cpp — the driver: runs each case the reference way and through aiod, and compares.
#include "harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "daemon_process.hpp"
#include "security_support.hpp"

namespace aiod::conf {

using namespace std::chrono_literals;

std::size_t Ctx::add(int fd) {
  fds.push_back(fd);
  return fds.size() - 1;
}

std::size_t Ctx::keep(int fd) {
  peers.push_back(fd);
  return peers.size() - 1;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.op << " " << c.name << (c.difference.empty() ? "" : " (documented difference)");
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.op + "_" + info.param.name;
  for (char& c : n) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) c = '_';
  }
  return n;
}

std::string errname(int err) {
  if (err == 0) return "0";
  const char* n = ::strerrorname_np(err);
  return n != nullptr ? n : "errno " + std::to_string(err);
}

Out sys(long rc) {
  if (rc < 0) return {errno, ""};
  return {0, std::to_string(rc)};
}

Out sys_ok(long rc) {
  if (rc < 0) return {errno, ""};
  return {0, ""};
}

Out aio(std::error_code ec, std::string val) {
  if (!ec) return {0, std::move(val)};
  if (ec.category() == std::system_category()) return {ec.value(), ""};
  return {ec.value(), std::string(ec.category().name()) + ": " + ec.message()};
}

std::string step(const std::string& label, const Out& o) {
  return label + "=" + (o.err != 0 ? errname(o.err) : (o.val.empty() ? "ok" : o.val)) + " ";
}

void make_file(const Ctx& ctx, const std::string& name, const std::string& data, mode_t mode) {
  const int fd = ::openat(ctx.dirfd, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    ADD_FAILURE() << "create " << name << ": " << errname(errno);
    return;
  }
  if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) ADD_FAILURE() << "write " << name;
  if (::fchmod(fd, mode) != 0) ADD_FAILURE() << "fchmod " << name << ": " << errname(errno);
  ::close(fd);
}

int open_file(const Ctx& ctx, const std::string& name, int flags, mode_t mode) {
  const int fd = ::openat(ctx.dirfd, name.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) ADD_FAILURE() << "open " << name << ": " << errname(errno);
  return fd;
}

std::array<int, 2> socket_pair(int type) {
  std::array<int, 2> sv{-1, -1};
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv.data()) != 0) ADD_FAILURE() << "socketpair: " << errname(errno);
  return sv;
}

std::array<int, 2> make_pipe() {
  std::array<int, 2> p{-1, -1};
  if (::pipe2(p.data(), O_CLOEXEC) != 0) ADD_FAILURE() << "pipe2: " << errname(errno);
  return p;
}

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

void walk(const std::string& root, const std::string& rel, std::vector<std::string>& lines) {
  const std::string here = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(here.c_str());
  if (d == nullptr) {
    lines.push_back((rel.empty() ? "." : rel) + ": opendir " + errname(errno));
    return;
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    const std::string r = rel.empty() ? n : rel + "/" + n;
    const std::string full = root + "/" + r;
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) {
      lines.push_back(r + ": lstat " + errname(errno));
      continue;
    }
    std::ostringstream line;
    line << r << " mode=" << std::oct << (st.st_mode & 07777) << std::dec << " uid=" << st.st_uid
         << " gid=" << st.st_gid;
    if (S_ISREG(st.st_mode)) {
      line << " file size=" << st.st_size;
      std::string data;
      const int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        char buf[256];
        const ssize_t n2 = ::pread(fd, buf, sizeof buf, 0);
        if (n2 > 0) data.assign(buf, static_cast<std::size_t>(n2));
        ::close(fd);
      }
      line << " data=\"" << escape(data) << "\"";
    } else if (S_ISDIR(st.st_mode)) {
      line << " dir";
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      const ssize_t n2 = ::readlink(full.c_str(), target, sizeof target);
      line << " symlink -> " << (n2 >= 0 ? std::string(target, static_cast<std::size_t>(n2)) : errname(errno));
    } else if (S_ISSOCK(st.st_mode)) {
      line << " socket";
    } else if (S_ISFIFO(st.st_mode)) {
      line << " fifo";
    } else {
      line << " other";
    }
    lines.push_back(line.str());
    if (S_ISDIR(st.st_mode)) walk(root, r, lines);
  }
}

}  // namespace

std::string snapshot(const std::string& dir) {
  std::vector<std::string> lines;
  walk(dir, "", lines);
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out.empty() ? "(empty)\n" : out;
}

std::string drain(int fd) {
  std::string data;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) return "\"" + escape(data) + "\" empty";
    if ((p.revents & POLLIN) == 0 && (p.revents & POLLHUP) != 0) return "\"" + escape(data) + "\" hup";
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return "\"" + escape(data) + "\" eof";
    if (n < 0) return "\"" + escape(data) + "\" " + errname(errno);
    data.append(buf, static_cast<std::size_t>(n));
  }
}

Ring::Ring() {
  if (const int r = ::io_uring_queue_init(16, &ring_, 0); r < 0)
    ADD_FAILURE() << "io_uring_queue_init: " << errname(-r);
}

Ring::~Ring() { ::io_uring_queue_exit(&ring_); }

io_uring_sqe* Ring::sqe(std::uint64_t user_data, unsigned flags) {
  io_uring_sqe* s = ::io_uring_get_sqe(&ring_);
  marks_.push_back({s, user_data, flags});
  return s;
}

void Ring::submit() {
  // io_uring_prep_* clears the sqe, so its data and flags go in last.
  for (const Mark& m : marks_) {
    ::io_uring_sqe_set_data64(m.sqe, m.user_data);
    ::io_uring_sqe_set_flags(m.sqe, m.flags);
  }
  marks_.clear();
  if (const int r = ::io_uring_submit(&ring_); r < 0) ADD_FAILURE() << "io_uring_submit: " << errname(-r);
}

std::map<std::uint64_t, int> Ring::wait(unsigned n) {
  std::map<std::uint64_t, int> res;
  for (unsigned i = 0; i < n; ++i) {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{.tv_sec = 5, .tv_nsec = 0};
    if (const int r = ::io_uring_wait_cqe_timeout(&ring_, &cqe, &ts); r < 0) {
      ADD_FAILURE() << "in-process io_uring: completion " << i << " of " << n << ": " << errname(-r);
      break;
    }
    res[::io_uring_cqe_get_data64(cqe)] = cqe->res;
    ::io_uring_cqe_seen(&ring_, cqe);
  }
  return res;
}

namespace {

// One daemon for the whole process (one test per process under ctest, many
// when the binary runs by itself).
test::DaemonProcess* g_daemon = nullptr;

class DaemonEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    ::umask(022);
    // Writes to a pipe without readers must fail with EPIPE here as in the daemon (which ignores SIGPIPE).
    ::signal(SIGPIPE, SIG_IGN);
    daemon_.emplace();
    g_daemon = &*daemon_;
  }
  void TearDown() override {
    g_daemon = nullptr;
    daemon_.reset();
  }

 private:
  std::optional<test::DaemonProcess> daemon_;
};

[[maybe_unused]] ::testing::Environment* const g_env = ::testing::AddGlobalTestEnvironment(new DaemonEnvironment);

// A fresh directory for one run, readable by nobody (for the cases that act as nobody).
std::string fresh_dir(const std::string& base, const char* name) {
  const std::string d = base + "/" + name;
  if (::mkdir(d.c_str(), 0755) != 0) ADD_FAILURE() << "mkdir " << d << ": " << errname(errno);
  ::chmod(d.c_str(), 0755);
  return d;
}

// Registers the run's objects with `client` and closes this process's copies.
bool bind_to(Ctx& ctx, Client& client) {
  ctx.client = &client;
  auto d = client.register_fd(ctx.dirfd);
  if (!d) {
    ADD_FAILURE() << "register the directory: " << d.message();
    return false;
  }
  ctx.dirh = *d;
  ctx.hs.clear();
  for (int& fd : ctx.fds) {
    auto h = client.register_fd(fd);
    if (!h) {
      ADD_FAILURE() << "register fd " << fd << ": " << h.message();
      return false;
    }
    ctx.hs.push_back(*h);
    ::close(fd);
    fd = -1;
  }
  return true;
}

// Runs `action` in a child as nobody; returns what it reported.
Out run_as_nobody(Ctx& ctx, const Action& action, bool via_aiod) {
  test::sec::UserOptions o;
  o.cwd = ctx.dir;
  o.keep_fds = ctx.fds;
  o.keep_fds.push_back(ctx.dirfd);
  const ClientOptions copts = g_daemon->client_options();
  const auto outcome = test::sec::as_user(
      o,
      [&](test::sec::Channel& ch) {
        Out r;
        std::optional<Client> client;
        if (via_aiod) {
          auto c = Client::connect(copts);
          if (!c) {
            ch.note("connect: " + c.message());
            return;
          }
          client.emplace(std::move(*c));
          if (!bind_to(ctx, *client)) {
            ch.note("could not register the objects");
            return;
          }
        }
        r = action(ctx);
        ch.put(r.err);
        ch.note(r.val);
      },
      10s);
  if (!outcome.ok() || outcome.values.size() != 1 || outcome.notes.size() != 1) {
    ADD_FAILURE() << "the child acting as nobody: " << outcome.describe();
    return {-1, "no outcome"};
  }
  return {static_cast<int>(outcome.values[0]), outcome.notes[0]};
}

struct RunResult {
  Out out;
  std::string probe;
};

RunResult run_case(const Case& c, const std::string& base, bool via_aiod) {
  Ctx ctx;
  ctx.via_aiod = via_aiod;
  ctx.dir = fresh_dir(base, via_aiod ? "aiod" : "ref");
  ctx.dirfd = ::open(ctx.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (ctx.dirfd < 0) ADD_FAILURE() << "open " << ctx.dir << ": " << errname(errno);
  if (c.setup) c.setup(ctx);
  RunResult run;
  std::optional<Client> client;
  if (c.as_nobody) {
    run.out = run_as_nobody(ctx, via_aiod ? c.aiod : c.ref, via_aiod);
  } else if (via_aiod) {
    auto cl = Client::connect(g_daemon->client_options());
    if (!cl) {
      ADD_FAILURE() << "connect: " << cl.message();
      return {{-1, "no session"}, {}};
    }
    client.emplace(std::move(*cl));
    if (bind_to(ctx, *client)) run.out = c.aiod(ctx);
  } else {
    run.out = c.ref(ctx);
  }
  run.probe = c.probe ? c.probe(ctx) : snapshot(ctx.dir);
  for (const int fd : ctx.fds) {
    if (fd >= 0) ::close(fd);
  }
  for (const int fd : ctx.peers) {
    if (fd >= 0) ::close(fd);
  }
  ::close(ctx.dirfd);
  client.reset();  // ends the session: the daemon drops its handles
  return run;
}

std::string show(const Out& o) { return "errno " + errname(o.err) + ", value \"" + o.val + "\""; }

}  // namespace

TEST_P(Conformance, AgreesWithTheSystemCall) {
  const Case& c = GetParam();
  ASSERT_NE(g_daemon, nullptr);
  ASSERT_TRUE(g_daemon->running());
  if (c.as_nobody) AIOD_SEC_REQUIRE_ROOT();
  char tmpl[] = "/tmp/aiod-conf-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr) << errname(errno);
  const std::string base = tmpl;
  ::chmod(base.c_str(), 0755);

  const RunResult ref = run_case(c, base, false);
  const RunResult got = run_case(c, base, true);
  std::error_code ec;
  std::filesystem::remove_all(base, ec);

  // The table's own expectation: the reference behaves as the row says.
  EXPECT_EQ(errname(ref.out.err), errname(c.want_err)) << "the reference system call: " << show(ref.out);

  Out want = ref.out;
  std::string want_probe = ref.probe;
  if (c.expect) c.expect(want, want_probe);
  const std::string note = c.difference.empty() ? "" : " (documented difference: " + c.difference + ")";
  EXPECT_EQ(errname(got.out.err), errname(want.err))
      << "aiod: " << show(got.out) << "; reference: " << show(ref.out) << note;
  EXPECT_EQ(got.out.val, want.val) << "aiod: " << show(got.out) << "; reference: " << show(ref.out) << note;
  EXPECT_EQ(got.probe, want_probe) << "side effects differ" << note;
}

INSTANTIATE_TEST_SUITE_P(Fs, Conformance, ::testing::ValuesIn(fs_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Io, Conformance, ::testing::ValuesIn(io_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Net, Conformance, ::testing::ValuesIn(net_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Control, Conformance, ::testing::ValuesIn(control_cases()), case_name);

}  // namespace aiod::conf
