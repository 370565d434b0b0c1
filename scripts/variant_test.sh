#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build variants are told apart at link and load time. Builds and installs
# the library alone three times (plain, -DTLP_FENCED=ON, -DTLP_CHECKED=ON)
# and checks:
#  - the fenced tlpool.pc carries -DTLP_FENCED, the plain one does not;
#  - a program built (pkg-config) for one handshake mode does not load with
#    the other mode's library: the dynamic linker names the TLS symbol;
#  - the checked library is libtlpool_checked.so with tlpool_checked.pc and
#    find_package(tlpool_checked); a program linked with it does not load
#    with the plain library, and reports the checked feature.
# Usage: scripts/variant_test.sh [--build-dir DIR]   (default build-variant)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build-variant
[ "${1:-}" = --build-dir ] && OUT=$2
OUT=$(realpath -m "$OUT")
fail() { echo "variant test: FAILED: $*"; exit 1; }
for v in plain fenced checked; do
  case $v in plain) opt="" ;; fenced) opt=-DTLP_FENCED=ON ;; checked) opt=-DTLP_CHECKED=ON ;; esac
  cmake -S . -B "$OUT/$v" -DCMAKE_BUILD_TYPE=Debug -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF \
    -DTLP_BUILD_UV=OFF -DTLP_INSTALL_DOCS=OFF -DCMAKE_INSTALL_PREFIX="$OUT/$v/prefix" \
    -DCMAKE_INSTALL_LIBDIR=lib $opt >/dev/null
  cmake --build "$OUT/$v" -j"$(nproc)" >/dev/null
  cmake --install "$OUT/$v" >/dev/null
done
P=$OUT/plain/prefix F=$OUT/fenced/prefix C=$OUT/checked/prefix
pc() { PKG_CONFIG_PATH=$1/lib/pkgconfig pkg-config "${@:2}"; }
prog=tests/variant/variant_prog.c

pc "$F" --cflags tlpool | grep -q -- -DTLP_FENCED || fail "fenced tlpool.pc lacks -DTLP_FENCED"
pc "$P" --cflags tlpool | grep -q -- -DTLP_FENCED && fail "plain tlpool.pc has -DTLP_FENCED"
cc $prog $(pc "$P" --cflags --libs tlpool) -o "$OUT/prog_plain"
cc $prog $(pc "$F" --cflags --libs tlpool) -o "$OUT/prog_fenced"
LD_LIBRARY_PATH=$P/lib "$OUT/prog_plain" || fail "plain program with plain library"
LD_LIBRARY_PATH=$F/lib "$OUT/prog_fenced" || fail "fenced program with fenced library"
if err=$(LD_LIBRARY_PATH=$F/lib "$OUT/prog_plain" 2>&1); then fail "plain program loaded with the fenced library"; fi
grep -q "undefined symbol: tlp__tls" <<<"$err" || fail "unexpected error: $err"
echo "plain program, fenced library: $err"
if err=$(LD_LIBRARY_PATH=$P/lib "$OUT/prog_fenced" 2>&1); then fail "fenced program loaded with the plain library"; fi
grep -q "undefined symbol: tlp__tls_fenced" <<<"$err" || fail "unexpected error: $err"
echo "fenced program, plain library: $err"

ABI=$(awk '/#define TLP_ABI_VERSION/ { print $3 }' include/tlpool.h)
[ -f "$C/lib/libtlpool_checked.so.$ABI" ] || fail "no libtlpool_checked.so.$ABI"
[ -e "$C/lib/libtlpool.so.$ABI" ] && fail "the checked build installed libtlpool.so.$ABI"
cc tests/consumer/consumer.c $(pc "$C" --cflags --libs tlpool_checked) -o "$OUT/consumer_checked"
LD_LIBRARY_PATH=$C/lib "$OUT/consumer_checked" >/dev/null || fail "checked program with checked library"
if err=$(LD_LIBRARY_PATH=$P/lib "$OUT/consumer_checked" 2>&1); then fail "checked program loaded the plain library"; fi
grep -q "libtlpool_checked.so.$ABI" <<<"$err" || fail "unexpected error: $err"
echo "checked program, plain library: $err"
cmake -S tests/consumer -B "$OUT/consumer_cmake_checked" -DTLP_PACKAGE=tlpool_checked \
  -DCMAKE_PREFIX_PATH="$C" >/dev/null
cmake --build "$OUT/consumer_cmake_checked" >/dev/null
readelf -d "$OUT/consumer_cmake_checked/consumer_cmake" | grep -q "libtlpool_checked.so.$ABI" ||
  fail "find_package(tlpool_checked) did not link libtlpool_checked"
"$OUT/consumer_cmake_checked/consumer_cmake" >/dev/null || fail "find_package(tlpool_checked) program"
echo "variant test: fenced/plain mismatches fail to load, checked library has its own name; all passed"
