#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the test suite on a fresh Debian machine: installs the dependencies,
# builds (Debug+asserts by default) and runs every test through ctest.
#   scripts/test.sh                      # gcc build, all tests
#   scripts/test.sh --sanitize address,undefined|thread [--cc clang]
#   scripts/test.sh --checked            # TLP_CHECKED=ON
#   scripts/test.sh --poison             # TLP_POISON=ON (idle objects poisoned; with ASan)
#   scripts/test.sh --build-dir DIR --cc gcc|clang --type Debug|Release
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SAN="" CHECKED=OFF POISON=OFF CC_KIND=gcc TYPE=RelWithDebInfo BUILD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) SAN=$2; shift 2 ;;
    --checked) CHECKED=ON; shift ;;
    --poison) POISON=ON; shift ;;
    --cc) CC_KIND=$2; shift 2 ;;
    --type) TYPE=$2; shift 2 ;;
    --build-dir) BUILD=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$SAN" ] && CC_KIND=clang
if [ -z "$BUILD" ]; then
  BUILD=build-test-$CC_KIND${SAN:+-${SAN//,/-}}$([ $CHECKED = ON ] && echo -checked || true)$([ $POISON = ON ] && echo -poison || true)
fi

bash scripts/install_deps.sh

if [ "$CC_KIND" = clang ]; then CC=clang CXX=clang++; else CC=gcc CXX=g++; fi
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE="$TYPE" \
  -DCMAKE_C_COMPILER=$CC -DCMAKE_CXX_COMPILER=$CXX \
  -DTLP_BUILD_TESTS=ON -DTLP_BUILD_EXAMPLES=ON -DTLP_WERROR=ON \
  -DTLP_SANITIZE="$SAN" -DTLP_CHECKED=$CHECKED -DTLP_POISON=$POISON
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)"
