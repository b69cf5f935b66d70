// SPDX-License-Identifier: MIT
// config.hpp — the daemon's configuration: tunables from the command line and
// the config file (settings.hpp parses and validates them), plus what the
// environment hands over (socket activation, watchdog). Plain data.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "os/kernel_version.hpp"
#include "os/layout.hpp"

namespace aiod::daemon {

struct Limits {
  LayoutLimits layout;
  std::uint32_t max_sessions = 1024;
  std::uint32_t max_in_flight = 0;    // per session; 0 = the completion ring's size
  std::uint32_t max_handles = 65535;  // per session (at most 2^16 - 1)
  // Descriptors one session may submit per turn while other sessions wait
  // (fairness). A session alone on its shard stops sooner (see
  // Session::drain), so that its first completions are published early.
  std::uint32_t drain_budget = 256;
  // A connection that has not completed its handshake by then is closed.
  std::chrono::milliseconds handshake_timeout{5000};
  // Shares of one client uid (uid_shares.hpp), so that one user at its
  // limits leaves the others served.
  std::uint32_t max_sessions_per_uid = 64;
  std::uint32_t max_handles_per_uid = 16384;
  std::uint64_t max_memory_per_uid = std::uint64_t{1} << 30;
  std::uint32_t max_workers_per_uid = 256;     // blocked posix workers, per shard
  std::uint32_t max_control_bytes = 1u << 20;  // per session, in flight (SEND_MSG/RECV_MSG)
  // A control session (aioctl) silent for this long is closed.
  std::chrono::milliseconds control_idle_timeout{60000};
};

// Which Backend the shards use. automatic: io_uring, else posix (with a warning).
enum class BackendChoice : std::uint8_t { automatic, io_uring, posix };

struct Config {
  std::string socket_path;
  unsigned socket_mode = 0660;
  // The group the socket file is given (socket-group), as SocketGroup= in
  // aiod.socket: with socket-mode 0660 its members may connect. Resolved when
  // the setting is read, so an unknown group is a config error. Unset: the
  // daemon's own group.
  std::optional<gid_t> socket_gid;
  unsigned threads = 1;
  // Shard i runs pinned to shard_cpus[i % size]; empty: wherever the
  // scheduler puts it. Keeping a shard off its clients' CPUs is what makes a
  // round trip two spins instead of two wake-ups (docs/benchmarks.md).
  std::vector<unsigned> shard_cpus;
  std::chrono::microseconds poll = std::chrono::microseconds(50);  // spin before sleeping
  unsigned backend_entries = 4096;
  BackendChoice backend = BackendChoice::automatic;
  // A test and support knob: the io_uring backend has only what this Linux's
  // io_uring had, and runs the rest emulated (backend/uring_kernel.hpp).
  std::optional<KernelVersion> emulate_kernel;
  std::string log_level = "info";
  int ready_fd = -1;  // written "1\n" and closed once the daemon accepts connections
  // An already listening socket to serve instead of binding socket_path
  // (socket activation); the Daemon takes ownership. -1: bind socket_path.
  int listen_fd = -1;
  // systemd's WatchdogSec (WATCHDOG_USEC); zero: no watchdog.
  std::chrono::microseconds watchdog{0};
  // When nonzero, an idle shard wakes at least this often so that its
  // heartbeat advances (set by the Daemon from `watchdog`).
  std::chrono::nanoseconds shard_wake{0};
  Limits limits;
  // Where the tunables came from, to rebuild them on SIGHUP.
  std::string config_file;
  std::vector<std::pair<std::string, std::string>> overrides;  // command line: name, value
};

}  // namespace aiod::daemon
