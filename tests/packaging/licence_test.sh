#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging.licence: the tree says its licence where Debian and SPDX tools
# look. LICENSE is the MIT licence; every tracked source file (C++, the wire
# schema, shell, CMake, templates, maintainer scripts) names it with an
# "SPDX-License-Identifier: MIT" line among its first two (after a #! line);
# the packages' copyright file says the same in Debian's machine-readable
# format.
#
#   licence_test.sh SOURCE_DIR
# shellcheck source-path=SCRIPTDIR source=lib.sh
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

src=$1
if ! command -v git > /dev/null || ! git -C "$src" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  skip "$src is not a git checkout: the tracked files are unknown"
fi

grep -q '^MIT License' "$src/LICENSE" || fail "LICENSE is not the MIT licence"
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
  "$src/packaging/debian/copyright" || fail "packaging/debian/copyright is not in the DEP-5 format"
grep -q '^License: MIT' "$src/packaging/debian/copyright" || fail "packaging/debian/copyright does not name MIT"

missing=()
while IFS= read -r f; do
  [[ -f "$src/$f" ]] || continue
  head -2 "$src/$f" | grep -q 'SPDX-License-Identifier: MIT' || missing+=("$f")
done < <(git -C "$src" ls-files -- '*.cpp' '*.hpp' '*.h' '*.fbs' '*.sh' '*.cmake' '*.in' 'CMakeLists.txt' \
  '*/CMakeLists.txt' '.ci/run' '*.postinst' '*.prerm' '*.postrm')
((${#missing[@]} == 0)) || fail "no SPDX-License-Identifier: MIT line in: ${missing[*]}"
note "PASS"
