#!/bin/bash
# SPDX-License-Identifier: MIT
# check_completions.sh AIOD AIOCTL COMPLETIONS_DIR — the bash and zsh
# completions keep up with the programs: every option of aiod --help, every
# command of aioctl --help and every option of aioctl and of each of its
# commands is offered; nothing is offered that the programs do not have; the
# bash functions complete what they should; the zsh files parse (when zsh is
# installed).
set -u
aiod=$1 aioctl=$2 dir=$3
. "$(dirname "$0")/help_words.sh"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Whether `word` is in file `f` as a whole word (options: not a prefix of a longer one).
has_word() { grep -qE -- "(^|[^a-z0-9-])$2([^a-z0-9-]|\$)" "$1"; }

aiod_options=$(help_options "$aiod") || { echo "cannot run $aiod --help"; exit 1; }
aioctl_commands=$(help_commands "$aioctl") || { echo "cannot run $aioctl --help"; exit 1; }
if [ -z "$aiod_options" ] || [ -z "$aioctl_commands" ]; then
    echo "nothing found in the --help outputs"
    exit 1
fi
aioctl_options=$(
    help_options "$aioctl"
    for cmd in $aioctl_commands; do help_options "$aioctl" "$cmd"; done
)
aioctl_options=$(echo "$aioctl_options" | sort -u)

for f in aiod.bash _aiod; do
    for opt in $aiod_options; do has_word "$dir/$f" "$opt" || fail "$f does not offer aiod $opt"; done
    for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$dir/$f" | sort -u); do
        echo "$aiod_options" | grep -qx -- "$opt" || fail "$f offers $opt, which aiod --help does not list"
    done
done
for f in aioctl.bash _aioctl; do
    for cmd in $aioctl_commands; do has_word "$dir/$f" "$cmd" || fail "$f does not offer the command $cmd"; done
    for opt in $aioctl_options; do has_word "$dir/$f" "$opt" || fail "$f does not offer aioctl $opt"; done
    for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$dir/$f" | sort -u); do
        echo "$aioctl_options" | grep -qx -- "$opt" || fail "$f offers $opt, which no aioctl --help lists"
    done
done

# The bash functions at work: complete `line` (the cursor at its end) and
# print the candidates, one per line.
complete_line() {
    local file=$1 func=$2 line=$3
    bash -c '
        . "$1"
        read -ra COMP_WORDS <<< "$3"
        [[ $3 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        "$2"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$file" "$func" "$line"
}
expect_offers() {  # file func line word...
    local file=$1 func=$2 line=$3 got
    shift 3
    got=$(complete_line "$dir/$file" "$func" "$line")
    for want in "$@"; do
        grep -qx -- "$want" <<< "$got" || fail "completing '$line' does not offer $want (got: ${got//$'\n'/ })"
    done
}
expect_not_offered() {  # file func line word
    local got
    got=$(complete_line "$dir/$1" "$2" "$3")
    ! grep -qx -- "$4" <<< "$got" || fail "completing '$3' offers $4"
}
for cmd in $aioctl_commands; do expect_offers aioctl.bash _aioctl "aioctl " "$cmd"; done
expect_offers aioctl.bash _aioctl "aioctl st" stats stop
expect_offers aioctl.bash _aioctl "aioctl --socket /tmp/x stats --" --json --prometheus --watch --interval --count
expect_not_offered aioctl.bash _aioctl "aioctl stats --" --timeout
expect_offers aioctl.bash _aioctl "aioctl stop --" --timeout
expect_offers aioctl.bash _aioctl "aioctl --" --socket --help --version
# shellcheck disable=SC2086 # one word per option
expect_offers aiod.bash _aiod "aiod --" $aiod_options
expect_offers aiod.bash _aiod "aiod --log-level w" warn
expect_offers aiod.bash _aiod "aiod --backend " auto io_uring posix
expect_not_offered aiod.bash _aiod "aiod --threads " --threads

for f in aiod.bash aioctl.bash; do bash -n "$dir/$f" || fail "$f is not valid bash"; done
if command -v zsh >/dev/null; then
    for f in _aiod _aioctl; do zsh -n "$dir/$f" || fail "$f is not valid zsh"; done
    for f in _aiod _aioctl; do head -1 "$dir/$f" | grep -qx "#compdef ${f#_}" || fail "$f does not start with '#compdef ${f#_}'"; done
else
    echo "note: zsh is not installed; the zsh files' syntax is not checked"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures problem(s) in the completions"
    exit 1
fi
echo "completions: every option and command of aiod and aioctl offered, and no other"
