#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The project's main command: tlpool against glibc, jemalloc, mimalloc and
# tcmalloc, on this machine, for every scenario of bench/, and against Go's
# sync.Pool (bench/go/) for the scenarios that map onto it.
#
#   scripts/bench.sh                     # full run, about 15 minutes on 2 cores (25 with --repetitions 5)
#   scripts/bench.sh --quick             # smoke run, under a minute once built (CI; asserts nothing about speed)
#   scripts/bench.sh --filter 'pair|batch' --contenders glibc,tlpool
#
# It installs the Debian dependencies (scripts/install_deps.sh), builds a
# Release tree in build-bench/ with TLP_BUILD_BENCH=ON, runs each benchmark
# in a process of its own for each contender (so peak RSS is the scenario's
# own), contenders interleaved and repeated so that a noisy neighbour hits
# them alike, writes google-benchmark's JSON under results/<timestamp>/raw/,
# counts instructions per get/put pair under callgrind, and combines it all
# with scripts/bench_report.py into table.txt, table.csv, table.md and
# ratio.png in the same folder.
#
# Options:
#   --quick              1 repetition, 0.01 s per benchmark, no callgrind
#   --filter REGEX       scenarios whose name matches (google-benchmark regex, e.g. '^pair/')
#   --contenders LIST    comma-separated, from: glibc jemalloc mimalloc tcmalloc tlpool tlpool_noinline
#                        go_syncpool go_nopool
#                        (default: glibc,jemalloc,mimalloc,tcmalloc,tlpool,go_syncpool,go_nopool)
#   --repetitions N      runs of each benchmark (default 3)
#   --stat best|median   which repetition the table shows (default best: the
#                        others measure the neighbours; see scripts/bench_report.py)
#   --min-time S         google-benchmark's minimum time per run, seconds (default 0.2)
#   --no-callgrind       skip the instructions-per-pair count
#   --no-install         do not run scripts/install_deps.sh
#   --build-dir DIR      default build-bench
#   --out DIR            default results/<timestamp>
#   --cpus LIST          run every benchmark process under `taskset -c LIST`
#                        (e.g. 0 to put all threads on one CPU, 0,1 to spread
#                        them: the two placements of the threads scenarios)
# Environment: GO=/path/to/go picks the Go toolchain of the go_* contenders
# (default: go in PATH; none: they show as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CONTENDERS=glibc,jemalloc,mimalloc,tcmalloc,tlpool,go_syncpool,go_nopool
ALL_CONTENDERS="glibc jemalloc mimalloc tcmalloc tlpool tlpool_noinline go_syncpool go_nopool"
FILTER="" REPS=3 MIN_TIME=0.2 CALLGRIND=1 INSTALL=1 QUICK=0 STAT=best
BUILD=build-bench OUT="" CPUS=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --filter) FILTER=$2; shift 2 ;;
    --contenders) CONTENDERS=$2; shift 2 ;;
    --repetitions) REPS=$2; shift 2 ;;
    --min-time) MIN_TIME=$2; shift 2 ;;
    --stat) STAT=$2; shift 2 ;;
    --no-callgrind) CALLGRIND=0; shift ;;
    --no-install) INSTALL=0; shift ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ $QUICK = 1 ]; then
  REPS=1 MIN_TIME=0.01 CALLGRIND=0
  # buf_memory: fewer live buffers in a smoke run (4 GB at 4000 B otherwise).
  export TLPB_MEM_BUFFERS=${TLPB_MEM_BUFFERS:-20000}
fi
IFS=, read -r -a WANTED <<<"$CONTENDERS"
for c in "${WANTED[@]}"; do
  case " $ALL_CONTENDERS " in *" $c "*) ;; *)
    echo "bench.sh: unknown contender '$c' (known: $ALL_CONTENDERS)" >&2; exit 2 ;;
  esac
done

PIN=()
if [ -n "$CPUS" ]; then
  command -v taskset >/dev/null || { echo "bench.sh: --cpus needs taskset (util-linux)" >&2; exit 2; }
  PIN=(taskset -c "$CPUS")
fi

