#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# system.hardening: the installed aiod.service scores no worse on
# `systemd-analyze security` than docs/systemd.md ("The sandbox") says, its
# processes really run with the unit's restrictions (no_new_privs, a seccomp
# filter, a bounding set of CAP_SETUID and CAP_SETGID only), and inside that
# sandbox the socket-activated daemon still does what the examples ask of it
# for a member of the group aiod: file IO, a TCP exchange over loopback
# within one program (coro) and between two (echo_server and echo_client),
# and the packaged-library example.
# shellcheck source=tests/system/lib.sh
source "$(dirname "$0")/lib.sh"
require_host
boot
install_debs
inside useradd --create-home --groups aiod alice

note "systemd-analyze security aiod.service"
# The documented score, e.g. "**2.9 (OK)**", in tenths.
documented=$(grep -m1 -oE '\*\*[0-9]+\.[0-9] \([A-Z ]+\)\*\*' "$(dirname "$0")/../../docs/systemd.md" |
  grep -oE '[0-9]+\.[0-9]') || fail "docs/systemd.md states no exposure score (**X.Y (LEVEL)**)"
out=$(inside systemd-analyze security --no-pager aiod.service 2>&1) || true
score=$(sed -n 's/.*Overall exposure level for aiod\.service: \([0-9]*\.[0-9]\).*/\1/p' <<< "$out")
[[ -n "$score" ]] || fail "systemd-analyze security printed no exposure level: $out"
((10#${score/./} <= 10#${documented/./})) ||
  fail "aiod.service's exposure is $score, worse than the $documented docs/systemd.md states: $(grep '✗' <<< "$out")"
note "exposure $score (documented: $documented)"

note "the daemon's processes run with the unit's restrictions"
expect_output 'alive' aioctl ping
main_pid=$(unit_property aiod.service MainPID)
((main_pid > 0)) || fail "aiod.service has no main process after a client connected"
# Every aiod process (the main one and any it started): the restrictions are
# inherited, and each must show them.
pids=$(inside sh -c 'grep -slx aiod /proc/[0-9]*/comm' | cut -d/ -f3 | sort -n | tr '\n' ' ')
[[ " $pids " == *" $main_pid "* ]] || fail "MainPID $main_pid is not among the aiod processes ($pids)"
# field NAME: NAME's value in $status, a /proc/PID/status.
field() { awk -v k="$1:" '$1 == k {print $2}' <<< "$status"; }
for pid in $pids; do
  status=$(inside cat "/proc/$pid/status") || fail "cannot read /proc/$pid/status"
  [[ "$(field NoNewPrivs)" == 1 ]] || fail "aiod ($pid) has NoNewPrivs $(field NoNewPrivs), not 1"
  [[ "$(field Seccomp)" == 2 ]] || fail "aiod ($pid) has Seccomp $(field Seccomp), not 2 (filter)"
  [[ "$(field CapBnd)" == 00000000000000c0 ]] ||
    fail "aiod ($pid) has CapBnd $(field CapBnd), not CAP_SETUID|CAP_SETGID (00000000000000c0)"
done
note "aiod processes $pids(MainPID $main_pid): NoNewPrivs 1, Seccomp 2, CapBnd 0xc0"

# run_as_alice NAME REGEX... -- COMMAND...: runs COMMAND as alice; fails unless
# it exits 0 and its output has a line matching each REGEX.
run_as_alice() {
  local name=$1 regexes=() out regex
  shift
  while [[ "$1" != -- ]]; do
    regexes+=("$1")
    shift
  done
  shift
  out=$(as_user alice "$@" 2>&1) || fail "$name failed (status $?): $out"
  for regex in "${regexes[@]}"; do
    grep -Eq -- "$regex" <<< "$out" || fail "$name printed no line matching /$regex/: $out"
  done
}

note "file_io: open, write, fsync, read, nops and a timeout"
run_as_alice file_io '^wrote 62 bytes, read back 62: "hello from aiod' '^64 nops: 0 failed$' '^a 20 ms timeout took' \
  -- "$BIN_IN/file_io" /home/alice/file_io.txt

note "coro: a TCP server and client task in one scheduler, over loopback"
run_as_alice coro '^got reply from client: ' '^got final words from server: ok bye$' -- "$BIN_IN/coro"

note "echo_server and echo_client over loopback TCP"
port=7777
as_user alice "$BIN_IN/echo_server" "$port" 1 > "$work/echo_server.log" 2>&1 &
server=$!
deadline=$((SECONDS + 30))
until grep -q "^echo server on 127.0.0.1:$port$" "$work/echo_server.log"; do
  kill -0 "$server" 2> /dev/null || fail "echo_server exited before listening: $(cat "$work/echo_server.log")"
  ((SECONDS < deadline)) || fail "echo_server did not listen within 30 s: $(cat "$work/echo_server.log")"
  sleep 0.1
done
run_as_alice echo_client '^echoed: message 4 through aiod$' '^5 round trips, median ' \
  -- "$BIN_IN/echo_client" "$port" 5
deadline=$((SECONDS + 30))
while kill -0 "$server" 2> /dev/null; do
  ((SECONDS < deadline)) || fail "echo_server did not exit within 30 s of serving its one connection"
  sleep 0.1
done
wait "$server" || fail "echo_server exited with status $?: $(cat "$work/echo_server.log")"
grep -q '^served 1 connection$' "$work/echo_server.log" ||
  fail "echo_server did not report serving one connection: $(cat "$work/echo_server.log")"

note "aiod_example_client: the packaged-library example"
run_as_alice aiod_example_client '^ok: 21 bytes through aiod ' -- "$BIN_IN/aiod_example_client" /home/alice/example.txt
[[ "$(inside stat -c %U /home/alice/example.txt)" == alice ]] ||
  fail "the file alice wrote through aiod belongs to $(inside stat -c %U /home/alice/example.txt)"
[[ "$(unit_property aiod.service NRestarts)" == 0 ]] ||
  fail "aiod.service restarted $(unit_property aiod.service NRestarts) times while serving the examples"
echo "system.hardening: ok (exposure $score)"
