// SPDX-License-Identifier: MIT
#include "settings.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <set>

#include "os/cpu_list.hpp"
#include "unique_fd.hpp"

namespace aiod::daemon {
namespace {

// A config file is a few dozen lines; anything this large is a mistake.
constexpr off_t kMaxConfigBytes = 1 << 20;

constexpr SettingInfo kSettings[] = {
    {"socket",
     "listening socket path (default: $AIOD_SOCKET, /run/aiod.sock as root, else "
     "$XDG_RUNTIME_DIR/aiod.sock)",
     false},
    {"socket-mode", "permissions of the socket file, octal (default 0660)", false},
    {"socket-group",
     "group of the socket file, a name or a number; with socket-mode 0660 its members may connect "
     "(default: the daemon's group)",
     false},
    {"threads", "shards: threads, each with its own backend ring (default 1)", false},
    {"shard-cpus",
     "pin shard i to the i-th CPU of this list (as taskset -c: 1 or 2-3,6), round robin; "
     "client threads that ask are kept off it (default: not pinned)",
     false},
    {"backend",
     "auto, io_uring or posix: how shards run ops; auto uses io_uring, else posix "
     "(default auto)",
     false},
    {"emulate-kernel",
     "test and support knob: the io_uring backend uses only what this Linux release's io_uring had "
     "(X.Y, from 5.10) and emulates the rest, as on that kernel (default: off)",
     false},
    {"poll-us", "microseconds a shard spins after its last work before sleeping (default 50)", true},
    {"log-level", "trace, debug, info, warn, error, critical or off (default info)", true},
    {"max-sessions", "most concurrent sessions (default 1024)", true},
    {"max-sq-entries", "largest submission ring a session may ask for (default 4096)", true},
    {"max-arena-bytes", "largest buffer arena a session may ask for (default 64 MiB)", true},
    {"max-in-flight", "per-session in-flight cap; 0: the completion ring's size (default 0)", true},
    {"max-handles", "most open handles per session, 16 to 65535 (default 65535)", true},
    {"drain-budget", "descriptors one session may submit per turn before others go (default 256)", true},
    {"handshake-timeout-ms", "how long a new connection may take to say hello (default 5000)", true},
    {"max-sessions-per-uid", "most concurrent sessions of one client uid (default 64)", true},
    {"max-handles-per-uid", "most open handles of one client uid, all its sessions together (default 16384)", true},
    {"max-memory-per-uid", "most session memory (rings and arenas) of one client uid, bytes (default 1 GiB)", true},
    {"max-workers-per-uid", "most posix worker threads one client uid may keep busy, per shard (default 256)", false},
    {"max-control-bytes", "most message control data one session may have in flight, bytes (default 1 MiB)", true},
    {"control-idle-timeout-ms",
     "how long a control session (aioctl) may stay silent before it is closed "
     "(default 60000)",
     true},
};

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

template <class T>
bool parse_uint(std::string_view v, T lo, T hi, T& out, std::string& error, int base = 10) {
  unsigned long long value = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value, base);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || value < lo || value > hi) {
    error = "must be " + std::string(base == 8 ? "an octal number" : "an integer") + " from " + std::to_string(lo) +
            " to " + std::to_string(hi) + ", not '" + std::string(v) + "'";
    return false;
  }
  out = static_cast<T>(value);
  return true;
}

// A group name or number, as chown(1) takes it; resolved now so that an
// unknown group is reported with the other config errors.
bool parse_group(std::string_view v, std::optional<gid_t>& out, std::string& error) {
  const std::string name(v);
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    gid_t gid = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), gid);
    if (ec == std::errc() && end == name.data() + name.size() && gid != static_cast<gid_t>(-1)) {
      out = gid;
      return true;
    }
    error = "must be a group name or number, not '" + name + "'";
    return false;
  }
  group grp {};
  group* found = nullptr;
  std::vector<char> buf(16384);
  int err = 0;
  // A group with many members (a directory service's) needs a larger buffer.
  while (!name.empty() && (err = ::getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (std::size_t{16} << 20)) {
    buf.resize(buf.size() * 4);
  }
  if (found == nullptr) {
    error = err != 0 ? "looking up group '" + name + "': " + std::strerror(err) : "no group '" + name + "' on this system";
    return false;
  }
  out = grp.gr_gid;
  return true;
}

}  // namespace

