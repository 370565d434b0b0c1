#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the library (Release) and prints issue 3's memory figure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-memfigure
cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF >/dev/null
cmake --build $BUILD -j"$(nproc)" >/dev/null
cc -O2 -Iinclude scripts/memory_figure.c -o $BUILD/memory_figure -L$BUILD/src -ltlpool \
  -Wl,-rpath,"$PWD/$BUILD/src" -pthread
$BUILD/memory_figure "${1:-200}"
