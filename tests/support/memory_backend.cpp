// SPDX-License-Identifier: MIT
// memory_backend.cpp — the in-memory Backend (memory_backend.hpp): files and
// pipes in memory, timers on a virtual clock, and io_uring's rules for links,
// link timeouts and cancellation.
#include "memory_backend.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace aiod::test {
namespace {
using daemon::BackendOpcode;
using daemon::Link;
namespace op = daemon::op;

constexpr std::size_t kSlots = 256;  // staged ops before a flush is needed

std::uint64_t to_ns(const __kernel_timespec* ts) {
  return static_cast<std::uint64_t>(ts->tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts->tv_nsec);
}

std::uint64_t iov_bytes(const iovec* iov, std::uint32_t count) {
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < count; ++i) n += iov[i].iov_len;
  return n;
}

// io_uring's rule for soft links: an error breaks the chain, and so does a
// short read or write (fewer bytes than asked for).
bool fails(const daemon::BackendOp& o, int res) {
  if (res < 0) return true;
  const auto got = static_cast<std::uint64_t>(res);
  if (o.is<op::Read>()) return got < o.as<op::Read>().len;
  if (o.is<op::Write>()) return got < o.as<op::Write>().len;
  if (o.is<op::Readv>()) return got < iov_bytes(o.as<op::Readv>().iov, o.as<op::Readv>().count);
  if (o.is<op::Writev>()) return got < iov_bytes(o.as<op::Writev>().iov, o.as<op::Writev>().count);
  return false;
}

// The result of a real system call that must not block: nullopt means "would
// block, try again later".
std::optional<int> nonblocking_result(ssize_t n) {
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
  return -errno;
}
}  // namespace

// --- the test's side ----------------------------------------------------------

void MemoryBackend::add_file(const std::string& path, std::string contents) {
  files_[path] = std::make_shared<File>(File{std::move(contents), false});
}

void MemoryBackend::add_pipe(const std::string& path) { files_[path] = std::make_shared<File>(File{{}, true}); }

void MemoryBackend::feed(const std::string& path, std::string_view bytes) { files_.at(path)->data.append(bytes); }

std::string MemoryBackend::contents(const std::string& path) const {
  const auto it = files_.find(path);
  return it == files_.end() ? std::string() : it->second->data;
}

std::size_t MemoryBackend::pending() const {
  return static_cast<std::size_t>(
      std::count_if(ops_.begin(), ops_.end(), [](const Op& o) { return o.state != State::finished; }));
}

// --- describing work ------------------------------------------------------------

// The opcodes modelled below; prepare() refuses the others, as io_uring does
// an opcode its probe lacks.
bool MemoryBackend::supports(BackendOpcode op) const {
  switch (op) {
    case BackendOpcode::nop:
    case BackendOpcode::read:
    case BackendOpcode::write:
    case BackendOpcode::readv:
    case BackendOpcode::writev:
    case BackendOpcode::fsync:
    case BackendOpcode::ftruncate:
    case BackendOpcode::fallocate:
    case BackendOpcode::timeout:
    case BackendOpcode::link_timeout:
    case BackendOpcode::cancel:
    case BackendOpcode::openat2:
    case BackendOpcode::recvmsg:  // real descriptors only (the session's control socket)
      return true;
    default:
      return false;
  }
}

unsigned MemoryBackend::space() const { return static_cast<unsigned>(kSlots - staged_.size()); }

// Stages one op. An op whose predecessor had a Link is its successor in a
// linked segment; a link timeout right after an op bounds that op.
int MemoryBackend::prepare(const daemon::BackendOp& op, daemon::Completion* done) {
  if (!supports(op.opcode())) return -EOPNOTSUPP;
  if (staged_.size() >= kSlots) return -EAGAIN;
  if (op.is<op::Read>() && opens_.contains(op.as<op::Read>().fd)) {
    reads_marked_at_once_.push_back(op.as<op::Read>().try_at_once);
  }
  Op& o = ops_.emplace_back();
  o.self = std::prev(ops_.end());
  o.op = op;
  o.done = done;
  if (link_from_ != nullptr) {
    link_from_->next = &o;
    o.head = false;
    if (o.op.is<op::LinkTimeout>() && !link_from_->op.is<op::LinkTimeout>()) o.guarded = link_from_;
  }
  staged_.push_back(&o);
  link_from_ = op.link != Link::none ? &o : nullptr;
  return 0;
}

