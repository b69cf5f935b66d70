// aiod — the per-host asynchronous IO daemon. See aiod(8) and docs/.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>

#include "config.hpp"
#include "daemon.hpp"
#include "socket_activation.hpp"
#include "socket_path.hpp"
#include "systemd_notify.hpp"
#include "version.hpp"

using aiod::daemon::Config;

namespace {

// Parses the command line into `config`. Returns -1 to go on, or an exit code.
int parse_command_line(int argc, char** argv, Config& config) {
  CLI::App app{"aiod: asynchronous IO daemon serving clients over shared-memory rings"};
  app.set_version_flag("--version", std::string("aiod ") + aiod::daemon::kVersion);
  std::string socket_mode = "0660";
  unsigned poll_us = static_cast<unsigned>(config.poll.count());
  app.add_option("--socket", config.socket_path,
                 "listening socket path (default: $AIOD_SOCKET, /run/aiod.sock as root, "
                 "else $XDG_RUNTIME_DIR/aiod.sock)");
  app.add_option("--socket-mode", socket_mode, "permissions of the socket file, octal")
      ->check([](const std::string& s) -> std::string {
        if (s.empty() || s.size() > 4 || s.find_first_not_of("01234567") != std::string::npos) {
          return "must be an octal mode such as 0660";
        }
        return {};
      });
  app.add_option("--threads", config.threads, "shards: threads, each with its own io_uring")
      ->check(CLI::Range(1u, 256u));
  app.add_option("--poll-us", poll_us, "microseconds a shard spins after its last work before sleeping")
      ->check(CLI::Range(0u, 1'000'000u));
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--max-sessions", config.limits.max_sessions, "most concurrent sessions")
      ->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--max-sq-entries", config.limits.layout.max_sq_entries,
                 "largest submission ring a session may ask for")
      ->check(CLI::Range(1u, 32768u));
  app.add_option("--max-arena-bytes", config.limits.layout.max_arena_bytes,
                 "largest buffer arena a session may ask for")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 32));
  app.add_option("--max-in-flight", config.limits.max_in_flight,
                 "per-session in-flight cap (0: the completion ring's size)")
      ->check(CLI::Range(0u, 65536u));
  app.add_option("--ready-fd", config.ready_fd,
                 "descriptor to write \"1\\n\" to (and close) once connections are accepted")
      ->check(CLI::Range(3, 1'000'000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // prints the message; 0 for --help/--version, else non-zero
  }
  config.socket_mode = static_cast<unsigned>(std::stoul(socket_mode, nullptr, 8));
  config.poll = std::chrono::microseconds(poll_us);
  if (config.limits.layout.default_sq_entries > config.limits.layout.max_sq_entries) {
    config.limits.layout.default_sq_entries = config.limits.layout.max_sq_entries;
  }
  if (config.limits.layout.default_arena_bytes > config.limits.layout.max_arena_bytes) {
    config.limits.layout.default_arena_bytes = config.limits.layout.max_arena_bytes;
  }
  if (config.listen_fd >= 0) return -1;  // socket-activated: no path to choose
  if (config.socket_path.empty()) config.socket_path = aiod::default_socket_path();
  if (config.socket_path.empty()) {
    std::fprintf(stderr, "aiod: no socket path: pass --socket PATH or set XDG_RUNTIME_DIR\n");
    return 2;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  // Under systemd the listening socket may be handed over (aiod.socket), and
  // the unit may want notifications and a watchdog. All three arrive in the
  // environment, which is read (and cleared) here, before any thread starts.
  std::string activation_error;
  aiod::daemon::ActivatedSocket activated;
  const int activation = aiod::daemon::take_activated_socket(activated, activation_error);
  if (activation < 0 && activation != -ENOENT) {
    std::fprintf(stderr, "aiod: socket activation: %s\n", activation_error.c_str());
    return 1;
  }
  if (activation == 0) config.listen_fd = activated.fd.release();  // the Daemon takes it
  std::string notify_error;
  aiod::daemon::Notifier notifier = aiod::daemon::take_notifier(notify_error);
  std::string watchdog_error;
  config.watchdog = aiod::daemon::take_watchdog_interval(watchdog_error);

  if (const int code = parse_command_line(argc, argv, config); code >= 0) return code;
  if (config.listen_fd >= 0) {
    // --socket does not apply to a socket systemd bound; messages name the real one.
    config.socket_path = activated.path.empty() ? "the socket-activated socket" : activated.path;
  }
  auto logger = spdlog::stderr_color_mt("aiod");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e aiod[%P] %l: %v");
  // Files are created with each client's umask, applied by the daemon; its own
  // must not mask them further.
  ::umask(0);
  if (!notify_error.empty()) spdlog::warn("{}; not notifying the service manager", notify_error);
  if (!watchdog_error.empty()) spdlog::warn("{}; no watchdog", watchdog_error);
  aiod::daemon::Daemon daemon(std::move(config), std::move(notifier));
  return daemon.run();
}
