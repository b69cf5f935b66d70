#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configures and builds aiod into build/ (or $AIOD_BUILD_DIR). Extra arguments
# go to CMake, e.g. -DAIOD_SANITIZE=address,undefined. $AIOD_BUILD_TARGETS,
# a space-separated list, builds only those targets (and what they need).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AIOD_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIOD_WERROR=ON "$@" > /dev/null
targets=()
for t in ${AIOD_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
