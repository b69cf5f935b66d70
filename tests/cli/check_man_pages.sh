#!/bin/bash
# SPDX-License-Identifier: MIT
# check_man_pages.sh AIOD AIOCTL MANDIR — the manual pages keep up with the
# programs: every option aiod --help prints is in aiod(8), every setting
# (an option that is also a config key) has its entry in aiod.conf(5), every
# command and option of aioctl (and of each of its commands) is in
# aioctl(1); both programs' pages have an EXIT STATUS section; and every page
# renders without a warning.
set -u
aiod=$1 aioctl=$2 mandir=$3
. "$(dirname "$0")/help_words.sh"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A page's text with roff's \- written as -.
page() { sed 's/\\-/-/g' "$mandir/$1"; }

# Options aiod has that are not settings (not keys of the config file).
not_settings=' --help --version --config --ready-fd --check-config '

aiod_options=$(help_options "$aiod") || { echo "cannot run $aiod --help"; exit 1; }
[ -n "$aiod_options" ] || { echo "no options found in aiod --help"; exit 1; }
for opt in $aiod_options; do
    page aiod.8 | grep -qE -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|\$)" || fail "aiod.8 does not document $opt"
    case $not_settings in *" $opt "*) continue ;; esac
    # A setting's entry: .BI name " = " VALUE
    page aiod.conf.5 | grep -qE "^\.BI ${opt#--} \" = \"" || fail "aiod.conf.5 has no entry '.BI ${opt#--} \" = \" ...' for the setting ${opt#--}"
done

aioctl_commands=$(help_commands "$aioctl") || { echo "cannot run $aioctl --help"; exit 1; }
[ -n "$aioctl_commands" ] || { echo "no commands found in aioctl --help"; exit 1; }
for opt in $(help_options "$aioctl"); do
    page aioctl.1 | grep -qE -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|\$)" || fail "aioctl.1 does not document $opt"
done
for cmd in $aioctl_commands; do
    page aioctl.1 | grep -qE "^\.BR? $cmd( |\$)" || fail "aioctl.1 has no entry '.B $cmd' for the command $cmd"
    for opt in $(help_options "$aioctl" "$cmd"); do
        page aioctl.1 | grep -qE -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|\$)" || fail "aioctl.1 does not document $cmd $opt"
    done
done

for p in aiod.8 aioctl.1; do
    grep -qE '^\.SH "?EXIT STATUS"?$' "$mandir/$p" || fail "$p has no EXIT STATUS section"
done
grep -qE '^\.SH "?RUNNING WITHOUT SYSTEMD"?$' "$mandir/aiod.8" || fail "aiod.8 has no RUNNING WITHOUT SYSTEMD section"

# Rendering: groff's warnings (as man --warnings shows them), for every page.
if command -v groff >/dev/null; then
    for p in "$mandir"/*.[1-8]; do
        warnings=$(groff -man -ww -z -Tutf8 "$p" 2>&1)
        [ -z "$warnings" ] || fail "$(basename "$p") renders with warnings: $warnings"
    done
else
    echo "note: groff is not installed; rendering not checked"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures problem(s) in the manual pages"
    exit 1
fi
echo "manual pages: every option, setting and command documented"
