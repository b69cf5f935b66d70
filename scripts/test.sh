#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors,
# runs every test suite (each test in its own process, with a timeout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$@"
build=${AIOD_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 300
