// SPDX-License-Identifier: MIT
/*
 * leaks: what leak tracking costs, tlpool only. The 64-byte get/put pair on
 * one thread, in one run:
 *   leaks_off       an untracked pool (the inline fast path);
 *   leaks_all       leak_sample = 1: every object recorded and forgotten;
 *   leaks_1in64     leak_sample = 64: one object in 64 recorded;
 *   leaks_trace     TLP_LEAK_TRACE: every object, with a backtrace.
 * leaks_all and leaks_trace run every get and put out of line (lock-free,
 * plus the record); leaks_1in64's gets and puts are inline but for the
 * recorded gets and the refills of the get window (the split window,
 * docs/DESIGN.md, "Leak tracking").
 */
#include "bench_support.h"

#include <tlpool.h>

#include <cstdio>
#include <cstdlib>

namespace {

void BM_leaks(benchmark::State &st, unsigned sample)
{
    tlp_config cfg{};
    cfg.obj_size = 64;
    cfg.name = "bench-leaks";
    cfg.leak_sample = sample;
    tlp_pool *pool = nullptr;
    if (tlp_pool_create(&cfg, &pool) != 0) {
        std::fprintf(stderr, "bench: tlp_pool_create failed\n");
        std::abort();
    }
    void *ballast = tlp_get(pool);
    tlpb::escape(ballast);
    tlpb::begin_run(st);
    for (auto _ : st) {
        void *obj = tlp_get(pool);
        benchmark::DoNotOptimize(obj);
        tlp_put(pool, obj);
    }
    tlpb::end_run(st, 1);
    tlp_put(pool, ballast);
    tlp_pool_destroy(pool);
}

} // namespace

BENCHMARK_CAPTURE(BM_leaks, off, 0u)->Name("leaks_off")->UseRealTime();
BENCHMARK_CAPTURE(BM_leaks, all, 1u)->Name("leaks_all")->UseRealTime();
BENCHMARK_CAPTURE(BM_leaks, one_in_64, 64u)->Name("leaks_1in64")->UseRealTime();
BENCHMARK_CAPTURE(BM_leaks, trace, TLP_LEAK_TRACE)->Name("leaks_trace")->UseRealTime();