// Backend::cancel is an unlinked CANCEL whose own result nobody reads; like
// io_uring's, it takes effect when flushed, after what was staged before it.
int MemoryBackend::cancel(daemon::Completion* target) {
  Op* const linking = std::exchange(link_from_, nullptr);
  const int ret = prepare(daemon::BackendOp(op::Cancel{.target = target}), nullptr);
  link_from_ = linking;
  return ret;
}

// --- driving ----------------------------------------------------------------------

// Hands the staged ops over: each segment's first op starts, the others wait
// for their turn. A link on the last staged op ends there (io_uring ends a
// chain at the end of a submission).
int MemoryBackend::flush() {
  const std::vector<Op*> batch = std::exchange(staged_, {});
  link_from_ = nullptr;
  for (Op* o : batch) {
    if (!o->head && o->state == State::staged) o->state = State::waiting;
  }
  for (Op* o : batch) {
    if (o->head && o->state == State::staged) start(*o);
  }
  return static_cast<int>(batch.size());
}

// Tries again what waits for data, fires expired timers (a link timeout
// cancels the op it bounds), then delivers every result, in order.
int MemoryBackend::drain() {
  std::vector<Op*> running;
  for (Op& o : ops_) {
    if (o.state == State::running) running.push_back(&o);
  }
  for (Op* o : running) {
    if (o->state != State::running) continue;  // ended by one before it
    if (o->guarded != nullptr) {
      if (now_ns_ >= o->deadline) {
        settle(*o, -ETIME);
        complete_op(*o->guarded, -ECANCELED);
      }
      continue;
    }
    if (auto res = run(*o)) complete_op(*o, *res);
  }
  int delivered = 0;
  while (!holding_ && !finished_.empty()) {
    Op* o = finished_.front();
    finished_.pop_front();
    daemon::Completion* done = o->done;
    const int res = o->result;
    ops_.erase(o->self);
    if (done != nullptr) done->complete(res);  // may prepare more
    ++delivered;
  }
  return delivered;
}

int MemoryBackend::wait(std::optional<std::chrono::nanoseconds>) {
  flush();
  return finished_.empty() ? -ETIME : 0;
}

// --- the rules ----------------------------------------------------------------------

MemoryBackend::Op* MemoryBackend::timer_of(const Op& o) const {
  return o.next != nullptr && o.next->guarded == &o ? o.next : nullptr;
}

// An op's turn has come: it runs, with its link timeout (if any) armed from
// now; an op that cannot finish yet (a pipe with no data, a timer) stays
// running until drain() finds it done.
void MemoryBackend::start(Op& o) {
  o.state = State::running;
  if (Op* t = timer_of(o)) {
    t->state = State::running;
    t->deadline = now_ns_ + to_ns(t->op.as<op::LinkTimeout>().ts);
  }
  if (o.op.is<op::Timeout>()) o.deadline = now_ns_ + to_ns(o.op.as<op::Timeout>().ts);
  if (auto res = run(o)) complete_op(o, *res);
}

// An op (not a link timeout) has its result. Its link timeout, if still
// armed, lost the race and completes -ECANCELED; an expired one means the op
// was cancelled by it. The rest of the segment then runs, unless a soft link
// failed or the link timeout expired: then it completes -ECANCELED.
void MemoryBackend::complete_op(Op& o, int res) {
  settle(o, res);
  Op* t = timer_of(o);
  bool broken = o.op.link == Link::soft && fails(o.op, res);
  if (t != nullptr) {
    if (t->state == State::running) {
      settle(*t, -ECANCELED);
    } else if (t->result == -ETIME) {
      broken = true;
    }
  }
  continue_segment(t != nullptr ? t->next : o.next, broken);
}

