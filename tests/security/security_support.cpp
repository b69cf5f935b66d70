// SPDX-License-Identifier: MIT
#include "security_support.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace aiod::test::sec {

using namespace std::chrono_literals;

namespace {

// Records on the child → parent pipe: a type byte, a 32-bit length, the payload.
enum : char { kSetup = 'S', kValue = 'V', kNote = 'N', kEnd = 'E' };

void write_record(int fd, char type, const void* data, std::uint32_t len) {
  std::string rec(1 + sizeof(len) + len, '\0');
  rec[0] = type;
  std::memcpy(rec.data() + 1, &len, sizeof(len));
  if (len != 0) std::memcpy(rec.data() + 1 + sizeof(len), data, len);
  const char* p = rec.data();
  std::size_t left = rec.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);  // the parent is gone: nobody is listening
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Closes every descriptor from 3 up but those in `keep`.
void close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned next = 3;
  for (const int fd : keep) {
    if (fd < 3 || static_cast<unsigned>(fd) < next) continue;
    if (static_cast<unsigned>(fd) > next) ::syscall(SYS_close_range, next, static_cast<unsigned>(fd) - 1, 0u);
    next = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, next, ~0u, 0u);
}

[[noreturn]] void run_child(const UserOptions& o, const std::function<void(Channel&)>& body, Channel& ch,
                            pid_t parent) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(4);
  if (o.unshare_flags != 0 && ::unshare(o.unshare_flags) != 0) {
    ch.setup_result(Setup::unshare_refused, errno);
    ::_exit(0);
  }
  if (o.setup) {
    if (const int err = o.setup(); err != 0) {
      ch.setup_result(Setup::setup_failed, err);
      ::_exit(0);
    }
  }
  if (::chdir(o.cwd.c_str()) != 0) {
    ch.note("chdir " + o.cwd + ": " + std::strerror(errno));
    ch.setup_result(Setup::setup_failed, errno);
    ::_exit(0);
  }
  ::umask(o.umask);
  if (o.drop) {
    uid_t r = 0, e = 0, s = 0;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(o.gid, o.gid, o.gid) != 0 ||
        ::setresuid(o.uid, o.uid, o.uid) != 0 || ::getresuid(&r, &e, &s) != 0 || r != o.uid || e != o.uid ||
        s != o.uid || ::getegid() != o.gid) {
      ch.setup_result(Setup::drop_failed, errno);
      ::_exit(0);
    }
    // A change of credentials clears the parent-death signal: set it again.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(4);
  }
  ch.setup_result(Setup::ok, 0);
  body(ch);
  ch.end();
  ::_exit(0);
}

}  // namespace

std::string Outcome::describe() const {
  std::ostringstream out;
  out << "child: ";
  if (!setup_reported) {
    out << "no setup report";
  } else {
    switch (setup) {
      case Setup::ok:
        out << "setup ok";
        break;
      case Setup::unshare_refused:
        out << "unshare refused";
        break;
      case Setup::setup_failed:
        out << "setup failed";
        break;
      case Setup::drop_failed:
        out << "could not drop privileges";
        break;
    }
    if (setup_errno != 0) out << " (" << std::strerror(setup_errno) << ")";
  }
  out << (ended ? ", ended" : ", did not end");
  if (timed_out) out << ", killed after its timeout";
  if (wait_status != -1) {
    if (WIFEXITED(wait_status)) out << ", exit " << WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) out << ", signal " << WTERMSIG(wait_status);
  }
  out << "; values [";
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? " " : "") << values[i];
  out << "]";
  for (const std::string& n : notes) out << "; note: " << n;
  return out.str();
}

void Channel::put(std::int64_t value) { write_record(out_, kValue, &value, sizeof(value)); }

void Channel::note(const std::string& text) {
  write_record(out_, kNote, text.data(), static_cast<std::uint32_t>(std::min<std::size_t>(text.size(), 2048)));
}

