#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages, built and inspected without installing anything on the
# host (the fixture packaging_debs: packaging.lintian and packaging.consumer
# take the packages it leaves in DEBS_DIR):
#   - packaging/build-debs.sh builds aiod, libaiod1, libaiod-dev and the
#     -dbgsym packages of the first two into an emptied DEBS_DIR;
#   - their metadata and maintainer scripts are checked (debhelper's snippets,
#     no raw systemctl call, the dependency that brings systemd-sysusers);
#   - the binaries carry Debian's hardening (hardening-check), are stripped,
#     and their debug information is in the -dbgsym packages under their
#     build ids; libaiod1 has a symbols file;
#   - the packages are unpacked into a scratch root: their contents (docs,
#     examples, completions, lintian overrides) are where they belong, the
#     packaged units verify there with the packaged man pages, and every
#     packaged public header compiles on its own.
#
#   packages_test.sh SOURCE_DIR BUILD_DIR DEBS_DIR
# BUILD_DIR holds the packages' build between runs (incremental rebuilds).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

src=$1 build=$2 debs=$3
# Emptied first, so that the tests that take these packages never see an
# older build's, even when this one is skipped.
rm -rf "$debs"
for tool in dpkg-deb dpkg-shlibdeps pkg-config readelf c++ hardening-check; do
  command -v "$tool" > /dev/null || skip "$tool is missing (Debian packages: dpkg-dev, pkg-config, binutils, g++, devscripts)"
