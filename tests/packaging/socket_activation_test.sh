#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Socket activation, service notifications and the watchdog, as systemd
# would drive them, without systemd running:
#   - systemd-socket-activate binds the SOCK_SEQPACKET socket and starts aiod
#     on the first connection, which waits in the backlog meanwhile and is
#     then served;
#   - aiod sends READY=1 and STATUS= from its main process to NOTIFY_SOCKET,
#     then WATCHDOG=1 at half the WATCHDOG_USEC interval;
#   - with one shard frozen (ptrace), the pings stop and STATUS= says which
#     shard stands still; thawed, the pings resume;
#   - SIGTERM gives STOPPING=1 and exit 0, and the socket file, which systemd
#     owns, stays.
#
#   socket_activation_test.sh AIOD AIOCTL NOTIFY_LISTEN FREEZE_THREAD
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

aiod=$1 aioctl=$2 notify_listen=$3 freeze_thread=$4
command -v systemd-socket-activate > /dev/null || skip "systemd-socket-activate is missing (Debian package: systemd)"

sock=$work/aiod.sock
notify="@aiod-test-notify-$$-$RANDOM"
watchdog_usec=800000  # checks every 400 ms, idle shards wake every 200 ms

note "a notification socket at $notify"
mkfifo "$work/notes" "$work/activate.err"
spawn --out "$work/notes" "$notify_listen" "$notify" 60000
exec {notes}< "$work/notes"
seen=()
expect_line "$notes" '^listening$' 10

note "systemd-socket-activate on $sock"
spawn --err "$work/activate.err" systemd-socket-activate --seqpacket --listen="$sock" --fdname=aiod.socket \
  --setenv=NOTIFY_SOCKET="$notify" --setenv=WATCHDOG_USEC="$watchdog_usec" "$aiod" --log-level warn
daemon_pid=$last_pid  # systemd-socket-activate execs aiod: same process
exec {activate_err}< "$work/activate.err"
expect_line "$activate_err" "^Listening on $sock" 10

note "the first connection starts aiod and is served"
[[ "$(cat "/proc/$daemon_pid/comm")" != aiod ]] || fail "aiod started before any connection"
out=$(timeout 20 "$aioctl" --socket "$sock" ping) || fail "aioctl ping through the activated socket failed"
[[ "$out" == *alive* ]] || fail "unexpected ping answer: $out"

seen=()
expect_line "$notes" 'READY=1' 10
[[ "$line" == "$daemon_pid "* ]] || fail "READY=1 came from another process than the daemon's main one: $line"
[[ "$line" == *"STATUS=Serving on $sock"* ]] || fail "READY=1 without the serving STATUS: $line"
note "READY=1 from pid $daemon_pid: ${line#* }"

expect_line "$notes" "^$daemon_pid WATCHDOG=1\$" 5
expect_line "$notes" "^$daemon_pid WATCHDOG=1\$" 5
note "WATCHDOG=1 arrives while the shards turn"

# With a notify socket the main process only relays (docs/security.md): the
# shards run in its child, the serving process.
server_pid=$(cat "/proc/$daemon_pid/task/$daemon_pid/children" 2> /dev/null) || true
server_pid=${server_pid%% *}
[[ -n "$server_pid" ]] || fail "the main process $daemon_pid has no serving child"
tid=""
for task in /proc/"$server_pid"/task/*; do
  if [[ "$(cat "$task/comm" 2> /dev/null)" == aiod-shard-0 ]]; then tid=${task##*/}; fi
done
[[ -n "$tid" ]] || fail "no thread named aiod-shard-0 in the serving process $server_pid"

note "freezing shard 0 (thread $tid)"
mkfifo "$work/thaw" "$work/freeze.out"
spawn --in "$work/thaw" --out "$work/freeze.out" "$freeze_thread" "$tid"
freezer=$last_pid
exec {thaw}> "$work/thaw"
exec {frozen}< "$work/freeze.out"
if ! IFS= read -r -t 10 -u "$frozen" line || [[ "$line" != frozen ]]; then
  wait_exit "$freezer" 5
  ((status == SKIP)) && skip "ptrace is not permitted here: cannot freeze a shard"
  fail "freeze_thread did not stop the shard (status $status)"
fi

seen=()
expect_line "$notes" 'STATUS=shard 0 has made no progress' 5
# A check just after the freeze may still have seen the shard move: at most
# one ping may precede the stall report.
pings=0
for l in "${seen[@]}"; do [[ "$l" == *WATCHDOG=1* ]] && pings=$((pings + 1)); done
((pings <= 1)) || fail "$pings pings after shard 0 froze: ${seen[*]}"
note "pings stopped: ${line#* }"

note "thawing shard 0"
exec {thaw}>&-
seen=()
expect_line "$notes" 'WATCHDOG=1' 5
[[ "$line" == *"STATUS=Serving on"* ]] || fail "the first ping after the thaw does not restore the status: $line"
[[ ${#seen[@]} -eq 1 ]] || fail "messages between the stall and the recovery: ${seen[*]}"
wait_exit "$freezer" 5
out=$(timeout 20 "$aioctl" --socket "$sock" ping) || fail "aioctl ping after the thaw failed"

note "SIGTERM"
kill -TERM "$daemon_pid"
seen=()
expect_line "$notes" 'STOPPING=1' 10
[[ "$line" == "$daemon_pid "* ]] || fail "STOPPING=1 from another process: $line"
wait_exit "$daemon_pid" 10
((status == 0)) || fail "aiod exited with status $status"
[[ -S "$sock" ]] || fail "aiod removed the socket file it did not create"
note "PASS"
