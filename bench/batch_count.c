/* SPDX-License-Identifier: MIT */
/*
 * batch_count N: N rounds of the batch scenario (bench_pool.cc's
 * threads_batch/n:1024 on one thread): take 1024 64-byte objects, then give
 * them all back in the order taken. For scripts/callgrind_pair.sh --batch,
 * which runs it with N and 2N rounds under callgrind and divides the
 * difference by the objects: instructions per take+give past the thread
 * cache, where tlpool's slow paths and shard exchanges do the work.
 * Built once per contender like pair_count.c.
 */
#include <stdio.h>
#include <stdlib.h>

#ifdef TLPB_TLPOOL
#include <tlpool.h>
#endif

#define BATCH 1024

static inline void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    static void *v[BATCH];
#ifdef TLPB_TLPOOL
    tlp_pool *made = NULL;
    tlp_config cfg = {0};
    cfg.obj_size = 64;
    if (tlp_pool_create(&cfg, &made) != 0) {
        fprintf(stderr, "batch_count: tlp_pool_create failed\n");
        return 1;
    }
    tlp_pool *const pool = made;
#define TAKE() tlp_get(pool)
#define GIVE(o) tlp_put(pool, (o))
#else
#define TAKE() malloc(64)
#define GIVE(o) free(o)
#endif
    /* One round first: the objects and magazines exist from here on. */
    for (long r = 0; r <= rounds; r++) {
        for (int i = 0; i < BATCH; i++)
            v[i] = TAKE();
        escape(v);
        for (int i = 0; i < BATCH; i++)
            GIVE(v[i]);
        escape(v);
    }
#ifdef TLPB_TLPOOL
    tlp_pool_destroy(pool);
#endif
    printf("%ld rounds of %d\n", rounds, BATCH);
    return 0;
}
