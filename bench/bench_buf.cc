/* SPDX-License-Identifier: MIT */
/*
 * The buffer-pool scenario set: tlp_buf_alloc/tlp_buf_free (size-classed
 * buffers on the default buffer pool) against malloc/free of the same
 * sizes. Built into every contender's executable when the library has the
 * buffer pool; for malloc contenders both calls are malloc/free, for
 * tlpool they are tlp_buf_alloc/tlp_buf_free (over glibc).
 */
#include "bench_support.h"
#include "server_mix.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

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
    tlpb::escape(ballast);
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

/*
 * The floor of the server-like mix: the same run with no allocator call on
 * the measured path. Each thread keeps a LIFO of recycled buffers per size
 * class, inline in the benchmark (a buffer freed by the other thread joins
 * that thread's list, as in the pools); only a miss calls malloc. What it
 * measures is the benchmark's own cost (random numbers, the live set's
 * cache misses, the cross-thread ring), which every contender pays on top
 * of its allocator. Run by the glibc executable only; see BENCHMARKS.md.
 */
struct FloorMixOps {
    static constexpr unsigned kCap = 4096;
    struct Lists {
        void *objs[tlpb::kMixNumClasses][kCap];
        unsigned n[tlpb::kMixNumClasses];
    };
    static inline thread_local Lists *lists;
    static Lists &mine()
    {
        if (!lists)
            lists = new Lists(); /* leaked at thread exit; a benchmark's scratch */
        return *lists;
    }
    static tlpb::MixItem take(tlpb::Rng &rng, unsigned cls)
    {
        /* the same draws as BufMixOps::take, so the same sizes */
        const uint32_t hi = tlpb::kMixClasses[cls].size;
        const uint32_t lo = cls ? tlpb::kMixClasses[cls - 1].size : 7;
        const uint32_t size = lo + 1 + rng.below(hi - lo);
        Lists &l = mine();
        void *p = l.n[cls] ? l.objs[cls][--l.n[cls]] : std::malloc(hi);
        return {p, cls, size};
    }
    static void give(const tlpb::MixItem &it)
    {
        Lists &l = mine();
        if (l.n[it.cls] < kCap)
            l.objs[it.cls][l.n[it.cls]++] = it.obj;
        else
            std::free(it.obj);
    }
};

void BM_buf_server_mix_floor(benchmark::State &st)
{
    tlpb::ServerMix<FloorMixOps>::run(st);
}

/* Registered at start-up, by the glibc executable only. */
const bool floor_registered = [] {
    if (std::string(TLPB_CONTENDER) == "glibc")
        benchmark::RegisterBenchmark("buf_server_mix_floor", BM_buf_server_mix_floor)
            ->Setup(tlpb::ServerMix<FloorMixOps>::setup)
            ->Teardown(tlpb::ServerMix<FloorMixOps>::teardown)
            ->Threads(2)
            ->UseRealTime();
    return true;
}();

/*
 * buf_memory: resident bytes per live buffer. One million buffers of one
 * size are allocated and written all over (so every page they use is
 * resident), and the growth of the process's resident set is divided by
 * their number: what a program holding many small buffers pays per buffer,
 * allocator metadata, headers and rounding included. TLPB_MEM_BUFFERS
 * overrides the count (bench.sh --quick uses fewer). One iteration; the
 * time is that of the allocations and the writes.
 */
