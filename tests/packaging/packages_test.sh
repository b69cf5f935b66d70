#!/usr/bin/env bash
# The Debian packages, end to end, without installing anything on the host:
#   - packaging/build-debs.sh builds aiod, libaiod1 and libaiod-dev;
#   - their metadata, maintainer scripts and contents are checked, and they
#     are unpacked into a scratch root;
#   - the packaged units verify there, with the packaged man pages;
#   - every packaged public header compiles on its own;
#   - a project outside this tree (tests/packaging/external) is built against
#     the scratch root twice, with the unpacked pkg-config file and with the
#     unpacked CMake package, and both programs run against the unpacked
#     daemon, started with the packaged configuration file.
#
#   packages_test.sh SOURCE_DIR BUILD_DIR
# BUILD_DIR holds the packages' build between runs (incremental rebuilds).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

src=$1 build=$2
for tool in dpkg-deb dpkg-shlibdeps pkg-config readelf c++; do
  command -v "$tool" > /dev/null || skip "$tool is missing (Debian packages: dpkg-dev, pkg-config, binutils, g++)"
done
version=$(sed -n 's/^project(aiod VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)

note "building the packages (build directory $build)"
"$src/packaging/build-debs.sh" --build-dir "$build" "$work/debs" > "$work/debs.list" || fail "build-debs.sh failed"
for pkg in aiod libaiod1 libaiod-dev; do
  deb="$work/debs/${pkg}_${version}-1_${arch}.deb"
  [[ -f "$deb" ]] || fail "no $deb (built: $(tr '\n' ' ' < "$work/debs.list"))"
  dpkg-deb --info "$deb" > /dev/null || fail "$deb is not a valid package"
  mkdir -p "$work/meta/$pkg"
  dpkg-deb --control "$deb" "$work/meta/$pkg"
  dpkg-deb --extract "$deb" "$work/root"
  note "$pkg: $(dpkg-deb --field "$deb" Depends)"
done
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
grep -q 'systemd-sysusers' "$work/meta/aiod/postinst" || fail "postinst does not create the aiod user"
grep -q 'enable aiod.socket' "$work/meta/aiod/postinst" || fail "postinst does not enable aiod.socket"
grep -qx '/etc/aiod/aiod.conf' "$work/meta/aiod/conffiles" || fail "/etc/aiod/aiod.conf is not a conffile"
grep -qx "libaiod 1 libaiod1 (>= $version)" "$work/meta/libaiod1/shlibs" || fail "libaiod1 has no shlibs entry"
grep -q 'ldconfig' "$work/meta/libaiod1/triggers" || fail "libaiod1 does not trigger ldconfig"
dpkg-deb --field "$work/debs/libaiod-dev_${version}-1_${arch}.deb" Depends | grep -q "libaiod1 (= $version-1)" ||
  fail "libaiod-dev does not depend on its exact libaiod1"

note "contents"
for f in usr/sbin/aiod usr/bin/aioctl lib/systemd/system/aiod.service lib/systemd/system/aiod.socket \
  usr/lib/systemd/user/aiod.service usr/lib/systemd/user/aiod.socket usr/lib/sysusers.d/aiod.conf \
  etc/aiod/aiod.conf usr/share/man/man8/aiod.8.gz usr/share/man/man1/aioctl.1.gz \
  usr/share/man/man5/aiod.conf.5.gz usr/include/aiod/aiod.hpp usr/share/doc/aiod/copyright \
  usr/share/doc/aiod/systemd.md usr/share/doc/aiod/security.md; do
  [[ -e "$root/$f" ]] || fail "/$f is in no package"
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
read -r -a pc_libs <<< "$(pkg-config --libs aiod)"

note "every public header compiles on its own"
while IFS= read -r header; do
  rel=${header#"$root/usr/include/"}
  # Included twice: the include guard must hold too.
  printf '#include <%s>\n#include <%s>\n' "$rel" "$rel" |
    c++ -std=c++20 -Wall -Wextra -Wpedantic -Werror "${pc_cflags[@]}" -fsyntax-only -x c++ - ||
    fail "<$rel> does not compile on its own"
done < <(find "$root/usr/include/aiod" -name '*.hpp' | sort)

note "an external project, built with pkg-config"
c++ -std=c++20 -O1 "${pc_cflags[@]}" "$here/external/example.cpp" "${pc_libs[@]}" -o "$work/example-pkgconfig" ||
  fail "the external example does not build with pkg-config"

note "an external project, built with find_package(aiod)"
cmake -S "$here/external" -B "$work/external" -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_BUILD_TYPE=Release \
  > "$work/external.log" || fail "find_package(aiod) failed: $(cat "$work/external.log")"
found=$(sed -n 's/^aiod_DIR:PATH=//p' "$work/external/CMakeCache.txt")
[[ "$found" == "$libdir/cmake/aiod" ]] || fail "CMake found aiod in '$found', not in the scratch root"
cmake --build "$work/external" > "$work/external-build.log" ||
  fail "the external example does not build: $(cat "$work/external-build.log")"

note "both run against the unpacked daemon, configured by the packaged aiod.conf"
start_aiod "$root/usr/sbin/aiod" --config "$root/etc/aiod/aiod.conf"
export AIOD_SOCKET=$work/aiod.sock
mkdir "$work/run"
for program in "$work/example-pkgconfig" "$work/external/aiod-example"; do
  resolved=$(LD_LIBRARY_PATH=$libdir ldd "$program" | sed -n 's/.*libaiod.so.1 => \([^ ]*\).*/\1/p')
  [[ "$resolved" == "$libdir/libaiod.so.1" ]] || fail "$(basename "$program") loads libaiod from '$resolved'"
  out=$(cd "$work/run" && LD_LIBRARY_PATH=$libdir "$program" out.txt) || fail "$(basename "$program") failed"
  [[ "$out" == "ok: "*"through aiod $version"* ]] || fail "unexpected output: $out"
  note "$(basename "$program"): $out"
done
"$root/usr/bin/aioctl" stats > "$work/stats.txt" || fail "the packaged aioctl cannot read the stats"
stop_aiod "$aiod_pid"
note "PASS"
