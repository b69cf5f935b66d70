// posix_backend.cpp — see posix_backend.hpp.
#include "posix_backend.hpp"

#include <poll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace aiod::daemon {
namespace posix {
namespace {

bool is_timer(const PosixOp& op) {
  return op.op.opcode == BackendOpcode::timeout || op.op.opcode == BackendOpcode::link_timeout;
}

std::uint64_t relative_ns(const __kernel_timespec& ts) {
  if (ts.tv_sec < 0 || ts.tv_nsec < 0) return 0;
  const auto sec = static_cast<std::uint64_t>(ts.tv_sec);
  if (sec > UINT64_MAX / 1'000'000'000u - 1) return UINT64_MAX;
  return sec * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

bool may_try_now(const PosixOp& p) {
  if (!p.creds) return true;
  switch (p.op.opcode) {
    case BackendOpcode::read:
    case BackendOpcode::readv:
    case BackendOpcode::write:
    case BackendOpcode::writev:
    case BackendOpcode::recv:
    case BackendOpcode::send:
      return true;
    default:
      return false;
  }
}

}  // namespace

PosixBackend::PosixBackend(unsigned entries, unsigned max_workers, std::chrono::milliseconds idle_exit)
    : entries_(entries), identity_(own_creds()), pool_(max_workers, idle_exit) {}

int PosixBackend::init(std::string& error) {
  install_cancel_signal();
  if (const int err = pool_.init(); err < 0) {
    error = std::string("eventfd: ") + std::strerror(-err);
    return err;
  }
  staged_.reserve(entries_);
  spdlog::debug("posix backend: {} entries, up to {} worker threads", entries_, kMaxWorkers);
  return 0;
}

PosixOp* PosixBackend::alloc() {
  if (free_.empty()) {
    storage_.push_back(std::make_unique<PosixOp>());
    return storage_.back().get();
  }
  PosixOp* op = free_.back();
  free_.pop_back();
  return op;
}

void PosixBackend::release(PosixOp& op) {
  op.creds.reset();
  op.state = PosixOp::State::idle;
  op.cancelled.store(false, std::memory_order_relaxed);
  op.link_timer = nullptr;
  op.link_target = nullptr;
  op.target_done = false;
  op.resignal = false;
  free_.push_back(&op);
}

int PosixBackend::prepare(const BackendOp& op, Completion* done) {
  if (!supports(op.opcode)) return -EOPNOTSUPP;
  if (staged_.size() >= entries_) return -EAGAIN;
  std::shared_ptr<const PeerCreds> creds;
  if (op.personality != 0) {
    const auto it = personalities_.find(op.personality);
    if (it == personalities_.end()) return -EINVAL;
    creds = it->second;
  }
  PosixOp& p = *alloc();
  p.op = op;
  p.done = done;
  p.creds = std::move(creds);
  if (op.opcode == BackendOpcode::link_timeout) {
    // Guards the op prepared right before it, if that one asked for a link.
    if (last_linked_ != nullptr) {
      p.link_target = last_linked_;
      last_linked_->link_timer = &p;
    }
    last_linked_ = nullptr;
  } else {
    last_linked_ = op.link != Link::none ? &p : nullptr;
  }
  staged_.push_back(&p);
  return 0;
}

int PosixBackend::flush() {
  if (staged_.empty()) return 0;
  flushing_.swap(staged_);
  last_linked_ = nullptr;
  for (PosixOp* p : flushing_) {
    live_.emplace(p->done, p);
    start(*p);
  }
  submit_batch();
  const auto n = static_cast<int>(flushing_.size());
  flushing_.clear();
  return n;
}

void PosixBackend::submit_batch() {
  pool_.submit(batch_);
  batch_.clear();
}

void PosixBackend::start(PosixOp& p) {
  switch (p.op.opcode) {
    case BackendOpcode::nop:
      complete(p, 0);
      return;
    case BackendOpcode::timeout:
      if (p.op.ts == nullptr) return complete(p, -EINVAL);
      timers_.arm(p, relative_ns(*p.op.ts));
      return;
    case BackendOpcode::link_timeout:
      if (p.target_done) return complete(p, -ECANCELED);  // its op won before it started
      if (p.link_target == nullptr || p.op.ts == nullptr) return complete(p, -EINVAL);
      timers_.arm(p, relative_ns(*p.op.ts));
      return;
    case BackendOpcode::cancel: {
      submit_batch();  // a target staged before this cancel is in the pool first
      PosixOp* target = find_live(p.op.cancel_target, &p);
      complete(p, target == nullptr ? -ENOENT : cancel_op(*target));
      return;
    }
    default:
      // First without blocking, on this thread, as io_uring does: most
      // transfers on a ready descriptor (the eventfd writes that wake clients
      // among them) never need a worker. Not under another identity, except
      // for plain transfers, whose permission was checked at open: a
      // sendmsg's SCM_CREDENTIALS must not be checked against the daemon's.
      if (may_try_now(p)) {
        if (const std::optional<int> res = try_now(p.op, syscalls_)) {
          complete(p, *res);
          return;
        }
      }
      batch_.push_back(&p);
      return;
  }
}

void PosixBackend::complete(PosixOp& p, int res) {
  const auto [first, last] = live_.equal_range(p.done);
  for (auto it = first; it != last; ++it) {
    if (it->second == &p) {
      live_.erase(it);
      break;
    }
  }
  if (p.resignal) std::erase(cancelling_, &p);
  ready_.emplace_back(p.done, res);
  if (PosixOp* timer = std::exchange(p.link_timer, nullptr)) {
    // The op ended first: its link timeout is cancelled, which is its success.
    timer->link_target = nullptr;
    if (timers_.disarm(*timer)) {
      complete(*timer, -ECANCELED);
    } else {
      timer->target_done = true;  // still staged; start() settles it
    }
  }
  if (PosixOp* target = std::exchange(p.link_target, nullptr)) target->link_timer = nullptr;
  release(p);
}

PosixOp* PosixBackend::find_live(Completion* target, const PosixOp* except) {
  const auto [first, last] = live_.equal_range(target);
  for (auto it = first; it != last; ++it) {
    PosixOp* op = it->second;
    if (op != except && !op->resignal) return op;
  }
  return nullptr;
}

int PosixBackend::cancel_op(PosixOp& op) {
  if (is_timer(op)) {
    if (!timers_.disarm(op)) return -ENOENT;
    complete(op, -ECANCELED);
    return 0;
  }
  if (op.resignal) return -ENOENT;  // its cancellation is under way
  switch (pool_.cancel(op)) {
    case WorkerPool::CancelOutcome::dequeued:
      complete(op, -ECANCELED);
      return 0;
    case WorkerPool::CancelOutcome::signalled:
      op.resignal = true;
      cancelling_.push_back(&op);
      if (cancelling_.size() == 1) last_resignal_ns_ = TimerQueue::now_ns();
      return 0;
    case WorkerPool::CancelOutcome::finished:
      break;
  }
  return -ENOENT;
}

int PosixBackend::cancel(Completion* target) {
  flush();
  if (PosixOp* op = find_live(target, nullptr)) (void)cancel_op(*op);
  return 0;
}

void PosixBackend::fire_timers() {
  if (timers_.empty()) return;
  scratch_.clear();
  timers_.take_expired(TimerQueue::now_ns(), scratch_);
  for (PosixOp* p : scratch_) {
    if (p->op.opcode == BackendOpcode::timeout) {
      complete(*p, -ETIME);
      continue;
    }
    // A link timeout expired before its op ended: cancel the op. If the op
    // has finished meanwhile (its result not collected yet), the op won.
    PosixOp* target = std::exchange(p->link_target, nullptr);
    int res = -ETIME;
    if (target != nullptr) {
      target->link_timer = nullptr;
      if (cancel_op(*target) < 0) res = -ECANCELED;
    }
    complete(*p, res);
  }
  scratch_.clear();
}

void PosixBackend::resignal() {
  if (cancelling_.empty()) return;
  const std::uint64_t now = TimerQueue::now_ns();
  if (now - last_resignal_ns_ < kResignalNs) return;
  last_resignal_ns_ = now;
  for (PosixOp* op : cancelling_) pool_.signal_if_running(*op);
}

int PosixBackend::drain() {
  fire_timers();
  scratch_.clear();
  pool_.take_finished(scratch_);
  for (PosixOp* p : scratch_) complete(*p, p->result);
  scratch_.clear();
  resignal();
  if (ready_.empty()) return 0;
  // Completions may prepare, cancel and flush: what they cause is delivered
  // by the next drain().
  delivering_.swap(ready_);
  for (const auto& [done, res] : delivering_) done->complete(res);
  const auto n = static_cast<int>(delivering_.size());
  delivering_.clear();
  return n;
}

int PosixBackend::wait(std::optional<std::chrono::nanoseconds> timeout) {
  flush();
  if (!ready_.empty()) return 0;
  const std::uint64_t now = TimerQueue::now_ns();
  std::optional<std::uint64_t> deadline;
  if (timeout) deadline = now + static_cast<std::uint64_t>(std::max<std::int64_t>(0, timeout->count()));
  if (auto next = timers_.next_deadline(); next && (!deadline || *next < *deadline)) deadline = next;
  if (!cancelling_.empty()) {
    const std::uint64_t again = last_resignal_ns_ + kResignalNs;
    if (!deadline || again < *deadline) deadline = again;
  }
  int ret = 0;
  if (pool_.prepare_sleep()) {
    timespec ts{};
    if (deadline) {
      const std::uint64_t left = *deadline > now ? *deadline - now : 0;
      ts.tv_sec = static_cast<time_t>(left / 1'000'000'000u);
      ts.tv_nsec = static_cast<long>(left % 1'000'000'000u);
    }
    pollfd p{pool_.wake_fd(), POLLIN, 0};
    ++syscalls_;
    const int n = ::ppoll(&p, 1, deadline ? &ts : nullptr, nullptr);
    pool_.end_sleep();
    if (n < 0) {
      ret = -errno;
    } else if (n == 0) {
      ret = -ETIME;
    } else {
      std::uint64_t value;
      ++syscalls_;
      (void)!::read(pool_.wake_fd(), &value, sizeof(value));
    }
  }
  resignal();
  return ret;
}

int PosixBackend::register_personality() {
  PeerCreds creds = own_creds();  // the calling thread's effective identity
  syscalls_ += 5;
  if (personalities_.size() >= 65535) return -EBUSY;
  while (next_personality_ == 0 || personalities_.contains(next_personality_)) ++next_personality_;
  const std::uint16_t id = next_personality_++;
  // Ops of the daemon's own identity run without switching.
  personalities_.emplace(id, creds.same_identity(identity_) ? nullptr
                                                            : std::make_shared<const PeerCreds>(std::move(creds)));
  return id;
}

void PosixBackend::unregister_personality(std::uint16_t id) { personalities_.erase(id); }

}  // namespace posix

std::unique_ptr<Backend> make_posix_backend(unsigned entries, std::string& error) {
  auto backend = std::make_unique<posix::PosixBackend>(entries);
  if (backend->init(error) < 0) return nullptr;
  return backend;
}

}  // namespace aiod::daemon
