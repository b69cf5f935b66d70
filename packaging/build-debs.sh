#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian packages aiod, libaiod1 and libaiod-dev into OUTDIR,
# with their debug symbols in aiod-dbgsym and libaiod1-dbgsym.
#
#   packaging/build-debs.sh [--build-dir DIR] OUTDIR [-- CMAKE_ARGS...]
#
# Configures aiod for the /usr prefix with the compiler and linker flags of
# `dpkg-buildflags` (DEB_BUILD_MAINT_OPTIONS=hardening=+all unless set),
# builds the daemon, aioctl and libaiod (no tests, benchmarks or examples),
# installs each CMake install component into its own tree (daemon -> aiod,
# runtime -> libaiod1, dev -> libaiod-dev, see cmake/install.cmake), moves
# the debug information into the -dbgsym packages as dh_strip does, adds the
# Debian metadata, maintainer scripts (packaging/debian/) and lintian
# overrides (packaging/lintian/), and runs dpkg-deb. It needs dpkg-dev's
# tools and binutils, not debhelper, and no root: files in the packages
# belong to root:root anyway (dpkg-deb --root-owner-group).
#
# --build-dir keeps the build between runs, so the next one is incremental;
# without it a temporary build directory is used and removed.
# Prints the paths of the packages, one per line: three .deb files, then the
# two -dbgsym packages, named .ddeb (as Ubuntu names them) so that
# `apt-get install ./OUTDIR/*.deb` installs only the packages themselves.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;/SPDX-License-Identifier/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit "$1"
}
die() {
  echo "build-debs: $*" >&2
  exit 1
}

build_dir=""
out=""
cmake_args=()
while (($# > 0)); do
  case "$1" in
    --build-dir) (($# >= 2)) || usage 2; build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    -h | --help) usage 0 ;;
    --) shift; cmake_args=("$@"); break ;;
    -*) usage 2 ;;
    *) [[ -z "$out" ]] || usage 2; out=$1; shift ;;
  esac
done
[[ -n "$out" ]] || usage 2

for tool in cmake dpkg dpkg-deb dpkg-buildflags dpkg-gensymbols dpkg-shlibdeps gzip strip objcopy readelf md5sum; do
  command -v "$tool" > /dev/null || die "'$tool' is missing (Debian packages: cmake, dpkg-dev, binutils)"
done

version=$(sed -n 's/^project(aiod VERSION \([0-9][0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
[[ -n "$version" ]] || die "cannot read the version from CMakeLists.txt"
debversion="$version-${AIOD_DEB_REVISION:-1}"
arch=$(dpkg --print-architecture)
maintainer=${AIOD_DEB_MAINTAINER:-"aiod maintainers <maintainers@aiod.invalid>"}
# Dates and timestamps from the last commit, so that a rebuild of the same
# tree gives the same packages.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2> /dev/null || date +%s)}

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/aiod-debs.XXXXXX")
trap 'rm -rf "$work"' EXIT
[[ -n "$build_dir" ]] || build_dir=$work/build

# Debian's build flags: -fstack-protector-strong, -D_FORTIFY_SOURCE=2, -z relro,
# -z now (PIE is GCC's default on Debian), and -ffile-prefix-map for the
# source tree, hence run from its root. CMake has no CPPFLAGS: they go in
# front of the compiler flags. Passed as cache entries, not through the
# environment, which CMake reads only when it creates a build directory.
export DEB_BUILD_MAINT_OPTIONS=${DEB_BUILD_MAINT_OPTIONS:-hardening=+all}
buildflag() { (cd "$root" && dpkg-buildflags --get "$1"); }
cppflags=$(buildflag CPPFLAGS)
ldflags=$(buildflag LDFLAGS)

echo "build-debs: configuring and building aiod $version in $build_dir" >&2
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DAIOD_BUILD_TESTS=OFF -DAIOD_BUILD_BENCH=OFF -DAIOD_BUILD_EXAMPLES=OFF -DAIOD_WERROR=ON \
  -DCMAKE_C_FLAGS="$cppflags $(buildflag CFLAGS)" -DCMAKE_CXX_FLAGS="$cppflags $(buildflag CXXFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags" -DCMAKE_MODULE_LINKER_FLAGS="$ldflags" \
  "${cmake_args[@]}" > "$work/configure.log" || { cat "$work/configure.log" >&2; die "cmake configure failed"; }
cmake --build "$build_dir" -j "$(nproc)" > "$work/build.log" || { tail -50 "$work/build.log" >&2; die "build failed"; }

# Anything installed without a component would end up in no package.
DESTDIR="$work/unspecified" cmake --install "$build_dir" --component Unspecified > /dev/null
if [[ -d "$work/unspecified" ]] && [[ -n "$(find "$work/unspecified" -type f -print -quit)" ]]; then
  die "install rules without a COMPONENT: $(cd "$work/unspecified" && find . -type f | tr '\n' ' ')"
fi

# dpkg-shlibdeps wants to run next to debian/control and the packages' trees.
mkdir -p "$work/debian"
printf 'Source: aiod\n' > "$work/debian/control"

is_elf() { [[ "$(head -c 4 "$1" | tr -d '\0')" == $'\x7fELF' ]]; }

# split_debug PACKAGE FILE: what dh_strip does to one ELF file of PACKAGE.
# Its debug information goes to PACKAGE-dbgsym, named by the file's build
# id (/usr/lib/debug/.build-id/xx/yyyy.debug, where gdb and debuginfod
# look), then the file is stripped (shared libraries keep the symbols
# other objects need) and gets a .gnu_debuglink to that file. The build id
# is added to the list for the Build-Ids field.
split_debug() {
  local pkg=$1 file=$2 id debug
  id=$(readelf --notes "$file" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')
  [[ -n "$id" ]] || die "$file has no build id"
  debug="$work/debian/$pkg-dbgsym/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
  mkdir -p "$(dirname "$debug")"
  objcopy --only-keep-debug --compress-debug-sections "$file" "$debug"
  chmod 0644 "$debug"
  case "$file" in
    *.so | *.so.*) strip --remove-section=.comment --remove-section=.note --strip-unneeded "$file" ;;
    *) strip --remove-section=.comment --remove-section=.note "$file" ;;
  esac
  objcopy --add-gnu-debuglink="$debug" "$file"
  printf '%s\n' "$id" >> "$work/$pkg.build-ids"
}

