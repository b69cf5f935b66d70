# SPDX-License-Identifier: MIT
# help_words.sh — sourced by the checks of tests/cli: the options and the
# commands a program prints in its --help (CLI11's layout).

# The long options of `"$@" --help`, one per line (--help and --version too).
help_options() {
    "$@" --help | grep -oE '^ +(-[a-zA-Z],)?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# The commands listed under "Subcommands:" in `"$@" --help`, with their
# aliases (CLI11 writes "shutdown, stop   description").
help_commands() {
    "$@" --help | awk '
        /^Subcommands:/ { in_list = 1; next }
        in_list && /^[^ ]/ { in_list = 0 }
        in_list && /^  [a-z]/ {
            names = substr($0, 3)
            sub(/   .*/, "", names)
            n = split(names, list, /, */)
            for (i = 1; i <= n; i++) print list[i]
        }' | sort -u
}
