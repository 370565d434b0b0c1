#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined,
# library built with TLP_CHECKED and TLP_POISON) and runs each one for a
# bounded time. Fails on any crash, leak, timeout, out-of-memory or sanitizer
# report; the input that caused it is left in BUILD/artifacts/.
#   scripts/fuzz.sh [SECONDS]            # each target SECONDS (default 60)
#   scripts/fuzz.sh 600 --only pool_ops_fuzzer
#   scripts/fuzz.sh 60 --fast            # unchecked library: the inline fast
#                                        # path and the drain handshake live
#   scripts/fuzz.sh 0 --coverage         # no fuzzing: line coverage of src/ by
#                                        # the seeds and BUILD/corpus (llvm-cov)
#   --build-dir DIR (default build-fuzz, or build-fuzz-fast with --fast)
# New inputs found go to BUILD/corpus/<target>/ (fuzz/corpus/ is only read);
# docs/FUZZING.md says how to run longer and how to keep what was found.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=60 FAST=0 ONLY="" BUILD="" COVERAGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --fast) FAST=1; shift ;;
    --coverage) COVERAGE=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --build-dir) BUILD=$2; shift 2 ;;
    [0-9]*) SECONDS_EACH=$1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$BUILD" ]; then
  BUILD=build-fuzz$([ $FAST = 1 ] && echo -fast || true)
fi
CHECKED=$([ $FAST = 1 ] && echo OFF || echo ON)

CC=$(command -v clang || command -v clang-14 || true)
CXX=$(command -v clang++ || command -v clang++-14 || true)
if [ -z "$CC" ] || [ -z "$CXX" ]; then
  echo "fuzz.sh: clang is required (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DTLP_BUILD_FUZZ=ON -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF -DTLP_BUILD_BENCH=OFF \
  -DTLP_SANITIZE=address,undefined -DTLP_CHECKED=$CHECKED -DTLP_POISON=$CHECKED \
  -DTLP_FUZZ_ENGINE=-fsanitize=fuzzer -DTLP_FUZZ_INSTRUMENT=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
failed=()
for bin in "$BUILD"/fuzz/*_fuzzer; do
  t=$(basename "$bin")
  [ -n "$ONLY" ] && [ "$t" != "$ONLY" ] && continue
  [ "$SECONDS_EACH" = 0 ] && continue
  # The .options file's max_len and dict, as OSS-Fuzz would pass them.
  args=()
  opts=fuzz/$t.options
  if [ -f "$opts" ]; then
    ml=$(sed -n 's/^max_len *= *//p' "$opts")
    [ -n "$ml" ] && args+=("-max_len=$ml")
    dict=$(sed -n 's/^dict *= *//p' "$opts")
    [ -n "$dict" ] && args+=("-dict=fuzz/$dict")
  fi
  mkdir -p "$BUILD/corpus/$t"
  rm -f "$BUILD/artifacts/$t-"*
  log=$BUILD/logs/$t.log
  echo "=== $t: ${SECONDS_EACH}s (log: $log)"
  rc=0
  "$bin" "${args[@]}" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" \
    "$BUILD/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true
  grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" || true
  if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|model check failed' "$log"; then
    echo "FAILED: $t (exit $rc)"
    grep -E 'model check failed|ERROR:|SUMMARY:|runtime error:|Test unit written' "$log" | head -20 || true
    failed+=("$t")
  fi
done

if ls "$BUILD"/artifacts/* >/dev/null 2>&1; then
  echo "inputs saved by libFuzzer:"
  ls -l "$BUILD"/artifacts/
fi
# Source-based coverage of the library: the same targets linked with the
# replay driver instead of libFuzzer, run once over every corpus file.
if [ $COVERAGE = 1 ]; then
  CB=$BUILD-cov
  PROFDATA=$(command -v llvm-profdata || command -v llvm-profdata-14)
  LLVMCOV=$(command -v llvm-cov || command -v llvm-cov-14)
  CFL="-O1 -g -fprofile-instr-generate -fcoverage-mapping"
  cmake -S . -B "$CB" -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_C_FLAGS="$CFL" -DCMAKE_CXX_FLAGS="$CFL" \
    -DCMAKE_EXE_LINKER_FLAGS=-fprofile-instr-generate \
    -DTLP_BUILD_FUZZ=ON -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF -DTLP_BUILD_BENCH=OFF \
    -DTLP_SANITIZE= -DTLP_CHECKED=$CHECKED -DTLP_POISON=OFF \
    -DTLP_FUZZ_ENGINE=replay -DTLP_FUZZ_INSTRUMENT=OFF >/dev/null
  cmake --build "$CB" -j"$(nproc)" >/dev/null
  rm -rf "$CB/prof"
  mkdir -p "$CB/prof"
  objs=()
  for bin in "$CB"/fuzz/*_fuzzer; do
    t=$(basename "$bin")
    [ -n "$ONLY" ] && [ "$t" != "$ONLY" ] && continue
    dirs=("fuzz/corpus/$t")
    [ -d "$BUILD/corpus/$t" ] && dirs+=("$BUILD/corpus/$t")
    LLVM_PROFILE_FILE="$CB/prof/$t.profraw" "$bin" "${dirs[@]}" >/dev/null 2>&1 \
      || { echo "coverage: $t failed on its corpus"; failed+=("$t"); }
    objs+=(-object "$bin")
  done
  "$PROFDATA" merge -o "$CB/fuzz.profdata" "$CB"/prof/*.profraw
  echo "=== coverage of src/ by the corpora (fuzz/corpus and $BUILD/corpus)"
  "$LLVMCOV" report "${objs[@]:1}" -instr-profile="$CB/fuzz.profdata" src/*.c
  echo "(html: $LLVMCOV show ${objs[*]:1} -instr-profile=$CB/fuzz.profdata -format=html -output-dir=$CB/html src)"
fi

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: failures in: ${failed[*]}"
  echo "replay one with: $BUILD/fuzz/<target> <artifact>  (or <target>_replay from a test build)"
  exit 1
fi
[ "$SECONDS_EACH" = 0 ] || echo "fuzz.sh: all targets ran ${SECONDS_EACH}s with no finding"