void MemoryBackend::settle(Op& o, int res) {
  o.state = State::finished;
  o.result = res;
  finished_.push_back(&o);
}

void MemoryBackend::continue_segment(Op* rest, bool broken) {
  if (rest == nullptr) return;
  if (!broken) {
    start(*rest);
    return;
  }
  for (; rest != nullptr; rest = rest->next) settle(*rest, -ECANCELED);
}

// io_uring's answers: 0 when the target was running and is now cancelled
// (it completes -ECANCELED); -EALREADY when it has already finished and only
// its completion is pending; -ENOENT when nothing running has that
// Completion — a linked op still waiting for its turn included (io_uring
// cannot reach those either). Cancelling a link timeout disarms only it.
int MemoryBackend::cancel_target(daemon::Completion* target) {
  if (target == nullptr) return -ENOENT;
  const auto it = std::find_if(ops_.begin(), ops_.end(), [&](const Op& o) {
    return o.done == target && (o.state == State::running || o.state == State::finished);
  });
  if (it == ops_.end()) return -ENOENT;
  if (it->state == State::finished) return -EALREADY;
  if (it->guarded != nullptr) {
    it->guarded->next = it->next;  // its op runs on, unbounded; the rest follows that op
    settle(*it, -ECANCELED);
  } else {
    complete_op(*it, -ECANCELED);
  }
  return 0;
}

MemoryBackend::Open* MemoryBackend::find_open(int fd) {
  const auto it = opens_.find(fd);
  if (it == opens_.end()) return nullptr;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_ino != it->second.ino) {
    opens_.erase(it);  // the placeholder was closed; the number is something else now
    return nullptr;
  }
  return &it->second;
}