std::span<const SettingInfo> settings() { return kSettings; }

int apply_setting(Config& c, std::string_view name, std::string_view value, std::string& error) {
  bool ok = false;
  if (name == "socket") {
    ok = !value.empty();
    if (ok)
      c.socket_path = std::string(value);
    else
      error = "must not be empty";
  } else if (name == "socket-mode") {
    ok = parse_uint<unsigned>(value, 0, 07777, c.socket_mode, error, 8);
  } else if (name == "socket-group") {
    ok = parse_group(value, c.socket_gid, error);
  } else if (name == "threads") {
    ok = parse_uint<unsigned>(value, 1, 256, c.threads, error);
  } else if (name == "shard-cpus") {
    const auto cpus = parse_cpu_list(value);
    ok = cpus.has_value();
    if (ok)
      c.shard_cpus = *cpus;
    else
      error = "must be a CPU list such as 1 or 2-3,6, not '" + std::string(value) + "'";
  } else if (name == "backend") {
    ok = true;
    if (value == "auto")
      c.backend = BackendChoice::automatic;
    else if (value == "io_uring")
      c.backend = BackendChoice::io_uring;
    else if (value == "posix")
      c.backend = BackendChoice::posix;
    else
      ok = false;
    if (!ok) error = "must be auto, io_uring or posix; not '" + std::string(value) + "'";
  } else if (name == "emulate-kernel") {
    const auto version = KernelVersion::parse(value);
    ok = version && value.find_first_not_of("0123456789.") == std::string_view::npos;
    if (ok)
      c.emulate_kernel = version;
    else
      error = "must be a Linux release such as 5.15 or 6.1, not '" + std::string(value) + "'";
  } else if (name == "poll-us") {
    unsigned us = 0;
    ok = parse_uint<unsigned>(value, 0, 1'000'000, us, error);
    if (ok) c.poll = std::chrono::microseconds(us);
  } else if (name == "log-level") {
    static const std::set<std::string_view> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    ok = kLevels.contains(value);
    if (ok)
      c.log_level = std::string(value);
    else
      error = "must be one of trace, debug, info, warn, error, critical, off; not '" + std::string(value) + "'";
  } else if (name == "max-sessions") {
    ok = parse_uint<std::uint32_t>(value, 1, 1'000'000, c.limits.max_sessions, error);
  } else if (name == "max-sq-entries") {
    ok = parse_uint<std::uint32_t>(value, 1, 32768, c.limits.layout.max_sq_entries, error);
  } else if (name == "max-arena-bytes") {
    ok = parse_uint<std::uint64_t>(value, 4096, std::uint64_t{1} << 32, c.limits.layout.max_arena_bytes, error);
  } else if (name == "max-in-flight") {
    ok = parse_uint<std::uint32_t>(value, 0, 65536, c.limits.max_in_flight, error);
  } else if (name == "max-handles") {
    ok = parse_uint<std::uint32_t>(value, 16, (1u << 16) - 1, c.limits.max_handles, error);
  } else if (name == "drain-budget") {
    ok = parse_uint<std::uint32_t>(value, 1, 65536, c.limits.drain_budget, error);
  } else if (name == "handshake-timeout-ms") {
    std::uint32_t ms = 0;
    ok = parse_uint<std::uint32_t>(value, 1, 3'600'000, ms, error);
    if (ok) c.limits.handshake_timeout = std::chrono::milliseconds(ms);
  } else if (name == "max-sessions-per-uid") {
    ok = parse_uint<std::uint32_t>(value, 1, 1'000'000, c.limits.max_sessions_per_uid, error);
  } else if (name == "max-handles-per-uid") {
    ok = parse_uint<std::uint32_t>(value, 16, 100'000'000, c.limits.max_handles_per_uid, error);
  } else if (name == "max-memory-per-uid") {
    ok = parse_uint<std::uint64_t>(value, 1u << 20, std::uint64_t{1} << 44, c.limits.max_memory_per_uid, error);
  } else if (name == "max-workers-per-uid") {
    ok = parse_uint<std::uint32_t>(value, 1, 4096, c.limits.max_workers_per_uid, error);
  } else if (name == "max-control-bytes") {
    ok = parse_uint<std::uint32_t>(value, 4096, 1u << 30, c.limits.max_control_bytes, error);
  } else if (name == "control-idle-timeout-ms") {
    std::uint32_t ms = 0;
    ok = parse_uint<std::uint32_t>(value, 1, 86'400'000, ms, error);
    if (ok) c.limits.control_idle_timeout = std::chrono::milliseconds(ms);
  } else {
    error = "unknown setting '" + std::string(name) + "'";
    return -ENOENT;
  }
  if (!ok) return -EINVAL;
  // Defaults never exceed the maxima they are clamped by.
  LayoutLimits& l = c.limits.layout;
  l.default_sq_entries = std::min(l.default_sq_entries, l.max_sq_entries);
  l.default_arena_bytes = std::min(l.default_arena_bytes, l.max_arena_bytes);
  return 0;
}

