# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# lib.sh: helpers shared by the packaging tests (sourced, not run).
#
# Every wait is bounded and waits for an event (a line on a pipe, a process's
# exit), never for a fixed time. Each test makes one scratch directory,
# $work, and a trap removes it and stops every background process the test
# started (by pid) whatever happens.

set -euo pipefail

readonly SKIP=77  # ctest's SKIP_RETURN_CODE for these tests

pids=()
work=$(mktemp -d "${TMPDIR:-/tmp}/aiod-pkgtest.XXXXXX")
chmod 0755 "$work"

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2> /dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2> /dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  echo "SKIP: $*" >&2
  exit "$SKIP"
}
note() { echo "-- $*" >&2; }

# spawn [--in FILE] [--out FILE] [--err FILE] [--fd3 FILE] COMMAND...
# Starts COMMAND in the background with those redirections (opened in the
# child: a FIFO's open may block until the other side opens it) and
# remembers its pid, in $last_pid, for the cleanup.
spawn() {
  local in="" out="" err="" fd3=""
  while (($# > 0)); do
    case "$1" in
      --in) in=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      --err) err=$2; shift 2 ;;
      --fd3) fd3=$2; shift 2 ;;
      *) break ;;
    esac
  done
  (
    [[ -z "$in" ]] || exec < "$in"
    [[ -z "$out" ]] || exec > "$out"
    [[ -z "$err" ]] || exec 2> "$err"
    [[ -z "$fd3" ]] || exec 3> "$fd3"
    exec "$@"
  ) &
  last_pid=$!
  pids+=("$last_pid")
}

# expect_line FD REGEX SECONDS: reads lines from descriptor FD until one
# matches REGEX (bash =~); fails after SECONDS. The matching line is left in
# $line; every line read is appended to the array $seen (reset by the caller).
seen=()
expect_line() {
  local fd=$1 regex=$2 deadline=$((SECONDS + $3)) left
  while :; do
    left=$((deadline - SECONDS))
    ((left > 0)) || fail "no line matching /$regex/ within $3 s (read: ${seen[*]:-nothing})"
    if ! IFS= read -r -t "$left" -u "$fd" line; then
      fail "no line matching /$regex/ within $3 s (read: ${seen[*]:-nothing}; the writer may have exited)"
    fi
    seen+=("$line")
    [[ "$line" =~ $regex ]] && return 0
  done
}

# wait_exit PID SECONDS: waits for a child of this shell to exit, bounded;
# leaves its exit status in $status.
wait_exit() {
  local pid=$1
  timeout "$2" tail --pid="$pid" -f /dev/null || fail "process $pid did not exit within $2 s"
  status=0
  wait "$pid" || status=$?
}

# start_aiod COMMAND...: runs COMMAND (aiod and its options, or a wrapper
# whose last words are those) with the options for a daemon on
# $work/aiod.sock appended, and waits (at most 10 s) until it accepts
# connections, via --ready-fd. Sets $aiod_pid.
start_aiod() {
  rm -f "$work/ready"
  mkfifo "$work/ready"
  spawn --fd3 "$work/ready" "$@" --socket "$work/aiod.sock" --socket-mode 0666 --log-level warn --ready-fd 3
  aiod_pid=$last_pid
  exec {ready_fd}< "$work/ready"
  seen=()
  expect_line "$ready_fd" '^1$' 10
  exec {ready_fd}<&-
}

# stop_aiod [PID]: SIGTERM to the daemon (or to PID, when $aiod_pid is a
# wrapper that exits with the daemon's status), which must exit 0 within 10 s.
stop_aiod() {
  kill -TERM "${1:-$aiod_pid}"
  wait_exit "$aiod_pid" 10
  ((status == 0)) || fail "aiod exited with status $status after SIGTERM"
}