# stage PACKAGE COMPONENT: installs the component and tidies it as Debian
# policy asks (stripped binaries with separate debug information, compressed
# man pages, copyright, changelog, lintian overrides).
stage() {
  local pkg=$1 component=$2 dir="$work/debian/$1"
  DESTDIR="$dir" cmake --install "$build_dir" --component "$component" > /dev/null
  while IFS= read -r -d '' f; do
    if is_elf "$f"; then split_debug "$pkg" "$f"; fi
  done < <(find "$dir" -type f -print0 | sort -z)
  if [[ -d "$dir/usr/share/man" ]]; then find "$dir/usr/share/man" -type f -exec gzip -9n {} +; fi
  docs "$pkg" "$dir"
  if [[ -f "$here/lintian/$pkg" ]]; then
    install -D -m 0644 "$here/lintian/$pkg" "$dir/usr/share/lintian/overrides/$pkg"
  fi
  mkdir -p "$dir/DEBIAN"
  find "$dir" -type d -exec chmod 0755 {} +
}

# docs PACKAGE DIR: the copyright and changelog every package has, in
# /usr/share/doc/PACKAGE.
docs() {
  local pkg=$1 doc="$2/usr/share/doc/$1"
  mkdir -p "$doc"
  install -m 0644 "$here/debian/copyright" "$doc/copyright"
  {
    printf '%s (%s) unstable; urgency=medium\n\n' "$pkg" "$debversion"
    printf '  * Built from the aiod %s source tree.\n\n' "$version"
    printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
  } | gzip -9n > "$doc/changelog.Debian.gz"
}

# shlibs_of FILE...: the Depends dpkg-shlibdeps computes for these binaries.
shlibs_of() {
  (cd "$work" && dpkg-shlibdeps -O "${@/#/debian/}" 2> "$work/shlibdeps.log") | sed -n 's/^shlibs:Depends=//p'
}

# finish PACKAGE [--ddeb] FIELDS...: writes DEBIAN/control and md5sums, and
# builds the package (.ddeb with --ddeb, else .deb).
finish() {
  local pkg=$1 dir="$work/debian/$1" ext=deb
  shift
  if [[ "${1:-}" == --ddeb ]]; then ext=ddeb; shift; fi
  local size
  size=$(du -sk --exclude=DEBIAN "$dir" | cut -f1)
  {
    printf 'Package: %s\nSource: aiod\nVersion: %s\nArchitecture: %s\nMaintainer: %s\nInstalled-Size: %s\n' \
      "$pkg" "$debversion" "$arch" "$maintainer" "$size"
    printf '%s\n' "$@"
  } > "$dir/DEBIAN/control"
  (cd "$dir" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r md5sum) \
    > "$dir/DEBIAN/md5sums"
  local deb="$out/${pkg}_${debversion}_${arch}.$ext"
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$deb" > /dev/null
  echo "$deb"
}

# finish_dbgsym PACKAGE [FIELDS...]: PACKAGE-dbgsym, with the fields
# dh_gencontrol gives such a package.
finish_dbgsym() {
  local pkg=$1 dir="$work/debian/$1-dbgsym"
  shift
  # Its documentation is PACKAGE's, which it depends on exactly.
  mkdir -p "$dir/usr/share/doc" "$dir/DEBIAN"
  ln -s "$pkg" "$dir/usr/share/doc/$pkg-dbgsym"
  find "$dir" -type d -exec chmod 0755 {} +
  finish "$pkg-dbgsym" --ddeb \
    "Depends: $pkg (= $debversion)" "Section: debug" "Priority: optional" "$@" \
    "Auto-Built-Package: debug-symbols" \
    "Description: debug symbols for $pkg" \
    "Build-Ids: $(LC_ALL=C sort "$work/$pkg.build-ids" | tr '\n' ' ' | sed 's/ $//')"
}

