/* SPDX-License-Identifier: MIT */
/*
 * drainer: issue 3's figure, tlpool only. The 64-byte get/put pair on one
 * thread while the same pool is drained every millisecond, against the
 * same pair with no drainer, in one run:
 *   drainer_off    no drains;
 *   drainer_1ms    another thread calls tlp_drain(pool) every 1 ms (what a
 *                  GC-style periodic cleanup looks like to the hot path:
 *                  each drain takes the thread's cache, the next get goes
 *                  to the slow path and rescues from the victim generation);
 *   drainer_bg_1ms the library's own background drainer (drain_ms = 1).
 * "drains_per_s" counts the drains that happened during the timed loop.
 */
#include "bench_support.h"

#include <tlpool.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

enum Mode { kOff, kThread1ms, kBackground1ms };

tlp_pool *make_pool(unsigned drain_ms)
{
    tlp_config cfg{};
    cfg.obj_size = 64;
    cfg.drain_ms = drain_ms;
    cfg.name = "bench-drainer";
    tlp_pool *p = nullptr;
    if (tlp_pool_create(&cfg, &p) != 0) {
        std::fprintf(stderr, "bench: tlp_pool_create failed\n");
        std::abort();
    }
    return p;
}

void BM_drainer(benchmark::State &st, Mode mode)
{
    /* A pool of its own per run: the background drainer's pool must not
     * outlive its run, and no run inherits another's victim generation. */
    tlp_pool *pool = make_pool(mode == kBackground1ms ? 1 : 0);
    tlpb::begin_run(st);
    std::atomic<bool> stop{false};
    std::thread drainer;
    if (mode == kThread1ms) {
        drainer = std::thread([&] {
            auto next = std::chrono::steady_clock::now();
            while (!stop.load(std::memory_order_relaxed)) {
                next += std::chrono::milliseconds(1);
                std::this_thread::sleep_until(next);
                tlp_drain(pool);
            }
        });
    }
    tlp_stats before;
    tlp_stats_get(pool, &before);
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : st) {
        void *obj = tlp_get(pool);
        benchmark::DoNotOptimize(obj);
        tlp_put(pool, obj);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    tlp_stats after;
    tlp_stats_get(pool, &after);
    stop.store(true);
    if (drainer.joinable())
        drainer.join();
    tlpb::end_run(st, 1);
    st.counters["drains_per_s"] = secs > 0 ? (double)(after.drains - before.drains) / secs : 0;
    st.counters["idle_objects"] = (double)after.idle;
    tlp_pool_destroy(pool);
}

} // namespace

BENCHMARK_CAPTURE(BM_drainer, off, kOff)->Name("drainer_off")->UseRealTime();
BENCHMARK_CAPTURE(BM_drainer, thread_1ms, kThread1ms)->Name("drainer_1ms")->UseRealTime();
BENCHMARK_CAPTURE(BM_drainer, bg_1ms, kBackground1ms)->Name("drainer_bg_1ms")->UseRealTime();
