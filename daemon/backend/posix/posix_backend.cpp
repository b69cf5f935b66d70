// SPDX-License-Identifier: MIT
// posix_backend.cpp — see posix_backend.hpp.
#include "backend/posix/posix_backend.hpp"

#include <poll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "os/timespec.hpp"

namespace aiod::daemon {
namespace posix {
namespace {

bool is_timer(const PosixOp& op) {
  return op.op.opcode() == BackendOpcode::timeout || op.op.opcode() == BackendOpcode::link_timeout;
}

// The shard thread runs as the daemon. Under a client's identity only
// receiving may be tried there: whatever is sent carries its sender's
// credentials (SCM_CREDENTIALS on AF_UNIX, netlink's sender, a write's
// permission checks in some special files), and those must be the client's.
// getsockname and getpeername check no credentials and send nothing, so they
// always run here: a worker would add a hand-off each way to a call of well
// under a microsecond. Like the sends and receives tried here, they take the
// socket's lock, which a client's own thread may hold for as long as one of
// its calls is stuck (faulting on a userfaultfd or FUSE page): a known limit,
// docs/operations.md (GETSOCKNAME).
bool may_try_now(const PosixOp& p) {
  if (!p.creds) return true;
  switch (p.op.opcode()) {
    case BackendOpcode::read:
    case BackendOpcode::readv:
    case BackendOpcode::recv:
    case BackendOpcode::getsockname:
    case BackendOpcode::getpeername:
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
  op.held_back = false;
  op.in_share = false;
  free_.push_back(&op);
}

int PosixBackend::prepare(const BackendOp& op, Completion* done) {
  if (!supports(op.opcode())) return -EOPNOTSUPP;
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
  if (op.is<op::LinkTimeout>()) {
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
  prepared_.add(op.opcode());
  return 0;
}

BackendReport PosixBackend::report() const {
  BackendReport r;
  r.kernel = running_kernel().release;
  for (std::size_t i = 0; i < r.ops.size(); ++i) r.ops[i].posix = prepared_.get(static_cast<BackendOpcode>(i));
  return r;
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
  switch (p.op.opcode()) {
    case BackendOpcode::nop:
      complete(p, 0);
      return;
    case BackendOpcode::timeout: {
      const __kernel_timespec* ts = p.op.as<op::Timeout>().ts;
      if (ts == nullptr) return complete(p, -EINVAL);
      timers_.arm(p, ns_from_timespec(*ts));
      return;
    }
    case BackendOpcode::link_timeout: {
      if (p.target_done) return complete(p, -ECANCELED);  // its op won before it started
      const __kernel_timespec* ts = p.op.as<op::LinkTimeout>().ts;
      if (p.link_target == nullptr || ts == nullptr) return complete(p, -EINVAL);
      timers_.arm(p, ns_from_timespec(*ts));
      return;
    }
    case BackendOpcode::cancel: {
      submit_batch();  // a target staged before this cancel is in the pool first
      PosixOp* target = find_live(p.op.as<op::Cancel>().target, &p);
      complete(p, target == nullptr ? -ENOENT : cancel_op(*target));
      return;
    }
    default:
      // First without blocking, on this thread, as io_uring does: most
      // transfers on a ready descriptor never need a worker (not those on a
      // file without RWF_NOWAIT: see try_now). Under another identity only
      // reads (see may_try_now).
      if (may_try_now(p) && !p.op.never_inline) {
        if (const std::optional<int> res = try_now(p.op, syscalls_)) {
          complete(p, *res);
          return;
        }
      }
      dispatch(p);
      return;
  }
}

void PosixBackend::dispatch(PosixOp& p) {
  if (p.op.owner != 0) {
    p.in_share = true;
    Share& share = shares_[p.op.owner];
    if (share.with_workers >= worker_share_) {
      p.held_back = true;
      share.waiting.push_back(&p);
      return;
    }
    ++share.with_workers;
  }
  batch_.push_back(&p);
}

void PosixBackend::leave_share(PosixOp& p) {
  if (p.op.owner == 0) return;
  const auto it = shares_.find(p.op.owner);
  if (it == shares_.end()) return;
  Share& share = it->second;
  if (p.held_back) {
    std::erase(share.waiting, &p);
    p.held_back = false;
  } else if (share.with_workers > 0) {
    --share.with_workers;
    if (!share.waiting.empty()) {
      PosixOp* next = share.waiting.front();
      share.waiting.pop_front();
      next->held_back = false;
      ++share.with_workers;
      batch_.push_back(next);
      submit_batch();
    }
  }
  if (share.with_workers == 0 && share.waiting.empty()) shares_.erase(it);
}

void PosixBackend::complete(PosixOp& p, int res) {
  if (p.in_share) {
    p.in_share = false;
    leave_share(p);
  }
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
  if (op.held_back) {               // never reached the pool
    complete(op, -ECANCELED);
    return 0;
  }
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
    if (p->op.is<op::Timeout>()) {
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

bool PosixBackend::holds(Completion* target) const {
  if (live_.contains(target)) return true;
  return std::any_of(staged_.begin(), staged_.end(), [&](const PosixOp* p) { return p->done == target; });
}

PosixBackend::SleepPlan PosixBackend::begin_sleep() {
  flush();
  SleepPlan plan;
  if (!ready_.empty()) {
    plan.results_waiting = true;
    return plan;
  }
  plan.deadline_ns = timers_.next_deadline();
  if (!cancelling_.empty()) {
    const std::uint64_t again = last_resignal_ns_ + kResignalNs;
    if (!plan.deadline_ns || again < *plan.deadline_ns) plan.deadline_ns = again;
  }
  plan.results_waiting = !pool_.prepare_sleep();
  return plan;
}

int PosixBackend::wait(std::optional<std::chrono::nanoseconds> timeout) {
  const std::uint64_t now = TimerQueue::now_ns();
  const SleepPlan plan = begin_sleep();
  int ret = 0;
  if (!plan.results_waiting) {
    std::optional<std::uint64_t> deadline = plan.deadline_ns;
    if (timeout) {
      const std::uint64_t limit = now + static_cast<std::uint64_t>(std::max<std::int64_t>(0, timeout->count()));
      if (!deadline || limit < *deadline) deadline = limit;
    }
    timespec ts{};
    if (deadline) ts = timespec_from_ns<timespec>(*deadline > now ? *deadline - now : 0);
    pollfd p{pool_.wake_fd(), POLLIN, 0};
    ++syscalls_;
    const int n = ::ppoll(&p, 1, deadline ? &ts : nullptr, nullptr);
    end_sleep();
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
  personalities_.emplace(
      id, creds.same_identity(identity_) ? nullptr : std::make_shared<const PeerCreds>(std::move(creds)));
  return id;
}

void PosixBackend::unregister_personality(std::uint16_t id) { personalities_.erase(id); }

}  // namespace posix

std::unique_ptr<Backend> make_posix_backend(unsigned entries, unsigned worker_share, std::string& error) {
  auto backend = std::make_unique<posix::PosixBackend>(entries);
  backend->set_worker_share(worker_share);
  if (backend->init(error) < 0) return nullptr;
  return backend;
}

}  // namespace aiod::daemon
