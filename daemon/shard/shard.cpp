// SPDX-License-Identifier: MIT
// shard.cpp — a shard's thread and its loop: run, flush, reap, poll, sleep.
#include "shard/shard.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "os/cpu_list.hpp"
#include "os/timespec.hpp"
#include "session/session.hpp"
#include "shm_access.hpp"
#include "stats/stage_probe.hpp"

namespace aiod::daemon {

Shard::Shard(DaemonServices& daemon, unsigned index, const Config& config)
    : daemon_(daemon), index_(index), config_(config) {}

Shard::~Shard() { join(); }

std::uint32_t Shard::cpu() {
  if (!cpu_valid_) {
    cpu_ = static_cast<std::uint32_t>(::sched_getcpu());
    cpu_valid_ = true;
  }
  return cpu_;
}

std::uint64_t Shard::now_ns() const { return monotonic_ns(); }

int Shard::start(std::string& error) {
  inbox_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!inbox_efd_) {
    error = std::string("eventfd: ") + std::strerror(errno);
    return -errno;
  }
  std::promise<std::string> started;
  auto ready = started.get_future();
  thread_ = std::thread([this, &started] {
    const std::string name = "aiod-shard-" + std::to_string(index_);
    ::pthread_setname_np(::pthread_self(), name.c_str());
    std::string err;
    // Pinned before the backend exists: nothing of the shard runs elsewhere
    // first. (io-wq workers do not inherit it: they run on any CPU allowed.)
    if (!config_.shard_cpus.empty()) {
      const unsigned cpu = config_.shard_cpus[index_ % config_.shard_cpus.size()];
      if (const int e = pin_this_thread(cpu); e < 0) {
        started.set_value("shard-cpus: cannot run shard " + std::to_string(index_) + " on CPU " + std::to_string(cpu) +
                          ": " + std::strerror(-e));
        return;
      }
    }
    const unsigned share = config_.limits.max_workers_per_uid;
    if (config_.backend != BackendChoice::posix) {
      backend_ = make_uring_backend(config_.backend_entries, share, config_.emulate_kernel, err);
    }
    if (!backend_ && config_.backend == BackendChoice::automatic) {
      if (index_ == 0) spdlog::warn("{}; using the posix backend (worker threads) instead", err);
      err.clear();
    }
    if (!backend_ && config_.backend != BackendChoice::io_uring) {
      backend_ = make_posix_backend(config_.backend_entries, share, err);
    }
    if (!backend_) {
      started.set_value(err);
      return;
    }
    backend_name_ = std::string(backend_->info().name);
    started.set_value({});
    thread_main();
  });
  error = ready.get();
  if (!error.empty()) {
    thread_.join();
    return -ENODEV;
  }
  return 0;
}

void Shard::update_config(const Config& config) {
  {
    std::lock_guard lock(mutex_);
    pending_config_ = std::make_unique<Config>(config);
  }
  config_pending_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  (void)!::write(inbox_efd_.get(), &one, sizeof(one));  // wake it to take them
}

void Shard::request_stop() {
  stop_requested_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  (void)!::write(inbox_efd_.get(), &one, sizeof(one));
}

void Shard::join() {
  if (thread_.joinable()) thread_.join();
}

void Shard::park(Session& session, std::coroutine_handle<> h) {
  session.parked_pump = h;
  parked_.push_back(session);
}

void Shard::unpark(Session& s) {
  parked_.remove(s);
  s.rings().set_need_wakeup(false);
  if (auto h = std::exchange(s.parked_pump, {})) sched_.schedule(h);
}

void Shard::mark_dirty(Session& s) { dirty_.push_back(&s); }

void Shard::publish_dirty() {
  for (Session* s : dirty_) s->publish_completions();
  dirty_.clear();
}

bool Shard::poll_parked() {
  bool found = false;
  for (Session* s = parked_.front(); s != nullptr;) {
    Session* next = IntrusiveList<Session>::next(*s);
    if (s->ready_to_drain()) {
      unpark(*s);
      found = true;
    }
    s = next;
  }
  return found;
}

void Shard::prepare_to_sleep() {
  for (Session* s = parked_.front(); s != nullptr; s = IntrusiveList<Session>::next(*s)) {
    s->rings().set_need_wakeup(true);
  }
  // Our flag stores must be visible before we re-read the clients' tails; a
  // client publishes its tail before reading our flag (Dekker).
  proto::store_load_fence();
}

void Shard::thread_main() {
  inbox_reader_.arm();
  loop();
  stage_probe::flush(index_);
  spdlog::debug("shard {} stopped", index_);
}

void Shard::loop() {
  // Spinning only with pause instructions this long after the last work;
  // after that, the spin yields the CPU between looks, since on a busy
  // machine the client (or an io-wq worker) we wait for may need this CPU.
  constexpr std::uint64_t kPureSpinNs = 5'000;
  std::uint64_t poll_ns = static_cast<std::uint64_t>(config_.poll.count()) * 1000;
  std::uint64_t last_work = now_ns();
  unsigned idle_turns = 0;
  // With a watchdog, sleep at most shard_wake so the heartbeat keeps moving.
  std::optional<std::chrono::nanoseconds> max_sleep;
  if (config_.shard_wake.count() > 0) max_sleep = config_.shard_wake;
  for (;;) {
    // Single writer: a plain increment, no locked read-modify-write.
    heartbeat_.store(heartbeat_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) begin_stop();
    if (config_pending_.load(std::memory_order_relaxed) && config_pending_.exchange(false, std::memory_order_acquire)) {
      std::lock_guard lock(mutex_);
      if (pending_config_) config_ = std::move(*std::exchange(pending_config_, nullptr));
      poll_ns = static_cast<std::uint64_t>(config_.poll.count()) * 1000;
    }
    // The clock and the CPU are looked up again when this turn first needs them.
    turn_ns_valid_ = false;
    cpu_valid_ = false;
    bool worked = sched_.run_ready() > 0;
    backend_->flush();
    stage_probe::mark(stage_probe::Stage::submitted, 0);
    worked |= backend_->drain() > 0;
    publish_dirty();
    if (stopping_ && !sched_.has_ready()) {
      std::lock_guard lock(mutex_);
      if (sessions_.empty()) break;
    }
    if (worked || sched_.has_ready() || poll_parked()) {
      syscalls_.store(backend_->syscalls(), std::memory_order_relaxed);  // for stats readers
      last_work = 0;  // read the clock when idleness starts, not on every busy turn
      idle_turns = 0;
      continue;
    }
    // Idle: the clock is read every 32 turns only.
    if (last_work == 0) last_work = turn_ns();
    if (++idle_turns % 32 != 0) {
      proto::cpu_pause();
      continue;
    }
    if (const std::uint64_t idle = turn_ns() - last_work; idle < poll_ns) {
      if (idle >= kPureSpinNs) ::sched_yield();
      continue;
    }
    syscalls_.store(backend_->syscalls(), std::memory_order_relaxed);
    prepare_to_sleep();
    if (poll_parked()) continue;
    if (!inbox_reader_.armed && !stopping_) inbox_reader_.arm();
    backend_->wait(max_sleep);
    for (Session* s = parked_.front(); s != nullptr; s = IntrusiveList<Session>::next(*s)) {
      s->rings().set_need_wakeup(false);
    }
    last_work = 0;
    idle_turns = 0;
  }
  backend_->flush();
}

}  // namespace aiod::daemon
