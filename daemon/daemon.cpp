#include "daemon.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "shard.hpp"
#include "version.hpp"
#include "wire.hpp"

namespace aiod::daemon {

Daemon::Daemon(Config config) : config_(std::move(config)), identity_(own_creds()) {}

Daemon::~Daemon() { stop(); }

int Daemon::start(std::string& error) {
  // Shards first: if io_uring is unavailable we fail before touching the socket path.
  for (unsigned i = 0; i < config_.threads; ++i) {
    auto shard = std::make_unique<Shard>(*this, i, config_);
    if (const int err = shard->start(error); err < 0) return err;
    shards_.push_back(std::move(shard));
  }
  return listener_.bind(config_.socket_path, config_.socket_mode, error);
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

  std::string error;
  if (start(error) < 0) {
    spdlog::critical("aiod cannot start: {}", error);
    stop();
    return 1;
  }
  started_ = std::chrono::steady_clock::now();
  if (config_.ready_fd >= 0) {
    // Readiness for whoever started us (tests, scripts): the socket accepts now.
    (void)!::write(config_.ready_fd, "1\n", 2);
    ::close(config_.ready_fd);
  }
  spdlog::info("aiod {} listening on {} ({} shard{}, io_uring backend, poll {} us)", kVersion,
               config_.socket_path, config_.threads, config_.threads == 1 ? "" : "s", config_.poll.count());

  UniqueFd spare(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  for (;;) {
    pollfd fds[2] = {{listener_.fd(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::critical("poll: {}", std::strerror(errno));
      break;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      bool quit = false;
      while (::read(sigfd.get(), &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGHUP) {
          spdlog::info("SIGHUP: nothing to reload (no --config file)");
          continue;
        }
        spdlog::info("{}: stopping", strsignal(static_cast<int>(info.ssi_signo)));
        quit = true;
      }
      if (quit) break;
    }
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
  stop();
  spdlog::info("aiod stopped");
  return 0;
}

void Daemon::accept_connection(UniqueFd conn) {
  if (sessions_active_.load(std::memory_order_relaxed) >= config_.limits.max_sessions) {
    reject(conn.get(), EUSERS,
           "too many sessions (max-sessions is " + std::to_string(config_.limits.max_sessions) + ")");
    return;
  }
  sessions_active_.fetch_add(1, std::memory_order_relaxed);
  Shard* target = shards_.front().get();
  std::size_t least = target->session_count();
  for (auto& shard : shards_) {
    const std::size_t n = shard->session_count();
    if (n < least) {
      least = n;
      target = shard.get();
    }
  }
  target->adopt(std::move(conn), next_session_id_.fetch_add(1, std::memory_order_relaxed));
}

void Daemon::reject(int fd, int code, const std::string& message) {
  flatbuffers::FlatBufferBuilder b(256);
  const auto err = wire::CreateErrorDirect(b, code, message.c_str());
  b.Finish(wire::CreateMessage(b, 0, wire::Body::Error, err.Union()), wire::MessageIdentifier());
  (void)wire::send_message(fd, wire::view(b));
}

StatsSnapshot Daemon::collect_stats(bool include_sessions) const {
  StatsSnapshot snap;
  snap.uptime_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started_).count());
  snap.shards = static_cast<unsigned>(shards_.size());
  snap.sessions_active = sessions_active_.load(std::memory_order_relaxed);
  for (const auto& shard : shards_) shard->collect(snap, include_sessions);
  return snap;
}

}  // namespace aiod::daemon