bool Channel::wait_for_parent(std::chrono::milliseconds timeout) {
  pollfd p{go_, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  if (n != 1) return false;
  char c;
  return ::read(go_, &c, 1) == 1;
}

void Channel::setup_result(Setup s, int err) {
  const std::int32_t payload[2] = {static_cast<std::int32_t>(s), err};
  write_record(out_, kSetup, payload, sizeof(payload));
}

void Channel::end() { write_record(out_, kEnd, nullptr, 0); }

UserProcess::UserProcess(const UserOptions& options, std::function<void(Channel&)> body) {
  int up[2], down[2];
  if (::pipe2(up, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return;
  }
  if (::pipe2(down, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    ::close(up[0]);
    ::close(up[1]);
    return;
  }
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    std::vector<int> keep = options.keep_fds;
    keep.push_back(up[1]);
    keep.push_back(down[0]);
    close_all_but(keep);
    Channel ch(up[1], down[0]);
    run_child(options, body, ch, parent);
  }
  ::close(up[1]);
  ::close(down[0]);
  from_child_ = up[0];
  to_child_ = down[1];
  if (pid_ < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    eof_ = true;
    return;
  }
  pidfd_ = pidfd_open(pid_);
}

UserProcess::~UserProcess() {
  if (pid_ > 0) kill_and_reap();
  if (pidfd_ >= 0) ::close(pidfd_);
  if (from_child_ >= 0) ::close(from_child_);
  if (to_child_ >= 0) ::close(to_child_);
}

bool UserProcess::read_some(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{from_child_, POLLIN, 0};
  const int n = ::poll(&p, 1, static_cast<int>(left.count()));
  if (n < 0 && errno == EINTR) return true;
  if (n != 1) return false;
  char buf[4096];
  const ssize_t got = ::read(from_child_, buf, sizeof(buf));
  if (got < 0 && errno == EINTR) return true;
  if (got <= 0) {
    eof_ = true;
    return false;
  }
  buffer_.append(buf, static_cast<std::size_t>(got));
  for (;;) {
    std::uint32_t len = 0;
    if (buffer_.size() < 1 + sizeof(len)) break;
    std::memcpy(&len, buffer_.data() + 1, sizeof(len));
    if (buffer_.size() < 1 + sizeof(len) + len) break;
    const char type = buffer_[0];
    const char* payload = buffer_.data() + 1 + sizeof(len);
    switch (type) {
      case kSetup: {
        std::int32_t v[2] = {0, 0};
        std::memcpy(v, payload, std::min<std::size_t>(len, sizeof(v)));
        outcome_.setup = static_cast<Setup>(v[0]);
        outcome_.setup_errno = v[1];
        outcome_.setup_reported = true;
        break;
      }
      case kValue: {
        std::int64_t v = 0;
        std::memcpy(&v, payload, std::min<std::size_t>(len, sizeof(v)));
        outcome_.values.push_back(v);
        break;
      }
      case kNote:
        outcome_.notes.emplace_back(payload, len);
        break;
      case kEnd:
        outcome_.ended = true;
        break;
      default:
        break;
    }
    buffer_.erase(0, 1 + sizeof(len) + len);
  }
  return true;
}

bool UserProcess::wait_values(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (outcome_.values.size() < n && !outcome_.ended) {
    if (!read_some(deadline)) break;
  }
  return outcome_.values.size() >= n;
}

void UserProcess::release() {
  if (to_child_ < 0) return;
  const char go = 'g';
  (void)!::write(to_child_, &go, 1);
}

const Outcome& UserProcess::finish(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    if (!read_some(deadline) && !eof_ && std::chrono::steady_clock::now() >= deadline) {
      outcome_.timed_out = true;
      break;
    }
  }
  if (pid_ > 0) {
    if (outcome_.timed_out) {
      kill_and_reap();
    } else {
      // The child closed its end: it has exited or is about to.
      pollfd p{pidfd_, POLLIN, 0};
      if (pidfd_ < 0 || ::poll(&p, 1, 10'000) != 1) outcome_.timed_out = true;
      kill_and_reap();
    }
  }
  return outcome_;
}

void UserProcess::kill_and_reap() {
  if (pid_ <= 0) return;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  outcome_.wait_status = status;
  pid_ = -1;
}

Outcome as_user(const UserOptions& options, std::function<void(Channel&)> body, std::chrono::milliseconds timeout) {
  UserProcess p(options, std::move(body));
  return p.finish(timeout);
}

std::int64_t code(std::error_code ec) {
  if (!ec) return 0;
  if (ec.category() == std::system_category() || ec.category() == std::generic_category()) return ec.value();
  return -1000 - ec.value();
}

OpenProbe probe_open(Client& c, Handle dir, const std::string& path, int flags, const std::string& marker, bool openat2,
                     std::uint64_t resolve) {
  OpenProbe probe;
  Handle h;
  std::error_code open_ec;
  std::error_code ec;
  // The link timeout bounds an open that would block (a FIFO, ...): a
  // cancelled open is a failed one, never a success.
  if (openat2) {
    ec = c.multi(OpenAt2{.dir = dir,
                         .path = path.c_str(),
                         .flags = flags,
                         .resolve = resolve,
                         .out_file = &h,
                         .link = Link::hard,
                         .out_error = &open_ec},
                 LinkTimeout{.duration = 2s});
  } else {
    ec = c.multi(OpenAt{.dir = dir,
                        .path = path.c_str(),
                        .flags = flags,
                        .out_file = &h,
                        .link = Link::hard,
                        .out_error = &open_ec},
                 LinkTimeout{.duration = 2s});
  }
  if (ec && ec != make_error_code(errc::some_operation_failed)) {
    probe.err = static_cast<int>(code(ec));
    return probe;
  }
  if (open_ec) {
    probe.err = static_cast<int>(code(open_ec));
    return probe;
  }
  probe.err = 0;
  std::vector<char> buf(64 * 1024);
  std::size_t n = 0;
  std::error_code read_ec;
  (void)c.multi(Read{.file = h, .buffer = buf, .offset = 0, .out_read = &n, .link = Link::hard, .out_error = &read_ec},
                LinkTimeout{.duration = 500ms});
  if (!read_ec && n >= 4) {
    probe.magic = std::memcmp(buf.data(), "AIOD", 4) == 0;
    if (!marker.empty()) {
      probe.marker = std::search(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n), marker.begin(),
                                 marker.end()) != buf.begin() + static_cast<std::ptrdiff_t>(n);
    }
  }
  (void)c.single(CloseFile{.file = h});
  return probe;
}

ReceivedCreds receive_creds(int fd, std::chrono::milliseconds timeout) {
  ReceivedCreds r;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return r;
  char data[256];
  iovec iov{data, sizeof(data)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) * 2];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return r;
  r.received = true;
  r.data.assign(data, static_cast<std::size_t>(n));
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred u;
      std::memcpy(&u, CMSG_DATA(c), sizeof(u));
      r.had_creds = true;
      r.pid = u.pid;
      r.uid = u.uid;
      r.gid = u.gid;
    }
  }
  return r;
}

std::string make_dir(const std::string& parent, const std::string& name, mode_t mode) {
  const std::string path = parent + "/" + name;
  if (::mkdir(path.c_str(), mode) != 0 || ::chmod(path.c_str(), mode) != 0) {
    ADD_FAILURE() << "mkdir " << path << ": " << std::strerror(errno);
  }
  return path;
}

}  // namespace aiod::test::sec
