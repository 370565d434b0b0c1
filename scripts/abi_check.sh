#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ABI check: builds libtlpool.so (release with debug info, library only) and
# compares it with abidiff against the baseline abi/libtlpool.abi, written by
# abidw from the same build. Fails when an exported function or variable is
# removed or changed, or when a type the ABI reaches changes (the config and
# stats structs, the inline fast path's tlp__ structs and TLS variable).
# Added functions are reported and pass; fields appended at the end of the
# sized config/stats structs pass (abi/suppressions.ini).
#
#   scripts/abi_check.sh            check (CI)
#   scripts/abi_check.sh --update   re-baseline after an intended ABI change:
#                                   commit abi/libtlpool.abi with the change,
#                                   and bump TLP_ABI_VERSION / the SONAME if
#                                   old binaries can no longer run.
# Options: --build-dir DIR (default build-abi), --no-deps.
# Needs abigail-tools (apt-get install abigail-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-abi UPDATE=0 DEPS=1
while [ $# -gt 0 ]; do
  case $1 in
    --update) UPDATE=1 ;;
    --build-dir) BUILD=$2; shift ;;
    --no-deps) DEPS=0 ;;
    *) echo "usage: $0 [--update] [--build-dir DIR] [--no-deps]" >&2; exit 2 ;;
  esac
  shift
done
if [ $DEPS = 1 ] && ! command -v abidiff >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq abigail-tools cmake gcc g++ >/dev/null
fi
BASE=abi/libtlpool.abi
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLP_BUILD_TESTS=OFF \
  -DTLP_BUILD_EXAMPLES=OFF -DTLP_BUILD_UV=OFF >/dev/null
cmake --build "$BUILD" --target tlpool -j"$(nproc)" >/dev/null
LIB=$(find "$BUILD" -name 'libtlpool.so.*.*' -type f | head -1)
DUMP=(abidw --headers-dir include --drop-undefined-syms --no-corpus-path --no-comp-dir-path
      --no-show-locs --type-id-style hash)
if [ $UPDATE = 1 ]; then
  mkdir -p abi
  "${DUMP[@]}" --out-file "$BASE" "$LIB"
  echo "abi check: baseline $BASE rewritten from $LIB"
  exit 0
fi
[ -f "$BASE" ] || { echo "abi check: no baseline $BASE (scripts/abi_check.sh --update)"; exit 1; }
"${DUMP[@]}" --out-file "$BUILD/libtlpool.abi" "$LIB"
set +e
# The verdict ignores added functions and variables (compatible); the second
# run only shows them.
abidiff --suppressions abi/suppressions.ini --no-added-syms "$BASE" "$BUILD/libtlpool.abi" \
  >"$BUILD/abidiff.txt" 2>&1
rc=$?
abidiff --suppressions abi/suppressions.ini "$BASE" "$BUILD/libtlpool.abi" >"$BUILD/abidiff_all.txt" 2>&1
set -e
cat "$BUILD/abidiff_all.txt"
# abidiff's exit status is a bit mask: 1 error, 2 usage, 4 ABI change,
# 8 incompatible change.
if [ $rc -ne 0 ]; then
  echo "abi check: FAILED (abidiff status $rc). If the change is intended, run"
  echo "  scripts/abi_check.sh --update   and commit abi/libtlpool.abi"
  exit 1
fi
echo "abi check: $LIB matches $BASE"
