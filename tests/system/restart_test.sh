#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# system.restart: `systemctl restart`, `systemctl stop aiod` and stopping the
# socket too, each while a client does IO. None hangs; the client sees what
# docs/systemd.md says: its session ends (ECANCELED for ops in flight, then
# errc::daemon_gone), its next connection waits in the socket's backlog and is
# served by the new daemon, or, with the socket stopped, gets
# daemon_not_running until the socket is back.
# shellcheck source=tests/system/lib.sh
source "$(dirname "$0")/lib.sh"
require_host
boot
install_debs
inside useradd --create-home --groups aiod alice
start_io_loop alice /home/alice/loop.dat 240

note "systemctl restart aiod while the client does IO"
pid_before=$(unit_property aiod.service MainPID)
timed 30 systemctl restart aiod.service
restart_ms=$elapsed_ms
[[ "$(unit_property aiod.service MainPID)" != "$pid_before" ]] || fail "systemctl restart did not start a new daemon"
wait_log "$loop_log" '^error: (ECANCELED|daemon_gone)$' 30 "$log_line"
wait_log "$loop_log" '^reconnected after [0-9]+ ms' 30 "$log_line"
blackout=$(sed -n "${log_line}s/^reconnected after \([0-9]*\) ms/\1/p" "$loop_log")
wait_log "$loop_log" '^progress' 30 "$log_line"
note "restart took $restart_ms ms; the client was without a session for $blackout ms"
[[ "$(unit_property aiod.service Result)" == success ]] || fail "aiod.service result after restart: $(unit_property aiod.service Result)"

note "systemctl stop aiod (the socket stays): the client's next connection starts it again"
timed 30 systemctl stop aiod.service
wait_log "$loop_log" '^error: (ECANCELED|daemon_gone)$' 30 "$log_line"
wait_log "$loop_log" '^reconnected after [0-9]+ ms' 30 "$log_line"
wait_log "$loop_log" '^progress' 30 "$log_line"
[[ "$(unit_property aiod.service ActiveState)" == active ]] || fail "the client's connection did not start aiod.service again"

note "systemctl stop aiod.socket aiod.service: clients get daemon_not_running until the socket is back"
timed 30 systemctl stop aiod.socket aiod.service
stop_ms=$elapsed_ms
[[ "$(unit_property aiod.service ExecMainStatus)" == 0 ]] ||
  fail "aiod exited with status $(unit_property aiod.service ExecMainStatus) on stop"
inside test ! -e /run/aiod.sock || fail "/run/aiod.sock is still there with aiod.socket stopped"
wait_log "$loop_log" '^error: daemon_not_running$' 30 "$log_line"
timed 30 systemctl start aiod.socket
wait_log "$loop_log" '^reconnected after [0-9]+ ms' 30 "$log_line"
wait_log "$loop_log" '^progress' 30 "$log_line"
note "stopping socket and service took $stop_ms ms"
# "Permission denied" too, for an instant: starting aiod.socket, systemd
# binds /run/aiod.sock before it applies SocketGroup=aiod, and a member of
# the group connecting in between is refused (docs/systemd.md).
if grep -Ev '^(connected|progress [0-9]+|reconnected after [0-9]+ ms|error: (ECANCELED|daemon_gone|daemon_not_running|Permission denied))$' "$loop_log"; then
  fail "the client saw something docs/systemd.md does not list (above)"
fi
echo "system.restart: ok (restart $restart_ms ms, client blackout $blackout ms, stop $stop_ms ms)"
