#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns the output of bench/go's test binary into google-benchmark JSON
files that scripts/bench_report.py reads like the C++ contenders' own.

    go_bench_json.py convert GO_OUTPUT OUT_RAW REP BENCHMARKS_TXT [FILTER]
        writes OUT_RAW/go_syncpool/r<REP>_<idx>.json and
        OUT_RAW/go_nopool/r<REP>_<idx>.json, one per scenario row; idx is the
        row's position in BENCHMARKS_TXT (the C++ run's list), so Go's figures
        land on the same rows as tlpool's.
    go_bench_json.py match FILTER
        exit 0 when some Go row's name matches FILTER (a regex, searched in
        the name google-benchmark gives the C++ row, "/real_time" included,
        as bench.sh's --filter is).

Go names (with `-test.cpu 1,2`; "-2" means GOMAXPROCS 2) and their rows:
    BenchmarkPair[-N]               pair/size:64 (N = 1 only) and
                                    threads_pair/size:64/threads:N
    BenchmarkOverflow[-N]           overflow/threads:N (100 pairs per op)
    BenchmarkSeedPool/size=S[-N]    seed/size:S/threads:N  (go_syncpool)
    BenchmarkSeedNoPool/size=S[-N]  seed/size:S/threads:N  (go_nopool)
"""
import json
import os
import re
import sys

LINE = re.compile(r"^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+([\d.]+) ns/op(.*)$")


def rows_of(name, procs):
    """[(contender, row, ops_per_iter)] for one Go result."""
    m = re.match(r"BenchmarkSeed(Pool|NoPool)/size=(\d+)$", name)
    if m:
        c = "go_syncpool" if m.group(1) == "Pool" else "go_nopool"
        return [(c, f"seed/size:{m.group(2)}/threads:{procs}", 1.0)]
    if name == "BenchmarkPair":
        out = [("go_syncpool", f"threads_pair/size:64/threads:{procs}", 1.0)]
        if procs == 1:
            out.insert(0, ("go_syncpool", "pair/size:64", 1.0))
        return out
    if name == "BenchmarkOverflow":
        return [("go_syncpool", f"overflow/threads:{procs}", 100.0)]
    return []


ALL_ROWS = [r for n in ("BenchmarkPair", "BenchmarkOverflow") for p in (1, 2) for _, r, _ in rows_of(n, p)]
ALL_ROWS += [f"seed/size:{s}/threads:{p}" for s in (64, 512, 4096) for p in (1, 2)]


def gb_name(row):
    """The name google-benchmark gives the C++ row (what --filter sees)."""
    if "/threads:" in row:
        head, tail = row.split("/threads:", 1)
        return f"{head}/real_time/threads:{tail}"
    return row + "/real_time"


def convert(go_output, out_raw, rep, names_txt, flt):
    try:
        with open(names_txt) as f:
            names = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        names = []
    index = {n.replace("/real_time", ""): i + 1 for i, n in enumerate(names)}
    extra = len(names) + 1
    written = 0
    with open(go_output) as f:
        for line in f:
            m = LINE.match(line.strip())
            if not m:
                continue
            name, procs, iters, ns_op, rest = m.group(1), int(m.group(2) or 1), int(m.group(3)), float(m.group(4)), m.group(5)
            allocs = re.search(r"([\d.]+) allocs/op", rest)
            for contender, row, ops in rows_of(name, procs):
                if flt and not re.search(flt, gb_name(row)):
                    continue
                idx = index.get(row)
                if idx is None:
                    idx = extra
                    extra += 1
                rec = {"name": gb_name(row), "run_type": "iteration", "iterations": iters,
                       "real_time": ns_op, "cpu_time": ns_op, "time_unit": "ns",
                       "ops_per_iter": ops}
                if allocs and row.startswith("seed/"):
                    rec["allocs_per_req"] = float(allocs.group(1))
                d = os.path.join(out_raw, contender)
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, f"r{rep}_{idx:03d}.json"), "w") as o:
                    json.dump({"context": {"contender": contender, "go": True}, "benchmarks": [rec]}, o)
                written += 1
    return written


def main(argv):
    if len(argv) >= 2 and argv[1] == "match":
        flt = argv[2] if len(argv) > 2 else ""
        return 0 if any(re.search(flt, gb_name(r)) for r in ALL_ROWS) else 1
    if len(argv) >= 5 and argv[1] == "convert":
        n = convert(argv[2], argv[3], argv[4], argv[5] if len(argv) > 5 else "", argv[6] if len(argv) > 6 else "")
        print(f"go_bench_json: {n} results")
        return 0 if n else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
