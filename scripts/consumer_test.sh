#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs tlpool into a temporary prefix and builds a user program against it
# with find_package(tlpool) and with pkg-config, then runs both.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-consumer}
PREFIX=$(mktemp -d)
trap 'rm -rf "$PREFIX"' EXIT
cmake -S . -B "$BUILD/lib" -DCMAKE_BUILD_TYPE=Release -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
cmake --build "$BUILD/lib" -j"$(nproc)" >/dev/null
cmake --install "$BUILD/lib" >/dev/null
cmake -S tests/consumer -B "$BUILD/app" -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
cmake --build "$BUILD/app" >/dev/null
LD_LIBRARY_PATH="$PREFIX/lib:$PREFIX/lib/x86_64-linux-gnu" "$BUILD/app/consumer_cmake"
"$BUILD/app/consumer_static"
# tlpool::uv through the same find_package (libuv is a CI dependency).
if [ -x "$BUILD/app/consumer_uv" ]; then
  LD_LIBRARY_PATH="$PREFIX/lib:$PREFIX/lib/x86_64-linux-gnu" "$BUILD/app/consumer_uv"
  UV=1
else
  echo "consumer test: tlpool::uv not installed (libuv missing?)" >&2
  [ "${CI:-}" = true ] && exit 1
  UV=0
fi
PKG_CONFIG_PATH=$(dirname "$(find "$PREFIX" -name tlpool.pc)")
export PKG_CONFIG_PATH
cc -O2 tests/consumer/consumer.c $(pkg-config --cflags --libs tlpool) -o "$BUILD/consumer_pc"
LD_LIBRARY_PATH=$(pkg-config --variable=libdir tlpool) "$BUILD/consumer_pc"
# The libuv adapter through its own .pc (Requires: tlpool, libuv).
if [ $UV = 1 ]; then
  cc -O2 tests/consumer/consumer_uv.c $(pkg-config --cflags --libs tlpool_uv) -o "$BUILD/consumer_uv_pc"
  LD_LIBRARY_PATH=$(pkg-config --variable=libdir tlpool) "$BUILD/consumer_uv_pc"
fi
echo "consumer test: $((3 + 2 * UV)) passed, 0 failed"
