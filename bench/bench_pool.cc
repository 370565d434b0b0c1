/* SPDX-License-Identifier: MIT */
/*
 * The object-pool scenario set: tlpool's get/put against malloc/free.
 *
 * Built once per contender (see contender.h): the same code measures
 * glibc, jemalloc, mimalloc, tcmalloc (take/give = malloc/free) and tlpool
 * (one tlp_pool per size, take/give = tlp_get/tlp_put). Every benchmark
 * uses wall-clock time and reports "ops_per_iter", the take+give pairs one
 * iteration does; scripts/bench_report.py turns that into ns per pair.
 * With threads, google-benchmark's time per iteration is wall time divided
 * by the iterations of all threads: the inverse of total throughput.
 */
#include "bench_support.h"
#include "contender.h"
#include "server_mix.h"

#include <atomic>
#include <thread>
#include <vector>

using tlpb::give;
using tlpb::Pool;
using tlpb::take;

namespace {

/*
 * pair: take one object and give it back at once. The commonest use of a
 * pool: a scratch object or buffer that lives for one request or one call.
 * Also the hot path in isolation (issue 2's 4x target at 64 bytes).
 * One more object of the size stays live meanwhile ("ballast"), as in any
 * program with more than one object: with none, mimalloc retires its page
 * on every free (about 110 instructions per pair instead of 50).
 */
void BM_pair(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0);
    Pool *pool = tlpb::pool_for(size);
    void *ballast = take(pool, size);
    tlpb::escape(ballast);
    tlpb::begin_run(st);
    for (auto _ : st) {
        void *obj = take(pool, size);
        benchmark::DoNotOptimize(obj);
        give(pool, size, obj);
    }
    give(pool, size, ballast);
    tlpb::end_run(st, 1);
}

/*
 * batch: take N objects, then give them all back in the order taken. A
 * request that builds a tree, a parser's nodes, a batch of messages. With
 * N = 1024, well past tlpool's default thread cache (128), the shared tier
 * does the work.
 */
void BM_batch(benchmark::State &st)
{
    const size_t n = (size_t)st.range(0);
    const size_t size = 64;
    Pool *pool = tlpb::pool_for(size);
    std::vector<void *> objs(n);
    void **v = objs.data();
    tlpb::escape(v);
    tlpb::begin_run(st);
    for (auto _ : st) {
        for (size_t i = 0; i < n; i++)
            v[i] = take(pool, size);
        benchmark::ClobberMemory();
        for (size_t i = 0; i < n; i++)
            give(pool, size, v[i]);
        benchmark::ClobberMemory();
    }
    tlpb::end_run(st, (double)n);
}

/*
 * overflow: Go's BenchmarkPoolOverflow, translated. Each thread gives 100
 * objects back, then takes 100: a pool absorbing bursts larger than a
 * per-P private slot (for malloc: free 100, then malloc 100).
 */
void BM_overflow(benchmark::State &st)
{
    const size_t size = 64;
    const size_t n = 100;
    Pool *pool = tlpb::pool_for(size);
    std::vector<void *> objs(n);
    void **v = objs.data();
    for (size_t i = 0; i < n; i++)
        v[i] = take(pool, size);
    tlpb::escape(v);
    tlpb::begin_run(st);
    for (auto _ : st) {
        for (size_t i = 0; i < n; i++)
            give(pool, size, v[i]);
        benchmark::ClobberMemory();
        for (size_t i = 0; i < n; i++)
            v[i] = take(pool, size);
        benchmark::ClobberMemory();
    }
    for (size_t i = 0; i < n; i++)
        give(pool, size, v[i]);
    tlpb::end_run(st, (double)n);
}

/*
 * reset: the pair of a 64-byte object that must come back clean, such as a
 * request struct. tlpool: an obj_reset hook clears the 64 bytes inside
 * tlp_put. malloc contenders: malloc, then the same memset, then free.
 */