T0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }

# ==== Go's sync.Pool: the go_syncpool and go_nopool contenders ===============
# bench/go/ holds Go benchmarks of the scenarios that map onto sync.Pool (the
# pair, Go's own BenchmarkPoolOverflow shape, the seed scenario with and
# without the pool), built offline from the standard library only (go.mod
# without requirements, GOPROXY=off, GOTOOLCHAIN=local, caches in the build
# dir), run with GOMAXPROCS 1 and 2 (-test.cpu 1,2) once per repetition,
# and turned into google-benchmark JSON by scripts/go_bench_json.py so that
# their figures join the same table, CSV and plot. No `go`: skipped.
# GO=/path/to/go picks another Go toolchain.
GO_CMD=${GO:-go}
GO_RUN=()        # the Go contenders that run (go_syncpool, go_nopool)
GO_BIN=""        # the compiled test binary
go_env() {
  env GOPROXY=off GOTOOLCHAIN=local GOFLAGS= GO111MODULE=on GOTELEMETRY=off CGO_ENABLED=0 \
    GOCACHE="$GO_DIR/cache" GOPATH="$GO_DIR/gopath" GOMODCACHE="$GO_DIR/gopath/pkg/mod" "$@"
}
# go_select OUT: which Go contenders were asked for and can run; status lines.
go_select() {
  local c want=()
  for c in "${WANTED[@]}"; do case $c in go_*) want+=("$c") ;; esac; done
  [ ${#want[@]} -gt 0 ] || return 0
  if [ -n "$FILTER" ] && ! python3 scripts/go_bench_json.py match "$FILTER"; then
    return 0 # no Go scenario in this run
  fi
  local why=""
  if ! command -v "$GO_CMD" >/dev/null; then
    why="skipped $GO_CMD not found (Debian: golang-go)"
  else
    GO_DIR=$ROOT/$BUILD/go
    mkdir -p "$GO_DIR"
    if (cd bench/go && go_env "$GO_CMD" test -c -o "$GO_DIR/syncpool.test" .) >"$GO_DIR/build.log" 2>&1; then
      GO_BIN=$GO_DIR/syncpool.test
    else
      why="failed go build: $(head -1 "$GO_DIR/build.log")"
      cat "$GO_DIR/build.log" >&2
    fi
  fi
  for c in "${want[@]}"; do
    if [ -n "$why" ]; then echo "$c $why" >>"$1"; else GO_RUN+=("$c"); fi
  done
}
# go_run_rep REP: one repetition of every Go benchmark, into $OUT/raw.
go_run_rep() {
  [ ${#GO_RUN[@]} -gt 0 ] || return 0
  local txt=$OUT/raw/go_r$1.txt
  printf '  rep %d/%d  go: sync.Pool and bytes.Buffer, GOMAXPROCS 1 and 2\n' "$1" "$REPS"
  if "${PIN[@]}" "$GO_BIN" -test.run '^$' -test.bench . -test.benchmem -test.cpu 1,2 \
      -test.benchtime "${MIN_TIME}s" >"$txt" 2>&1 &&
     python3 scripts/go_bench_json.py convert "$txt" "$OUT/raw" "$1" "$OUT/benchmarks.txt" "$FILTER" >/dev/null; then
    # Only the contenders asked for.
    local c
    for c in go_syncpool go_nopool; do
      [[ " ${GO_RUN[*]} " == *" $c "* ]] || rm -rf "${OUT:?}/raw/$c"
    done
  else
    echo "bench.sh: the Go benchmarks failed, see $txt" >&2
    FAILED=$((FAILED + 1))
  fi
}
# ==== end of the Go section ===================================================

# ---- dependencies and build -------------------------------------------------
if [ $INSTALL = 1 ]; then
  bash scripts/install_deps.sh
fi
echo "== configure and build (Release, $BUILD)"
mkdir -p "$BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTLP_BUILD_BENCH=ON \
  -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF -DTLP_BUILD_FUZZ=OFF >"$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log"; exit 1; }
STATUS_FILE=$BUILD/bench/contenders.txt
[ -f "$STATUS_FILE" ] || { echo "bench.sh: $STATUS_FILE missing: bench/ was not configured" >&2; exit 1; }

# Only what this run needs: one executable per contender (plus the
# callgrind programs).
TARGETS=()
for c in "${WANTED[@]}"; do
  if grep -q "^$c built" "$STATUS_FILE"; then
    TARGETS+=("bench_$c")
    if [ $CALLGRIND = 1 ]; then TARGETS+=("pair_count_$c"); fi
  fi
done
if [ $CALLGRIND = 1 ] && grep -q "^tlpool built" "$STATUS_FILE"; then
  TARGETS+=(pair_count_tlpool pair_count_tlpool_noinline pair_count_tlpool_nohandshake pair_count_tlpool_scoped pair_count_tlpool_reset pair_count_tlpool_leaks pair_count_tlpool_leaks64)
fi
if [ ${#TARGETS[@]} -gt 0 ]; then
  cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}"
fi
echo "== built ($(elapsed))"

# ---- the run ------------------------------------------------------------------
OUT=${OUT:-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/raw"
{
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
  echo "vcpus: $(nproc)"
  echo "kernel: $(uname -sr)"
  echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "compiler: $(${CXX:-c++} --version | head -1)"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (modified)')"
  echo "options: repetitions=$REPS min_time=$MIN_TIME filter='${FILTER}' contenders=$CONTENDERS${CPUS:+ cpus=$CPUS}"
  echo "load_start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

# status.txt: one line per requested contender: "<name> ran", "<name> skipped <why>",
# "<name> failed <why>".
: >"$OUT/status.txt"
RUN=()
for c in "${WANTED[@]}"; do
  case $c in go_*) continue ;; esac # the Go section's
  line=$(grep "^$c " "$STATUS_FILE" || true)
  exe=$BUILD/bench/bench_$c
  if [[ "$line" == "$c built" && -x "$exe" ]]; then
    # The executable refuses to run when its malloc is not the contender's.
    if "$exe" --benchmark_list_tests --benchmark_filter='^$' >/dev/null 2>"$OUT/raw/$c.check"; then
      RUN+=("$c")
    else
      echo "$c failed $(head -1 "$OUT/raw/$c.check")" >>"$OUT/status.txt"
      echo "bench.sh: $c: $(cat "$OUT/raw/$c.check")" >&2
    fi
  elif [ -n "$line" ] && [[ "$line" != "$c built" ]]; then
    echo "$line" >>"$OUT/status.txt"
  else
    echo "$c skipped not built in $BUILD" >>"$OUT/status.txt"
  fi
done
go_select "$OUT/status.txt"
if [ ${#RUN[@]} -eq 0 ] && [ ${#GO_RUN[@]} -eq 0 ]; then
  echo "bench.sh: no contender can run" >&2
  exit 1
fi

# The union of the contenders' benchmark lists, in first-seen order.
declare -A HAS=() SEEN=()
NAMES=()
for c in "${RUN[@]}"; do
  mkdir -p "$OUT/raw/$c"
  while IFS= read -r n; do
    [ -n "$n" ] || continue
    HAS["$c|$n"]=1
    if [ -z "${SEEN["$n"]+x}" ]; then SEEN["$n"]=1; NAMES+=("$n"); fi
  done < <("$BUILD/bench/bench_$c" --benchmark_list_tests ${FILTER:+--benchmark_filter="$FILTER"})
done
if [ ${#NAMES[@]} -eq 0 ] && [ ${#GO_RUN[@]} -eq 0 ]; then
  echo "bench.sh: no benchmark matches --filter '$FILTER'" >&2
  exit 1
fi
printf '%s\n' "${NAMES[@]}" >"$OUT/benchmarks.txt"
GO_NOTE=""
[ ${#GO_RUN[@]} -eq 0 ] || GO_NOTE=", and the Go benchmarks (${GO_RUN[*]})"
echo "== running ${#NAMES[@]} benchmarks x ${#RUN[@]} contenders x $REPS repetitions$GO_NOTE -> $OUT"

# Repetitions outermost, contenders innermost: each contender's run of a
# benchmark sits next to the others', so drift in the machine's load
# spreads over all of them instead of landing on one; and the contenders'
# order rotates from one repetition to the next.
FAILED=0
for rep in $(seq 1 "$REPS"); do
  k=$(( ${#RUN[@]} > 0 ? (rep - 1) % ${#RUN[@]} : 0 ))
  ORDERED=("${RUN[@]:k}" "${RUN[@]:0:k}")
  i=0
  for n in "${NAMES[@]}"; do
    i=$((i + 1))
    idx=$(printf '%03d' "$i")
    printf '  rep %d/%d  %3d/%d  %s\n' "$rep" "$REPS" "$i" "${#NAMES[@]}" "$n"
    for c in "${ORDERED[@]}"; do
      [ -n "${HAS["$c|$n"]+x}" ] || continue
      json=$OUT/raw/$c/r${rep}_$idx.json
      # Names hold only [A-Za-z0-9_/:], so ^name$ selects exactly this one.
      rc=0
      "${PIN[@]}" "$BUILD/bench/bench_$c" --benchmark_filter="^$n\$" --benchmark_min_time="$MIN_TIME" \
        --benchmark_format=json >"$json" 2>>"$OUT/raw/$c/stderr.txt" || rc=$?
      if [ $rc -ne 0 ]; then
        echo "bench.sh: $c $n failed (exit $rc), see $OUT/raw/$c/stderr.txt" >&2
        mv "$json" "$json.failed"
        FAILED=$((FAILED + 1))
      fi
    done
  done
  go_run_rep "$rep"
done
for c in "${RUN[@]}" "${GO_RUN[@]}"; do echo "$c ran" >>"$OUT/status.txt"; done
echo "load_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
echo "== benchmarks done ($(elapsed))"

# ---- instructions per pair (callgrind) ------------------------------------------
if [ $CALLGRIND = 1 ]; then
  if command -v valgrind >/dev/null; then
    CG=()
    for c in "${RUN[@]}"; do CG+=("$c"); done
    if [[ " ${RUN[*]} " == *" tlpool "* ]]; then CG+=(tlpool_noinline tlpool_nohandshake tlpool_scoped tlpool_reset tlpool_leaks tlpool_leaks64); fi
    CG_LIST=$(printf '%s\n' "${CG[@]}" | awk '!seen[$0]++' | paste -sd, -)
    bash scripts/callgrind_pair.sh --build-dir "$BUILD" --no-build --contenders "$CG_LIST" \
      --out "$OUT/callgrind.txt" || echo "bench.sh: callgrind_pair.sh failed" >&2
  else
    echo "bench.sh: valgrind missing: no instruction counts" >&2
  fi
  echo "== callgrind done ($(elapsed))"
fi

# ---- many threads, many pools (bench/scale_bench.c) -----------------------------------
# tlpool alone: memory per thread, drain cost per holder, pools alive at once.
if grep -q "^tlpool built" "$STATUS_FILE"; then
  cmake --build "$BUILD" -j"$(nproc)" --target scale_bench >/dev/null
  if [ $QUICK = 1 ]; then SCALE_ARGS=(1000 5000); else SCALE_ARGS=(10000 100000); fi
  "$BUILD/bench/scale_bench" "${SCALE_ARGS[@]}" | tee "$OUT/scale.txt" ||
    echo "bench.sh: scale_bench failed" >&2
  echo "== scale done ($(elapsed))"
fi

# ---- the table and the plot ---------------------------------------------------------
# Debian's python3-matplotlib lives in the system python; a python3 earlier
# in PATH (pyenv, a venv) may not see it.
PY=python3
for cand in /usr/bin/python3 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import matplotlib' 2>/dev/null; then PY=$cand; break; fi
done
"$PY" scripts/bench_report.py --stat "$STAT" "$OUT"
echo "== done in $(elapsed): $OUT/table.txt, table.csv, table.md, ratio.png"
if [ $FAILED -gt 0 ]; then
  echo "bench.sh: $FAILED benchmark runs failed" >&2
  exit 1
fi
