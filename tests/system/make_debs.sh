#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make_debs.sh SOURCE_DIR BUILD_DIR OUT_DIR: the packages the system suite
# installs, built by packaging/build-debs.sh into an emptied OUT_DIR (so no
# package of an older version lingers there).
set -euo pipefail
src=$1 build=$2 out=$3
rm -rf "$out"
mkdir -p "$out"
"$src/packaging/build-debs.sh" --build-dir "$build" "$out" > /dev/null
ls "$out"
