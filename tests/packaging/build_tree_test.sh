#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# packaging.build_tree: a program outside this tree builds against the build
# tree, before any install, both ways the README shows, and runs with no
# LD_LIBRARY_PATH:
#   - CMake: find_package(aiod) with CMAKE_PREFIX_PATH=<build>
#     (cmake/build_tree_package.cmake exports the targets there);
#   - pkg-config: PKG_CONFIG_PATH=<build>/pkgconfig, whose aiod.pc points at
#     the build tree's library (with an rpath) and the source tree's headers.
# Each program writes and reads a file through a daemon of this build.
#
#   build_tree_test.sh SOURCE_DIR BUILD_DIR AIOD
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

src=$1 build=$2 aiod=$3
for tool in cmake pkg-config c++; do
  command -v "$tool" > /dev/null || skip "$tool is missing"
done
unset LD_LIBRARY_PATH
start_aiod "$aiod"
export AIOD_SOCKET=$work/aiod.sock

# runs_from_build_tree PROGRAM: it runs, says ok, and loaded the build tree's library.
runs_from_build_tree() {
  local out lib
  lib=$(ldd "$1" | awk '/libaiod\.so/ {print $3}')
  [[ "$lib" == "$build"/* ]] || fail "$1 loads libaiod from '$lib', not from the build tree $build"
  out=$(cd "$work" && "$1" "$work/$(basename "$1").txt" 2>&1) || fail "$1 failed: $out"
  [[ "$out" == ok:* ]] || fail "$1 printed: $out"
}

note "CMake: find_package(aiod) with CMAKE_PREFIX_PATH=$build"
cmake -S "$src/tests/packaging/external" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$build" > "$work/cmake.log" 2>&1 ||
  fail "configuring against the build tree failed: $(tail -n 20 "$work/cmake.log")"
cmake --build "$work/cmake" > "$work/cmake-build.log" 2>&1 || fail "building failed: $(tail -n 20 "$work/cmake-build.log")"
runs_from_build_tree "$work/cmake/aiod-example"

note "pkg-config: PKG_CONFIG_PATH=$build/pkgconfig"
export PKG_CONFIG_PATH=$build/pkgconfig
[[ "$(pkg-config --variable=libdir aiod)" == "$build"/* ]] || fail "pkg-config found another aiod.pc: $(pkg-config --path aiod)"
read -r -a cflags <<< "$(pkg-config --cflags aiod)"
read -r -a libs <<< "$(pkg-config --libs aiod)"
# No -std= of our own: the .pc file's Cflags must carry what the headers need.
c++ "${cflags[@]}" "$src/tests/packaging/external/example.cpp" "${libs[@]}" -o "$work/example-pkgconfig" ||
  fail "building with pkg-config's flags failed (cflags: ${cflags[*]}, libs: ${libs[*]})"
runs_from_build_tree "$work/example-pkgconfig"

stop_aiod
note "PASS"
