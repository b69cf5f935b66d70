#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# system.logging: under journald aiod's messages carry their priority
# (`journalctl -p warning -u aiod` shows warnings and errors, not the info
# lines) and no timestamp, pid or level text of their own: journald records
# those (sd-daemon(3); docs/systemd.md, "Logging").
# shellcheck source=tests/system/lib.sh
source "$(dirname "$0")/lib.sh"
require_host
boot
install_debs
inside aioctl stats > /dev/null
# A warning (a setting that needs a restart) and an error (a bad file).
inside sh -c 'echo "threads = 2" >> /etc/aiod/aiod.conf'
timed 30 systemctl reload aiod.service
inside sh -c 'echo "no-such-setting = 3" >> /etc/aiod/aiod.conf'
timed 30 systemctl reload aiod.service

journal() { inside journalctl --no-pager -o cat -u aiod.service _COMM=aiod "$@"; }
wait_for 10 "the rejected reload reaches the journal" \
  sh -c 'journalctl -o cat -u aiod.service | grep -q "config rejected"'

all=$(journal)
warnings=$(journal -p warning)
errors=$(journal -p err)
grep -q 'listening on /run/aiod.sock' <<< "$all" || fail "no info line in the journal: $all"
grep -q 'a threads change takes effect at the next start' <<< "$warnings" ||
  fail "the warning is not at priority warning: $warnings"
grep -q 'config rejected' <<< "$errors" || fail "the error is not at priority err: $errors"
if grep -q 'listening on' <<< "$warnings"; then fail "an info line shows at priority warning: $warnings"; fi
if grep -q 'threads change' <<< "$errors"; then fail "a warning shows at priority err: $errors"; fi
# journald keeps time, pid and priority; the message is the message.
if grep -En '^<[0-9]>|[0-9]{4}-[0-9]{2}-[0-9]{2}|aiod\[[0-9]+\]|(^| )(trace|debug|info|warning|error|critical):' <<< "$all"; then
  fail "messages above carry a priority prefix, timestamp, pid or level of their own"
fi
echo "system.logging: ok"