void BM_reset(benchmark::State &st)
{
    Pool *pool = tlpb::reset_pool_64();
    void *ballast = tlpb::take_reset(pool); /* as in pair */
    tlpb::escape(ballast);
    tlpb::begin_run(st);
    for (auto _ : st) {
        void *obj = tlpb::take_reset(pool);
        benchmark::DoNotOptimize(obj);
        tlpb::give_reset(pool, obj);
    }
    tlpb::give_reset(pool, ballast);
    tlpb::end_run(st, 1);
}

/*
 * prodcons: one thread takes objects and passes them through a queue to
 * another thread, which gives them back: messages handed from an I/O
 * thread to a worker, the cross-thread recycling path (a remote free for
 * an allocator, batches between thread caches and the shared tier for
 * tlpool). The timed thread is the producer; the bounded queue makes it
 * wait when the consumer falls behind, so the time per object is the
 * pipeline's. The cache-line round trip between the two threads is
 * measured first and reported as "pingpong_ns".
 */
void BM_prodcons(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0);
    Pool *pool = tlpb::pool_for(size);
    tlpb::begin_run(st);
    const double rt_ns = tlpb::pingpong_round_trip_ns();

    tlpb::SpscRing<void *> queue(1024);
    std::atomic<bool> stop{false};
    std::thread consumer([&] {
        tlpb::Backoff b;
        void *obj;
        for (;;) {
            if (queue.pop(&obj)) {
                give(pool, size, obj);
                b.reset();
            } else if (stop.load(std::memory_order_acquire)) {
                while (queue.pop(&obj)) /* the producer has stopped: empty the queue */
                    give(pool, size, obj);
                return;
            } else {
                b.pause();
            }
        }
    });

    tlpb::Backoff b;
    for (auto _ : st) {
        void *obj = take(pool, size);
        while (!queue.push(obj))
            b.pause();
        b.reset();
    }
    stop.store(true, std::memory_order_release);
    consumer.join();
    tlpb::end_run(st, 1);
    st.counters["pingpong_ns"] = rt_ns;
}

/* The server-like mix (server_mix.h) over one pool per size class. */
struct PoolMixOps {
    static Pool *pools[tlpb::kMixNumClasses];
    static tlpb::MixItem take(tlpb::Rng &, unsigned cls)
    {
        const uint32_t size = tlpb::kMixClasses[cls].size;
        return {tlpb::take(pools[cls], size), cls, size};
    }
    static void give(const tlpb::MixItem &it) { tlpb::give(pools[it.cls], it.size, it.obj); }
    static void setup(const benchmark::State &st)
    {
        for (unsigned c = 0; c < tlpb::kMixNumClasses; c++)
            pools[c] = tlpb::pool_for(tlpb::kMixClasses[c].size);
        tlpb::ServerMix<PoolMixOps>::setup(st);
    }
};
Pool *PoolMixOps::pools[tlpb::kMixNumClasses];

const int64_t kPairSizes[] = {16, 64, 256, 1024, 4096, 65536};

} // namespace

BENCHMARK(BM_pair)->Name("pair")->ArgName("size")->Apply([](benchmark::internal::Benchmark *b) {
    for (int64_t s : kPairSizes)
        b->Arg(s);
})->UseRealTime();
BENCHMARK(BM_batch)->Name("batch")->ArgName("n")->Arg(64)->Arg(1024)->UseRealTime();
/* threads: the pair and the batch on 1, 2 and 4 threads (4 oversubscribes
 * a 2-vCPU machine on purpose: preempted owners, migrations). */
BENCHMARK(BM_pair)->Name("threads_pair")->ArgName("size")->Arg(64)
    ->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(BM_batch)->Name("threads_batch")->ArgName("n")->Arg(64)->Arg(1024)
    ->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(BM_prodcons)->Name("prodcons")->ArgName("size")->Arg(64)->UseRealTime();
BENCHMARK(tlpb::ServerMix<PoolMixOps>::run)->Name("server_mix")
    ->Setup(PoolMixOps::setup)->Teardown(tlpb::ServerMix<PoolMixOps>::teardown)
    ->Threads(2)->UseRealTime();
BENCHMARK(BM_reset)->Name("reset")->ArgName("size")->Arg(64)->UseRealTime();
BENCHMARK(BM_overflow)->Name("overflow")->Threads(1)->Threads(2)->UseRealTime();