int apply_config_text(std::string_view text, std::string_view origin, Config& config, std::string& error) {
  Config staged = config;  // all or nothing
  std::set<std::string, std::less<>> seen;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    const std::string_view line = trim(raw);
    auto fail = [&](const std::string& why) {
      error = std::string(origin) + ":" + std::to_string(line_no) + ": " + why;
      return -EINVAL;
    };
    if (line.empty() || line.front() == '#') continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return fail("expected 'name = value'");
    const std::string_view name = trim(line.substr(0, eq));
    const std::string_view value = trim(line.substr(eq + 1));
    if (name.empty()) return fail("missing setting name before '='");
    if (!seen.insert(std::string(name)).second) return fail("'" + std::string(name) + "' is set twice");
    std::string why;
    // An unknown name's error already names it.
    if (const int err = apply_setting(staged, name, value, why); err < 0)
      return fail(err == -ENOENT ? why : std::string(name) + ": " + why);
  }
  config = std::move(staged);
  return 0;
}

int load_config_file(const std::string& path, Config& config, std::string& error) {
  // Opened without blocking and read only if it is a regular file: a FIFO or
  // a device put where the config was must not stall the main loop, which
  // reloads it.
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) < 0) {
    const int err = errno;
    error = path + ": " + std::strerror(err);
    return -err;
  }
  if (!S_ISREG(st.st_mode)) {
    error = path + ": not a regular file";
    return -EINVAL;
  }
  if (st.st_size > kMaxConfigBytes) {
    error = path + ": larger than " + std::to_string(kMaxConfigBytes) + " bytes";
    return -EFBIG;
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      error = path + ": " + std::strerror(err);
      return -err;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return apply_config_text(text, path, config, error);
}

int build_config(const Config& base, const std::string& file,
                 const std::vector<std::pair<std::string, std::string>>& overrides, Config& out, std::string& error) {
  Config c = base;
  const Config defaults;
  // Reset every setting to its default: a line removed from the file on reload
  // must not leave its old value behind.
  c.socket_path = defaults.socket_path;
  c.socket_mode = defaults.socket_mode;
  c.socket_gid = defaults.socket_gid;
  c.threads = defaults.threads;
  c.shard_cpus = defaults.shard_cpus;
  c.backend = defaults.backend;
  c.emulate_kernel = defaults.emulate_kernel;
  c.poll = defaults.poll;
  c.log_level = defaults.log_level;
  c.limits = defaults.limits;
  if (!file.empty()) {
    if (const int err = load_config_file(file, c, error); err < 0) return err;
  }
  for (const auto& [name, value] : overrides) {
    std::string why;
    if (apply_setting(c, name, value, why) < 0) {
      error = "--" + name + ": " + why;
      return -EINVAL;
    }
  }
  out = std::move(c);
  return 0;
}

}  // namespace aiod::daemon
