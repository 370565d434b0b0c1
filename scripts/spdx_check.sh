#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every source, header, script, CMake and build file carries an
# "SPDX-License-Identifier: MIT" line in its first three lines.
#   scripts/spdx_check.sh         check (CI): lists the files without one
#   scripts/spdx_check.sh --fix   adds the line where it is missing: first line
#                                 (after a #! line), in the file's comment style
# Files are those git tracks (run --fix after merging or adding files).
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=0
[ "${1:-}" = --fix ] && FIX=1
TAG="SPDX-License-Identifier: MIT"
missing=0 fixed=0
while IFS= read -r f; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  head -n 3 "$f" | grep -q "SPDX-License-Identifier:" && continue
  case $f in
    *.c|*.h|*.cc|*.hpp) line="/* $TAG */" ;;
    *.3) line=".\\\" $TAG" ;;
    *) line="# $TAG" ;;
  esac
  if [ $FIX = 1 ]; then
    if head -c 2 "$f" | grep -q '^#!'; then
      { head -n 1 "$f"; printf '%s\n' "$line"; tail -n +2 "$f"; } >"$f.spdx"
    else
      { printf '%s\n' "$line"; cat "$f"; } >"$f.spdx"
    fi
    chmod --reference="$f" "$f.spdx"; mv "$f.spdx" "$f"
    fixed=$((fixed + 1))
  else
    echo "no SPDX line: $f"; missing=$((missing + 1))
  fi
done < <(git ls-files -- '*.c' '*.h' '*.cc' '*.hpp' '*.sh' '*.py' '*.cmake' '*.in' '*.yaml' \
           '*CMakeLists.txt' '*Dockerfile' '.ci/run' 'debian/rules' 'man/man3/*.3')
if [ $FIX = 1 ]; then
  echo "spdx: added the line to $fixed file(s)"
elif [ $missing -gt 0 ]; then
  echo "spdx: $missing file(s) without an SPDX line (scripts/spdx_check.sh --fix)"; exit 1
else
  echo "spdx: every source, header, script and build file has its SPDX line"
fi