// Runs one op against memory. nullopt: it cannot finish yet.
std::optional<int> MemoryBackend::run(Op& o) {
  const daemon::BackendOp& b = o.op;
  switch (b.opcode()) {
    case BackendOpcode::nop:
      return 0;
    case BackendOpcode::read: {
      const auto& a = b.as<op::Read>();
      const iovec iov{a.buf, a.len};
      return find_open(a.fd) != nullptr ? transfer(a.fd, &iov, 1, a.offset, false) : real_io(b);
    }
    case BackendOpcode::write: {
      const auto& a = b.as<op::Write>();
      const iovec iov{const_cast<void*>(a.buf), a.len};
      return find_open(a.fd) != nullptr ? transfer(a.fd, &iov, 1, a.offset, true) : real_io(b);
    }
    case BackendOpcode::readv: {
      const auto& a = b.as<op::Readv>();
      return transfer(a.fd, a.iov, a.count, a.offset, false);
    }
    case BackendOpcode::writev: {
      const auto& a = b.as<op::Writev>();
      return transfer(a.fd, a.iov, a.count, a.offset, true);
    }
    case BackendOpcode::fsync:
    case BackendOpcode::ftruncate:
    case BackendOpcode::fallocate: {
      const int fd = b.is<op::Fsync>()       ? b.as<op::Fsync>().fd
                     : b.is<op::Ftruncate>() ? b.as<op::Ftruncate>().fd
                                             : b.as<op::Fallocate>().fd;
      Open* f = find_open(fd);
      if (f == nullptr) return -EBADF;
      if (f->file->pipe) return -EINVAL;
      std::string& data = f->file->data;
      if (b.is<op::Ftruncate>()) data.resize(b.as<op::Ftruncate>().length);
      if (b.is<op::Fallocate>()) {
        const auto& a = b.as<op::Fallocate>();
        if (a.mode != 0) return -EOPNOTSUPP;  // only plain allocation is modelled
        if (data.size() < a.offset + a.length) data.resize(a.offset + a.length);
      }
      return 0;
    }
    case BackendOpcode::timeout:
      return now_ns_ >= o.deadline ? std::optional<int>(-ETIME) : std::nullopt;
    case BackendOpcode::link_timeout:
      return -EINVAL;  // it follows no op (a guarding one never runs alone)
    case BackendOpcode::cancel:
      return cancel_target(b.as<op::Cancel>().target);
    case BackendOpcode::openat2: {
      const auto& a = b.as<op::Openat2>();
      auto it = files_.find(a.path);
      if (it == files_.end()) {
        if ((a.how->flags & O_CREAT) == 0) return -ENOENT;
        it = files_.emplace(a.path, std::make_shared<File>()).first;
      } else if ((a.how->flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
        return -EEXIST;
      }
      if ((a.how->flags & O_TRUNC) != 0 && !it->second->pipe) it->second->data.clear();
      // A real descriptor number, so that whoever owns it can close it.
      const int fd = ::memfd_create("aiod-memory-file", MFD_CLOEXEC);
      if (fd < 0) return -errno;
      struct stat st {};
      (void)::fstat(fd, &st);
      opens_[fd] = Open{it->second, 0, st.st_ino};
      return fd;
    }
    case BackendOpcode::recvmsg:
      return find_open(b.as<op::Recvmsg>().fd) != nullptr ? std::optional<int>(-ENOTSOCK) : real_io(b);
    default:
      return -EOPNOTSUPP;
  }
}

// Moves bytes between a file and buffers: at `offset`, or at the file
// position (which then advances). A pipe ignores offsets; a read of an empty
// pipe waits, a write appends. Fewer bytes than asked is a short transfer.
std::optional<int> MemoryBackend::transfer(int fd, const iovec* iov, std::size_t count, std::uint64_t offset,
                                           bool write) {
  Open* f = find_open(fd);
  if (f == nullptr) return -EBADF;
  File& file = *f->file;
  if (file.pipe && !write && file.data.empty()) return std::nullopt;
  const bool at_position = offset == op::kCurrentPosition;
  std::uint64_t pos = file.pipe ? 0 : at_position ? f->pos : offset;
  std::uint64_t moved = 0;
  for (std::size_t i = 0; i < count; ++i) {
    auto* buf = static_cast<char*>(iov[i].iov_base);
    const std::uint64_t len = iov[i].iov_len;
    if (write) {
      if (file.pipe) pos = file.data.size();
      if (file.data.size() < pos + len) file.data.resize(pos + len);
      std::memcpy(file.data.data() + pos, buf, len);
      pos += len;
      moved += len;
      continue;
    }
    const std::uint64_t avail = file.data.size() > pos ? file.data.size() - pos : 0;
    const std::uint64_t n = std::min(len, avail);
    std::memcpy(buf, file.data.data() + pos, n);
    pos += n;
    moved += n;
    if (n < len) break;
  }
  if (file.pipe && !write) file.data.erase(0, moved);
  if (!file.pipe && at_position) f->pos = pos;
  return static_cast<int>(moved);
}

// A real descriptor (the session's control socket or eventfds): the system
// call is made only when it would not block.
std::optional<int> MemoryBackend::real_io(const daemon::BackendOp& b) {
  if (b.is<op::Recvmsg>()) {
    const auto& a = b.as<op::Recvmsg>();
    return nonblocking_result(::recvmsg(a.fd, a.msg, static_cast<int>(a.flags) | MSG_DONTWAIT));
  }
  const bool write = b.is<op::Write>();
  const int fd = write ? b.as<op::Write>().fd : b.as<op::Read>().fd;
  pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
  if (::poll(&p, 1, 0) < 0) return -errno;
  if ((p.revents & POLLNVAL) != 0) return -EBADF;
  if (p.revents == 0) return std::nullopt;
  if (write) return nonblocking_result(::write(fd, b.as<op::Write>().buf, b.as<op::Write>().len));
  return nonblocking_result(::read(fd, b.as<op::Read>().buf, b.as<op::Read>().len));
}

}  // namespace aiod::test