stage aiod daemon
stage libaiod1 runtime
stage libaiod-dev dev

# --- aiod: the daemon, aioctl, units, sysusers.d entry, man pages ---------------
install -m 0755 "$here/debian/aiod.postinst" "$work/debian/aiod/DEBIAN/postinst"
install -m 0755 "$here/debian/aiod.prerm" "$work/debian/aiod/DEBIAN/prerm"
install -m 0755 "$here/debian/aiod.postrm" "$work/debian/aiod/DEBIAN/postrm"
(cd "$work/debian/aiod" && find etc -type f -printf '/%p\n') > "$work/debian/aiod/DEBIAN/conffiles"
aiod_depends=$(shlibs_of aiod/usr/sbin/aiod aiod/usr/bin/aioctl)
# postinst creates the user and group with systemd-sysusers alone, as
# dh_installsysusers does, so aiod depends on what that helper asks for:
# any package that brings systemd-sysusers. There is no adduser fallback:
# a maintainer script that called adduser would have to depend on adduser
# (Debian policy), and the sysusers.d entry stays the one place where the
# user is described (systemd also applies it at boot).
finish aiod \
  "Section: admin" "Priority: optional" \
  "Depends: $aiod_depends, systemd | systemd-standalone-sysusers | systemd-sysusers" \
  "Suggests: libaiod-dev" \
  "Description: asynchronous IO daemon on io_uring with shared-memory rings" \
  " aiod gives programs an io_uring-like asynchronous API (batches of" \
  " operations, linked chains, timeouts, cancellation) through a per-host" \
  " daemon. Clients write operation descriptors into a shared-memory ring and" \
  " read completions back; the daemon runs them on io_uring with each" \
  " client's own credentials." \
  " ." \
  " This package contains the daemon, the aioctl inspection tool, systemd" \
  " units (a socket-activated system service and a per-user service) and" \
  " manual pages. Members of the group aiod may use the system daemon."

# --- libaiod1: the shared library under its SONAME -------------------------------
lib=$(cd "$work/debian/libaiod1" && find . -name 'libaiod.so.*' -type f -printf '%P\n' | head -1)
[[ -n "$lib" ]] || die "libaiod's shared library is missing from the runtime component"
soname_link=$(cd "$work/debian/libaiod1" && find . -name 'libaiod.so.1' -printf '%P\n' | head -1)
[[ -n "$soname_link" ]] || die "libaiod.so.1 (the SONAME link) is missing from the runtime component"
printf 'libaiod 1 libaiod1 (>= %s)\n' "$version" > "$work/debian/libaiod1/DEBIAN/shlibs"
# The symbols file: every exported symbol, each needing libaiod1 (>= this
# upstream version), from dpkg-gensymbols on the built library. A consumer's
# dpkg-shlibdeps prefers it to shlibs. Made at each build, it tells users
# what the library exports; checking it against a kept list belongs to the
# first release that promises a stable ABI.
(cd "$work" && dpkg-gensymbols -plibaiod1 -Pdebian/libaiod1 -v"$version" -c0 -q \
  -O"debian/libaiod1/DEBIAN/symbols.new") || die "dpkg-gensymbols failed"
sed '1a\* Build-Depends-Package: libaiod-dev' "$work/debian/libaiod1/DEBIAN/symbols.new" \
  > "$work/debian/libaiod1/DEBIAN/symbols"
rm "$work/debian/libaiod1/DEBIAN/symbols.new"
printf 'activate-noawait ldconfig\n' > "$work/debian/libaiod1/DEBIAN/triggers"
lib_depends=$(shlibs_of "libaiod1/$lib")
finish libaiod1 \
  "Section: libs" "Priority: optional" "Multi-Arch: same" \
  "Depends: $lib_depends" \
  "Description: client library for the aiod asynchronous IO daemon" \
  " libaiod is the C++20 client library of aiod: it connects to the daemon," \
  " maps the shared-memory rings and offers single, batched and queued" \
  " asynchronous IO operations." \
  " ." \
  " This package contains the shared library."

# --- libaiod-dev: headers, libaiod.so, pkg-config and CMake files -------------------
finish libaiod-dev \
  "Section: libdevel" "Priority: optional" "Multi-Arch: same" \
  "Depends: libaiod1 (= $debversion)" \
  "Recommends: aiod" \
  "Description: client library for the aiod asynchronous IO daemon (development files)" \
  " libaiod is the C++20 client library of aiod: it connects to the daemon," \
  " maps the shared-memory rings and offers single, batched and queued" \
  " asynchronous IO operations." \
  " ." \
  " This package contains the headers, the pkg-config file (aiod.pc) and the" \
  " CMake package: find_package(aiod), then link the target aiod::client."

# --- the debug symbols of aiod and libaiod1 ------------------------------------------
finish_dbgsym aiod
finish_dbgsym libaiod1 "Multi-Arch: same"
