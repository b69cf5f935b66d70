// SPDX-License-Identifier: MIT
// aiod — the per-host asynchronous IO daemon. See aiod(8) and docs/.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <sys/un.h>

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

constexpr int kExitError = 1;  // cannot start, or the configuration is wrong
constexpr int kExitUsage = 2;  // the command line is wrong

// One line and a hint, as usage errors are reported by Unix tools.
int usage_error(const std::string& what) {
  std::fprintf(stderr, "aiod: %s\nTry 'aiod --help' for more information.\n", what.c_str());
  return kExitUsage;
}

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
  bool check_only = false;
  app.add_flag("--check-config", check_only,
               "check the config file and the settings given, print what is wrong, and exit: 0 if they are "
               "valid, else 1; nothing is started");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return usage_error(e.what());
  }
  for (const auto& [name, value] : given) {
    if (app.count(std::string("--") + name) > 0) config.overrides.emplace_back(name, value);
  }
  // A bad value on the command line is a usage error; one in the file is a
  // configuration error. With --check-config both are just "not valid".
  const int invalid_flag = check_only ? kExitError : kExitUsage;
  std::string error;
  if (Config flags_only; aiod::daemon::build_config(Config{}, "", config.overrides, flags_only, error) < 0) {
    if (check_only) {
      std::fprintf(stderr, "aiod: %s\n", error.c_str());
      return invalid_flag;
    }
    return usage_error(error);
  }
  if (aiod::daemon::build_config(config, config.config_file, config.overrides, config, error) < 0) {
    std::fprintf(stderr, "aiod: %s\n", error.c_str());
    return kExitError;
  }
  if (config.listen_fd < 0 && config.socket_path.empty()) config.socket_path = aiod::default_socket_path();
  if (config.listen_fd < 0 && config.socket_path.empty()) {
    std::fprintf(stderr, "aiod: no socket path: pass --socket PATH or set XDG_RUNTIME_DIR\n");
    return check_only ? kExitError : kExitUsage;
  }
  if (config.listen_fd < 0 && config.socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    std::fprintf(stderr, "aiod: socket path '%s' is longer than %zu bytes\n", config.socket_path.c_str(),
                 sizeof(sockaddr_un::sun_path) - 1);
    return kExitError;
  }
  if (check_only) {
    std::printf("aiod: configuration valid (%s, socket %s)\n",
                config.config_file.empty() ? "no config file" : config.config_file.c_str(),
                config.listen_fd >= 0 ? "from socket activation" : config.socket_path.c_str());
    return 0;
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
    return kExitError;
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
