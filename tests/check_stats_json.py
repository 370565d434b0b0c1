# SPDX-License-Identifier: MIT
# Parses tlp_stats_print's JSON with Python's json module and checks every
# counter against what tlp_stats_get / tlp_bufpool_stats_get returned
# (tests/stats_print_probe.c writes both).
#   check_stats_json.py DOCUMENT EXPECTED
import json
import sys

with open(sys.argv[1]) as f:
    doc = json.load(f)  # raises on anything that is not one JSON document
pools, bufs = doc["pools"], doc["buffer_pools"]
names = [p["name"] for p in pools]
assert "requests" in names, names
assert 'we"ird\\na\nme\t' in names, names  # escaping round-trips
assert [b["name"] for b in bufs] == ["bufs", "tlp_buf"], [b["name"] for b in bufs]
checked = 0
with open(sys.argv[2]) as f:
    for line in f:
        w = line.split()
        if w[0] == "pool":
            got = pools[int(w[1])][w[2]]
        elif w[0] == "bufpool":
            got = bufs[int(w[1])][w[2]]
        elif w[0] == "class":
            got = bufs[int(w[1])]["classes"][int(w[2])][w[3]]
        else:
            continue
        assert got == int(w[-1]), f"{line.strip()}: JSON has {got}"
        checked += 1
req = pools[names.index("requests")]
assert req["out"] == 5 and req["drains"] == 1 and req["gets"] == 310, req
assert sum(c["out"] for c in bufs[0]["classes"]) + bufs[0]["large_out"] == 10, bufs[0]
assert checked > 100, checked
print(f"stats JSON: {len(pools)} pools, {len(bufs)} buffer pools, {checked} counters match")
