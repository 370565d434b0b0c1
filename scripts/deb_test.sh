#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian packages (debian/) from a copy of this tree, runs lintian
# on them (errors fail) and checks which package holds which file. Then, on
# this machine (purging any installed copies first): installs the core
# packages (libtlpool2, libtlpool-dev, tlpool-doc) and builds a C program with
# pkg-config and a C++ program with find_package(tlpool) (no tlpool::uv yet);
# adds the libuv adapter packages (libtlpool-uv2, libtlpool-uv-dev) and builds
# a libuv program with `pkg-config tlpool_uv` and with find_package(tlpool) +
# tlpool::uv; runs them all, checks the man pages are installed, then removes
# the packages and checks their files are gone.
# Packages and logs land in $OUT (default build-deb/). Runs as root (CI).
# Usage: scripts/deb_test.sh [--no-deps] [--keep-installed]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
OUT=${OUT:-$SRC/build-deb}
DEPS=1 KEEP=0
for a in "$@"; do
  case $a in
    --no-deps) DEPS=0 ;;
    --keep-installed) KEEP=1 ;;
    *) echo "usage: $0 [--no-deps] [--keep-installed]" >&2; exit 2 ;;
  esac
done
if [ $DEPS = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq debhelper dpkg-dev lintian cmake g++ gcc pkg-config man-db libuv1-dev >/dev/null
fi

rm -rf "$OUT"; mkdir -p "$OUT/src/tlpool"
# A copy without build trees or git metadata: dpkg-buildpackage writes into
# the source tree and its parent.
tar --exclude='./build*' --exclude=./.git --exclude='./obj-*' -cf - . | tar -xf - -C "$OUT/src/tlpool"
(cd "$OUT/src/tlpool" &&
 DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b >"$OUT/build.log" 2>&1) ||
  { tail -40 "$OUT/build.log"; echo "deb test: dpkg-buildpackage failed"; exit 1; }
deb() { ls "$OUT"/src/"$1"_*.deb; }
for p in libtlpool2 libtlpool-dev tlpool-doc libtlpool-uv2 libtlpool-uv-dev; do deb $p >/dev/null; done
echo "built: $(cd "$OUT/src" && ls *.deb | tr '\n' ' ')"
grep -q '^ *dh_missing --fail-missing' "$OUT/build.log" || { echo "deb test: dh_missing did not run"; exit 1; }

# lintian: errors fail the step; warnings are printed.
lintian --fail-on error --allow-root "$OUT"/src/*.changes | tee "$OUT/lintian.log"

# Which package holds what: the adapter's files only in its own packages.
has() { dpkg-deb -c "$(deb "$1")" | awk '{print $6}' | grep -Ec "$2" || true; }
want() { # package, regex, expected count
  local n; n=$(has "$1" "$2")
  [ "$n" = "$3" ] || { echo "deb test: $1 holds $n files matching '$2', expected $3"; dpkg-deb -c "$(deb "$1")"; exit 1; }
}
want libtlpool2 'tlpool_uv|tlpoolUv' 0
want libtlpool-dev 'tlpool_uv\.(h|pc)|libtlpool_uv|tlpoolUv|/tlp_uv_' 0
want libtlpool-uv2 '/libtlpool_uv\.so\.2(\.[0-9]+)*$' 2
want libtlpool-uv2 '\.(h|pc|cmake|a)$|/libtlpool\.so' 0
want libtlpool-uv-dev '/usr/include/tlpool_uv\.h$|/libtlpool_uv\.so$|/pkgconfig/tlpool_uv\.pc$' 3
want libtlpool-uv-dev '/cmake/tlpool/tlpoolUvTargets(-[a-z]+)?\.cmake$' 2
want libtlpool-uv-dev '/man3/tlp_uv_(alloc|buf_release)\.3\.gz$' 2
want libtlpool-uv-dev 'tlpool\.(h|hpp|pc)$|libtlpool\.|tlpoolConfig|tlpoolTargets|/man3/tlp_[^u]|/man3/tlpool' 0
dpkg-deb -f "$(deb libtlpool-uv2)" Depends | grep -q 'libtlpool2 (>= ' ||
  { echo "deb test: libtlpool-uv2 does not depend on libtlpool2"; exit 1; }

CORE="libtlpool2 libtlpool-dev tlpool-doc"
UV="libtlpool-uv2 libtlpool-uv-dev"
APT="apt-get -y -qq -o DPkg::Lock::Timeout=300"
cleanup() { [ $KEEP = 1 ] || $APT purge $UV $CORE >/dev/null 2>&1 || true; }
trap cleanup EXIT
# A clean start: none of them installed from an earlier run.
$APT purge $UV $CORE >/dev/null 2>&1 || true

# 1. The core packages alone: no tlpool::uv, no tlpool_uv.pc.
$APT install $(for p in $CORE; do deb $p; done) >/dev/null
# C with pkg-config: no -L, no rpath, no LD_LIBRARY_PATH.
cc -std=c11 -Wall -Wextra -Werror tests/consumer/consumer.c $(pkg-config --cflags --libs tlpool) \
  -o "$OUT/consumer_pc"
"$OUT/consumer_pc"
# C++ with find_package(tlpool).
cmake -S tests/deb -B "$OUT/app" >/dev/null
cmake --build "$OUT/app" >/dev/null
"$OUT/app/deb_app"
if [ -e "$OUT/app/deb_uv" ] || pkg-config --exists tlpool_uv; then
  echo "deb test: the core packages alone provide the libuv adapter"; exit 1
fi
# Man pages and docs where man and the user look for them.
man -w tlp_pool_create >/dev/null && man -w tlp_put >/dev/null && man -w tlpool.hpp >/dev/null
! man -w tlp_uv_alloc >/dev/null 2>&1 || { echo "deb test: the core packages hold the adapter's man pages"; exit 1; }
[ -f /usr/share/doc/tlpool-doc/DESIGN.md.gz ] || [ -f /usr/share/doc/tlpool-doc/DESIGN.md ]

# 2. The libuv adapter (apt brings libuv1-dev if it is missing).
$APT install $(for p in $UV; do deb $p; done) >/dev/null
# C with `pkg-config tlpool_uv` (Requires: tlpool, libuv).
cc -Wall -Wextra -Werror tests/deb/deb_uv.c $(pkg-config --cflags --libs tlpool_uv) -o "$OUT/deb_uv_pc"
"$OUT/deb_uv_pc"
man -w tlp_uv_alloc >/dev/null && man -w tlp_uv_buf_release >/dev/null
# find_package(tlpool) now has tlpool::uv.
cmake -S tests/deb -B "$OUT/app_uv" >/dev/null
cmake --build "$OUT/app_uv" >/dev/null
[ -x "$OUT/app_uv/deb_uv" ] || { echo "deb test: find_package(tlpool) has no tlpool::uv"; exit 1; }
"$OUT/app_uv/deb_uv"
"$OUT/app_uv/deb_app"

# 3. Removal: the adapter first (the core stays usable), then the rest.
if [ $KEEP = 0 ]; then
  gone() { # package...: not installed, and none of its files left
    for p in "$@"; do
      if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
        echo "deb test: $p still installed after purge"; exit 1
      fi
      for f in $(dpkg-deb -c "$(deb "$p")" | awk '$1 !~ /^d/ {print substr($6, 2)}'); do
        [ ! -e "$f" ] && [ ! -L "$f" ] || { echo "deb test: $f left after removing $p"; exit 1; }
      done
    done
  }
  $APT purge $UV >/dev/null
  gone $UV
  ! pkg-config --exists tlpool_uv || { echo "deb test: tlpool_uv.pc left"; exit 1; }
  rm -rf "$OUT/app"
  cmake -S tests/deb -B "$OUT/app" >/dev/null
  cmake --build "$OUT/app" >/dev/null
  [ ! -e "$OUT/app/deb_uv" ] || { echo "deb test: tlpool::uv still found after removing it"; exit 1; }
  "$OUT/app/deb_app" >/dev/null
  $APT purge $CORE >/dev/null
  gone $CORE
  removed=", removed"
fi
echo "deb test: 5 packages built, lintian clean of errors, pkg-config (C) and find_package (C++)" \
     "programs ran, libuv adapter ran through pkg-config and find_package${removed:-}"
