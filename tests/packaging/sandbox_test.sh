#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The system unit's sandbox, rebuilt without systemd as far as it can be, to
# show that aiod works inside it and uses nothing it forbids:
#   - aiod runs as root with the unit's CapabilityBoundingSet (setpriv) and
#     no_new_privs, under strace;
#   - clients as root, as nobody, and as nobody with a supplementary group
#     write files through it; each file belongs to its client, a client
#     without the group is refused (the daemon's capabilities are not lent);
#   - every system call aiod made is in the unit's SystemCallFilter (expanded
#     by systemd-analyze), every socket it created is AF_UNIX
#     (RestrictAddressFamilies=), it mapped no memory writable and executable
#     (MemoryDenyWriteExecute=) and read no /proc file outside process
#     directories (ProcSubset=pid).
#
#   sandbox_test.sh AIOD_SERVICE AIOD AIOCTL EXAMPLE_CLIENT
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

unit=$1 aiod=$2 aioctl=$3 client=$4
(($(id -u) == 0)) || skip "needs root: the system daemon acts for other users"
command -v strace > /dev/null || skip "strace is missing (Debian package: strace)"
command -v setpriv > /dev/null || skip "setpriv is missing (Debian package: util-linux)"
command -v systemd-analyze > /dev/null || skip "systemd-analyze is missing (Debian package: systemd)"

# unit_values KEY: the values of every KEY= line of the unit, one per line.
unit_values() { sed -n "s/^$1=//p" "$unit"; }

caps=$(unit_values CapabilityBoundingSet)
[[ -n "$caps" ]] || fail "the unit sets no CapabilityBoundingSet="
bounding="-all"
for cap in $caps; do
  cap=${cap#CAP_}
  bounding+=",+${cap,,}"
done
nnp=()
[[ "$(unit_values NoNewPrivileges)" == yes ]] && nnp=(--no-new-privs)
note "aiod under setpriv --bounding-set=$bounding ${nnp[*]} and strace"

start_aiod setpriv --bounding-set="$bounding" --inh-caps=-all "${nnp[@]}" \
  strace -f -qq -o "$work/trace" -- "$aiod" --threads 2
# $aiod_pid is strace (which exits with aiod's status); aiod is its child.
daemon=$(cat "/proc/$aiod_pid/task/$aiod_pid/children")
daemon=${daemon% }
[[ "$daemon" =~ ^[0-9]+$ ]] || fail "cannot find aiod under strace (children: '$daemon')"
pids+=("$daemon")  # killing strace alone would leave aiod running, detached
grep -q '^CapBnd:[[:space:]]*00000000000000c0$' "/proc/$daemon/status" ||
  fail "aiod's bounding set is not CAP_SETUID|CAP_SETGID: $(grep CapBnd "/proc/$daemon/status")"
export AIOD_SOCKET=$work/aiod.sock

note "clients: root, nobody, nobody with a supplementary group"
group_gid=$(getent group nogroup | cut -d: -f3)
mkdir -m 0755 "$work/root" "$work/nobody"
chown nobody "$work/nobody"
(cd "$work/root" && "$client" out.txt > /dev/null) || fail "a root client failed"
(cd "$work/nobody" && setpriv --reuid=nobody --regid=nogroup --clear-groups "$client" out.txt > /dev/null) ||
  fail "a client running as nobody failed"
# A directory only a supplementary group may write: the daemon must act with
# the client's groups, and with nothing more.
shared_gid=64321
mkdir -m 0770 "$work/shared"
chown "root:$shared_gid" "$work/shared"
(cd "$work/shared" && setpriv --reuid=nobody --regid=nogroup --groups="$shared_gid" "$client" out.txt > /dev/null) ||
  fail "a client writing through its supplementary group failed"
if (cd "$work/shared" && setpriv --reuid=nobody --regid=nogroup --clear-groups "$client" denied.txt \
  > /dev/null 2> "$work/denied.err"); then
  fail "a client without the group wrote into the group's directory"
fi
grep -q 'Permission denied' "$work/denied.err" || fail "unexpected refusal: $(cat "$work/denied.err")"
[[ "$(stat -c %U "$work/root/out.txt")" == root ]] || fail "root's file has the wrong owner"
[[ "$(stat -c %U "$work/nobody/out.txt")" == nobody ]] || fail "nobody's file does not belong to nobody"
[[ "$(stat -c %U:%g "$work/shared/out.txt")" == "nobody:$group_gid" ]] ||
  fail "the group client's file is $(stat -c %U:%g "$work/shared/out.txt")"
"$aioctl" stats > /dev/null || fail "aioctl stats failed"
stop_aiod "$daemon"

note "system calls against SystemCallFilter="
# expand NAME: a syscall, or a @group expanded (recursively) by systemd-analyze.
expand() {
  if [[ "$1" != @* ]]; then
    echo "$1"
    return
  fi
  local entry
  for entry in $(systemd-analyze syscall-filter "$1" | sed -n 's/^    \([^#]\)/\1/p'); do expand "$entry"; done
}
allowed=$work/allowed
denied=$work/denied
: > "$allowed"
: > "$denied"
while read -r filter; do
  if [[ "$filter" == "~"* ]]; then
    for entry in ${filter#\~}; do expand "$entry" >> "$denied"; done
  else
    for entry in $filter; do expand "$entry" >> "$allowed"; done
  fi
done < <(unit_values SystemCallFilter)
[[ -s "$allowed" ]] || fail "the unit has no SystemCallFilter= allow list"
sed -n 's/^[0-9]\+ \+\([a-z0-9_]\+\)(.*/\1/p' "$work/trace" | sort -u > "$work/used"
violations=()
while read -r call; do
  if ! grep -qx "$call" "$allowed" || grep -qx "$call" "$denied"; then violations+=("$call"); fi
done < "$work/used"
((${#violations[@]} == 0)) || fail "system calls the unit's filter would refuse: ${violations[*]}"
note "$(wc -l < "$work/used") distinct system calls, all allowed"

note "sockets, memory and /proc"
if grep -E '^[0-9]+ +socket\(' "$work/trace" | grep -v 'socket(AF_UNIX,'; then
  fail "aiod created a socket outside AF_UNIX (RestrictAddressFamilies=AF_UNIX)"
fi
if grep -E '^[0-9]+ +(mmap|mprotect)\(.*PROT_WRITE\|PROT_EXEC|PROT_EXEC\|PROT_WRITE' "$work/trace"; then
  fail "aiod mapped memory writable and executable (MemoryDenyWriteExecute=yes)"
fi
if grep -E '"/proc/[^"]*"' "$work/trace" | grep -vE '"/proc/(self|thread-self|[0-9]+)(/|")'; then
  fail "aiod read /proc outside process directories (ProcSubset=pid)"
fi
note "PASS"
