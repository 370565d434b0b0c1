/*
 * The buffer-pool scenario set: tlp_buf_alloc/tlp_buf_free (size-classed
 * buffers on the default buffer pool) against malloc/free of the same
 * sizes. Built into every contender's executable when the library has the
 * buffer pool; for malloc contenders both calls are malloc/free, for
 * tlpool they are tlp_buf_alloc/tlp_buf_free (over glibc).
 */
#include "bench_support.h"
#include "server_mix.h"

#include <cstdlib>

#ifdef TLPB_TLPOOL
#include <tlpool.h>
#endif

namespace {

#ifdef TLPB_TLPOOL
inline void *buf_alloc(size_t n) { return tlp_buf_alloc(n); }
inline void buf_free(void *p) { tlp_buf_free(p); }
/* What the default buffer pool holds when the run ends. */
void buf_counters(benchmark::State &st)
{
    if (st.thread_index() != 0)
        return;
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(tlp_bufpool_default(), &s);
    st.counters["idle_bytes"] = (double)s.idle_bytes;
}
#else
inline void *buf_alloc(size_t n) { return std::malloc(n); }
inline void buf_free(void *p) { std::free(p); }
void buf_counters(benchmark::State &) {}
#endif

/*
 * buf_pair: allocate one buffer and free it at once, 16 B to 64 KiB, with
 * sizes that are not powers of two among them (100, 3000): a read buffer,
 * a formatted string, a response body that lives for one call.
 */
void BM_buf_pair(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0);
    void *ballast = buf_alloc(size); /* one more live buffer, as in pair */
    benchmark::DoNotOptimize(ballast);
    tlpb::begin_run(st);
    for (auto _ : st) {
        void *p = buf_alloc(size);
        benchmark::DoNotOptimize(p);
        buf_free(p);
    }
    buf_free(ballast);
    tlpb::end_run(st, 1);
    buf_counters(st);
}

/* The server-like mix (server_mix.h) through malloc-like calls: a size is
 * drawn uniformly from (previous class, class], so most requests are not
 * class sizes and the buffer pool rounds them up. */
struct BufMixOps {
    static tlpb::MixItem take(tlpb::Rng &rng, unsigned cls)
    {
        const uint32_t hi = tlpb::kMixClasses[cls].size;
        /* at least 8 bytes: the mix writes an 8-byte "header" */
        const uint32_t lo = cls ? tlpb::kMixClasses[cls - 1].size : 7;
        const uint32_t size = lo + 1 + rng.below(hi - lo);
        return {buf_alloc(size), cls, size};
    }
    static void give(const tlpb::MixItem &it) { buf_free(it.obj); }
};

void BM_buf_server_mix(benchmark::State &st)
{
    tlpb::ServerMix<BufMixOps>::run(st);
    buf_counters(st);
}

} // namespace

BENCHMARK(BM_buf_pair)->Name("buf_pair")->ArgName("size")
    ->Arg(16)->Arg(100)->Arg(1024)->Arg(3000)->Arg(16384)->Arg(65536)->UseRealTime();
BENCHMARK(BM_buf_server_mix)->Name("buf_server_mix")
    ->Setup(tlpb::ServerMix<BufMixOps>::setup)->Teardown(tlpb::ServerMix<BufMixOps>::teardown)
    ->Threads(2)->UseRealTime();
