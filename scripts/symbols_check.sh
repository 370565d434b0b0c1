#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dynamic symbols a shared library exports against its Debian symbols
# file (debian/*.symbols). The package build runs dpkg-gensymbols -c4
# (debian/rules), which fails on any difference, internal tlp__ symbols
# included; this check runs in every default build (ctest debian_symbols),
# so a symbol added or dropped shows there and not only at the end of CI.
# Usage: scripts/symbols_check.sh LIBRARY SYMBOLS_FILE [LIBRARY SYMBOLS_FILE]...
set -euo pipefail
status=0
while [ $# -ge 2 ]; do
  lib=$1 file=$2; shift 2
  have=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
  want=$(grep -E '^ [^ ]+@' "$file" | sed -E 's/^ ([^@]+)@.*/\1/' | sort -u)
  if [ "$have" != "$want" ]; then
    echo "symbols check: $(basename "$lib") against $file (< exported only, > listed only):"
    diff <(echo "$have") <(echo "$want") | grep '^[<>]' || true
    status=1
  fi
done
[ $status = 0 ] && echo "symbols check: the libraries export exactly their symbols files' symbols"
exit $status
