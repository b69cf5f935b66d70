#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging.relay_death: under a service manager aiod runs as a relay (the
# main process, which the manager trusts) and a serving child
# (docs/security.md). When the manager kills the relay (the watchdog's
# SIGABRT, SIGKILL after a stop timeout), the serving child must end too,
# even where the manager cannot reach the unit's other processes (a cgroup it
# cannot list, as in a container on a cgroup v1 host) and even if the child
# is stopped or stuck: it must not go on holding its clients' sessions.
#
#   relay_death_test.sh AIOD NOTIFY_LISTEN
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

aiod=$1 notify_listen=$2
notify="@aiod-test-relay-$$-$RANDOM"
mkfifo "$work/notes"
spawn --out "$work/notes" "$notify_listen" "$notify" 60000
exec {notes}< "$work/notes"
seen=()
expect_line "$notes" '^listening$' 10

NOTIFY_SOCKET=$notify start_aiod "$aiod"
relay=$aiod_pid
server=$(cat "/proc/$relay/task/$relay/children" 2> /dev/null) || true
server=${server%% *}
[[ -n "$server" ]] || fail "aiod under a notify socket has no serving child"
note "relay $relay, serving child $server: stopping the child, then killing the relay"
kill -STOP "$server"
kill -KILL "$relay"
wait_exit "$relay" 10
# The child is no longer ours to wait for: watch its state until it is gone
# (or a zombie), bounded.
deadline=$((SECONDS + 10))
while state=$(awk '{print $3}' "/proc/$server/stat" 2> /dev/null) && [[ -n "$state" && "$state" != Z ]]; do
  if ((SECONDS >= deadline)); then
    kill -KILL "$server"
    fail "the serving child $server outlived its relay by 10 s (state $state)"
  fi
  sleep 0.1
done
note "PASS"
