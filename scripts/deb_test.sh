#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian packages (debian/) from a copy of this tree, runs lintian
# on them (errors fail), installs them, builds a C program with pkg-config and
# a C++ program with find_package(tlpool) against the installed packages,
# runs both, checks the man pages are installed, then removes the packages.
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
  apt-get install -y -qq debhelper dpkg-dev lintian cmake g++ gcc pkg-config man-db >/dev/null
fi

rm -rf "$OUT"; mkdir -p "$OUT/src/tlpool"
# A copy without build trees or git metadata: dpkg-buildpackage writes into
# the source tree and its parent.
tar --exclude='./build*' --exclude=./.git --exclude='./obj-*' -cf - . | tar -xf - -C "$OUT/src/tlpool"
(cd "$OUT/src/tlpool" &&
 DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b >"$OUT/build.log" 2>&1) ||
  { tail -40 "$OUT/build.log"; echo "deb test: dpkg-buildpackage failed"; exit 1; }
DEBS=$(ls "$OUT"/src/*.deb | grep -v dbgsym)
echo "built: $(cd "$OUT/src" && ls *.deb | tr '\n' ' ')"

# lintian: errors fail the step; warnings are printed.
lintian --fail-on error --allow-root "$OUT"/src/*.changes | tee "$OUT/lintian.log"

PKGS="libtlpool2 libtlpool-dev tlpool-doc"
APT="apt-get -y -qq -o DPkg::Lock::Timeout=300"
cleanup() { [ $KEEP = 1 ] || $APT remove $PKGS >/dev/null 2>&1 || true; }
trap cleanup EXIT
$APT install $DEBS >/dev/null

# C with pkg-config: no -L, no rpath, no LD_LIBRARY_PATH.
cc -std=c11 -Wall -Wextra -Werror tests/consumer/consumer.c $(pkg-config --cflags --libs tlpool) \
  -o "$OUT/consumer_pc"
"$OUT/consumer_pc"
# C++ with find_package(tlpool).
cmake -S tests/deb -B "$OUT/app" >/dev/null
cmake --build "$OUT/app" >/dev/null
"$OUT/app/deb_app"
# Man pages and docs where man and the user look for them.
man -w tlp_pool_create >/dev/null && man -w tlp_put >/dev/null && man -w tlpool.hpp >/dev/null
[ -f /usr/share/doc/tlpool-doc/DESIGN.md.gz ] || [ -f /usr/share/doc/tlpool-doc/DESIGN.md ]
echo "deb test: packages built, lintian clean of errors, pkg-config (C) and find_package (C++) programs ran"
