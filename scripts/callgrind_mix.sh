#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per operation (one free + one allocation) of the buffer mix
# with a tail to 64 KiB (the benchmark buf_mix_64k: one thread, 1000 live
# buffers, 16 B to 64 KiB), counted by valgrind --tool=callgrind for each
# contender: the noise-free companion of that benchmark's timings.
#
# bench/mix_count.c does exactly N operations after a warm-up; it runs with
# N and 2N and the script prints (Ir(2N) - Ir(N)) / N. The loop's own work
# (the random choices, the write into each buffer) is in every figure.
#
#   scripts/callgrind_mix.sh                        # every contender
#   scripts/callgrind_mix.sh --contenders tlpool --ops 50000
# Contenders: glibc jemalloc mimalloc tcmalloc (malloc+free), tlpool (the
# default buffer pool, inline, default per-thread cap), tlpool_nocap (the
# same with TLPOOL_CONF=buf_thread_idle_bytes:none), tlpool_cap1m
# (buf_thread_idle_bytes:1m).
# Options: --mix tail|server (server: buf_server_mix's sizes, up to 16 KiB,
# in one thread), --build-dir DIR (default build-bench), --no-build,
# --out FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build-bench OPS=100000 BUILD_IT=1 OUT="" MIX=tail
CONTENDERS=glibc,jemalloc,mimalloc,tcmalloc,tlpool,tlpool_nocap,tlpool_cap1m
while [ $# -gt 0 ]; do
  case "$1" in
    --contenders) CONTENDERS=$2; shift 2 ;;
    --ops) OPS=$2; shift 2 ;;
    --mix) MIX=$2; shift 2 ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --no-build) BUILD_IT=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "callgrind_mix.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "callgrind_mix.sh: valgrind is not installed (scripts/install_deps.sh)" >&2; exit 1; }
IFS=, read -r -a LIST <<<"$CONTENDERS"

# The program of a contender, and its TLPOOL_CONF.
prog() { case $1 in tlpool*) echo tlpool ;; *) echo "$1" ;; esac; }
conf() { case $1 in tlpool_nocap) echo buf_thread_idle_bytes:none ;; tlpool_cap1m) echo buf_thread_idle_bytes:1m ;; *) echo "" ;; esac; }

if [ $BUILD_IT = 1 ]; then
  . scripts/bench_build.sh
  bench_configure "$BUILD"
  targets=()
  for c in "${LIST[@]}"; do
    p=$(prog "$c")
    if bench_built "$BUILD" "$p"; then
      targets+=("mix_count_$p")
    fi
  done
  bench_make "$BUILD" "${targets[@]}"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Total instructions (callgrind's "summary:" line) of one run of $2 operations.
instructions() {
  TLPOOL_CONF=$3 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$1" "$2" "$MIX" >/dev/null 2>"$TMP/vg.err" ||
    { cat "$TMP/vg.err" >&2; return 1; }
  awk '/^summary:/ { print $2; exit }' "$TMP/cg.out"
}

table=$(
  printf '%-20s %18s\n' contender "instructions/op"
  for c in "${LIST[@]}"; do
    exe=$BUILD/bench/mix_count_$(prog "$c")
    if [ ! -x "$exe" ]; then
      printf '%-20s %18s\n' "$c" skipped
      continue
    fi
    cf=$(conf "$c")
    if ir1=$(instructions "$exe" "$OPS" "$cf") && ir2=$(instructions "$exe" $((2 * OPS)) "$cf"); then
      printf '%-20s %18s\n' "$c" "$(awk -v a="$ir1" -v b="$ir2" -v n="$OPS" 'BEGIN { printf "%.1f", (b - a) / n }')"
    else
      printf '%-20s %18s\n' "$c" failed
    fi
  done
)
echo "$table"
echo "(buffer mix: $MIX, one free + one allocation per op, one thread; (Ir(2N) - Ir(N)) / N with N = $OPS)"
if [ -n "$OUT" ]; then
  { echo "$table"; echo "mix: $MIX, ops: $OPS"; } >"$OUT"
fi
