#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# system.user_units: a user outside the group aiod runs her own daemon with
# the packaged user units, as docs/systemd.md ("Units") says: with lingering
# on, her user manager starts; `systemctl --user enable --now aiod.socket`
# binds $XDG_RUNTIME_DIR/aiod.sock (hers, mode 0600); her clients (aioctl,
# the library example) find it by default and are served by a daemon running
# as her, started by that socket, while the system daemon is never started;
# the file she writes through it is hers.
# shellcheck source=tests/system/lib.sh
source "$(dirname "$0")/lib.sh"
require_host
boot
install_debs

inside useradd --create-home carol
uid=$(inside id -u carol)
runtime=/run/user/$uid
if [[ " $(inside id -nG carol) " == *" aiod "* ]]; then fail "carol is in the group aiod: $(inside id -nG carol)"; fi
# as_carol COMMAND...: COMMAND as carol, with the XDG_RUNTIME_DIR a login
# session would give her (systemctl --user reaches her manager through it).
as_carol() {
  inside runuser -u carol -- env XDG_RUNTIME_DIR="$runtime" "$@"
}

note "loginctl enable-linger carol starts her user manager"
inside loginctl enable-linger carol
deadline=$((SECONDS + 30))
until [[ "$(unit_property "user@$uid.service" ActiveState)" == active ]]; do
  state=$(unit_property "user@$uid.service" ActiveState)
  if [[ "$state" == failed ]]; then
    fail "user@$uid.service failed: $(inside journalctl --no-pager -u "user@$uid.service" | tail -n 10)"
  fi
  ((SECONDS < deadline)) || fail "user@$uid.service is $state, not active, 30 s after enable-linger"
  sleep 0.1
done

note "systemctl --user enable --now aiod.socket"
out=$(as_carol systemctl --user enable --now aiod.socket 2>&1) || fail "carol cannot enable her aiod.socket: $out"
[[ "$(as_carol systemctl --user show -p UnitFileState --value aiod.socket)" == enabled ]] ||
  fail "carol's aiod.socket is $(as_carol systemctl --user show -p UnitFileState --value aiod.socket), not enabled"
[[ "$(as_carol systemctl --user show -p ActiveState --value aiod.socket)" == active ]] ||
  fail "carol's aiod.socket is $(as_carol systemctl --user show -p ActiveState --value aiod.socket), not active"
[[ "$(as_carol systemctl --user show -p ActiveState --value aiod.service)" == inactive ]] ||
  fail "carol's aiod.service runs before any client connected"
[[ "$(inside stat -c '%U:%G %a %F' "$runtime/aiod.sock")" == "carol:carol 600 socket" ]] ||
  fail "$runtime/aiod.sock is $(inside stat -c '%U:%G %a %F' "$runtime/aiod.sock"), not carol's socket with mode 600"

note "carol's clients are served by her own daemon"
expect_output "at $runtime/aiod.sock: alive" runuser -u carol -- env XDG_RUNTIME_DIR="$runtime" aioctl ping
expect_output '^ +sessions total +[0-9]+' runuser -u carol -- env XDG_RUNTIME_DIR="$runtime" aioctl stats
[[ "$(as_carol systemctl --user show -p ActiveState --value aiod.service)" == active ]] ||
  fail "carol's first connection did not start her aiod.service"
[[ "$(as_carol systemctl --user show -p TriggeredBy --value aiod.service)" == *aiod.socket* ]] ||
  fail "carol's aiod.service was not started by her aiod.socket"
main_pid=$(as_carol systemctl --user show -p MainPID --value aiod.service)
((main_pid > 0)) || fail "carol's aiod.service has no main process"
pids=$(inside sh -c 'grep -slx aiod /proc/[0-9]*/comm' | cut -d/ -f3 | sort -n | tr '\n' ' ')
[[ " $pids " == *" $main_pid "* ]] || fail "MainPID $main_pid is not among the aiod processes ($pids)"
for pid in $pids; do
  [[ "$(inside stat -c %U "/proc/$pid")" == carol ]] ||
    fail "aiod process $pid belongs to $(inside stat -c %U "/proc/$pid"), not carol"
  uids=$(inside cat "/proc/$pid/status" | awk '$1 == "Uid:" {print $2, $3, $4, $5}')
  [[ "$uids" == "$uid $uid $uid $uid" ]] || fail "aiod process $pid has uids $uids, not carol's $uid"
done
note "carol's daemon: processes $pids(MainPID $main_pid), all running as carol"

out=$(as_carol "$BIN_IN/aiod_example_client" /home/carol/mine.txt 2>&1) || fail "carol's client example failed: $out"
grep -q '^ok: ' <<< "$out" || fail "carol's client example printed: $out"
[[ "$(inside stat -c '%U:%G' /home/carol/mine.txt)" == carol:carol ]] ||
  fail "the file carol wrote through her aiod belongs to $(inside stat -c '%U:%G' /home/carol/mine.txt)"
[[ "$(as_carol systemctl --user show -p MainPID --value aiod.service)" == "$main_pid" ]] ||
  fail "carol's aiod.service changed its main process while serving her"
# Her clients never went to /run/aiod.sock (she may not use it anyway).
[[ "$(unit_property aiod.service ActiveState)" == inactive ]] ||
  fail "the system aiod.service was started ($(unit_property aiod.service ActiveState)): carol's clients did not use her daemon"
echo "system.user_units: ok"
