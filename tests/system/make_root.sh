#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make_root.sh DEBS_DIR LINK: the Debian 12 root the system suite boots.
#
# Builds a minimal bookworm root with systemd as init (mmdebstrap, from this
# host's apt sources), with its package lists and, in its apt cache, every
# package the .debs in DEBS_DIR depend on, so that `apt-get install ./*.deb`
# inside a container with no network resolves them as a user's apt would.
# Then points LINK at it.
#
# The root is cached outside the tree, in $AIOD_SYSTEM_CACHE (default
# /var/cache/aiod-system-tests), under a key made of this recipe, the
# dependency list and the host's apt sources: the next run reuses it (about
# 30 s saved) and any change to those builds a new one. The root is never
# written afterwards; containers boot it with a tmpfs overlay.
#
# Exits 77 (skipped) where the host cannot do this: not root, or mmdebstrap
# missing.
set -euo pipefail

debs=${1:?usage: make_root.sh DEBS_DIR LINK}
link=${2:?usage: make_root.sh DEBS_DIR LINK}
cache=${AIOD_SYSTEM_CACHE:-/var/cache/aiod-system-tests}
suite=bookworm
# libpam-systemd: a user manager (user@.service) gets its XDG_RUNTIME_DIR
# from pam_systemd; Debian 12 installs it by default (priority standard).
base=(systemd systemd-sysv dbus libpam-systemd)

skip() {
  echo "SKIP: $*" >&2
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
(($(id -u) == 0)) || skip "building the container root needs root (mmdebstrap)"
command -v mmdebstrap > /dev/null || skip "mmdebstrap is missing (Debian package mmdebstrap)"
compgen -G "$debs/*.deb" > /dev/null || fail "no .deb in $debs"

# The packages ours depend on: the first of each set of alternatives, without
# versions, leaving out the ones built here.
ours=$(for deb in "$debs"/*.deb; do dpkg-deb --field "$deb" Package; done)
deps=$(for deb in "$debs"/*.deb; do dpkg-deb --field "$deb" Depends; done |
  tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:.*//; s/[[:space:]]//g' | grep -v '^$' |
  grep -vxF -f <(printf '%s\n' "$ours") | sort -u | tr '\n' ' ')

key=$(
  {
    cat "$0"
    echo "$suite ${base[*]} | $deps"
    cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2> /dev/null || true
  } | sha256sum | cut -c1-16
)
root="$cache/root-$key"
if [[ -f "$root/.aiod-root-complete" ]]; then
  echo "make_root: reusing $root" >&2
else
  mkdir -p "$cache"
  # One root at a time: an older one is of no further use.
  find "$cache" -mindepth 1 -maxdepth 1 -name 'root-*' -exec rm -rf {} +
  tmp="$root.tmp.$$"
  trap 'rm -rf "$tmp"' EXIT
  echo "make_root: building $root (mmdebstrap $suite; dependencies: $deps)" >&2
  start=$SECONDS
  mmdebstrap --quiet --variant=minbase --include="$(
    IFS=,
    echo "${base[*]}"
  )" \
    --skip=cleanup/apt/lists --skip=cleanup/apt/cache \
    --customize-hook="chroot \"\$1\" apt-get install --download-only -y -q $deps" \
    "$suite" "$tmp" > "$cache/mmdebstrap.log" 2>&1 ||
    fail "mmdebstrap failed: $(tail -n 20 "$cache/mmdebstrap.log")"
  touch "$tmp/.aiod-root-complete"
  mv -T "$tmp" "$root"
  trap - EXIT
  echo "make_root: built in $((SECONDS - start)) s" >&2
fi
ln -sfn "$root" "$link"
echo "$root"