done
version=$(sed -n 's/^project(aiod VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)

note "building the packages (build directory $build)"
"$src/packaging/build-debs.sh" --build-dir "$build" "$debs" > "$work/debs.list" || fail "build-debs.sh failed"
expected=()
for pkg in aiod libaiod1 libaiod-dev; do expected+=("$debs/${pkg}_${version}-1_${arch}.deb"); done
for pkg in aiod-dbgsym libaiod1-dbgsym; do expected+=("$debs/${pkg}_${version}-1_${arch}.ddeb"); done
[[ "$(cat "$work/debs.list")" == "$(printf '%s\n' "${expected[@]}")" ]] ||
  fail "build-debs.sh printed $(tr '\n' ' ' < "$work/debs.list"), expected ${expected[*]}"
for deb in "${expected[@]}"; do
  pkg=$(basename "$deb")
  pkg=${pkg%%_*}
  [[ -f "$deb" ]] || fail "no $deb"
  dpkg-deb --info "$deb" > /dev/null || fail "$deb is not a valid package"
  mkdir -p "$work/meta/$pkg" "$work/pkg/$pkg"
  dpkg-deb --control "$deb" "$work/meta/$pkg"
  dpkg-deb --extract "$deb" "$work/root"
  dpkg-deb --extract "$deb" "$work/pkg/$pkg"
  note "$pkg: $(dpkg-deb --field "$deb" Depends)"
done
[[ "$(find "$debs" -type f | wc -l)" == "${#expected[@]}" ]] || fail "DEBS_DIR holds more: $(ls "$debs")"
root=$work/root

note "package metadata and maintainer scripts"
for script in postinst prerm postrm; do
  [[ -x "$work/meta/aiod/$script" ]] || fail "aiod has no executable $script"
  sh -n "$work/meta/aiod/$script" || fail "aiod's $script has a syntax error"
done
if command -v shellcheck > /dev/null; then
  shellcheck -s sh "$work/meta/aiod/postinst" "$work/meta/aiod/prerm" "$work/meta/aiod/postrm" ||
    fail "shellcheck finds problems in aiod's maintainer scripts"
fi
field() { dpkg-deb --field "$debs/${1}_${version}-1_${arch}.$3" "$2"; }
grep -q '^ *systemd-sysusers .* aiod.conf$' "$work/meta/aiod/postinst" || fail "postinst does not create the aiod user"
grep -q "deb-systemd-helper enable 'aiod.socket'" "$work/meta/aiod/postinst" || fail "postinst does not enable aiod.socket"
grep -q "deb-systemd-invoke start 'aiod.socket'" "$work/meta/aiod/postinst" || fail "postinst does not start aiod.socket"
grep -q "deb-systemd-invoke try-restart 'aiod.service'" "$work/meta/aiod/postinst" ||
  fail "postinst does not restart a running daemon on upgrade"
for script in postinst prerm postrm; do
  # systemd is driven through deb-systemd-helper and deb-systemd-invoke, in
  # the sections debhelper would write; systemctl only reloads.
  if grep -v '^\s*#' "$work/meta/aiod/$script" | grep 'systemctl' | grep -v 'systemctl --system daemon-reload'; then
    fail "aiod's $script calls systemctl directly (above)"
  fi
  grep -q '^# Automatically added by dh_installsystemd/' "$work/meta/aiod/$script" ||
    fail "aiod's $script lacks dh_installsystemd's sections"
done
# A maintainer script that calls adduser must depend on it (Debian policy);
# the user comes from systemd-sysusers, so aiod depends on what brings it.
if grep -v '^\s*#' "$work/meta/aiod/postinst" | grep -qw 'adduser\|addgroup'; then
  field aiod Depends deb | grep -qE '(^|, )adduser(,|$)' || fail "postinst calls adduser, and aiod does not depend on it"
fi
field aiod Depends deb | grep -q 'systemd | systemd-standalone-sysusers | systemd-sysusers' ||
  fail "aiod does not depend on a package that brings systemd-sysusers: $(field aiod Depends deb)"
grep -qx '/etc/aiod/aiod.conf' "$work/meta/aiod/conffiles" || fail "/etc/aiod/aiod.conf is not a conffile"
grep -qx "libaiod 1 libaiod1 (>= $version)" "$work/meta/libaiod1/shlibs" || fail "libaiod1 has no shlibs entry"
grep -q 'ldconfig' "$work/meta/libaiod1/triggers" || fail "libaiod1 does not trigger ldconfig"
[[ "$(head -n 1 "$work/meta/libaiod1/symbols")" == "libaiod.so.1 libaiod1 #MINVER#" ]] ||
  fail "libaiod1's symbols file does not start with its SONAME: $(head -n 1 "$work/meta/libaiod1/symbols")"
grep -q "^ _ZN4aiod6Client7connect.*@Base $version\$" "$work/meta/libaiod1/symbols" ||
  fail "libaiod1's symbols file lacks aiod::Client::connect at $version"
field libaiod-dev Depends deb | grep -q "libaiod1 (= $version-1)" || fail "libaiod-dev does not depend on its exact libaiod1"

note "hardening: dpkg-buildflags' flags in every compile, hardening-check on each binary"
# Every object in the packages was compiled with _FORTIFY_SOURCE and the
# stack protector (the flags dpkg-buildflags gives, through build-debs.sh).
[[ -f "$build/compile_commands.json" ]] || fail "no compile_commands.json in $build"
if grep '"command"' "$build/compile_commands.json" | grep -v -- '-D_FORTIFY_SOURCE=2 .*-fstack-protector-strong'; then
  fail "the compile commands above lack dpkg-buildflags' hardening flags"
fi
mapfile -t binaries < <(cd "$root" && find usr -type f \( -path '*/bin/*' -o -path '*/sbin/*' -o -name '*.so.*' \) | sort)
((${#binaries[@]} == 3)) || fail "expected aiod, aioctl and libaiod.so.1.*, found: ${binaries[*]}"
for binary in "${binaries[@]}"; do
  # PIE, stack protector, fortified calls, RELRO and BIND_NOW, as Debian 12's
  # dpkg-buildflags gives them (not -fcf-protection: that comes with later
  # versions). libaiod has no call that _FORTIFY_SOURCE would check (see
  # packaging/lintian/libaiod1), so the fortified calls are not looked for there;
  # the compile commands above show it was built with it.
  options=(--nocfprotection)
  [[ "$binary" != *.so.* ]] || options+=(--nofortify)
  hardening-check "${options[@]}" "$root/$binary" > "$work/hardening.txt" 2>&1 ||
    fail "/$binary lacks hardening: $(cat "$work/hardening.txt")"
done

note "debug symbols: stripped binaries, their debug information in the -dbgsym packages"
for pkg in aiod libaiod1; do
  [[ "$(field "$pkg-dbgsym" Section ddeb)" == debug ]] || fail "$pkg-dbgsym is not in section debug"
  [[ "$(field "$pkg-dbgsym" Depends ddeb)" == "$pkg (= $version-1)" ]] || fail "$pkg-dbgsym does not depend on $pkg (= $version-1)"
  [[ "$(field "$pkg-dbgsym" Auto-Built-Package ddeb)" == debug-symbols ]] || fail "$pkg-dbgsym lacks Auto-Built-Package"
  ids=()
  while IFS= read -r -d '' binary; do
    # Whole outputs, not piped into grep -q: with pipefail, readelf killed
    # by SIGPIPE would fail the check.
    header=$(readelf --file-header "$binary" 2> /dev/null) || continue
    [[ "$header" == *"Type:"*"EXEC"* || "$header" == *"Type:"*"DYN"* ]] || continue
    sections=$(readelf -W --sections "$binary" 2> /dev/null)
    [[ "$sections" != *.debug_info* ]] || fail "${binary#"$work/pkg/"} is not stripped"
    [[ "$sections" == *.gnu_debuglink* ]] || fail "${binary#"$work/pkg/"} has no .gnu_debuglink"
    id=$(readelf --notes "$binary" | sed -n 's/^ *Build ID: *//p')
    debug=$work/pkg/$pkg-dbgsym/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    [[ -f "$debug" ]] || fail "$pkg-dbgsym has no debug file for ${binary#"$work/pkg/"} (build id $id)"
    [[ "$(readelf -W --sections "$debug" 2> /dev/null)" == *.debug_info* ]] || fail "$debug has no .debug_info"
    ids+=("$id")
  done < <(find "$work/pkg/$pkg" -type f -print0)
  [[ "$(field "$pkg-dbgsym" Build-Ids ddeb)" == "$(printf '%s\n' "${ids[@]}" | LC_ALL=C sort | xargs)" ]] ||
    fail "$pkg-dbgsym's Build-Ids '$(field "$pkg-dbgsym" Build-Ids ddeb)' are not those of $pkg's binaries: ${ids[*]}"
done

note "contents"
for f in usr/sbin/aiod usr/bin/aioctl lib/systemd/system/aiod.service lib/systemd/system/aiod.socket \
  usr/lib/systemd/user/aiod.service usr/lib/systemd/user/aiod.socket usr/lib/sysusers.d/aiod.conf \
  etc/aiod/aiod.conf usr/share/man/man8/aiod.8.gz usr/share/man/man1/aioctl.1.gz \
  usr/share/man/man5/aiod.conf.5.gz usr/include/aiod/aiod.hpp usr/share/doc/aiod/copyright \
  usr/share/doc/aiod/systemd.md usr/share/doc/aiod/security.md; do
  [[ -e "$root/$f" ]] || fail "/$f is in no package"
done
# libaiod-dev: the documentation and the examples, with their CMakeLists.txt.
dev_doc=$work/pkg/libaiod-dev/usr/share/doc/libaiod-dev
[[ -f "$dev_doc/README.md" ]] || fail "libaiod-dev lacks README.md"
for f in "$src"/docs/*.md "$src"/docs/*.png "$src"/examples/*.cpp; do
  rel=${f#"$src/"}
  cmp -s "$f" "$dev_doc/$rel" || fail "libaiod-dev lacks /usr/share/doc/libaiod-dev/$rel"
done
[[ -f "$dev_doc/examples/CMakeLists.txt" ]] || fail "libaiod-dev's examples have no CMakeLists.txt"
# aiod: the shell completions the tree has.
for pair in aiod.bash:bash-completion/completions/aiod aioctl.bash:bash-completion/completions/aioctl \
  _aiod:zsh/vendor-completions/_aiod _aioctl:zsh/vendor-completions/_aioctl; do
  if [[ -f "$src/packaging/completions/${pair%%:*}" ]]; then
    cmp -s "$src/packaging/completions/${pair%%:*}" "$work/pkg/aiod/usr/share/${pair#*:}" ||
      fail "aiod lacks /usr/share/${pair#*:} (from packaging/completions/${pair%%:*})"
  fi
done
# Each package with lintian overrides ships them.
for f in "$src"/packaging/lintian/*; do
  [[ -e "$f" ]] || continue
  cmp -s "$f" "$work/pkg/$(basename "$f")/usr/share/lintian/overrides/$(basename "$f")" ||
    fail "$(basename "$f") does not ship packaging/lintian/$(basename "$f")"
done

libdir=$(dirname "$(find "$root/usr/lib" -name aiod.pc -path '*/pkgconfig/*' | head -1)")
libdir=${libdir%/pkgconfig}
[[ -f "$libdir/cmake/aiod/aiodConfig.cmake" ]] || fail "no CMake package next to aiod.pc in $libdir"
soname=$(readelf -d "$libdir/libaiod.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ "$soname" == libaiod.so.1 ]] || fail "libaiod's SONAME is '$soname'"
[[ "$(readlink -f "$libdir/libaiod.so")" == "$(readlink -f "$libdir/libaiod.so.1")" ]] ||
  fail "libaiod.so (libaiod-dev) does not lead to libaiod.so.1"
for page in "$root"/usr/share/man/man*/*.gz; do
  warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 > /dev/null)
  [[ -z "$warnings" ]] || fail "$(basename "$page"): $warnings"
done

note "the packaged units verify, with the packaged man pages"
if command -v systemd-analyze > /dev/null; then
  mkdir -p "$work/units"
  for unit in aiod.service aiod.socket; do
    sed "s|/usr/sbin/aiod|$root/usr/sbin/aiod|" "$root/lib/systemd/system/$unit" > "$work/units/$unit"
  done
  (cd "$work/units" && MANPATH=$root/usr/share/man systemd-analyze verify aiod.socket aiod.service) ||
    fail "the packaged units do not verify"
fi

# pkg-config finds only the unpacked file and prefixes its paths with the
# scratch root, as for any sysroot.
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
[[ "$(pkg-config --modversion aiod)" == "$version" ]] || fail "pkg-config aiod gives $(pkg-config --modversion aiod)"
read -r -a pc_cflags <<< "$(pkg-config --cflags aiod)"

note "every public header compiles on its own"
while IFS= read -r header; do
  rel=${header#"$root/usr/include/"}
  # Included twice: the include guard must hold too.
  printf '#include <%s>\n#include <%s>\n' "$rel" "$rel" |
    c++ -std=c++20 -Wall -Wextra -Wpedantic -Werror "${pc_cflags[@]}" -fsyntax-only -x c++ - ||
    fail "<$rel> does not compile on its own"
done < <(find "$root/usr/include/aiod" -name '*.hpp' | sort)

note "PASS"
