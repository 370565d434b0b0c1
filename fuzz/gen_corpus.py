#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of each fuzz target to fuzz/corpus/<target>/.

Each seed is a small program in the target's input format (the comment at
the top of each *_fuzzer.c describes it), written out here by name so the
seeds stay readable and can be regenerated after a format change:
    python3 fuzz/gen_corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- pool_ops_fuzzer -------------------------------------------------------
# Opcodes (pool_ops_fuzzer.c, the switch in LLVMFuzzerTestOneInput); every
# operation is: opcode, handle, operands.
GET, PUT, PUT_REFUSED, DRAIN, RELEASE, RELEASE_ALL, SCOPED, RECREATE = range(8)
THREAD, FAIL_NEW, RACE, GET_MANY, PUT_ALL, GET_NOINLINE, PUT_NOINLINE, PUT_NULL = range(8, 16)
PARKED = 16
# Variants (pool_model.c): 0 plain, 1 hooked, 2 capped, 3 aligned,
# 4 tiny-cap, 5 page, 6 reset-own, 7 big.


def ops_program(variants, ops):
    out = bytes(variants)
    for op in ops:
        out += bytes(op)
    return out


POOL_OPS = {
    "basics": ops_program([0, 1, 2], [
        (GET, 0), (PUT, 0, 0), (GET, 0), (GET, 1), (PUT_REFUSED, 1, 0),
        (GET_MANY, 2, 9), (PUT_ALL, 2, 0), (DRAIN, 0), (DRAIN, 0), (GET, 2),
        (PUT, 2, 0), (PUT_NULL, 1)]),
    "drain_generations": ops_program([1, 1, 5], [
        (GET_MANY, 0, 7), (PUT_ALL, 0, 1), (DRAIN, 0), (GET, 0), (GET, 0),
        (PUT, 0, 0), (DRAIN, 0), (DRAIN, 0), (GET, 0), (RELEASE, 0)]),
    "scoped": ops_program([1, 6, 3], [
        (SCOPED, 0, 0x10), (SCOPED, 0, 0x01), (SCOPED, 1, 0x0a), (SCOPED, 1, 0x27),
        (SCOPED, 2, 0x04 | 0x03), (SCOPED, 0, 0x08), (PUT_ALL, 0, 0)]),
    "threads": ops_program([2, 4, 7], [
        (GET_MANY, 0, 6), (THREAD, 0, 0x07, 0x30), (GET_MANY, 1, 5),
        (THREAD, 1, 0x03, 0x00), (GET_MANY, 2, 15), (THREAD, 2, 0x06, 0xf0),
        (DRAIN, 2), (THREAD, 2, 0x04, 0x00)]),
    "race": ops_program([0, 1, 7], [
        (GET_MANY, 0, 4), (RACE, 0, 0xff, 0x00), (GET_MANY, 2, 8),
        (RACE, 2, 0x7f, 0x10), (GET, 1)]),
    "recreate": ops_program([0, 3, 6], [
        (GET, 0), (RECREATE, 0, 1), (GET, 0), (RECREATE, 1, 5), (GET_MANY, 1, 3),
        (RECREATE, 2, 7), (RELEASE_ALL, 0), (GET, 2)]),
    "fail_new": ops_program([1, 4, 7], [
        (FAIL_NEW, 0), (GET, 0), (GET, 0), (PUT, 0, 0), (FAIL_NEW, 0), (GET, 0),
        (FAIL_NEW, 1), (THREAD, 1, 0x04, 0x00), (FAIL_NEW, 2), (SCOPED, 2, 0x00)]),
    "parked_drain": ops_program([0, 1, 2], [
        (GET_MANY, 0, 5), (PARKED, 0, 0x03, 0x00), (GET, 0), (DRAIN, 0),
        (GET_MANY, 2, 4), (PARKED, 2, 0x03, 0x00), (DRAIN, 2), (GET, 2)]),
    "noinline": ops_program([0, 5, 2], [
        (GET_NOINLINE, 0), (GET_NOINLINE, 1), (PUT_NOINLINE, 0, 0),
        (PUT_NOINLINE, 1, 0), (GET_NOINLINE, 2), (PUT_NOINLINE, 2, 0), (PUT_NULL, 2)]),
}

# ---- config_fuzzer ---------------------------------------------------------
F_NEW, F_FREE, F_RESET, F_NAME, F_DRAIN, F_SLEEP, F_ZERO = 1, 2, 4, 8, 16, 32, 64


