#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sanitizer runs of the test command: an ASan+UBSan build running the
# unit, integration (both backends), fuzz, security and conformance suites, and a TSan
# build running the integration suites. Each build has its own directory
# (build-asan/, build-tsan/ beside $AIOD_BUILD_DIR's default) and leaves out
# the benchmarks and examples, which no sanitized suite runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
common=(-DAIOD_BUILD_BENCH=OFF -DAIOD_BUILD_EXAMPLES=OFF)
# ccache, where installed, makes a rebuild cheap; CI does not depend on it.
if command -v ccache > /dev/null; then common+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi

run_suite() {  # build dir, sanitizer, ctest label regex
  local dir=$1 sanitize=$2 labels=$3
  echo "== sanitizers: $sanitize, suites: $labels"
  AIOD_BUILD_DIR="$dir" "$root/scripts/build.sh" -DAIOD_SANITIZE="$sanitize" "${common[@]}"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 300 -L "$labels")
}

# Any finding fails the test that hit it: the daemon aborts, its test sees it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

run_suite "${AIOD_ASAN_BUILD_DIR:-$root/build-asan}" address,undefined '^(unit|integration|integration-posix|fuzz|security|conformance|kernel)$'
run_suite "${AIOD_TSAN_BUILD_DIR:-$root/build-tsan}" thread '^(integration|integration-posix)$'
