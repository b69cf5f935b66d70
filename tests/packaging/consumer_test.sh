#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging.consumer: programs outside this tree, built against the packages
# alone, as their users build them, and run through the packaged daemon:
#   - the packages build-debs.sh made (the fixture packaging.debs leaves them
#     in DEBS_DIR) are unpacked into a scratch root; nothing is installed on
#     the host;
#   - tests/packaging/external is built with CMake (find_package(aiod)) and
#     with its Makefile (pkg-config --cflags --libs aiod), and the examples
#     libaiod-dev ships are built with the CMakeLists.txt shipped beside them;
#     none of them may see this source tree;
#   - dpkg-shlibdeps, given the unpacked libaiod1, computes the consumer's
#     dependency from libaiod1's symbols file;
#   - the unpacked daemon starts with the packaged aiod.conf on a temporary
#     socket, and each program writes and reads a file through it with the
#     unpacked libaiod.so.1.
#
#   consumer_test.sh SOURCE_DIR DEBS_DIR
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

src=$1 debs=$2
for tool in dpkg-deb dpkg-shlibdeps pkg-config cmake make c++; do
  command -v "$tool" > /dev/null || skip "$tool is missing (Debian packages: dpkg-dev, pkg-config, cmake, make, g++)"
done
version=$(sed -n 's/^project(aiod VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
deb() { echo "$debs/${1}_${version}-1_${arch}.deb"; }
for pkg in aiod libaiod1 libaiod-dev; do
  [[ -f "$(deb "$pkg")" ]] || skip "no $(deb "$pkg"): the fixture packaging.debs was skipped or failed"
done

root=$work/root
for pkg in aiod libaiod1 libaiod-dev; do
  dpkg-deb --extract "$(deb "$pkg")" "$root"
done
libdir=$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)
[[ -f "$libdir/pkgconfig/aiod.pc" ]] || fail "no aiod.pc in $libdir/pkgconfig"

# The consumer's own sources are copied out of this tree, so that no path
# into it has any business in a compiler command.
cp -r "$here/external" "$work/external"

# sees_only_the_package WHAT FILE: the compiler commands in FILE name the
# unpacked headers and never this source tree.
sees_only_the_package() {
  grep -q -- "-I$root/usr/include\|-isystem $root/usr/include" "$2" ||
    fail "$1: the compiler was not given the unpacked headers: $(cat "$2")"
  if grep -q -- "$src" "$2"; then fail "$1: the compiler was given this source tree: $(grep -- "$src" "$2")"; fi
}

note "CMake: find_package(aiod) in the unpacked root"
cmake -S "$work/external" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$work/cmake.log" 2>&1 || fail "find_package(aiod) failed: $(cat "$work/cmake.log")"
found=$(sed -n 's/^aiod_DIR:PATH=//p' "$work/cmake/CMakeCache.txt")
[[ "$found" == "$libdir/cmake/aiod" ]] || fail "CMake found aiod in '$found', not in the unpacked root"
cmake --build "$work/cmake" > "$work/cmake-build.log" 2>&1 ||
  fail "the CMake consumer does not build: $(cat "$work/cmake-build.log")"
sees_only_the_package "the CMake consumer" "$work/cmake/compile_commands.json"

note "make: pkg-config --cflags --libs aiod from the unpacked root"
# pkg-config reads only the unpacked aiod.pc and puts the root in front of
# its paths, as for any sysroot.
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
[[ "$(pkg-config --cflags aiod)" == *-std=c++20* ]] || fail "aiod.pc's Cflags lack -std=c++20: $(pkg-config --cflags aiod)"
mkdir "$work/make"
make -C "$work/make" -f "$work/external/Makefile" > "$work/make.log" 2>&1 ||
  fail "the Makefile consumer does not build: $(cat "$work/make.log")"
sees_only_the_package "the Makefile consumer" "$work/make.log"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR

note "the examples libaiod-dev ships, with their CMakeLists.txt"
examples=$root/usr/share/doc/libaiod-dev/examples
cmake -S "$examples" -B "$work/examples" -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$work/examples.log" 2>&1 ||
  fail "the shipped examples do not configure: $(cat "$work/examples.log")"
cmake --build "$work/examples" -j "$(nproc)" > "$work/examples-build.log" 2>&1 ||
  fail "the shipped examples do not build: $(cat "$work/examples-build.log")"
sees_only_the_package "the shipped examples" "$work/examples/compile_commands.json"
for source in "$examples"/*.cpp; do
  [[ -x "$work/examples/$(basename "$source" .cpp)" ]] || fail "the shipped examples did not build $(basename "$source" .cpp)"
done

note "dpkg-shlibdeps: the consumer's dependency, from libaiod1's symbols file"
# The layout of a source package that builds a consumer: debian/control and
# the packages' trees, libaiod1's with its DEBIAN/ (symbols, shlibs).
mkdir -p "$work/shlibdeps/debian/consumer/usr/bin" "$work/shlibdeps/debian/consumer/DEBIAN"
printf 'Source: consumer\n' > "$work/shlibdeps/debian/control"
dpkg-deb --raw-extract "$(deb libaiod1)" "$work/shlibdeps/debian/libaiod1"
# Without shlibs, the dependency can only come from the symbols file.
rm "$work/shlibdeps/debian/libaiod1/DEBIAN/shlibs"
cp "$work/make/aiod-example" "$work/shlibdeps/debian/consumer/usr/bin/"
depends=$(cd "$work/shlibdeps" && dpkg-shlibdeps -O -Sdebian/libaiod1 debian/consumer/usr/bin/aiod-example 2> "$work/shlibdeps.log") ||
  fail "dpkg-shlibdeps failed: $(cat "$work/shlibdeps.log")"
note "$depends"
grep -q "libaiod1 (>= $version)" <<< "$depends" || fail "dpkg-shlibdeps did not compute 'libaiod1 (>= $version)': $depends"
if [[ -s "$work/shlibdeps.log" ]]; then fail "dpkg-shlibdeps warns: $(cat "$work/shlibdeps.log")"; fi

note "each runs against the unpacked daemon, configured by the packaged aiod.conf"
start_aiod "$root/usr/sbin/aiod" --config "$root/etc/aiod/aiod.conf"
export AIOD_SOCKET=$work/aiod.sock
mkdir "$work/run"
for program in "$work/cmake/aiod-example" "$work/make/aiod-example"; do
  resolved=$(LD_LIBRARY_PATH=$libdir ldd "$program" | sed -n 's/.*libaiod.so.1 => \([^ ]*\).*/\1/p')
  [[ "$resolved" == "$libdir/libaiod.so.1" ]] || fail "$program loads libaiod from '$resolved'"
  out=$(cd "$work/run" && LD_LIBRARY_PATH=$libdir "$program" out.txt 2>&1) || fail "$program failed: $out"
  [[ "$out" == "ok: "*"through aiod $version"* ]] || fail "$program printed: $out"
  note "${program#"$work/"}: $out"
done
out=$(cd "$work/run" && LD_LIBRARY_PATH=$libdir "$work/examples/file_io" file_io.txt 2>&1) ||
  fail "the shipped file_io example failed: $out"
note "examples/file_io: $(tail -n 1 <<< "$out")"
"$root/usr/bin/aioctl" stats > "$work/stats.txt" || fail "the packaged aioctl cannot read the stats"
stop_aiod "$aiod_pid"
note "PASS"
