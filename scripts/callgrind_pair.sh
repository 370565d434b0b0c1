#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per get/put pair of a 64-byte object on one thread, counted
# by valgrind --tool=callgrind for each contender: the noise-free figure
# behind issue 2's "at most 25 instructions" and issue 3's "at most 6 more".
#
# bench/pair_count.c does exactly N pairs; it runs with N and with 2N pairs
# and the script prints (Ir(2N) - Ir(N)) / N, so start-up, the allocator's
# initialisation and teardown cancel out. The loop does 8 pairs per turn,
# so its own overhead is about a quarter of an instruction per pair.
#
#   scripts/callgrind_pair.sh                       # every contender
#   scripts/callgrind_pair.sh --contenders glibc,tlpool --pairs 500000
# Contenders: glibc jemalloc mimalloc tcmalloc (malloc+free), tlpool (the
# inline fast path), tlpool_noinline (-DTLP_NO_INLINE: the out-of-line
# calls), tlpool_nohandshake (-DTLP_MEASURE_NO_HANDSHAKE: the fast path
# without the drain handshake, i.e. before issue 3; for measuring only),
# tlpool_scoped (-DTLPB_PAIR_SCOPED: the pair written with TLP_SCOPED),
# tlpool_reset (-DTLPB_PAIR_RESET: a pool whose obj_reset clears the 64 bytes),
# tlpool_leaks and tlpool_leaks64 (a leak-tracked pool: leak_sample 1 and
# 64).
# Options: --build-dir DIR (default build-bench), --no-build, --out FILE
# (also write the table there), --batch (count bench/batch_count.c instead:
# rounds of 1024 gets then 1024 puts, the threads_batch/n:1024 scenario on
# one thread; prints instructions per object taken and given back, with
# --pairs N read as N rounds, default 100; the tlpool variants other than
# tlpool do not apply).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build-bench PAIRS="" BUILD_IT=1 OUT="" PROG=pair_count
CONTENDERS=glibc,jemalloc,mimalloc,tcmalloc,tlpool,tlpool_noinline,tlpool_nohandshake,tlpool_scoped,tlpool_reset,tlpool_leaks,tlpool_leaks64
while [ $# -gt 0 ]; do
  case "$1" in
    --contenders) CONTENDERS=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --no-build) BUILD_IT=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    --batch) PROG=batch_count; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "callgrind_pair.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "callgrind_pair.sh: valgrind is not installed (scripts/install_deps.sh)" >&2; exit 1; }
IFS=, read -r -a LIST <<<"$CONTENDERS"
if [ $PROG = batch_count ]; then
  PAIRS=${PAIRS:-100} PER=1024 UNIT="object (get+put of a batch of 1024)"
  kept=()
  for c in "${LIST[@]}"; do
    [[ $c == tlpool?* ]] || kept+=("$c")
  done
  LIST=("${kept[@]}")
else
  PAIRS=${PAIRS:-200000} PER=1 UNIT=pair
fi

if [ $BUILD_IT = 1 ]; then
  . scripts/bench_build.sh
  bench_configure "$BUILD"
  targets=()
  for c in "${LIST[@]}"; do
    if bench_built "$BUILD" "$c"; then
      targets+=("${PROG}_$c")
    fi
  done
  bench_make "$BUILD" "${targets[@]}"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Total instructions (callgrind's "summary:" line) of one run with $2 pairs.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$1" "$2" >/dev/null 2>"$TMP/vg.err" ||
    { cat "$TMP/vg.err" >&2; return 1; }
  awk '/^summary:/ { print $2; exit }' "$TMP/cg.out"
}

table=$(
  printf '%-20s %18s\n' contender "instructions/$([ $PER = 1 ] && echo pair || echo object)"
  for c in "${LIST[@]}"; do
    exe=$BUILD/bench/${PROG}_$c
    if [ ! -x "$exe" ]; then
      printf '%-20s %18s\n' "$c" skipped
      continue
    fi
    if ir1=$(instructions "$exe" "$PAIRS") && ir2=$(instructions "$exe" $((2 * PAIRS))); then
      printf '%-20s %18s\n' "$c" "$(awk -v a="$ir1" -v b="$ir2" -v n="$((PAIRS * PER))" 'BEGIN { printf "%.2f", (b - a) / n }')"
    else
      printf '%-20s %18s\n' "$c" failed
    fi
  done
)
echo "$table"
if [ $PER = 1 ]; then
  echo "(64-byte get/put or malloc/free pair, one thread; (Ir(2N) - Ir(N)) / N with N = $PAIRS)"
else
  echo "(64-byte $UNIT, one thread; (Ir(2N) - Ir(N)) / (1024 N) with N = $PAIRS rounds)"
fi
if [ -n "$OUT" ]; then
  { echo "$table"; echo "pairs: $PAIRS"; } >"$OUT"
fi
