# bash completion for aiod(8), the asynchronous IO daemon.
# The options are those of `aiod --help`; tests/cli/check_completions.sh
# checks that each of them is here and that nothing here is not there.

_aiod() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}

    case $prev in
        --socket|--config)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return ;;
        --socket-group)
            mapfile -t COMPREPLY < <(compgen -g -- "$cur")
            return ;;
        --backend)
            mapfile -t COMPREPLY < <(compgen -W 'auto io_uring posix' -- "$cur")
            return ;;
        --log-level)
            mapfile -t COMPREPLY < <(compgen -W 'trace debug info warn error critical off' -- "$cur")
            return ;;
        --socket-mode|--threads|--shard-cpus|--emulate-kernel|--poll-us|--max-sessions|\
        --max-sq-entries|--max-arena-bytes|--max-in-flight|--max-handles|--drain-budget|\
        --handshake-timeout-ms|--max-sessions-per-uid|--max-handles-per-uid|\
        --max-memory-per-uid|--max-workers-per-uid|--max-control-bytes|\
        --control-idle-timeout-ms|--ready-fd)
            return ;;  # a number or a list: nothing to offer
    esac

    local opts='--help --version --socket --socket-mode --socket-group --threads
        --shard-cpus --backend --emulate-kernel --poll-us --log-level --max-sessions
        --max-sq-entries --max-arena-bytes --max-in-flight --max-handles --drain-budget
        --handshake-timeout-ms --max-sessions-per-uid --max-handles-per-uid
        --max-memory-per-uid --max-workers-per-uid --max-control-bytes
        --control-idle-timeout-ms --config --ready-fd --check-config'
    mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
}
complete -F _aiod aiod