def config(flags, size=(1, 64), align=(0, 0), tc=(0, 0), shards=(0, 0),
           max_idle=(0, 0), drain=0, name=None, ngets=4, refuse=0):
    """Each numeric field is (selector, raw); see pick_* in config_fuzzer.c."""
    out = bytes([flags])
    for sel, raw in (size, align, tc, shards):
        out += bytes([sel]) + struct.pack("<Q", raw)
    sel, raw = max_idle
    out += bytes([sel]) + (struct.pack("<Q", raw) if sel % 2 else bytes([raw]))
    out += bytes([drain])
    if flags & F_NAME:
        out += bytes([len(name)]) + name
    return out + bytes([ngets, refuse])


HOOKS = F_NEW | F_FREE
CONFIG = {
    "defaults": config(0),
    "hooks": config(HOOKS | F_RESET | F_NAME, name=b"hooked", refuse=2, ngets=8),
    "new_without_free": config(F_NEW),
    "align_4096": config(0, align=(4, 0), size=(1, 1)),
    "align_too_big": config(0, align=(5, 0)),
    "align_not_pow2": config(0, align=(2, 24)),
    "thread_cache_limit": config(0, tc=(2, 1), shards=(2, 1)),
    "thread_cache_over": config(0, tc=(2, 2)),
    "shards_over": config(0, shards=(2, 2)),
    "drainer": config(HOOKS | F_DRAIN | F_SLEEP, drain=0, ngets=6),
    "huge_size_hooks": config(HOOKS, size=(4, 0), ngets=2),
    "zero_size": config(0, size=(0, 0)),
    "max_idle": config(HOOKS | F_RESET, max_idle=(0, 1), tc=(1, 3), ngets=16, refuse=3),
    "zero_new": config(F_ZERO | F_RESET, size=(1, 200), ngets=16),
    "zero_new_aligned": config(F_ZERO, align=(4, 0), size=(1, 1), ngets=4),
    "zero_new_hooks": config(F_ZERO | HOOKS, ngets=4),
}

# ---- bufpool_fuzzer --------------------------------------------------------
# Operations: opcode, buffer pick, operands; sizes are a selector byte and
# its operand (pick_size in bufpool_fuzzer.c).
ALLOC, CALLOC, REALLOC, FREE, BDRAIN, BRELEASE, STATS, REALLOC_NULL = range(8)
REALLOC_0, FREE_NULL, THREAD_FREE, HUGE, ALLOC_0 = range(8, 13)


def small(n):
    return bytes([0, n])


def medium(n):
    return bytes([1]) + struct.pack("<H", n)


def edge(i):
    return bytes([2, i])


def large(n):
    return bytes([3]) + struct.pack("<I", n)


def buf_program(pool, ops):
    out = bytes([pool])
    for op in ops:
        out += bytes(op[:2]) + b"".join(op[2:])
    return out


BUFPOOL = {
    "alloc_free": buf_program(0, [
        (ALLOC, 0, small(10)), (ALLOC, 0, medium(3000)), (ALLOC, 0, large(100000)),
        (STATS, 0), (FREE, 1), (FREE, 0), (ALLOC_0, 0), (FREE_NULL, 0)]),
    "zeroed": buf_program(1, [
        (ALLOC, 0, small(100)), (FREE, 0), (ALLOC, 0, small(100)),
        (CALLOC, 0, bytes([4]), small(40)), (REALLOC, 0, medium(900)), (STATS, 0)]),
    "realloc_chain": buf_program(3, [
        (ALLOC, 0, small(1)), (REALLOC, 0, medium(200)), (REALLOC, 0, large(300000)),
        (REALLOC, 0, large(70000)), (REALLOC, 0, small(3)), (REALLOC_0, 0)]),
    "edges": buf_program(2, [
        (ALLOC, 0, edge(i)) for i in range(0, 27, 3)] + [(STATS, 0), (BDRAIN, 0), (BDRAIN, 0)]),
    "default_pool": buf_program(4, [
        (ALLOC, 0, small(64)), (REALLOC_NULL, 0, medium(1500)), (CALLOC, 0, bytes([255]), small(1)),
        (THREAD_FREE, 0), (BRELEASE, 0), (STATS, 0), (HUGE, 0, bytes([7]))]),
}


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("pool_ops_fuzzer", POOL_OPS)
    write("config_fuzzer", CONFIG)
    write("bufpool_fuzzer", BUFPOOL)
