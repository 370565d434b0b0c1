/* SPDX-License-Identifier: MIT */
/*
 * The shared tier: nshards lock-protected stacks of non-empty magazines.
 * A thread pushes to and pops from its home shard first and steals from the
 * others when that is empty. Every operation moves one whole magazine: O(1).
 */
#include "internal.h"
#include "track.h"

static tlp_shard *shard_at(tlp_pool *pool, uint32_t i)
{
    return &pool->shards[i % pool->nshards];
}

void tlp__shard_push(tlp_pool *pool, uint32_t home, tlp__mag *m)
{
    tlp_shard *s = shard_at(pool, home);
    tlp__mag_retire_puts_to(s, m);
    uint64_t n = tlp__mag_count(m);
    /* max_idle: reserve room first; a magazine that does not fit is released
     * whole (batch-wise, outside any lock). Relaxed: a counter, no data
     * depends on it. Pools without max_idle skip the pool-wide counter: an
     * atomic read-modify-write on a line every thread's slow path would
     * share. */
    if (pool->max_idle) {
        uint64_t before = atomic_fetch_add_explicit(&pool->shared_objs, n, memory_order_relaxed);
        if (before + n > pool->max_idle) {
            atomic_fetch_sub_explicit(&pool->shared_objs, n, memory_order_relaxed);
            m->next = NULL;
            tlp__release_mags(pool, m, &pool->released_by_cap);
            return;
        }
    }
    tlp__lock_take(&s->lock);
    m->next = s->mags;
    s->mags = m;
    atomic_store_explicit(&s->objs, atomic_load_explicit(&s->objs, memory_order_relaxed) + n,
                          memory_order_relaxed);
    tlp__lock_drop(&s->lock);
}

/*
 * The slow paths' exchanges, each one lock round trip instead of two (a
 * magazine out and a magazine in). Called under the owner's thread lock
 * (thread lock before shard lock, as everywhere), with the home shard's
 * index h (< nshards) looked up once per slow path.
 */

/* Get side: pops a full magazine from the home shard, else from the others
 * in turn, and stocks `empty` (may be NULL; its puts retired, count 0) in
 * the stock of the shard the full one came from: a thread that only takes
 * sends its empties to the shard of the threads that fill them. NULL, and
 * `empty` untouched, when no shard has a full magazine. */
tlp__mag *tlp__shard_trade_empty(tlp_pool *pool, uint32_t h, tlp__mag *empty)
{
    for (uint32_t i = 0; i < pool->nshards; i++) {
        tlp_shard *s = &pool->shards[h];
        if (++h == pool->nshards)
            h = 0;
        /* A relaxed peek to skip empty shards without taking their lock;
         * the lock is what makes the pop correct. */
        if (atomic_load_explicit(&s->objs, memory_order_relaxed) == 0)
            continue;
        tlp__lock_take(&s->lock);
        tlp__mag *m = s->mags;
        if (m) {
            s->mags = m->next;
            atomic_store_explicit(&s->objs,
                                  atomic_load_explicit(&s->objs, memory_order_relaxed) - tlp__mag_count(m),
                                  memory_order_relaxed);
            if (empty)
                tlp__stock_push(s, empty);
            tlp__count_locked(&s->hits_shared, 1);
        }
        tlp__lock_drop(&s->lock);
        if (m) {
            m->next = NULL;
            if (pool->max_idle)
                atomic_fetch_sub_explicit(&pool->shared_objs, tlp__mag_count(m), memory_order_relaxed);
            return m;
        }
    }
    return NULL;
}

/* Put side, for pools without max_idle (whose pushes may release objects,
 * which must not happen under the thread lock): pushes `full` (may be NULL)
 * and takes an empty magazine from the stock, else tlp__mag_alloc_near;
 * NULL when out of memory (`full` was pushed all the same). Counts the
 * calling put as a slow put. */
tlp__mag *tlp__shard_trade_full(tlp_pool *pool, uint32_t h, tlp__mag *full)
{
    tlp_shard *s = &pool->shards[h];
    uint64_t n = 0, puts = 1; /* the slow put itself */
    if (full) {
        puts += tlp__mag_puts(full);
        full->n.word &= 0xffffu; /* its inline puts retired, below */
        n = tlp__mag_count(full);
    }
    tlp__lock_take(&s->lock);
    tlp__count_locked(&s->puts_traded, puts);
    if (full) {
        full->next = s->mags;
        s->mags = full;
        atomic_store_explicit(&s->objs, atomic_load_explicit(&s->objs, memory_order_relaxed) + n,
                              memory_order_relaxed);
    }
    tlp__mag *e = tlp__stock_pop(s);
    tlp__lock_drop(&s->lock);
    if (!e)
        return tlp__mag_alloc_near(pool, h);
    e->next = NULL;
    return e;
}

tlp__mag *tlp__shard_take_all(tlp_pool *pool)
{
    tlp__mag *all = NULL;
    for (uint32_t i = 0; i < pool->nshards; i++) {
        tlp_shard *s = &pool->shards[i];
        tlp__lock_take(&s->lock);
        tlp__mag *list = s->mags;
        uint64_t n = atomic_load_explicit(&s->objs, memory_order_relaxed);
        s->mags = NULL;
        atomic_store_explicit(&s->objs, 0, memory_order_relaxed);
        tlp__lock_drop(&s->lock);
        if (pool->max_idle)
            atomic_fetch_sub_explicit(&pool->shared_objs, n, memory_order_relaxed);
        while (list) {
            tlp__mag *next = list->next;
            list->next = all;
            all = list;
            list = next;
        }
    }
    return all;
}
