#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks the man pages (man/man3, hand-written roff; aliases are symlinks):
#  - mandoc -T lint at warning level reports nothing, and lexgrog parses every
#    NAME section (what mandb/whatis need);
#  - every alias symlink points at a page that exists;
#  - every public function of include/tlpool.h and tlpool_uv.h has a page
#    (a file <name>.3, usually a symlink to its group's page).
# To add a page: copy the closest one, list the new names in its NAME line,
# and `ln -s group.3 name.3` for each alias.
# Usage: scripts/man_check.sh   (needs mandoc and man-db: apt-get install mandoc man-db)
set -euo pipefail
cd "$(dirname "$0")/../man/man3"
fail=0
pages=$(find . -maxdepth 1 -type f -name '*.3' | sort)
if ! out=$(mandoc -T lint -W warning $pages 2>&1) || [ -n "$out" ]; then
  echo "$out"; fail=1
fi
for p in $pages; do
  lexgrog "$p" >/dev/null || { echo "lexgrog cannot parse NAME of $p"; fail=1; }
done
for l in $(find . -maxdepth 1 -type l -name '*.3'); do
  [ -f "$l" ] || { echo "dangling alias: $l -> $(readlink "$l")"; fail=1; }
done
names=$(grep -hoE '^TLP_API [^(]*[ *]tlp_[a-z0-9_]+\(' ../../include/tlpool.h ../../include/tlpool_uv.h |
        grep -oE 'tlp_[a-z0-9_]+\($' | tr -d '(' | grep -v '^tlp__' | sort -u)
for n in $names TLP_SCOPED TLP_TAKE tlp_get tlp_put; do
  [ -e "$n.3" ] || { echo "no man page for $n (add man/man3/$n.3)"; fail=1; }
done
n_pages=$(echo "$pages" | wc -w); n_names=$(find . -maxdepth 1 -name '*.3' | wc -l)
[ $fail = 0 ] && echo "man pages: $n_pages pages, $n_names names, lint clean, every public function covered"
exit $fail
