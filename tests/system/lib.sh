# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # $loop_log, $log_line, $elapsed_ms are for the scenarios
# lib.sh: the system suite's harness (sourced by each scenario, not run).
#
# A scenario boots a Debian 12 root under systemd-nspawn with systemd as PID 1,
# installs the packages with `apt-get install ./*.deb` as a user would, runs
# its commands inside, and powers the container off. The root is built once
# (make_root.sh) and shared read-only: every boot gets a fresh tmpfs overlay
# (--volatile=overlay), so scenarios never see each other's changes and the
# cached root is never written. The container has only a loopback network
# (--private-network); the packages' dependencies were downloaded into the
# root's apt cache when it was built, so apt resolves them offline.
#
# Environment, set by ctest (tests/system/CMakeLists.txt):
#   AIOD_SYSTEM_ROOT  the root make_root.sh built (its path is printed there)
#   AIOD_SYSTEM_DEBS  the directory holding the .debs build-debs.sh made
#   AIOD_SYSTEM_BIN   programs to run inside (examples, test clients), built
#                     against libaiod.so.1, which the container's libaiod1
#                     package provides
#
# Every wait is bounded and waits for an event. When a step fails, the trap
# prints `systemctl status` and the journal of aiod.service and aiod.socket,
# then powers the container off, or kills it: nothing is left running.

set -euo pipefail

readonly SKIP=77  # ctest's SKIP_RETURN_CODE
readonly INSIDE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Where the container sees the packages and the test programs (read-only binds).
readonly DEBS_IN=/srv/aiod-debs
readonly BIN_IN=/srv/aiod-bin

work=$(mktemp -d "${TMPDIR:-/tmp}/aiod-system.XXXXXX")
nspawn_pid=""
leader=""

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  echo "SKIP: $*" >&2
  exit "$SKIP"
}
note() { echo "-- $*" >&2; }

# require_host: skips the scenario, saying why, where this host cannot boot a
# container (not root, no systemd-nspawn, no root built).
require_host() {
  (($(id -u) == 0)) || skip "the system suite needs root (systemd-nspawn)"
  command -v systemd-nspawn > /dev/null || skip "systemd-nspawn is missing (Debian package systemd-container)"
  # A container needs new mount and PID namespaces; some sandboxes (an
  # unprivileged container, a seccomp profile) refuse them even to root.
  unshare --mount --pid --fork true 2> /dev/null || skip "this host cannot create mount and PID namespaces"
  [[ -n "${AIOD_SYSTEM_ROOT:-}" && -x "${AIOD_SYSTEM_ROOT}/lib/systemd/systemd" ]] ||
    skip "no container root (AIOD_SYSTEM_ROOT='${AIOD_SYSTEM_ROOT:-}'): system.root skipped or failed"
  if [[ -z "${AIOD_SYSTEM_DEBS:-}" ]] || ! compgen -G "$AIOD_SYSTEM_DEBS/*.deb" > /dev/null; then
    fail "no packages in AIOD_SYSTEM_DEBS='${AIOD_SYSTEM_DEBS:-}'"
  fi
  # systemd-nspawn binds only absolute paths.
  AIOD_SYSTEM_ROOT=$(realpath "$AIOD_SYSTEM_ROOT")
  AIOD_SYSTEM_DEBS=$(realpath "$AIOD_SYSTEM_DEBS")
  [[ -z "${AIOD_SYSTEM_BIN:-}" ]] || AIOD_SYSTEM_BIN=$(realpath "$AIOD_SYSTEM_BIN")
}

