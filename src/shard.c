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

/*
 * Single objects, for pools whose thread cache is one object (single.c):
 * one lock round trip each, the object in a magazine of its own.
 */

/* The quota a shard reserves at once: at most 8 objects and at most a
 * quarter of max_idle over the shards, so that what they hold in reserve
 * (up to twice this each) never crowds out the magazines' pushes. 0: the
 * budget is too small to share that way; each single object reserves and
 * gives back its own room. */
static uint64_t quota_step(const tlp_pool *pool)
{
    uint64_t q = pool->max_idle / (4 * (uint64_t)pool->nshards);
    return q > 8 ? 8 : q;
}

/* Shard lock held, s->quota == 0: reserves a quota step of max_idle room
 * in shared_objs (one object if the step is 0 or does not fit); false if
 * there is none. */
static bool reserve_quota(tlp_pool *pool, tlp_shard *s)
{
    uint64_t q = quota_step(pool);
    if (q == 0)
        q = 1;
    for (;;) {
        uint64_t before = atomic_fetch_add_explicit(&pool->shared_objs, q, memory_order_relaxed);
        if (before + q <= pool->max_idle) {
            s->quota = q;
            return true;
        }
        atomic_fetch_sub_explicit(&pool->shared_objs, q, memory_order_relaxed);
        if (q == 1)
            return false;
        q = 1;
    }
}

/* Stores obj in shard h (< nshards) in an empty magazine from its stock
 * (counted as a slow put, and as spilled by the per-thread cap: single.c's
 * pools send a buffer here alone when their thread's cache cannot take it).
 * TLP__ONE_NO_EMPTY: the stock is empty (nothing changed: the caller
 * brings a magazine through tlp__shard_push); TLP__ONE_OVER: max_idle is
 * reached (nothing changed: the caller releases obj). A magazine taken
 * from the shards holds objects some of which came in this way: their room
 * is given back from shared_objs as for any magazine (the quota is room
 * reserved, not objects). */
int tlp__shard_put_one(tlp_pool *pool, uint32_t h, void *obj)
{
    tlp_shard *s = &pool->shards[h];
    tlp__lock_take(&s->lock);
    /* The magazine first: without one nothing is reserved (the caller's
     * tlp__shard_push reserves for the magazine it brings). */
    tlp__mag *m = tlp__stock_pop(s);
    /* max_idle: room reserved before the object goes in, like
     * tlp__shard_push, but a few objects at a time (the shard's quota,
     * under its lock), so that a single object's trade rarely writes the
     * pool-wide counter. */
    if (m && pool->max_idle && s->quota == 0 && !reserve_quota(pool, s)) {
        tlp__stock_push(s, m);
        tlp__lock_drop(&s->lock);
        return TLP__ONE_OVER;
    }
    if (m) {
        m->objs[0] = obj;
        tlp__mag_set_count(m, 1);
        m->next = s->mags;
        s->mags = m;
        atomic_store_explicit(&s->objs, atomic_load_explicit(&s->objs, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        if (pool->max_idle)
            s->quota--;
        tlp__count_locked(&s->puts_traded, 1);    /* a slow put */
        tlp__count_locked(&s->spilled_traded, 1); /* kept out of the thread's cache by its cap */
    }
    tlp__lock_drop(&s->lock);
    return m ? TLP__ONE_STORED : TLP__ONE_NO_EMPTY;
}

/* One object from the top magazine of shard h, else of the others in turn;
 * a magazine left empty joins that shard's stock. NULL: every shard is
 * empty. */
void *tlp__shard_get_one(tlp_pool *pool, uint32_t h)
{
    for (uint32_t i = 0; i < pool->nshards; i++) {
        tlp_shard *s = &pool->shards[h];
        if (++h == pool->nshards)
            h = 0;
        if (atomic_load_explicit(&s->objs, memory_order_relaxed) == 0)
            continue; /* a relaxed peek, as in tlp__shard_trade_empty */
        void *obj = NULL;
        tlp__lock_take(&s->lock);
        tlp__mag *m = s->mags;
        if (m) {
            uintptr_t n = tlp__mag_count(m);
            obj = m->objs[n - 1];
            tlp__mag_set_count(m, n - 1);
            if (n == 1) {
                s->mags = m->next;
                tlp__stock_push(s, m);
            }
            atomic_store_explicit(&s->objs, atomic_load_explicit(&s->objs, memory_order_relaxed) - 1,
                                  memory_order_relaxed);
            /* Its room stays reserved as the shard's quota, up to two
             * steps; the excess goes back to shared_objs. */
            if (pool->max_idle) {
                uint64_t q = quota_step(pool);
                if (q == 0) {
                    atomic_fetch_sub_explicit(&pool->shared_objs, 1, memory_order_relaxed);
                } else if (++s->quota > 2 * q) {
                    atomic_fetch_sub_explicit(&pool->shared_objs, q, memory_order_relaxed);
                    s->quota -= q;
                }
            }
            tlp__count_locked(&s->hits_shared, 1);
        }
        tlp__lock_drop(&s->lock);
        if (obj)
            return obj;
    }
    return NULL;
}

tlp__mag *tlp__shard_take_all(tlp_pool *pool)
{
    tlp__mag *all = NULL;
    for (uint32_t i = 0; i < pool->nshards; i++) {
        tlp_shard *s = &pool->shards[i];
        tlp__lock_take(&s->lock);
        tlp__mag *list = s->mags;
        /* The objects' room and the shard's unused quota go back. */
        uint64_t n = atomic_load_explicit(&s->objs, memory_order_relaxed) + s->quota;
        s->mags = NULL;
        s->quota = 0;
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
