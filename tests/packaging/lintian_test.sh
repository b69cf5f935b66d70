#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging.lintian: lintian on every package build-debs.sh made (the fixture
# packaging.debs leaves them in DEBS_DIR), at the levels error, warning and
# info. Each package is clean, or says in its override file
# (packaging/lintian/PACKAGE, shipped as /usr/share/lintian/overrides/PACKAGE)
# why a tag does not apply. An override that no longer matches fails too
# (mismatched-override), so the files stay true.
#
#   lintian_test.sh DEBS_DIR
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

debs=$1
command -v lintian > /dev/null || skip "lintian is missing (Debian package: lintian)"
mapfile -t packages < <(find "$debs" -maxdepth 1 \( -name '*.deb' -o -name '*.ddeb' \) | sort)
((${#packages[@]} == 5)) || fail "expected 5 packages in $debs, found: ${packages[*]:-none}"

note "lintian $(lintian --version | sed 's/^Lintian v//') on ${#packages[@]} packages"
# --no-cfg: this host's ~/.lintianrc or /etc/lintianrc must not change the
# verdict. (--show-overrides would make lintian fail on the overridden tags.)
if ! lintian --no-cfg --fail-on error,warning,info --display-info --tag-display-limit 0 \
  "${packages[@]}" > "$work/lintian.txt" 2>&1; then
  cat "$work/lintian.txt" >&2
  fail "lintian reports the tags above (fix them, or override them with a reason in packaging/lintian/)"
fi
if [[ -s "$work/lintian.txt" ]]; then cat "$work/lintian.txt" >&2; fi
note "PASS"
