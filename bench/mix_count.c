/* SPDX-License-Identifier: MIT */
/*
 * mix_count N [server]: exactly N operations of the buffer mix with a tail to 64 KiB
 * (bench_buf.cc's buf_mix_64k: one thread, a window of 1000 live buffers,
 * each operation frees a random one and allocates a new one, sizes drawn
 * from the same table; with "server", server_mix.h's sizes instead, up to
 * 16 KiB, in one thread), after a warm-up of 200,000 operations, for
 * scripts/callgrind_mix.sh. Built once per contender like pair_count:
 * malloc/free for the allocators, tlp_buf_alloc/tlp_buf_free (the default
 * buffer pool, inline) for tlpool. The script runs N and 2N under callgrind
 * and divides the difference by N: warm-up, start-up and teardown cancel.
 *
 * MIX_STATS=1 prints the default pool's per-class counters at the end
 * (tlpool only): which classes leave the thread caches, and how often.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef TLPB_TLPOOL
#include <tlpool.h>
#define ALLOC(n) tlp_buf_alloc(n)
#define FREE(p) tlp_buf_free(p)
#else
#define ALLOC(n) malloc(n)
#define FREE(p) free(p)
#endif

/* bench_support.h's Rng (xorshift64*), seed 7 as in buf_mix_64k. */
static uint64_t rng_state = 7 * 0x9E3779B97F4A7C15ull | 1;

static inline uint32_t below(uint32_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((((rng_state * 0x2545F4914F6CDD1Dull) >> 32) * n) >> 32);
}

/* buf_mix_64k's kTail: sizes drawn uniformly within (previous bound, bound]. */
static const uint32_t tail_bound[] = { 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536 };
static const uint32_t tail_percent[] = { 15, 15, 18, 14, 14, 8, 7, 5, 2, 2 };
/* server_mix.h's kMixClasses (the server mix's sizes, without its second
 * thread): mix_count N server. */
static const uint32_t server_bound[] = { 16, 32, 64, 128, 256, 512, 1024, 4096, 16384 };
static const uint32_t server_percent[] = { 15, 15, 18, 15, 15, 8, 7, 6, 1 };
static const uint32_t *bound = tail_bound;
static uint8_t table[100];

static void *take(void)
{
    unsigned c = table[below(100)];
    uint32_t lo = c ? bound[c - 1] : 7, hi = bound[c];
    void *p = ALLOC(lo + 1 + below(hi - lo));
    if (!p)
        abort();
    *(volatile uint64_t *)p = 1; /* fill a "header" */
    return p;
}

#ifdef TLPB_TLPOOL
static void print_stats(void)
{
    tlp_bufpool_stats st;
    tlp_bufpool_stats_get(tlp_bufpool_default(), &st);
    fprintf(stderr, "thread_idle_cap %llu idle_thread_bytes %llu cap_spilled_bytes %llu\n",
            (unsigned long long)st.thread_idle_cap, (unsigned long long)st.idle_thread_bytes,
            (unsigned long long)st.cap_spilled_bytes);
    fprintf(stderr, "%8s %10s %10s %10s\n", "class", "gets", "from_thr", "from_shard");
    for (unsigned i = 0; i < st.nclasses; i++) {
        const tlp_bufclass_stats *c = &st.classes[i];
        if (c->gets)
            fprintf(stderr, "%8zu %10llu %10llu %10llu\n", c->size, (unsigned long long)c->gets,
                    (unsigned long long)c->hits_thread, (unsigned long long)c->hits_shared);
    }
}
#endif

int main(int argc, char **argv)
{
    const long n = argc > 1 ? atol(argv[1]) : 100000;
    const long warm = 200000;
    const uint32_t *percent = tail_percent;
    unsigned nbound = sizeof tail_bound / sizeof tail_bound[0];
    if (argc > 2 && argv[2][0] == 's') {
        bound = server_bound;
        percent = server_percent;
        nbound = sizeof server_bound / sizeof server_bound[0];
    }
    unsigned k = 0;
    for (unsigned c = 0; c < nbound; c++)
        for (unsigned i = 0; i < percent[c]; i++)
            table[k++] = (uint8_t)c;
    static void *live[1000];
    for (unsigned i = 0; i < 1000; i++)
        live[i] = take();
    for (long j = 0; j < warm + n; j++) {
        uint32_t i = below(1000);
        FREE(live[i]);
        live[i] = take();
    }
#ifdef TLPB_TLPOOL
    if (getenv("MIX_STATS"))
        print_stats();
#endif
    for (unsigned i = 0; i < 1000; i++)
        FREE(live[i]);
    return 0;
}