long resident_bytes()
{
    long pages = 0, resident = 0;
    FILE *f = std::fopen("/proc/self/statm", "r");
    if (f) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        std::fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

void BM_buf_memory(benchmark::State &st)
{
    const size_t size = (size_t)st.range(0);
    const char *env = std::getenv("TLPB_MEM_BUFFERS");
    const size_t n = env ? (size_t)std::strtoull(env, nullptr, 10) : 1000000;
    std::vector<void *> live(n, nullptr); /* resident before the baseline */
    buf_free(buf_alloc(size));             /* the allocator is set up */
    tlpb::begin_run(st);
    const long before = resident_bytes();
    for (auto _ : st) {
        for (size_t i = 0; i < n; i++) {
            live[i] = buf_alloc(size);
            std::memset(live[i], 0x5a, size);
        }
    }
    const long after = resident_bytes();
    st.counters["bytes_per_buffer"] = (double)(after - before) / (double)n;
    tlpb::end_run(st, (double)n);
    for (void *p : live)
        buf_free(p);
}

/*
 * buf_producer_consumer: one thread allocates 64-byte buffers and hands
 * every one to the other thread through a ring, which frees it: a pipeline
 * stage passing messages on. Every free is a remote free, of a buffer the
 * freeing thread never touched before (cold in its cache).
 */
struct PcShared {
    tlpb::SpscRing<void *> ring{1024};
    std::atomic<bool> producer_done{false};
};
std::unique_ptr<PcShared> pc_shared;

void BM_buf_producer_consumer(benchmark::State &st)
{
    PcShared &sh = *pc_shared;
    tlpb::begin_run(st);
    if (st.thread_index() == 0) {
        for (auto _ : st) {
            void *p = buf_alloc(64);
            *(volatile uint64_t *)p = 1; /* the message */
            while (!sh.ring.push(p))
                std::this_thread::yield(); /* 2 vCPUs: let the consumer run */
        }
        sh.producer_done.store(true, std::memory_order_release);
    } else {
        for (auto _ : st) {
            void *p;
            while (!sh.ring.pop(&p))
                std::this_thread::yield();
            buf_free(p);
        }
        void *p; /* the same number of iterations: nothing left, but be sure */
        while (!sh.producer_done.load(std::memory_order_acquire))
            std::this_thread::yield();
        while (sh.ring.pop(&p))
            buf_free(p);
    }
    tlpb::end_run(st, 1);
    buf_counters(st);
}

/*
 * buf_mix_64k: one thread, a window of 1000 live buffers, sizes mostly
 * small with a tail to 64 KiB (2 % of the takes are 16-64 KiB): the mix
 * with the heavy tail, in one thread so that only the allocator differs.
 * Sizes drawn uniformly within (previous bound, bound].
 */
constexpr tlpb::MixClass kTail[] = {
    {16, 15}, {32, 15}, {64, 18}, {128, 14}, {256, 14},
    {512, 8}, {1024, 7}, {4096, 5}, {16384, 2}, {65536, 2},
};

void BM_buf_mix_64k(benchmark::State &st)
{
    uint8_t table[100];
    unsigned k = 0;
    for (unsigned c = 0; c < sizeof kTail / sizeof kTail[0]; c++)
        for (unsigned i = 0; i < kTail[c].percent; i++)
            table[k++] = (uint8_t)c;
    tlpb::Rng rng(7);
    auto take = [&]() {
        const unsigned c = table[rng.below(100)];
        const uint32_t lo = c ? kTail[c - 1].size : 7, hi = kTail[c].size;
        void *p = buf_alloc(lo + 1 + rng.below(hi - lo));
        *(volatile uint64_t *)p = 1; /* fill a "header" */
        return p;
    };
    std::vector<void *> live(1000);
    for (auto &p : live)
        p = take();
    tlpb::begin_run(st);
    for (auto _ : st) {
        const uint32_t i = rng.below(1000);
        buf_free(live[i]);
        live[i] = take();
    }
    tlpb::end_run(st, 1);
    for (void *p : live)
        buf_free(p);
    buf_counters(st);
}

} // namespace

BENCHMARK(BM_buf_mix_64k)->Name("buf_mix_64k")->UseRealTime();
BENCHMARK(BM_buf_memory)->Name("buf_memory")->ArgName("size")
    ->Arg(16)->Arg(64)->Arg(100)->Arg(1024)->Arg(4000)->Iterations(1)->UseRealTime();
BENCHMARK(BM_buf_producer_consumer)->Name("buf_producer_consumer")
    ->Setup([](const benchmark::State &) { pc_shared.reset(new PcShared()); })
    ->Teardown([](const benchmark::State &) { pc_shared.reset(); })
    ->Threads(2)->UseRealTime();
BENCHMARK(BM_buf_pair)->Name("buf_pair")->ArgName("size")
    ->Arg(16)->Arg(100)->Arg(1024)->Arg(3000)->Arg(16384)->Arg(65536)->UseRealTime();
BENCHMARK(BM_buf_server_mix)->Name("buf_server_mix")
    ->Setup(tlpb::ServerMix<BufMixOps>::setup)->Teardown(tlpb::ServerMix<BufMixOps>::teardown)
    ->Threads(2)->UseRealTime();
