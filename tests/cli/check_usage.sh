#!/bin/bash
# SPDX-License-Identifier: MIT
# check_usage.sh AIOCTL — aioctl's command-line conventions: a usage error
# is one line saying what is wrong and one line saying where help is, on
# standard error, with exit status 2 and nothing on standard output; the
# message does not say a thing twice. --help and --version exit 0.
set -u
aioctl=$1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# usage_error "what it must say" "the help it points to" args...
usage_error() {
    local want=$1 help=$2
    shift 2
    # No daemon is needed, and none may be reached: the socket does not exist.
    AIOD_SOCKET=/nonexistent/aiod.sock "$aioctl" "$@" >"$out" 2>"$err"
    local rc=$? what="aioctl $*"
    [ "$rc" -eq 2 ] || fail "$what: exit status $rc, not 2"
    [ ! -s "$out" ] || fail "$what: printed on standard output: $(cat "$out")"
    [ "$(wc -l <"$err")" -eq 2 ] || fail "$what: not two lines on standard error: $(cat "$err")"
    local first second
    first=$(sed -n 1p "$err") second=$(sed -n 2p "$err")
    [ "$first" = "$want" ] || fail "$what: said '$first', not '$want'"
    [ "$second" = "Try '$help --help'." ] || fail "$what: hint '$second', not \"Try '$help --help'.\""
    # "x: y: x": a part before a colon that comes back later.
    local part
    while IFS= read -r part; do
        [ -n "$part" ] || continue
        [ "$(grep -o -F -- "$part" <<<"$first" | wc -l)" -le 1 ] || fail "$what: '$part' said twice in '$first'"
    done < <(sed 's/: /\n/g' <<<"$first" | sed 1d)
}

usage_error "aioctl: unknown command 'bogus'" aioctl bogus
usage_error "aioctl: unknown command 'bogus'" aioctl --socket /tmp/x bogus
usage_error "aioctl: no command given (ping, stats, clients, reload or shutdown)" aioctl
usage_error "aioctl: unknown option '--bogus'" aioctl --bogus
usage_error "aioctl stats: unknown option '--bogus'" "aioctl stats" stats --bogus
usage_error "aioctl ping: unexpected argument 'extra'" "aioctl ping" ping extra
usage_error "aioctl: --socket needs a value" aioctl --socket
usage_error "aioctl stats: --interval: 'abc' is not a number from 0.01 to 86400" "aioctl stats" stats --watch --interval abc
usage_error "aioctl stats: --interval: '0' is not a number from 0.01 to 86400" "aioctl stats" stats --watch --interval 0
usage_error "aioctl stats: --count: 'x' is not a valid value" "aioctl stats" stats --watch --count x
usage_error "aioctl stats: --count requires --watch" "aioctl stats" stats --count 3
usage_error "aioctl stats: --json excludes --prometheus" "aioctl stats" stats --json --prometheus
usage_error "aioctl shutdown: --timeout: 'soon' is not a number from 0.1 to 3600" "aioctl shutdown" stop --timeout soon

for args in "--help" "--version" "ping --help" "stats --help" "clients --help" "reload --help" "shutdown --help" "stop --help"; do
    # shellcheck disable=SC2086 # the words are meant to split
    "$aioctl" $args >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 0 ] || fail "aioctl $args: exit status $rc, not 0"
    [ -s "$out" ] || fail "aioctl $args: printed nothing"
done

if [ "$failures" -ne 0 ]; then
    echo "$failures problem(s) in aioctl's usage errors"
    exit 1
fi
echo "aioctl usage errors: one line and a hint each, exit status 2"
