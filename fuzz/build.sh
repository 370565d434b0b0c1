#!/bin/bash -eu
# SPDX-License-Identifier: MIT
# Builds the fuzz targets following the OSS-Fuzz build contract, so the
# project drops into OSS-Fuzz or ClusterFuzzLite unchanged:
#   $CC $CXX $CFLAGS $CXXFLAGS  compilers and flags (sanitizer and coverage
#                               instrumentation included, as OSS-Fuzz sets them)
#   $LIB_FUZZING_ENGINE         the engine to link (-fsanitize=fuzzer, or a library)
#   $OUT                        where binaries, seed corpora, dicts and options go
#   $SRC                        where sources are checked out (this tree is
#                               $SRC/tlpool there; found from this script's path)
#   $WORK                       scratch directory for the build (default $OUT/work)
# The library is built with TLP_CHECKED=ON (and TLP_POISON=ON, which poisons
# idle objects when ASan is on). Locally, with clang 14:
#   CC=clang-14 CXX=clang++-14 LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out \
#     bash fuzz/build.sh
# (CFLAGS defaults to ASan+UBSan with fuzzer-no-link instrumentation.)
TLP_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${SRC:=$(dirname "$TLP_SRC")}"
: "${CC:=clang}"
: "${CXX:=clang++}"
: "${CFLAGS:=-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link}"
: "${CXXFLAGS:=$CFLAGS}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:=$TLP_SRC/out}"
: "${WORK:=$OUT/work}"
mkdir -p "$OUT" "$WORK"
BUILD=$WORK/tlpool-fuzz

# CMAKE_BUILD_TYPE=None: no -O/-g of our own, only $CFLAGS. TLP_SANITIZE is
# empty and TLP_FUZZ_INSTRUMENT off because $CFLAGS already carry both.
cmake -S "$TLP_SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DTLP_BUILD_FUZZ=ON -DTLP_BUILD_TESTS=OFF -DTLP_BUILD_EXAMPLES=OFF -DTLP_BUILD_BENCH=OFF \
  -DTLP_CHECKED=ON -DTLP_POISON=ON -DTLP_SANITIZE= \
  -DTLP_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" -DTLP_FUZZ_INSTRUMENT=OFF
cmake --build "$BUILD" -j"$(nproc)"

for bin in "$BUILD"/fuzz/*_fuzzer; do
  t=$(basename "$bin")
  cp "$bin" "$OUT/"
  for ext in dict options; do
    if [ -f "$TLP_SRC/fuzz/$t.$ext" ]; then cp "$TLP_SRC/fuzz/$t.$ext" "$OUT/"; fi
  done
  seeds=$TLP_SRC/fuzz/corpus/$t
  if [ -d "$seeds" ]; then
    rm -f "$OUT/${t}_seed_corpus.zip"
    if command -v zip >/dev/null; then
      (cd "$seeds" && zip -q -j "$OUT/${t}_seed_corpus.zip" ./*)
    else
      (cd "$seeds" && python3 -m zipfile -c "$OUT/${t}_seed_corpus.zip" ./*)
    fi
  fi
  echo "built $OUT/$t"
done
