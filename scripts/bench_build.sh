# SPDX-License-Identifier: MIT
# Sourced by scripts/callgrind_pair.sh and scripts/callgrind_mix.sh: the
# benchmark build whose programs they count.
#   bench_configure DIR       configure DIR once (Release, benchmarks only)
#   bench_built DIR NAME      whether contender NAME is built there (the
#                             allocators found at configure time; tlpool always)
#   bench_make DIR TARGET...  build those targets (nothing if none)

bench_configure() {
  if [ ! -f "$1/bench/contenders.txt" ]; then
    mkdir -p "$1"
    cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Release -DTLP_BUILD_BENCH=ON \
      -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF -DTLP_BUILD_FUZZ=OFF >"$1/configure.log"
  fi
}

bench_built() {
  [[ $2 == tlpool* ]] || grep -q "^$2 built" "$1/bench/contenders.txt"
}

bench_make() {
  local dir=$1
  shift
  [ $# -eq 0 ] || cmake --build "$dir" -j"${JOBS:-$(nproc)}" --target $(printf '%s\n' "$@" | sort -u) >/dev/null
}