# inside COMMAND...: runs COMMAND in the container as root, in all its
# namespaces, with a clean environment. Its exit status is COMMAND's.
inside() {
  nsenter --target "$leader" --all env -i PATH="$INSIDE_PATH" HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

# as_user USER COMMAND...: the same, as USER with USER's groups. setpriv
# execs COMMAND itself, so no runuser stays in between to hold up the
# container's shutdown (runuser outlives SIGTERM while its child ends).
as_user() {
  local user=$1 gid home
  shift
  gid=$(inside id -g "$user") || fail "no user $user"
  home=$(inside getent passwd "$user" | cut -d: -f6)
  inside setpriv --reuid="$user" --regid="$gid" --init-groups env HOME="$home" USER="$user" "$@"
}

# diagnose: what a failing step prints about aiod inside the container.
diagnose() {
  [[ -n "$leader" ]] || return 0
  echo "==== systemctl status aiod.service aiod.socket" >&2
  inside systemctl status --no-pager --lines=0 aiod.service aiod.socket >&2 || true
  echo "==== journal of aiod.service and aiod.socket" >&2
  inside journalctl --no-pager -o short-precise -u aiod.service -u aiod.socket >&2 || true
}

# power_off: asks the container's systemd to power off, waits at most 30 s, then kills the
# container's PID 1 (which ends every process in its PID namespace).
power_off() {
  [[ -n "$nspawn_pid" ]] || return 0
  if [[ -n "$leader" ]]; then
    # SIGRTMIN+4 is systemd's "power off" (systemd(1)); it needs no bus.
    kill -s SIGRTMIN+4 "$leader" 2> /dev/null || true
    if ! timeout 30 tail --pid="$nspawn_pid" -f /dev/null; then
      echo "-- the container did not power off within 30 s; killing it" >&2
      kill -KILL "$leader" 2> /dev/null || true
    fi
  fi
  kill -KILL "$nspawn_pid" 2> /dev/null || true
  wait "$nspawn_pid" 2> /dev/null || true
  nspawn_pid=""
  leader=""
}

on_exit() {
  local status=$?
  trap - EXIT
  if ((status != 0 && status != SKIP)); then diagnose; fi
  power_off
  if ((status != 0 && status != SKIP)) && [[ -s "$work/console.log" ]]; then
    echo "==== the container's console (last 30 lines)" >&2
    tail -n 30 "$work/console.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap on_exit EXIT
# A signal (ctest's timeout, ^C) ends the scenario through on_exit too.
trap 'exit 143' TERM
trap 'exit 130' INT

# boot: starts the container and waits (at most 60 s) until its systemd has
# finished booting. Sets $leader, its PID 1 as the host sees it.
boot() {
  local machine="aiod-test-$$"
  systemd-nspawn --quiet --register=no --keep-unit --private-network --volatile=overlay \
    --directory="$AIOD_SYSTEM_ROOT" --machine="$machine" \
    --bind-ro="$AIOD_SYSTEM_DEBS:$DEBS_IN" --bind-ro="${AIOD_SYSTEM_BIN:-/nonexistent}:$BIN_IN" \
    --boot > "$work/console.log" 2>&1 < /dev/null &
  nspawn_pid=$!
  # PID 1 of the container: the child of systemd-nspawn that is pid 1 in its
  # own PID namespace.
  local deadline=$((SECONDS + 30)) pid
  while [[ -z "$leader" ]]; do
    kill -0 "$nspawn_pid" 2> /dev/null || fail "systemd-nspawn exited while booting: $(tail -n 5 "$work/console.log")"
    ((SECONDS < deadline)) || fail "the container's init did not appear within 30 s"
    for pid in $(pgrep -P "$nspawn_pid" || true); do
      if [[ "$(awk '/^NSpid:/ {print $NF}' "/proc/$pid/status" 2> /dev/null)" == 1 ]]; then leader=$pid; fi
    done
    [[ -n "$leader" ]] || sleep 0.05
  done
  # systemctl answers only once the manager's socket exists: until then each
  # try fails at once, and is repeated.
  local state=""
  deadline=$((SECONDS + 60))
  until [[ "$state" == running || "$state" == degraded ]]; do
    ((SECONDS < deadline)) || fail "the container did not finish booting within 60 s (state: '${state:-none}')"
    state=$(timeout 60 nsenter --target "$leader" --all systemctl is-system-running --wait 2> /dev/null) || sleep 0.1
  done
  if [[ "$state" == degraded ]]; then
    note "the container booted degraded: $(inside systemctl --failed --no-legend --plain | tr '\n' ';')"
  fi
}

# install_debs: `apt-get install` of every package in AIOD_SYSTEM_DEBS, as a
# user installs them: dependencies resolve from the root's package lists.
install_debs() {
  local debs=("$AIOD_SYSTEM_DEBS"/*.deb)
  debs=("${debs[@]##*/}")
  inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${debs[@]/#/$DEBS_IN/}" > "$work/apt.log" 2>&1 ||
    fail "apt-get install of the packages failed: $(tail -n 20 "$work/apt.log")"
}

# wait_for TIMEOUT DESCRIPTION COMMAND...: runs COMMAND inside until it
# succeeds, at most TIMEOUT seconds, pausing 0.2 s between tries. Polling is
# the only way to see some states of systemd from outside (a restart).
wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until inside "$@" > /dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what: not within $timeout s"
    sleep 0.2
  done
}

# unit_property UNIT PROPERTY: one property's value (systemctl show).
unit_property() {
  inside systemctl show --property="$2" --value "$1"
}

# expect_output REGEX COMMAND...: runs COMMAND inside; fails unless it exits 0
# and its output matches REGEX (extended, grep -E).
expect_output() {
  local regex=$1 out
  shift
  out=$(inside "$@" 2>&1) || fail "'$*' failed: $out"
  grep -Eq -- "$regex" <<< "$out" || fail "'$*' printed no line matching /$regex/: $out"
}

# start_io_loop USER FILE SECONDS: runs io_loop (tests/system/io_loop.cpp) as
# USER inside, as a transient service of the container's systemd (so its
# shutdown stops it like any client service), its lines going to $loop_log,
# a file the host reads through the container's root. Returns once the client
# is connected and its IO flows ($log_line: its first "progress" line).
start_io_loop() {
  inside systemd-run --quiet --unit=io-loop --collect --property=User="$1" \
    --property=StandardOutput=file:/run/io_loop.log --property=StandardError=inherit \
    "$BIN_IN/io_loop" "$2" "$3" || fail "cannot start io_loop"
  loop_log=/proc/$leader/root/run/io_loop.log
  wait_log "$loop_log" '^connected' 30
  wait_log "$loop_log" '^progress' 30 "$log_line"
}

# wait_log FILE REGEX SECONDS [FROM]: waits until a line of FILE after line
# FROM (default 0) matches REGEX (grep -E); leaves its number in $log_line.
# FILE is written by a process in the background, so this polls, bounded.
wait_log() {
  local file=$1 regex=$2 deadline=$((SECONDS + $3)) from=${4:-0} hit
  while :; do
    hit=$(tail -n "+$((from + 1))" "$file" 2> /dev/null | grep -n -m1 -E -- "$regex" | cut -d: -f1) || true
    if [[ -n "$hit" ]]; then
      log_line=$((from + hit))
      return 0
    fi
    ((SECONDS < deadline)) || fail "no line matching /$regex/ after line $from of $(basename "$file") within $3 s: $(tail -n 5 "$file" | tr '\n' '|')"
    sleep 0.1
  done
}

# timed SECONDS COMMAND...: runs COMMAND inside, failing if it fails or takes
# longer than SECONDS (a hang). Leaves its wall time in $elapsed_ms.
timed() {
  local limit=$1 start
  shift
  start=$(date +%s%N)
  timeout "$limit" nsenter --target "$leader" --all env -i PATH="$INSIDE_PATH" HOME=/root LANG=C.UTF-8 "$@" ||
    fail "'$*' failed or took longer than $limit s"
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
}
