#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# system.watchdog: a daemon frozen with SIGSTOP stops its WATCHDOG=1 pings;
# systemd kills it (SIGABRT) and starts it again within WatchdogSec (20 s)
# plus the check interval (docs/systemd.md, "Watchdog": between W and 3W/2).
# Its client gets errc::daemon_gone and reconnects to the new daemon.
# shellcheck source=tests/system/lib.sh
source "$(dirname "$0")/lib.sh"
require_host
boot
install_debs
inside useradd --create-home --groups aiod alice
start_io_loop alice /home/alice/loop.dat 240
watchdog=$(unit_property aiod.service WatchdogUSec)
[[ "$watchdog" == 20s ]] || fail "WatchdogSec is '$watchdog', not the documented 20s"

note "freezing the daemon's processes with SIGSTOP"
pid_before=$(unit_property aiod.service MainPID)
# The main process relays notifications for the serving child (aiod(8)).
# Both are stopped by pid: systemd cannot always list a unit's cgroup in a
# container (a cgroup v1 host), so `systemctl kill` is not used.
# shellcheck disable=SC2016 # expanded by the shell inside, not here
inside sh -c 'kill -STOP "$1"; for d in /proc/[0-9]*; do
  read -r _ _ _ ppid _ < "$d/stat" 2> /dev/null && [ "$ppid" = "$1" ] && kill -STOP "${d#/proc/}"; done; true' sh "$pid_before"
frozen_at=$SECONDS
# Restarted: a new main pid, active (READY=1 from the new daemon).
deadline=$((frozen_at + 35))
until [[ "$(unit_property aiod.service NRestarts)" -ge 1 && "$(unit_property aiod.service ActiveState)" == active &&
  "$(unit_property aiod.service MainPID)" != "$pid_before" ]]; do
  ((SECONDS < deadline)) || fail "aiod.service was not restarted within 35 s of the freeze (state: $(unit_property aiod.service ActiveState), restarts: $(unit_property aiod.service NRestarts))"
  sleep 0.2
done
took=$((SECONDS - frozen_at))
((took >= 15)) || fail "restarted after $took s: sooner than the watchdog allows; something else killed it"
inside journalctl --no-pager -u aiod.service | grep -q 'Watchdog timeout' ||
  fail "the journal does not say the watchdog fired"
note "systemd restarted the frozen daemon after $took s"

wait_log "$loop_log" '^error: daemon_gone$' 30 "$log_line"
wait_log "$loop_log" '^reconnected after [0-9]+ ms' 30 "$log_line"
wait_log "$loop_log" '^progress' 30 "$log_line"
echo "system.watchdog: ok (restarted $took s after the freeze)"
