/* SPDX-License-Identifier: MIT */
/*
 * pair_count N: exactly N get/put pairs of a 64-byte object on one thread
 * and nothing else, for scripts/callgrind_pair.sh. Built once per contender
 * like the benchmarks: malloc/free for the allocators, tlp_get/tlp_put for
 * tlpool (inline, -DTLP_NO_INLINE, or -DTLP_MEASURE_NO_HANDSHAKE, the fast
 * path without the drain handshake, only to measure what it costs; or
 * -DTLPB_PAIR_SCOPED, the pair written with TLP_SCOPED; or
 * -DTLPB_LEAK_SAMPLE=N, the pool leak-tracked with leak_sample = N).
 *
 * The script runs it with N and 2N pairs under callgrind and divides the
 * difference of the instruction totals by N: start-up and teardown cancel.
 */
#include <stdio.h>
#include <stdlib.h>

#ifdef TLPB_TLPOOL
#include <tlpool.h>
#endif

/* Makes the pointer observable and the pair's memory effects ordered, so
 * the compiler can neither drop nor merge pairs (benchmark::DoNotOptimize's
 * trick). Like real code between a get and a put, it forces the fast path
 * to reload what it reads from memory. */
static inline void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

#if defined(TLPB_TLPOOL) && defined(TLPB_PAIR_SCOPED)
/* The same pair through TLP_SCOPED: the scope's cleanup does the put. */
#define PAIR()                                  \
    do {                                        \
        TLP_SCOPED(void *, o_, pool);           \
        escape(o_);                             \
    } while (0)
#elif defined(TLPB_TLPOOL)
#define PAIR()                      \
    do {                            \
        void *o_ = tlp_get(pool);   \
        escape(o_);                 \
        tlp_put(pool, o_);          \
    } while (0)
#else
#define PAIR()                      \
    do {                            \
        void *o_ = malloc(64);      \
        escape(o_);                 \
        free(o_);                   \
    } while (0)
#endif

#if defined(TLPB_TLPOOL) && defined(TLPB_PAIR_RESET)
/* The sync.Pool pattern: every put clears the object first (the reset
 * scenario of the benchmark suite). */
#include <string.h>
static bool clear64(void *obj, void *ctx)
{
    (void)ctx;
    memset(obj, 0, 64);
    return true;
}
#endif

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    n -= n % 8; /* the loop does 8 pairs per turn: its own overhead is ~1/4 instruction per pair */
#ifdef TLPB_TLPOOL
    tlp_pool *made = NULL;
    tlp_config cfg = {0};
    cfg.obj_size = 64;
#ifdef TLPB_PAIR_RESET
    cfg.obj_reset = clear64;
#endif
#ifdef TLPB_LEAK_SAMPLE
    cfg.leak_sample = TLPB_LEAK_SAMPLE;
#endif
    if (tlp_pool_create(&cfg, &made) != 0) {
        fprintf(stderr, "pair_count: tlp_pool_create failed\n");
        return 1;
    }
    tlp_pool *const pool = made; /* address never taken: stays in a register */
    tlp_put(pool, tlp_get(pool)); /* the thread's cache exists from here on */
#else
    free(malloc(64)); /* the allocator is initialised */
#endif
    /* One more object of the size stays live, as in any program with more
     * than one: with none, mimalloc retires the page on every free. */
#ifdef TLPB_TLPOOL
    void *ballast = tlp_get(pool);
#else
    void *ballast = malloc(64);
#endif
    escape(ballast);
    for (long i = 0; i < n; i += 8) {
        PAIR(); PAIR(); PAIR(); PAIR();
        PAIR(); PAIR(); PAIR(); PAIR();
    }
#ifdef TLPB_TLPOOL
    tlp_put(pool, ballast);
    tlp_pool_destroy(pool);
#else
    free(ballast);
#endif
    printf("%ld pairs\n", n);
    return 0;
}
