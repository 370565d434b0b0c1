#!/bin/bash -eu
# SPDX-License-Identifier: MIT
# ClusterFuzzLite / OSS-Fuzz entry point: the build lives in fuzz/build.sh.
exec bash "$SRC/tlpool/fuzz/build.sh"
