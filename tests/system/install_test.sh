#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# system.install: `apt-get install ./*.deb` enables aiod.socket; the first
# client starts aiod.service through it; `systemctl status` shows READY and
# the STATUS= text; a member of the group aiod uses the daemon (aioctl and a
# client example), and a user outside it gets the documented error.
# shellcheck source=tests/system/lib.sh
source "$(dirname "$0")/lib.sh"
require_host
boot
install_debs

[[ "$(unit_property aiod.socket UnitFileState)" == enabled ]] || fail "installing did not enable aiod.socket"
[[ "$(unit_property aiod.socket ActiveState)" == active ]] || fail "installing did not start aiod.socket"
[[ "$(unit_property aiod.service ActiveState)" == inactive ]] ||
  fail "aiod.service runs before any client connected: $(unit_property aiod.service ActiveState)"
inside test -S /run/aiod.sock || fail "/run/aiod.sock is not there"
[[ "$(inside stat -c '%U:%G %a' /run/aiod.sock)" == "root:aiod 660" ]] ||
  fail "/run/aiod.sock is $(inside stat -c '%U:%G %a' /run/aiod.sock), not root:aiod 660"

note "the first connection starts the daemon (socket activation)"
expect_output 'sessions' aioctl stats
[[ "$(unit_property aiod.service ActiveState)" == active ]] ||
  fail "aiod.service is $(unit_property aiod.service ActiveState) after the first connection"
[[ "$(unit_property aiod.service TriggeredBy)" == *aiod.socket* ]] || fail "aiod.service was not triggered by aiod.socket"
# Type=notify: active means READY=1 arrived; the status is the daemon's own.
expect_output '^ +Status: "Serving on /run/aiod.sock with [0-9]+ shards?"' systemctl status --no-pager aiod.service
[[ "$(unit_property aiod.service WatchdogUSec)" == 20s ]] || fail "the watchdog is not armed"

note "a member of the group aiod uses the daemon"
inside useradd --create-home --groups aiod alice
inside useradd --create-home bob
out=$(as_user alice aioctl stats 2>&1) || fail "alice (group aiod) cannot run aioctl stats: $out"
out=$(as_user alice "$BIN_IN/aiod_example_client" /home/alice/through-aiod.txt 2>&1) ||
  fail "alice's client example failed: $out"
grep -q '^ok: ' <<< "$out" || fail "alice's client example printed: $out"
[[ "$(inside stat -c %U /home/alice/through-aiod.txt)" == alice ]] ||
  fail "the file alice wrote through aiod belongs to $(inside stat -c %U /home/alice/through-aiod.txt)"

note "a user outside the group is refused, with the documented error"
if out=$(as_user bob aioctl stats 2>&1); then fail "bob (not in group aiod) ran aioctl stats: $out"; fi
grep -q 'Permission denied' <<< "$out" || fail "bob's refusal does not say 'Permission denied': $out"
if out=$(as_user bob "$BIN_IN/aiod_example_client" /home/bob/x.txt 2>&1); then fail "bob's client example ran: $out"; fi
grep -q 'Permission denied' <<< "$out" || fail "bob's client refusal does not say 'Permission denied': $out"
note "bob sees: $out"
echo "system.install: ok"
