#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command: installs what is missing, builds with warnings as errors,
# runs every test suite (each test in its own process, with a timeout), then
# the sanitizer runs (scripts/sanitize.sh: ASan+UBSan and TSan builds).
# AIOD_SANITIZERS=0 leaves the sanitizer runs out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$@"
build=${AIOD_BUILD_DIR:-$root/build}
(cd "$build" && ctest --output-on-failure -j "$(nproc)" --timeout 300)
if [[ "${AIOD_SANITIZERS:-1}" != 0 ]]; then
  "$root/scripts/sanitize.sh"
fi
