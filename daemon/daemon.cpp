// SPDX-License-Identifier: MIT
#include "daemon.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "backend/confined_path.hpp"
#include "settings.hpp"
#include "shard/shard.hpp"
#include "os/version.hpp"
#include "wire.hpp"

namespace aiod::daemon {

Daemon::Daemon(Config config, Notifier notifier)
    : config_(std::move(config)), notifier_(std::move(notifier)), watchdog_(config_.watchdog), identity_(own_creds()) {
  config_.shard_wake = watchdog_.shard_wake();  // before the shards copy config_
  control_wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (config_.listen_fd >= 0) {
    socket_activated_ = true;
    listener_.adopt(UniqueFd(std::exchange(config_.listen_fd, -1)));
  }
}

Daemon::~Daemon() { stop(); }

int Daemon::start(std::string& error) {
  if (const int err = posix::check_openat2(error); err < 0) return err;
  // Shards first: if no backend can run (io_uring demanded but unavailable)
  // we fail before touching the socket path.
  for (unsigned i = 0; i < config_.threads; ++i) {
    auto shard = std::make_unique<Shard>(*this, i, config_);
    if (const int err = shard->start(error); err < 0) return err;
    // Every shard makes the same choice; the first names it.
    if (i == 0) backend_name_ = shard->backend_name();
    shards_.push_back(std::move(shard));
  }
  if (socket_activated_) return 0;  // systemd bound the socket and owns its path
  return listener_.bind(config_.socket_path, config_.socket_mode, config_.socket_gid, error);
}

void Daemon::stop() {
  listener_.close();
  for (auto& shard : shards_) shard->request_stop();
  for (auto& shard : shards_) shard->join();
  shards_.clear();
}

int Daemon::run() {
  // Clients' sockets and pipes must never kill the daemon with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  // Blocked before any thread starts, so every thread inherits the mask and
  // the signals reach only the signalfd.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  UniqueFd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    spdlog::critical("signalfd: {}", std::strerror(errno));
    return 1;
  }
  if (!control_wake_) {
    spdlog::critical("eventfd for control requests: {}", std::strerror(errno));
    return 1;
  }

  std::string error;
  if (const int err = start(error); err < 0) {
    spdlog::critical("aiod cannot start: {}", error);
    tell_manager("STATUS=cannot start: " + error + "\nERRNO=" + std::to_string(-err));
    stop();
    return 1;
  }
  started_ = std::chrono::steady_clock::now();
  if (config_.ready_fd >= 0) {
    // Readiness for whoever started us (tests, scripts): the socket accepts now.
    (void)!::write(config_.ready_fd, "1\n", 2);
    ::close(config_.ready_fd);
  }
  spdlog::info("aiod {} listening on {}{} ({} shard{}, {} backend, poll {} us)", kVersion, config_.socket_path,
               socket_activated_ ? " (socket-activated)" : "", config_.threads, config_.threads == 1 ? "" : "s",
               backend_name_, config_.poll.count());
  // Rings and socket are up: connections are served from now on.
  tell_manager("READY=1\nSTATUS=" + serving_status());
  watchdog_.start(std::chrono::steady_clock::now(), heartbeats());

