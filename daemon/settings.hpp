// SPDX-License-Identifier: MIT
// settings.hpp — the daemon's tunables by name, as the command line
// (`--name value`) and the config file (`name = value`) both spell them, with
// one validation for both.
//
// Config file format (aiod.conf(5)): UTF-8 text, one `name = value` per line;
// blank lines and lines whose first non-blank character is '#' are ignored;
// whitespace around names and values is trimmed; a name may appear once.
// Precedence: built-in defaults, then the file, then the command line.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/config.hpp"

namespace aiod::daemon {

struct SettingInfo {
  const char* name;
  const char* help;
  bool reloadable;  // takes effect on SIGHUP (else at the next start)
};

// Every setting, in the order --help lists them.
[[nodiscard]] std::span<const SettingInfo> settings();

// Sets one setting from its text. Returns 0, -EINVAL with `error` saying
// what is wrong with the value ("must be an integer from 1 to 256"), or
// -ENOENT for an unknown name ("unknown setting 'x'").
[[nodiscard]] int apply_setting(Config& config, std::string_view name, std::string_view value, std::string& error);

// Applies a whole config file's text; `origin` names it in errors, which read
// "origin:LINE: reason". Nothing is applied unless every line is valid.
[[nodiscard]] int apply_config_text(std::string_view text, std::string_view origin, Config& config, std::string& error);

// Reads and applies a config file. Returns 0 or -errno with `error`.
[[nodiscard]] int load_config_file(const std::string& path, Config& config, std::string& error);

// Builds the effective configuration: defaults, then the file (if any), then
// the command-line `overrides` (name, value) in order. `base` supplies the
// fields that settings do not cover (activation, watchdog...).
[[nodiscard]] int build_config(const Config& base, const std::string& file,
                               const std::vector<std::pair<std::string, std::string>>& overrides, Config& out,
                               std::string& error);

}  // namespace aiod::daemon
