#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# system.lifecycle: the aiod package's maintainer scripts across remove, purge
# and reinstall, as docs/systemd.md ("Packages") says. `apt-get remove` stops
# the socket and the daemon (the socket file goes, clients get "aiod is not
# running"), masks the units and keeps /etc/aiod/aiod.conf with the
# administrator's edits; installing again unmasks, enables and starts the
# socket. `apt-get purge` removes /etc/aiod and systemd's state about the
# units but keeps the aiod user and group; installing after it starts over.
# `apt-get install --reinstall` while a client does IO restarts the daemon
# behind the socket, which stays up: the client's next session waits in its
# backlog instead of being refused.
# shellcheck source=tests/system/lib.sh
source "$(dirname "$0")/lib.sh"
require_host
boot
install_debs

# apt_get VERB ARGS...: apt-get VERB -y ARGS inside, non-interactively; fails
# with apt's last lines.
apt_get() {
  inside env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" > "$work/apt.log" 2>&1 ||
    fail "apt-get $* failed: $(tail -n 20 "$work/apt.log")"
}
# dpkg_status: dpkg's abbreviated status of aiod ("ii", "rc", ...), empty
# when dpkg does not know it.
dpkg_status() {
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  inside dpkg-query --show --showformat='${db:Status-Abbrev}' aiod 2> /dev/null | tr -d ' ' || true
}
# expect_served: the socket is enabled and listening as root:aiod 0660, and a
# member of the group aiod is served through it.
expect_served() {
  [[ "$(unit_property aiod.socket UnitFileState)" == enabled ]] ||
    fail "aiod.socket is $(unit_property aiod.socket UnitFileState), not enabled"
  [[ "$(unit_property aiod.socket ActiveState)" == active ]] ||
    fail "aiod.socket is $(unit_property aiod.socket ActiveState), not active"
  [[ "$(unit_property aiod.service LoadState)" == loaded ]] ||
    fail "aiod.service is $(unit_property aiod.service LoadState), not loaded"
  [[ "$(inside stat -c '%U:%G %a' /run/aiod.sock)" == "root:aiod 660" ]] ||
    fail "/run/aiod.sock is $(inside stat -c '%U:%G %a' /run/aiod.sock), not root:aiod 660"
  local out
  out=$(as_user alice "$BIN_IN/aiod_example_client" /home/alice/through-aiod.txt 2>&1) ||
    fail "alice's client failed: $out"
  grep -q '^ok: ' <<< "$out" || fail "alice's client printed: $out"
  [[ "$(unit_property aiod.service ActiveState)" == active ]] ||
    fail "aiod.service is $(unit_property aiod.service ActiveState) after serving a client"
}
# expect_removed WHAT: the state apt-get remove and purge leave alike: socket
# and daemon stopped, no socket file, units masked or gone, clients told
# there is no daemon.
expect_removed() {
  local unit state
  for unit in aiod.socket aiod.service; do
    [[ "$(unit_property "$unit" ActiveState)" == inactive ]] ||
      fail "$unit is $(unit_property "$unit" ActiveState) after $1"
    state=$(unit_property "$unit" LoadState)
    [[ "$state" == masked || "$state" == not-found ]] || fail "$unit is $state after $1, neither masked nor gone"
  done
  wait_for 10 "the daemon exits after $1" sh -c '! grep -sqx aiod /proc/[0-9]*/comm'
  inside test ! -e /run/aiod.sock || fail "/run/aiod.sock is still there after $1"
  # A leftover enablement must not bring the socket back.
  if inside systemctl start aiod.socket > /dev/null 2>&1; then fail "aiod.socket could be started after $1"; fi
  inside test ! -e /run/aiod.sock || fail "/run/aiod.sock came back after $1"
  local out
  if out=$(as_user alice "$BIN_IN/aiod_example_client" /home/alice/after.txt 2>&1); then
    fail "a client was served after $1: $out"
  fi
  grep -q 'aiod is not running' <<< "$out" || fail "the client after $1 does not say 'aiod is not running': $out"
}

inside useradd --create-home --groups aiod alice
expect_served
aiod_ids=$(inside id aiod)
# An administrator's edit, which remove and reinstall must keep.
inside sh -c 'echo "# edited by the administrator" >> /etc/aiod/aiod.conf'

note "apt-get remove aiod"
apt_get remove aiod
[[ "$(dpkg_status)" == rc ]] || fail "dpkg says aiod is '$(dpkg_status)' after remove, not rc (config files left)"
expect_removed "apt-get remove"
inside grep -qx '# edited by the administrator' /etc/aiod/aiod.conf ||
  fail "/etc/aiod/aiod.conf (a conffile) lost the administrator's edit, or is gone, after remove"

note "installing again after remove"
install_debs
expect_served
inside grep -qx '# edited by the administrator' /etc/aiod/aiod.conf ||
  fail "installing again replaced the administrator's /etc/aiod/aiod.conf"

note "apt-get remove aiod, then apt-get purge aiod"
apt_get remove aiod
expect_removed "apt-get remove"
apt_get purge aiod
[[ -z "$(dpkg_status)" || "$(dpkg_status)" == un || "$(dpkg_status)" == pn ]] ||
  fail "dpkg still knows aiod as '$(dpkg_status)' after purge"
expect_removed "apt-get purge"
inside test ! -e /etc/aiod || fail "/etc/aiod is still there after purge: $(inside ls -la /etc/aiod)"
leftovers=$(inside find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
  /var/lib/systemd/deb-systemd-helper-masked -name 'aiod.*' 2> /dev/null || true)
[[ -z "$leftovers" ]] || fail "purge left systemd state about the units: $leftovers"
[[ "$(inside id aiod 2>&1)" == "$aiod_ids" ]] ||
  fail "purge changed the aiod user or group: before '$aiod_ids', now '$(inside id aiod 2>&1)'"
inside getent group aiod > /dev/null || fail "purge removed the group aiod"

note "installing again after purge"
install_debs
[[ "$(inside id aiod)" == "$aiod_ids" ]] || fail "reinstalling changed the aiod user: '$(inside id aiod)', was '$aiod_ids'"
inside test -f /etc/aiod/aiod.conf || fail "reinstalling did not bring /etc/aiod/aiod.conf back"
expect_served

note "apt-get install --reinstall while a client does IO"
start_io_loop alice /home/alice/loop.dat 120
pid_before=$(unit_property aiod.service MainPID)
socket_since=$(unit_property aiod.socket ActiveEnterTimestampMonotonic)
aiod_deb=$(cd "$AIOD_SYSTEM_DEBS" && ls -- aiod_*.deb)
apt_get install --reinstall "$DEBS_IN/$aiod_deb"
[[ "$(unit_property aiod.socket ActiveState)" == active ]] || fail "aiod.socket is not active after the reinstall"
[[ "$(unit_property aiod.socket ActiveEnterTimestampMonotonic)" == "$socket_since" ]] ||
  fail "the reinstall stopped and started aiod.socket: clients were refused meanwhile"
[[ "$(unit_property aiod.service MainPID)" != "$pid_before" ]] ||
  fail "the reinstall did not restart the running daemon (MainPID still $pid_before)"
wait_log "$loop_log" '^reconnected after [0-9]+ ms' 30 "$log_line"
wait_log "$loop_log" '^progress' 30 "$log_line"
if grep -Ev '^(connected|progress [0-9]+|reconnected after [0-9]+ ms|error: (ECANCELED|daemon_gone))$' "$loop_log"; then
  fail "the client saw something other than its session ending and a new one (above)"
fi
expect_served
inside systemctl stop io-loop.service
echo "system.lifecycle: ok"
