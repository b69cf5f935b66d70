#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# system.reload: `systemctl reload aiod` applies a changed /etc/aiod/aiod.conf
# to the running daemon (same process, new limits in force), and a bad file
# is refused: the daemon keeps its settings and goes on serving, the journal
# names the file, line and reason, and `systemctl status` says so.
# shellcheck source=tests/system/lib.sh
source "$(dirname "$0")/lib.sh"
require_host
boot
install_debs
inside useradd --create-home --groups aiod alice
expect_output '"config_reloads":0' aioctl stats --json
pid=$(unit_property aiod.service MainPID)

note "a changed setting: max-sessions = 1"
inside sh -c 'echo "max-sessions = 1" >> /etc/aiod/aiod.conf'
timed 30 systemctl reload aiod.service
wait_for 10 "the journal says the file was reloaded" \
  sh -c 'journalctl -u aiod.service -o cat | grep -q "SIGHUP: reloaded /etc/aiod/aiod.conf (log level info, max sessions 1,"'
[[ "$(unit_property aiod.service MainPID)" == "$pid" ]] || fail "reload replaced the daemon instead of reloading it"
expect_output '"config_reloads":1' aioctl stats --json
# In force: with alice's session open, a second session is refused.
start_io_loop alice /home/alice/loop.dat 120
if out=$(inside aioctl stats 2>&1); then fail "a second session was accepted with max-sessions = 1: $out"; fi
note "the second session is refused: $out"
inside systemctl stop io-loop.service
wait_for 10 "aioctl served once alice's session is gone" aioctl stats

note "a bad file: an unknown setting"
inside sh -c 'echo "no-such-setting = 3" >> /etc/aiod/aiod.conf'
line=$(inside wc -l < "/proc/$leader/root/etc/aiod/aiod.conf")
timed 30 systemctl reload aiod.service
wait_for 10 "the journal names the bad line and why" \
  sh -c "journalctl -u aiod.service -o cat | grep -q \"config rejected, keeping the current settings: /etc/aiod/aiod.conf:$line: .*unknown setting 'no-such-setting'\""
[[ "$(unit_property aiod.service StatusText)" == "config reload rejected: /etc/aiod/aiod.conf:$line: "*"unknown setting 'no-such-setting'" ]] ||
  fail "the status does not say the reload was rejected: $(unit_property aiod.service StatusText)"
[[ "$(unit_property aiod.service ActiveState)" == active && "$(unit_property aiod.service MainPID)" == "$pid" ]] ||
  fail "a rejected reload disturbed the daemon"
expect_output '"config_reloads":1,"config_reload_failures":1' aioctl stats --json
echo "system.reload: ok"
