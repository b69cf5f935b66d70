#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: installs what is missing, builds, starts a private aiod on a
# temporary socket, runs the file_io and coro examples through it, prints the
# daemon's stats, and stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" --build
# Only what runs here: the daemon, aioctl and the two examples, not the test
# suites and benchmarks (./scripts/test.sh builds those).
AIOD_BUILD_TARGETS="aiod aioctl file_io coro" "$root/scripts/build.sh"
build=${AIOD_BUILD_DIR:-$root/build}

dir=$(mktemp -d /tmp/aiod-run.XXXXXX)
export AIOD_SOCKET=$dir/aiod.sock
cleanup() {
  [[ -n "${daemon_pid:-}" ]] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" || true
  rm -rf "$dir"
}
trap cleanup EXIT

# --ready-fd: the daemon writes "1" to fd 3 once it accepts connections; we
# block on a FIFO for that line (at most 10 s) instead of guessing with sleeps.
mkfifo "$dir/ready"
exec 4<> "$dir/ready"
"$build/daemon/aiod" --socket "$AIOD_SOCKET" --ready-fd 3 --log-level warn 3> "$dir/ready" &
daemon_pid=$!
read -r -t 10 -u 4 ready || { echo "aiod did not start within 10 s" >&2; exit 1; }
exec 4<&-

echo "== examples/file_io through aiod ($AIOD_SOCKET)"
(cd "$dir" && "$build/examples/file_io")
echo
echo "== examples/coro through aiod: zig-aio's coro example, two tasks in one scheduler"
(cd "$dir" && "$build/examples/coro")
echo
echo "== aioctl stats"
"$build/client/aioctl" stats
