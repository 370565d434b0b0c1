#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Pooled buffers live in spans, not malloc blocks: checks that valgrind still
# reports a buffer never freed (the library built with TLP_POISON=ON and
# TLP_VALGRIND=ON tells it about each buffer: VALGRIND_MALLOCLIKE_BLOCK).
#   scripts/buf_leak_check.sh [build-dir]      (needs valgrind, Debian: valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-vgleak}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLP_POISON=ON -DTLP_VALGRIND=ON \
  -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF -DTLP_BUILD_BENCH=OFF -DTLP_BUILD_FUZZ=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target tlpool >/dev/null
cc -g -O0 -Iinclude scripts/buf_leak_check.c -o "$BUILD/buf_leak_check" -L"$BUILD/src" -ltlpool \
  -Wl,-rpath,"$PWD/$BUILD/src" -pthread
out=$(valgrind --leak-check=full "$BUILD/buf_leak_check" 2>&1)
if grep -q "definitely lost: 112 bytes in 1 blocks" <<<"$out" && grep -q "buf_leak_check.c:9" <<<"$out"; then
  echo "buf_leak_check: the leaked buffer is reported (definitely lost, with its allocation site)"
else
  echo "$out" >&2
  echo "buf_leak_check: FAILED: valgrind did not report the leaked pooled buffer" >&2
  exit 1
fi
