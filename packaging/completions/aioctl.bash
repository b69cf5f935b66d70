# bash completion for aioctl(1), which inspects and controls a running aiod.
# The commands and options are those of `aioctl --help` and of each
# command's --help; tests/cli/check_completions.sh checks both ways.

_aioctl() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}

    if [[ $prev == --socket ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
    fi
    case $prev in
        --interval|--count|--timeout) return ;;  # a number
    esac

    # The command is the first word that is neither an option nor --socket's value.
    local i command=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --socket) ((i++)) ;;
            -*) ;;
            *) command=${COMP_WORDS[i]}; break ;;
        esac
    done

    local words
    case $command in
        '') if [[ $cur == -* ]]; then
                words='--help --version --socket'
            else
                words='ping stats clients reload shutdown stop'
            fi ;;
        stats) words='--help --json --prometheus --watch --interval --count' ;;
        shutdown|stop) words='--help --timeout' ;;
        ping|clients|reload) words='--help' ;;
        *) return ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -F _aioctl aioctl
