#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon's layer check (cmake/check_layers.cmake): a tree whose lower layer
# includes a higher one must be refused, naming the file and the include; the
# same tree without that include, and the real daemon/ tree, must pass.
# Usage: check_layers_test.sh <cmake> <project source dir> <layers, lowest first, ;-separated>
set -euo pipefail
cmake=$1
src=$2
script=$src/cmake/check_layers.cmake
layers=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/os" "$tmp/session" "$tmp/backend/posix"
printf '#include "os/region.hpp"\n#include <vector>\n#include "wire.hpp"\n' > "$tmp/session/session.hpp"
printf '#include "os/region.hpp"\n' > "$tmp/backend/posix/ops.cpp"
printf '#pragma once\n' > "$tmp/os/region.hpp"
"$cmake" -DROOT="$tmp" "-DLAYERS=$layers" -P "$script" || { echo "FAIL: a downward tree was refused"; exit 1; }

printf '#include "session/session.hpp"\n' >> "$tmp/os/region.hpp"
printf '#include "shard/shard.hpp"\n' >> "$tmp/backend/posix/ops.cpp"
if out=$("$cmake" -DROOT="$tmp" "-DLAYERS=$layers" -P "$script" 2>&1); then
  echo "FAIL: upward includes were accepted"; exit 1
fi
grep -q 'os/region.hpp: #include "session/session.hpp" (os may not include session)' <<<"$out" ||
  { echo "FAIL: the os → session include is not named:"; echo "$out"; exit 1; }
grep -q 'backend/posix/ops.cpp: #include "shard/shard.hpp" (backend may not include shard)' <<<"$out" ||
  { echo "FAIL: the nested backend → shard include is not named:"; echo "$out"; exit 1; }

"$cmake" -DROOT="$src/daemon" "-DLAYERS=$layers" -P "$script" || { echo "FAIL: daemon/ breaks its layers"; exit 1; }
echo "ok"
