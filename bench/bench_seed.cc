/* SPDX-License-Identifier: MIT */
/*
 * The seed scenario: the pattern tlpool exists for, as Go programmers write
 * it with sync.Pool. process(req) takes a growable byte buffer (data, len,
 * cap), writes the request into it, and gives it back on the way out:
 *
 *  - tlpool (bench_tlpool, bench_tlpool_noinline): the buffer comes from a
 *    pool whose obj_reset hook sets len to 0 and keeps the capacity, and
 *    goes back through TLP_SCOPED; after warm-up no request allocates.
 *  - malloc contenders ("no pool"): a fresh buffer per request, grown with
 *    realloc (from NULL: a malloc) and freed at the end.
 *
 * bench/go/ runs the same scenario with Go's sync.Pool (a bytes.Buffer,
 * defer Reset and Put) and with new(bytes.Buffer) per request.
 * Request sizes 64 B, 512 B, 4 KiB; 1 and 2 threads. Besides ns per request
 * the run reports "allocs_per_req": the malloc/realloc calls the buffer code
 * made (obj_new's included), counted here, per request.
 */
#include "bench_support.h"
#include "contender.h"

#include <stdlib.h> /* posix_memalign */

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

/* A growable byte buffer, like Go's bytes.Buffer. */
struct GrowBuf {
    unsigned char *data;
    size_t len, cap;
};

/* Allocations made by this thread's buffer code. */
thread_local uint64_t t_allocs;

/*
 * Appends n bytes; grows as bytes.Buffer does (to at least twice the
 * capacity, 64 bytes at first). False when out of memory.
 * Aligned: the storage is 64-byte aligned (posix_memalign + copy), which a
 * pooled buffer can afford since it grows once in its life. Go's allocator
 * and the size-class allocators (jemalloc, mimalloc, tcmalloc) hand out
 * blocks of these sizes aligned anyway; glibc's malloc returns addresses
 * 16 mod 32 here, and memcpy into such a destination costs up to twice as
 * much at 64-512 bytes on the test machine: without this the pooled figure
 * would measure glibc's alignment, not the pool. The per-request buffer of
 * the "no pool" contenders uses plain realloc, as such code would.
 */
template <bool Aligned>
inline bool buf_write(GrowBuf *b, const void *src, size_t n)
{
    if (b->cap - b->len < n) {
        size_t want = b->len + n;
        size_t cap = b->cap ? 2 * b->cap : 64;
        if (cap < want)
            cap = want;
        void *d;
        if (Aligned) {
            if (posix_memalign(&d, 64, cap) != 0)
                return false;
            if (b->len)
                std::memcpy(d, b->data, b->len);
            std::free(b->data);
        } else {
            d = std::realloc(b->data, cap);
            if (!d)
                return false;
        }
        t_allocs++;
        b->data = static_cast<unsigned char *>(d);
        b->cap = cap;
    }
    std::memcpy(b->data + b->len, src, n);
    b->len += n;
    return true;
}

alignas(64) unsigned char g_request[4096];

/* Setup (before the threads start): the request's bytes. */
void fill_request()
{
    for (size_t i = 0; i < sizeof g_request; i++)
        g_request[i] = (unsigned char)('a' + i % 26);
}

#ifdef TLPB_TLPOOL

void *seed_new(void *)
{
    t_allocs++;
    return std::calloc(1, sizeof(GrowBuf)); /* empty: no data, no capacity */
}

bool seed_reset(void *obj, void *)
{
    static_cast<GrowBuf *>(obj)->len = 0; /* keep the capacity */
    return true;
}

void seed_free(void *obj, void *)
{
    std::free(static_cast<GrowBuf *>(obj)->data);
    std::free(obj);
}

/* The pool, made on first use and destroyed at exit. */
struct SeedPool {
    tlp_pool *pool = nullptr;
    SeedPool()
    {
        tlp_config cfg{};
        cfg.obj_size = sizeof(GrowBuf);
        cfg.obj_new = seed_new;
        cfg.obj_reset = seed_reset;
        cfg.obj_free = seed_free;
        cfg.name = "seed";
        if (tlp_pool_create(&cfg, &pool) != 0)
            std::abort();
    }
    ~SeedPool() { tlp_pool_destroy(pool); }
};

tlp_pool *g_pool;

__attribute__((noinline)) size_t process(const unsigned char *req, size_t n)
{
    TLP_SCOPED(GrowBuf *, b, g_pool);
    if (!b || !buf_write<true>(b, req, n))
        return 0;
    benchmark::DoNotOptimize(b->data);
    return b->len + b->data[b->len - 1];
}

void seed_setup(const benchmark::State &)
{
    static SeedPool p;
    g_pool = p.pool;
    fill_request();
}

#else

__attribute__((noinline)) size_t process(const unsigned char *req, size_t n)
{
    GrowBuf b{};
    if (!buf_write<false>(&b, req, n))
        return 0;
    benchmark::DoNotOptimize(b.data);
    size_t r = b.len + b.data[b.len - 1];
    std::free(b.data);
    return r;
}

void seed_setup(const benchmark::State &)
{
    fill_request();
}

#endif

void BM_seed(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0);
    tlpb::begin_run(st);
    const uint64_t allocs0 = t_allocs;
    size_t sum = 0;
    for (auto _ : st)
        sum += process(g_request, size);
    benchmark::DoNotOptimize(sum);
    st.counters["allocs_per_req"] = benchmark::Counter(
        st.iterations() ? (double)(t_allocs - allocs0) / (double)st.iterations() : 0.0,
        benchmark::Counter::kAvgThreads);
    tlpb::end_run(st, 1);
}

} // namespace

BENCHMARK(BM_seed)->Name("seed")->ArgName("size")->Arg(64)->Arg(512)->Arg(4096)
    ->Setup(seed_setup)->Threads(1)->Threads(2)->UseRealTime();
