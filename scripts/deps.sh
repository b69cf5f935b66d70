#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages aiod needs to build, test and run, skipping
# those already installed. Safe to run again. Needs root (or sudo).
# --build: only what building aiod needs, not the test suites' tools
# (scripts/deps.d/), for the main job (scripts/run-example.sh).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake make pkg-config
  # the fixed dependencies
  liburing-dev libflatbuffers-dev flatbuffers-compiler libspdlog-dev libcli11-dev libgtest-dev
  # tests: strace for syscall counts
  strace
)
# More packages can be listed, one per line, in scripts/deps.d/*.txt.
here=$(cd "$(dirname "$0")" && pwd)
if [[ "${1:-}" != --build ]] && compgen -G "$here/deps.d/*.txt" > /dev/null; then
  while read -r pkg; do
    [[ -n "$pkg" && "$pkg" != \#* ]] && packages+=("$pkg")
  done < <(cat "$here"/deps.d/*.txt)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO=sudo
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
