// aiod — the per-host asynchronous IO daemon. See aiod(8) and docs/.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>

#include "runtime/config.hpp"
#include "daemon.hpp"
#include "system/journal_stream.hpp"
#include "system/notify_relay.hpp"
#include "settings.hpp"
#include "system/socket_activation.hpp"
#include "socket_path.hpp"
#include "system/systemd_notify.hpp"
#include "os/version.hpp"

using aiod::daemon::Config;

namespace {

// Parses the command line into `config`. Returns -1 to go on, or an exit code.
// Every setting is a string here and is validated once, by apply_setting(),
// whether it comes from the command line or the config file.
int parse_command_line(int argc, char** argv, Config& config) {
  CLI::App app{"aiod: asynchronous IO daemon serving clients over shared-memory rings"};
  app.set_version_flag("--version", std::string("aiod ") + aiod::daemon::kVersion);
  std::vector<std::pair<const char*, std::string>> given;
  given.reserve(aiod::daemon::settings().size());
  for (const aiod::daemon::SettingInfo& s : aiod::daemon::settings()) {
    given.emplace_back(s.name, std::string());
    app.add_option(std::string("--") + s.name, given.back().second,
                   std::string(s.help) + (s.reloadable ? "" : " [restart to change]"));
  }
  app.add_option("--config", config.config_file,
                 "config file of 'name = value' lines (the settings above; see aiod.conf(5)); "
                 "reloaded on SIGHUP");
  app.add_option("--ready-fd", config.ready_fd,
                 "descriptor to write \"1\\n\" to (and close) once connections are accepted")
      ->check(CLI::Range(3, 1'000'000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // prints the message; 0 for --help/--version, else non-zero
  }
  for (const auto& [name, value] : given) {
    if (app.count(std::string("--") + name) > 0) config.overrides.emplace_back(name, value);
  }
  std::string error;
  if (aiod::daemon::build_config(config, config.config_file, config.overrides, config, error) < 0) {
    std::fprintf(stderr, "aiod: %s\n", error.c_str());
    return 2;
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
  // On the journal's stream, journald records the time, pid and priority
  // itself: lines carry only "<N>" (system/journal_stream.hpp).
  if (aiod::daemon::stderr_is_journal()) {
    spdlog::set_default_logger(spdlog::stderr_logger_mt("aiod"));
    spdlog::set_formatter(aiod::daemon::make_journal_formatter());
  } else {
    spdlog::set_default_logger(spdlog::stderr_color_mt("aiod"));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e aiod[%P] %l: %v");
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  // Files are created with each client's umask, applied by the daemon; its own
  // must not mask them further.
  ::umask(0);
  if (!notify_error.empty()) spdlog::warn("{}; not notifying the service manager", notify_error);
  if (!watchdog_error.empty()) spdlog::warn("{}; no watchdog", watchdog_error);
  // From here on, the process the service manager trusts only relays.
  aiod::daemon::split_for_notifications(notifier, {config.listen_fd, config.ready_fd});
  aiod::daemon::Daemon daemon(std::move(config), std::move(notifier));
  return daemon.run();
}