  UniqueFd spare(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  for (;;) {
    // `aioctl reload` and `aioctl shutdown` arrive on control_wake_, an
    // eventfd, with a queue beside it, rather than as a signal the shard
    // raises at its own process: the queue carries who asked and a way back
    // for the reload's verdict, and the log and the stats can tell an
    // operator's signal from a client's request. The action itself is the
    // signal's: reload() for both, and the same way out of this loop.
    pollfd fds[3] = {{listener_.fd(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}, {control_wake_.get(), POLLIN, 0}};
    // With a watchdog the wait ends in time for the next heartbeat check.
    if (::poll(fds, 3, watchdog_.poll_timeout_ms(std::chrono::steady_clock::now())) < 0) {
      if (errno == EINTR) continue;
      spdlog::critical("poll: {}", std::strerror(errno));
      break;
    }
    watchdog_tick();
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      bool quit = false;
      while (::read(sigfd.get(), &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGHUP) {
          (void)reload("SIGHUP");
          continue;
        }
        spdlog::info("{}: stopping", strsignal(static_cast<int>(info.ssi_signo)));
        quit = true;
      }
      if (quit) break;
    }
    if ((fds[2].revents & POLLIN) && run_control_actions()) break;
    if (fds[0].revents & POLLIN) {
      for (;;) {
        UniqueFd conn(::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (conn) {
          accept_connection(std::move(conn));
          continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && spare) {
          // Out of descriptors: use the spare to take the connection off the
          // queue and close it, rather than spinning on a readable listener.
          spare.reset();
          UniqueFd drop(::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
          if (drop) reject(drop.get(), EMFILE, "the daemon is out of file descriptors");
          spare.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
          spdlog::warn("out of file descriptors: refused a connection");
          continue;
        }
        if (errno != EAGAIN) spdlog::warn("accept: {}", std::strerror(errno));
        break;
      }
    }
  }
  tell_manager("STOPPING=1\nSTATUS=Stopping: cancelling in-flight operations");
  stop();
  spdlog::info("aiod stopped");
  return 0;
}

Daemon::ReloadResult Daemon::reload(const std::string& by) {
  if (config_.config_file.empty()) {
    spdlog::info("{}: no --config file, nothing to reload", by);
    return {true, "no --config file, nothing to reload"};
  }
  Config next;
  std::string error;
  if (build_config(config_, config_.config_file, config_.overrides, next, error) < 0) {
    spdlog::error("{}: config rejected, keeping the current settings: {}", by, error);
    reload_failures_.fetch_add(1, std::memory_order_relaxed);
    tell_manager("STATUS=config reload rejected: " + error);
    return {false, error};
  }
  if (next.socket_path.empty()) next.socket_path = config_.socket_path;  // the default was resolved at start
  if (!socket_activated_ && (next.socket_path != config_.socket_path || next.socket_mode != config_.socket_mode ||
                            next.socket_gid != config_.socket_gid)) {
    spdlog::warn("{}: socket, socket-mode and socket-group changes take effect at the next start", by);
  }
  if (next.threads != config_.threads) spdlog::warn("{}: a threads change takes effect at the next start", by);
  if (next.shard_cpus != config_.shard_cpus) spdlog::warn("{}: a shard-cpus change takes effect at the next start", by);
  if (next.backend != config_.backend) spdlog::warn("{}: a backend change takes effect at the next start", by);
  if (next.emulate_kernel != config_.emulate_kernel) {
    spdlog::warn("{}: an emulate-kernel change takes effect at the next start", by);
  }
  config_.poll = next.poll;
  config_.log_level = next.log_level;
  config_.limits = next.limits;
  spdlog::set_level(spdlog::level::from_str(config_.log_level));
  for (auto& shard : shards_) shard->update_config(config_);
  reloads_.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("{}: reloaded {} (log level {}, max sessions {}, poll {} us)", by, config_.config_file,
               config_.log_level, config_.limits.max_sessions, config_.poll.count());
  tell_manager("STATUS=" + serving_status());
  return {true, "reloaded " + config_.config_file};
}

void Daemon::request_control_action(std::shared_ptr<ControlAction> action) {
  {
    std::lock_guard lock(actions_mutex_);
    actions_.push_back(std::move(action));
  }
  const std::uint64_t one = 1;
  (void)!::write(control_wake_.get(), &one, sizeof(one));
}

bool Daemon::run_control_actions() {
  std::uint64_t count = 0;
  (void)!::read(control_wake_.get(), &count, sizeof(count));
  std::vector<std::shared_ptr<ControlAction>> actions;
  {
    std::lock_guard lock(actions_mutex_);
    actions.swap(actions_);
  }
  bool stop_now = false;
  for (const auto& action : actions) {
    switch (action->kind) {
      case ControlAction::Kind::reload: {
        ReloadResult r = reload("aioctl reload (" + action->requester + ")");
        action->finish(r.accepted, std::move(r.message));
        break;
      }
      case ControlAction::Kind::shutdown:
        // From here on exactly as SIGTERM: the loop ends and run() stops.
        spdlog::info("aioctl shutdown ({}): stopping", action->requester);
        action->finish(true, {});
        stop_now = true;
        break;
    }
  }
  return stop_now;
}

std::vector<std::uint64_t> Daemon::heartbeats() const {
  std::vector<std::uint64_t> beats;
  beats.reserve(shards_.size());
  for (const auto& shard : shards_) beats.push_back(shard->heartbeat());
  return beats;
}

void Daemon::watchdog_tick() {
  switch (watchdog_.check(std::chrono::steady_clock::now(), heartbeats())) {
    case ShardWatchdog::Verdict::not_due:
      return;
    case ShardWatchdog::Verdict::alive:
      if (stall_reported_) {
        stall_reported_ = false;
        spdlog::warn("every shard makes progress again");
        tell_manager("WATCHDOG=1\nSTATUS=" + serving_status());
      } else {
        tell_manager("WATCHDOG=1");
      }
      return;
    case ShardWatchdog::Verdict::stalled:
      // No ping: if the shard stays stuck, systemd restarts the daemon.
      if (!stall_reported_) {
        stall_reported_ = true;
        const std::string what = "shard " + std::to_string(watchdog_.stalled_shard()) +
                                 " has made no progress for half the watchdog interval";
        spdlog::error("{}; withholding the watchdog ping", what);
        tell_manager("STATUS=" + what);
      }
      return;
  }
}

std::string Daemon::serving_status() const {
  return "Serving on " + config_.socket_path + " with " + std::to_string(config_.threads) +
         (config_.threads == 1 ? " shard" : " shards");
}

void Daemon::tell_manager(const std::string& state) {
  if (const int err = notifier_.notify(state); err < 0) {
    spdlog::warn("cannot notify the service manager ({}): {}", state.substr(0, state.find('\n')), std::strerror(-err));
  }
}

void Daemon::accept_connection(UniqueFd conn) {
  const std::uint64_t id = next_session_id_.fetch_add(1, std::memory_order_relaxed);
  std::string refusal;
  ucred peer{};
  socklen_t len = sizeof(peer);
  if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
    refusal = std::string("cannot read the peer's credentials: ") + std::strerror(errno);
  } else if (peer.pid == ::getpid()) {
    // A socket the daemon connected for a client (CONNECT to this socket):
    // its credentials and namespaces would be the daemon's, not the client's.
    refusal = "a connection aiod made for a client cannot be a session";
  } else if (sessions_active_.load(std::memory_order_relaxed) >= config_.limits.max_sessions) {
    refusal = "too many sessions (max-sessions is " + std::to_string(config_.limits.max_sessions) + ")";
  } else if (!shares_.try_take(peer.uid, Shared::sessions, 1, config_.limits.max_sessions_per_uid)) {
    refusal = "too many sessions of uid " + std::to_string(peer.uid) + " (max-sessions-per-uid is " +
              std::to_string(config_.limits.max_sessions_per_uid) + ")";
  } else {
    sessions_active_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(admitted_mutex_);
    admitted_.emplace(id, UidShare(&shares_, peer.uid, Shared::sessions, 1));
  }
  Shard* target = shards_.front().get();
  std::size_t least = target->session_count();
  for (auto& shard : shards_) {
    const std::size_t n = shard->session_count();
    if (n < least) {
      least = n;
      target = shard.get();
    }
  }
  target->adopt(std::move(conn), id, std::move(refusal));
}

void Daemon::session_ended(std::uint64_t session_id) {
  sessions_active_.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(admitted_mutex_);
  admitted_.erase(session_id);  // gives the uid's share back
  if (control_sessions_.erase(session_id) != 0) control_active_.fetch_sub(1, std::memory_order_relaxed);
}

void Daemon::control_session_began(std::uint64_t session_id) {
  std::lock_guard lock(admitted_mutex_);
  if (!control_sessions_.insert(session_id).second) return;
  control_active_.fetch_add(1, std::memory_order_relaxed);
  control_total_.fetch_add(1, std::memory_order_relaxed);
}

void Daemon::reject(int fd, int code, const std::string& message) {
  flatbuffers::FlatBufferBuilder b(256);
  const auto err = wire::CreateErrorDirect(b, code, message.c_str());
  b.Finish(wire::CreateMessage(b, 0, wire::Body::Error, err.Union()), wire::MessageIdentifier());
  (void)wire::send_message(fd, wire::view(b));
}

StatsSnapshot Daemon::collect_stats(bool include_sessions, uid_t visible_uid) const {
  StatsSnapshot snap;
  snap.uptime_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started_).count());
  snap.shards = static_cast<unsigned>(shards_.size());
  // Only the applications' sessions count as sessions; aioctl's (the very
  // one asking, often) are counted on their own. The counters are read one
  // after the other, so a session may be seen ending in one and not the
  // other: never below zero.
  const std::uint32_t all_active = sessions_active_.load(std::memory_order_relaxed);
  snap.control_sessions_active = control_active_.load(std::memory_order_relaxed);
  snap.control_sessions_total = control_total_.load(std::memory_order_relaxed);
  snap.sessions_active = all_active > snap.control_sessions_active ? all_active - snap.control_sessions_active : 0;
  for (const auto& shard : shards_) shard->collect(snap, include_sessions, visible_uid);
  snap.sessions_total =
      snap.sessions_total > snap.control_sessions_total ? snap.sessions_total - snap.control_sessions_total : 0;
  snap.config_reloads = reloads_.load(std::memory_order_relaxed);
  snap.config_reload_failures = reload_failures_.load(std::memory_order_relaxed);
  return snap;
}

}  // namespace aiod::daemon
