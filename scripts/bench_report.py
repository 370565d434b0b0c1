#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Combines a scripts/bench.sh results folder into tables and a plot.

    scripts/bench_report.py results/<timestamp> [--stat best|median] [--no-plot]

Reads raw/<contender>/r<rep>_<idx>.json (google-benchmark JSON, one
benchmark per file), status.txt, machine.txt and callgrind.txt, and writes
into the same folder:
  table.txt  the text table (also printed): ns per operation of each
             contender, its speed relative to glibc, then memory, the
             cross-thread round trips, instructions per pair and the
             figures the issues set targets for;
  table.csv  one row per scenario and contender, every figure;
  table.md   the same tables in Markdown (docs/BENCHMARKS.md);
  ratio.png  speed relative to glibc per scenario (matplotlib).

An operation is one take+give pair (get/put, malloc/free); a scenario's
time per iteration is divided by its "ops_per_iter" counter. With several
threads, google-benchmark's time per iteration is wall time over the
iterations of all threads, so ns/op is the inverse of total throughput.
"x glibc" is glibc's ns/op divided by the contender's: above 1 is faster.

Each figure comes from one repetition of the scenario: by default the
fastest ("best", the rationale of Python's timeit: on a shared machine the
slower repetitions measure the neighbours, not the code, and every
contender gets the same number of tries, interleaved), or the median one
(--stat median). The counters shown beside it (peak RSS, the cross-thread
round trip) are that repetition's. table.csv has the minimum, median and
maximum of every scenario either way.
"""
import argparse
import csv
import glob
import json
import os
import re
import statistics
import sys

ORDER = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "tlpool", "tlpool_noinline", "go_syncpool", "go_nopool"]
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# Counters copied from the JSON when present.
COUNTERS = ["peak_rss_kib", "idle_objects", "idle_bytes", "pingpong_ns", "drains_per_s", "allocs_per_req",
            "bytes_per_buffer"]


def load(folder):
    """runs[(key, contender)] = list of per-repetition dicts; order[key] = index."""
    runs, order, errors = {}, {}, []
    for path in sorted(glob.glob(os.path.join(folder, "raw", "*", "r*_*.json"))):
        contender = os.path.basename(os.path.dirname(path))
        m = re.match(r"r(\d+)_(\d+)\.json$", os.path.basename(path))
        if not m:
            continue
        idx = int(m.group(2))
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            errors.append(f"{path}: {e}")
            continue
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            key = b["name"].replace("/real_time", "")
            if b.get("error_occurred"):
                errors.append(f"{contender} {key}: {b.get('error_message', 'error')}")
                continue
            ops = float(b.get("ops_per_iter", 1.0)) or 1.0
            scale = UNIT_NS[b.get("time_unit", "ns")]
            rec = {
                "ns": b["real_time"] * scale / ops,
                "cpu_ns": b["cpu_time"] * scale / ops,
            }
            for c in COUNTERS:
                if c in b:
                    rec[c] = float(b[c])
            runs.setdefault((key, contender), []).append(rec)
            order.setdefault(key, idx)
    for path in glob.glob(os.path.join(folder, "raw", "*", "*.failed")):
        errors.append(f"failed run: {os.path.relpath(path, folder)}")
    return runs, order, errors


def read_status(folder):
    """status[contender] = ("ran" | "skipped" | "failed", reason)."""
    status = {}
    try:
        with open(os.path.join(folder, "status.txt")) as f:
            for line in f:
                parts = line.strip().split(" ", 2)
                if len(parts) >= 2:
                    status[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    except OSError:
        pass
    return status


def read_kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    out[k.strip()] = v.strip()
    except OSError:
        pass
    return out


def read_callgrind(folder):
    out = {}
    try:
        with open(os.path.join(folder, "callgrind.txt")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] != "contender" and not parts[0].endswith(":"):
                    try:
                        out[parts[0]] = float(parts[1])
                    except ValueError:
                        out[parts[0]] = parts[1]
    except OSError:
        pass
    return out


def representative(recs, stat):
    """The repetition the tables show: the fastest, or the median one."""
    ordered = sorted(recs, key=lambda r: r["ns"])
    return ordered[0] if stat == "best" else ordered[(len(ordered) - 1) // 2]


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_kib(v):
    if v is None:
        return "-"
    return f"{v / 1024:.1f}M" if v >= 10240 else f"{v:.0f}K"


def render(rows, header, md):
    """rows: list of lists of strings; the first column left-aligned."""
    if md:
        out = ["| " + " | ".join(header) + " |",
               "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = []
    for r in [header] + rows:
        cells = [str(r[0]).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


# ==== The seed scenario and Go's sync.Pool ===================================
# go_syncpool / go_nopool are bench/go/'s figures (scripts/go_bench_json.py):
# Go's sync.Pool, and new(bytes.Buffer) per request. The seed scenario's
# table shows ns and allocations per request, and tlpool against Go.
SEED_TARGETS = {64: 3.0, 512: 2.5, 4096: 1.0}  # tlpool at least this many times faster than Go


def seed_section(fig, keys, contenders):
    """(header, rows, notes) of the seed scenario table; rows empty when it did not run."""
    seed_keys = [k for k in keys if k.startswith("seed/")]
    cols = [c for c in contenders if any((k, c) in fig for k in seed_keys)]
    if not seed_keys or not cols:
        return None, [], []
    header = ["scenario"] + [f"{c} ns, allocs/req" for c in cols] + ["tlpool x go_syncpool"]
    rows, notes = [], []
    for k in seed_keys:
        row = [k]
        for c in cols:
            f = fig.get((k, c))
            if not f:
                row.append("-")
                continue
            a = f.get("allocs_per_req")
            row.append(f"{fmt_ns(f['ns'])}, {'-' if a is None else f'{a:.2f}'}")
        t, g = fig.get((k, "tlpool")), fig.get((k, "go_syncpool"))
        r = g["ns"] / t["ns"] if t and g and t["ns"] else None
        row.append(f"{r:.2f}x" if r else "-")
        rows.append(row)
        m = re.match(r"seed/size:(\d+)/threads:(\d+)$", k)
        if r and m and int(m.group(1)) in SEED_TARGETS:
            want = SEED_TARGETS[int(m.group(1))]
            notes.append(f"issue 13: {k}: tlpool {fmt_ns(t['ns'])} ns vs Go sync.Pool {fmt_ns(g['ns'])} ns: "
                         f"{r:.2f}x (target >= {want:g}x{', no slower' if want == 1.0 else ''}) "
                         f"{'met' if r >= want else 'MISSED'}")
    for k in ("pair/size:64", "threads_pair/size:64/threads:2", "overflow/threads:1", "overflow/threads:2"):
        t, g = fig.get((k, "tlpool")), fig.get((k, "go_syncpool"))
        if t and g and t["ns"]:
            notes.append(f"issue 13: {k}: tlpool {fmt_ns(t['ns'])} ns vs Go sync.Pool {fmt_ns(g['ns'])} ns: "
                         f"{g['ns'] / t['ns']:.2f}x")
    return header, rows, notes


def scoped_note(callgrind):
    """The pair through TLP_SCOPED against the plain pair (callgrind)."""
    a, b = callgrind.get("tlpool"), callgrind.get("tlpool_scoped")
    if isinstance(a, float) and isinstance(b, float):
        return [f"issue 13: instructions per pair through TLP_SCOPED: {b} ({b - a:+.2f} against the plain pair)"]
    return []
# ==== end of the seed / Go section ============================================


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--stat", choices=["best", "median"], default="best",
                    help="which repetition the tables show (default: best)")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    folder = args.folder

    runs, order, errors = load(folder)
    status = read_status(folder)
    machine = read_kv(os.path.join(folder, "machine.txt"))
    callgrind = read_callgrind(folder)
    if not runs:
        print(f"bench_report: no results under {folder}/raw", file=sys.stderr)
        return 1

    seen = {c for (_, c) in runs}
    contenders = [c for c in ORDER if c in seen or c in status]
    contenders += sorted((seen | set(status)) - set(contenders))
    keys = sorted(order, key=lambda k: order[k])

    fig = {}  # (key, contender) -> the representative repetition's figures
    for (k, c), recs in runs.items():
        rep = representative(recs, args.stat)
        fig[(k, c)] = {f: rep.get(f) for f in ["ns", "cpu_ns"] + COUNTERS}
        fig[(k, c)]["min"] = min(r["ns"] for r in recs)
        fig[(k, c)]["median"] = statistics.median(r["ns"] for r in recs)
        fig[(k, c)]["max"] = max(r["ns"] for r in recs)
        fig[(k, c)]["reps"] = len(recs)

    def cell_missing(c):
        st = status.get(c, ("", ""))[0]
        return "skipped" if st == "skipped" else ("failed" if st == "failed" else "-")

    def ratio(k, c):
        g, x = fig.get((k, "glibc")), fig.get((k, c))
        if g and x and g["ns"] and x["ns"]:
            return g["ns"] / x["ns"]
        return None

    # ---- speed ------------------------------------------------------------
    header = ["scenario"] + [f"{c} ns" if c == "glibc" else f"{c} ns (x glibc)" for c in contenders]
    speed_rows = []
    for k in keys:
        row = [k]
        for c in contenders:
            f = fig.get((k, c))
            if not f:
                row.append(cell_missing(c))
            elif c == "glibc" or ratio(k, c) is None:
                row.append(fmt_ns(f["ns"]))
            else:
                row.append(f"{fmt_ns(f['ns'])} ({ratio(k, c):.2f}x)")
        speed_rows.append(row)

    # ---- memory -------------------------------------------------------------
    mem_header = ["scenario"] + [f"{c} peak RSS" for c in contenders] + ["tlpool idle at end"]
    mem_rows = []
    for k in keys:
        row = [k]
        for c in contenders:
            f = fig.get((k, c))
            row.append(fmt_kib(f["peak_rss_kib"]) if f else cell_missing(c))
        t = fig.get((k, "tlpool"), {})
        idle = []
        if t.get("idle_objects") is not None:
            idle.append(f"{t['idle_objects']:.0f} objects")
        if t.get("idle_bytes") is not None:
            idle.append(f"{t['idle_bytes'] / 1024:.0f} KiB")
        row.append(", ".join(idle) or "-")
        mem_rows.append(row)

    # ---- resident bytes per live buffer (buf_memory) ---------------------------
    res_keys = [k for k in keys if any((fig.get((k, c)) or {}).get("bytes_per_buffer") for c in contenders)]
    res_header = ["scenario"] + [f"{c} bytes/buffer" for c in contenders]
    res_rows = [[k] + [f"{fig[(k, c)]['bytes_per_buffer']:.1f}"
                       if (fig.get((k, c)) or {}).get("bytes_per_buffer") is not None else cell_missing(c)
                       for c in contenders] for k in res_keys]

    # ---- cross-thread round trips --------------------------------------------
    pp_keys = [k for k in keys if any((fig.get((k, c)) or {}).get("pingpong_ns") for c in contenders)]
    pp_header = ["scenario"] + [f"{c} round trip ns" for c in contenders]
    pp_rows = [[k] + [fmt_ns(fig[(k, c)].get("pingpong_ns")) if (k, c) in fig else cell_missing(c)
                      for c in contenders] for k in pp_keys]

    # ---- targets -------------------------------------------------------------
    notes = []

    def ns(k, c):
        return (fig.get((k, c)) or {}).get("ns")

    r64 = ratio("pair/size:64", "tlpool")
    if r64:
        notes.append(f"issue 2: 64-byte pair, tlpool vs glibc: {r64:.2f}x faster "
                     f"({fmt_ns(ns('pair/size:64', 'tlpool'))} vs {fmt_ns(ns('pair/size:64', 'glibc'))} ns; target >= 4x)")
    if "tlpool" in callgrind:
        notes.append(f"issue 2: instructions per pair (callgrind), tlpool: {callgrind['tlpool']} (target <= 25)")
    for c, want in (("tlpool_leaks", 10.0), ("tlpool_leaks64", 1.5)):
        if isinstance(callgrind.get(c), float) and isinstance(callgrind.get("tlpool"), float):
            r = callgrind[c] / callgrind["tlpool"]
            notes.append(f"issue 11: instructions per pair, {c} / tlpool: {callgrind[c]} / {callgrind['tlpool']} = "
                         f"{r:.1f}x (target <= {want:g}x) {'met' if r <= want else 'MISSED'}")
    if isinstance(callgrind.get("tlpool_reset"), float):
        notes.append(f"issue 13: instructions per pair with a clearing obj_reset (callgrind): {callgrind['tlpool_reset']}")
    rp, pp = ns("reset/size:64", "tlpool"), ns("pair/size:64", "tlpool")
    if rp and pp:
        faster = [c for c in contenders if c != "tlpool" and ns("reset/size:64", c) and ns("reset/size:64", c) <= rp]
        notes.append(f"issue 13: reset/size:64 / pair/size:64, tlpool: {rp / pp:.2f}x (target <= 1.6x) "
                     f"{'met' if rp / pp <= 1.6 else 'MISSED'}; contenders as fast or faster: "
                     f"{', '.join(faster) if faster else 'none'}")
    for c in contenders:
        t1, t2 = ns("threads_pair/size:64/threads:1", c), ns("threads_pair/size:64/threads:2", c)
        if t1 and t2 and c == "tlpool":
            notes.append(f"issue 2: 2 threads / 1 thread throughput, 64-byte pair, tlpool: {t1 / t2:.2f}x (target >= 1.8x)")
    scal = []
    for c in contenders:
        t1, t2 = ns("threads_pair/size:64/threads:1", c), ns("threads_pair/size:64/threads:2", c)
        if t1 and t2:
            scal.append(f"{c} {t1 / t2:.2f}x")
    if scal:
        notes.append("        the same for every contender: " + ", ".join(scal))
    off, on = ns("drainer_off", "tlpool"), ns("drainer_1ms", "tlpool")
    if off and on:
        bg = ns("drainer_bg_1ms", "tlpool")
        notes.append(f"issue 3: pair with a thread draining every 1 ms / without: {on / off:.2f}x "
                     f"({fmt_ns(on)} vs {fmt_ns(off)} ns; target <= 1.5x)"
                     + (f"; with the background drainer (drain_ms = 1): {bg / off:.2f}x" if bg else ""))
    if isinstance(callgrind.get("tlpool"), float) and isinstance(callgrind.get("tlpool_nohandshake"), float):
        notes.append(f"issue 3: instructions per pair added by the drain handshake: "
                     f"{callgrind['tlpool'] - callgrind['tlpool_nohandshake']:+.2f} (target <= +6)")
    # issue 4: buffers faster than glibc at every pooled size; the server-like
    # mix at least 3x glibc, shown beside the benchmark's own floor.
    buf_sizes = [k for k in keys if k.startswith("buf_pair/")]
    buf_ratios = [(k, ratio(k, "tlpool")) for k in buf_sizes if ratio(k, "tlpool")]
    if buf_ratios:
        slower = [k for k, r in buf_ratios if r < 1.0]
        lo, hi = min(r for _, r in buf_ratios), max(r for _, r in buf_ratios)
        notes.append(f"issue 4: buffer drop-ins vs glibc over {len(buf_ratios)} sizes: {lo:.2f}x-{hi:.2f}x "
                     "(target: faster at every pooled size)"
                     + (f"; slower at {', '.join(slower)}" if slower else ""))
    rmix = ratio("buf_server_mix/threads:2", "tlpool")
    if rmix:
        floor = ns("buf_server_mix_floor/threads:2", "glibc")
        notes.append(f"issue 4: buffer server-like mix, tlpool vs glibc: {rmix:.2f}x "
                     f"({fmt_ns(ns('buf_server_mix/threads:2', 'tlpool'))} vs "
                     f"{fmt_ns(ns('buf_server_mix/threads:2', 'glibc'))} ns; target >= 3x)"
                     + (f"; the benchmark alone (floor): {fmt_ns(floor)} ns" if floor else ""))
    losses = []
    rivals = [c for c in contenders if c not in ("tlpool", "tlpool_noinline")]
    for k in keys:
        t = ns(k, "tlpool")
        if t is None:
            continue
        beaten = [f"{c} {fmt_ns(ns(k, c))}" for c in rivals if ns(k, c) is not None and ns(k, c) < t]
        if beaten:
            losses.append(f"{k}: tlpool {fmt_ns(t)} ns, faster: {', '.join(beaten)}")
    if any(ns(k, "tlpool") is not None and any(ns(k, c) is not None for c in rivals) for k in keys):
        if losses:
            notes.append("issue 5: scenarios where tlpool is not the fastest:")
            notes += ["  " + x for x in losses]
        else:
            notes.append("issue 5: tlpool is the fastest contender in every scenario of this run")

    cg_rows = [[c, str(v)] for c, v in callgrind.items()]
    seed_header, seed_rows, seed_notes = seed_section(fig, keys, contenders)
    notes += seed_notes + scoped_note(callgrind)

    # ---- output ------------------------------------------------------------
    intro = []
    if machine:
        intro.append(f"machine: {machine.get('cpu', '?')}, {machine.get('vcpus', '?')} vCPUs, "
                     f"{machine.get('os', '')}, {machine.get('kernel', '')}")
        intro.append(f"compiler: {machine.get('compiler', '?')}; git {machine.get('git', '?')}")
        intro.append(f"{machine.get('options', '')}; load average at start {machine.get('load_start', '?')}, "
                     f"at end {machine.get('load_end', '?')}")
    for c in contenders:
        st = status.get(c)
        if st and st[0] != "ran":
            intro.append(f"{c}: {st[0]} {st[1]}".rstrip())
    which = "best of" if args.stat == "best" else "median of"
    legend = (f"ns per operation (one take+give pair), {which} the repetitions; "
              "(Nx) = glibc ns / contender ns, above 1 is faster. Threads: wall time / all threads' operations.")

    def document(md):
        parts = []
        p = (lambda s: parts.append(s))
        p("\n".join(intro))
        p(("**Speed.** " if md else "SPEED: ") + legend)
        p(render(speed_rows, header, md))
        if seed_rows:
            p(("**Seed scenario.** " if md else "SEED SCENARIO: ") +
              "process(req): a growable buffer from a pool with a reset hook, returned on scope exit "
              "(tlpool, Go's sync.Pool), or a fresh buffer per request (the allocators, go_nopool); "
              "ns per request and allocations per request.")
            p(render(seed_rows, seed_header, md))
        p(("**Memory.** " if md else "MEMORY: ") + "peak RSS of the process during the run "
          "(getrusage; each benchmark runs in its own process), and what tlpool's pools hold when it ends.")
        p(render(mem_rows, mem_header, md))
        if res_rows:
            p(("**Resident bytes per live buffer.** " if md else "RESIDENT BYTES PER LIVE BUFFER: ") +
              "growth of the resident set while one million buffers of one size are allocated and "
              "written, divided by their number (buf_memory).")
            p(render(res_rows, res_header, md))
        if pp_rows:
            p(("**Cross-thread round trip.** " if md else "CROSS-THREAD ROUND TRIP: ") +
              "a cache line bounced between the two threads just before each cross-thread run; "
              "compare contenders only against this.")
            p(render(pp_rows, pp_header, md))
        if cg_rows:
            p(("**Instructions per 64-byte pair** " if md else "INSTRUCTIONS PER 64-BYTE PAIR ") +
              "(scripts/callgrind_pair.sh; includes 3/8 of an instruction of loop overhead).")
            p(render(cg_rows, ["contender", "instructions/pair"], md))
        if notes:
            p(("**Targets.**\n\n```\n" if md else "TARGETS:\n") + "\n".join(notes) + ("\n```" if md else ""))
        if errors:
            p(("**Errors.**\n\n```\n" if md else "ERRORS:\n") + "\n".join(errors) + ("\n```" if md else ""))
        return "\n\n".join(x for x in parts if x) + "\n"

    text = document(False)
    with open(os.path.join(folder, "table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(folder, "table.md"), "w") as f:
        f.write(document(True))
    with open(os.path.join(folder, "table.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "contender", "status", "ns_per_op", "x_glibc", "ns_min", "ns_median",
                    "ns_max", "cpu_ns_per_op", "repetitions"] + COUNTERS)
        for k in keys:
            for c in contenders:
                x = fig.get((k, c))
                if not x:
                    w.writerow([k, c, cell_missing(c)] + [""] * (7 + len(COUNTERS)))
                    continue
                r = ratio(k, c)
                w.writerow([k, c, "ok", f"{x['ns']:.3f}", f"{r:.3f}" if r else "",
                            f"{x['min']:.3f}", f"{x['median']:.3f}", f"{x['max']:.3f}",
                            f"{x['cpu_ns']:.3f}", x["reps"]] +
                           ["" if x[cn] is None else f"{x[cn]:.3f}" for cn in COUNTERS])
    print(text, end="")

    if not args.no_plot:
        plot(folder, keys, contenders, ratio, machine)
    return 0


def plot(folder, keys, contenders, ratio, machine):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"bench_report: {sys.executable} cannot import matplotlib (Debian: python3-matplotlib, "
              "for /usr/bin/python3): no plot", file=sys.stderr)
        return
    others = [c for c in contenders if c != "glibc"]
    rows = [k for k in keys if any(ratio(k, c) for c in others)]
    if not rows or not others:
        return
    fig, ax = plt.subplots(figsize=(max(10, 0.42 * len(rows) + 3), 6.5))
    width = 0.8 / len(others)
    colors = {"jemalloc": "#4C72B0", "mimalloc": "#55A868", "tcmalloc": "#8172B2",
              "tlpool": "#C44E52", "tlpool_noinline": "#DD8452",
              "go_syncpool": "#00ADD8", "go_nopool": "#7FD6EB"}
    for i, c in enumerate(others):
        xs, ys = [], []
        for j, k in enumerate(rows):
            r = ratio(k, c)
            if r:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(r)
        ax.bar(xs, ys, width=width, label=c, color=colors.get(c))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(rows, rotation=60, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("speed relative to glibc malloc/free (log scale, above 1 = faster)")
    cpu = machine.get("cpu", "")
    ax.set_title(f"tlpool vs allocators, ns/op of glibc / ns/op of contender — {cpu}, {machine.get('vcpus', '?')} vCPUs",
                 fontsize=10)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower center", ncol=len(others))
    fig.tight_layout()
    out = os.path.join(folder, "ratio.png")
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    sys.exit(main())
