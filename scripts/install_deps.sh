#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages tlpool's build, tests and benchmarks need.
# Idempotent: does nothing (no apt at all) when every package is already
# installed; otherwise runs apt-get update, then installs what is missing.
# Needs root or sudo only when something is missing.
set -euo pipefail

# make, python3 and libclang-rt-14-dev (clang's sanitizer runtimes, which
# scripts/test.sh --sanitize needs) are named because nothing else pulls
# them in for sure. golang-go: Go's sync.Pool as a benchmark contender
# (bench/go/, built offline from the standard library).
PACKAGES=(
  cmake make g++ clang libclang-rt-14-dev pkg-config python3
  libgtest-dev libbenchmark-dev libbenchmark-tools
  libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
  libuv1-dev wrk valgrind python3-matplotlib
  golang-go
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install_deps: missing ${missing[*]} and no apt-get (not Debian?): install them by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    SUDO="sudo"
  else
    echo "install_deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
