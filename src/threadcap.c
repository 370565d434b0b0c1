/* SPDX-License-Identifier: MIT */
/*
 * The per-thread cap on idle bytes of a group of pools (a buffer pool's
 * classes, docs/BUFFERS.md "Idle memory"), enforced on the slow paths only:
 * the inline paths are unchanged and use no atomics.
 *
 * What a thread's cache of a pool can hold before its next slow path is
 * known exactly at each slow path: the previous magazine's count plus the
 * loaded magazine's count or its fast_cap, whichever is larger (the inline
 * put pushes only while count < fast_cap; the inline get only lowers the
 * count). Each tslot records that bound in bytes (cap_bytes) and the
 * thread's group record keeps their sum (bytes). A slow path of a group pool
 *  1. grants the loaded magazine its inline puts up to a full magazine
 *     (fast_cap = the pool's own), or what is left of the cap if less;
 *  2. if the sum stays within the cap, records it: O(1), no walk;
 *  3. otherwise rebalances: walks the thread's caches of the group, takes
 *     back every other cache's unused grant (fast_cap = count), and when the
 *     idle bytes themselves are over, moves whole magazines to their pools'
 *     shared tiers, largest first (the other pools' magazines, then this
 *     pool's previous one), down to three quarters of the cap, so that the
 *     next slow paths find room again; then grants what is left.
 * So after every slow path the sum is within the cap, and since nothing but
 * a slow path can raise a cache's bound, a thread never holds more than the
 * cap idle (outside a slow path of its own, which may hold one more object
 * while it runs). bufpool.c bounds each class's thread cache to cap / 32
 * (at least one buffer), so the loaded magazine always fits, and a thread
 * must use many classes at once before the walk runs at all.
 *
 * A drain empties caches without updating the records: they then overstate,
 * and the next rebalance recomputes them.
 */
#include "internal.h"

#define likely(x) __builtin_expect(!!(x), 1)

/* The inline path can push into the loaded magazine of this pool. */
static bool grants(const tlp_pool *pool)
{
    return pool->fast_cap != 0 && !pool->hidden;
}

/* The one place this file reads a magazine's count (NULL: none). */
static uint64_t count_of(const tlp__mag *m)
{
    return m ? tlp__mag_count(m) : 0;
}

/* The inline puts the loaded magazine m (count n) may have: up to the
 * pool's fast_cap (a full magazine). */
static uint64_t grant_of(const tlp_pool *pool, const tlp__mag *m, uint64_t n)
{
    if (!m || !grants(pool) || n >= pool->fast_cap)
        return 0;
    return pool->fast_cap - n;
}

static void take(tlp__spills *sp, tlp_pool *pool, tlp__mag *m)
{
    sp->e[sp->n].pool = pool;
    sp->e[sp->n].m = m;
    sp->n++;
}

/* The slow path's walk (see the top of the file). `me` is the pool whose
 * slow path runs, its cache ts; returns the grant for its loaded magazine. */
__attribute__((noinline)) static uint64_t rebalance(tlp__group *g, tlp_thread_rec *r,
                                                   tlp_pool *pool, tlp_tslot *ts, tlp__spills *sp)
{
    tlp__tgroup *tg = ts->tg;
    const uint32_t me = pool->group_idx;
    const uint64_t cap = g->cap;
    uint64_t others = 0;
    tlp_tslot *tss[TLP__BUF_MAX_CLASSES];

    /* Take back the other caches' grants and count what they hold. */
    for (uint32_t i = 0; i < g->n; i++) {
        tlp_tslot *t = i == me ? NULL : tlp__tslot(r, g->slot[i]);
        tss[i] = t;
        if (!t)
            continue;
        uint64_t n = count_of(t->cur);
        if (t->cur && grants(g->pool[i]))
            t->cur->fast_cap = n;
        t->cap_bytes = (n + count_of(t->prev)) * g->size[i];
        others += t->cap_bytes;
    }

    const uint64_t size = g->size[me];
    uint64_t mine = (count_of(ts->cur) + count_of(ts->prev)) * size;
    uint64_t want = grant_of(pool, ts->cur, count_of(ts->cur));
    if (others + mine + (want ? size : 0) > cap) {
        /* Over (or no room for one inline put): spill, largest magazine
         * first, down to 3/4 of the cap with this pool's full grant. */
        const uint64_t low = cap - cap / 4;
        while (others + mine + want * size > low) {
            uint64_t best = 0;
            uint32_t bi = 0;
            bool bprev = false;
            for (uint32_t i = 0; i < g->n; i++) {
                tlp_tslot *t = tss[i];
                if (!t)
                    continue;
                uint64_t bp = count_of(t->prev) * g->size[i];
                uint64_t bc = count_of(t->cur) * g->size[i];
                if (bp > best || (bp && bp == best && !bprev)) {
                    best = bp;
                    bi = i;
                    bprev = true;
                }
                if (bc > best) {
                    best = bc;
                    bi = i;
                    bprev = false;
                }
            }
            if (best) {
                tlp_tslot *t = tss[bi];
                tlp_pool *p = g->pool[bi];
                if (bprev) {
                    take(sp, p, t->prev);
                    t->prev = NULL;
                } else {
                    take(sp, p, t->cur);
                    /* The loaded magazine: the inline path sees the empty
                     * sentinel until this pool's next slow path. */
                    tlp__thread_load(r, g->slot[bi], NULL, p->hidden);
                }
                t->cap_bytes -= best;
                others -= best;
                continue;
            }
            /* Nothing left elsewhere: this pool's previous magazine. */
            if (count_of(ts->prev)) {
                mine -= count_of(ts->prev) * size;
                take(sp, pool, ts->prev);
                ts->prev = NULL;
                continue;
            }
            break;
        }
    }
    uint64_t room = cap > others + mine ? (cap - others - mine) / size : 0;
    if (want > room)
        want = room;
    ts->cap_bytes = mine + want * size;
    tg->bytes = others + ts->cap_bytes;
    return want;
}

void tlp__cap_after(tlp_pool *pool, tlp_thread_rec *r, tlp_tslot *ts, tlp__spills *sp)
{
    tlp__group *g = pool->group;
    tlp__tgroup *tg = ts->tg;
    tlp__mag *m = ts->cur;
    const uint64_t size = pool->obj_size;
    const uint64_t n = count_of(m);
    uint64_t want = grant_of(pool, m, n);
    uint64_t bound = (n + count_of(ts->prev) + want) * size;
    uint64_t total = tg->bytes - ts->cap_bytes + bound;
    if (likely(total <= g->cap)) {
        ts->cap_bytes = bound;
        tg->bytes = total;
    } else if (total - want * size < g->cap) {
        /* Room for a smaller grant: what is left of the cap. */
        want -= (total - g->cap + size - 1) / size;
        bound = (n + count_of(ts->prev) + want) * size;
        tg->bytes = tg->bytes - ts->cap_bytes + bound;
        ts->cap_bytes = bound;
    } else {
        want = rebalance(g, r, pool, ts, sp);
    }
    /* (ts->cur is never the shared empty sentinel: NULL stands for none.) */
    if (m && grants(pool))
        m->fast_cap = n + want;
}

void tlp__cap_push(tlp_thread_rec *r, tlp__spills *sp)
{
    uint32_t home = tlp__home(r);
    for (uint32_t i = 0; i < sp->n; i++) {
        tlp_pool *pool = sp->e[i].pool;
        tlp__mag *m = sp->e[i].m;
        tlp__count(&tlp__stat_shard(pool)->cap_spilled, count_of(m));
        tlp__shard_push(pool, home, m);
    }
    sp->n = 0;
}

uint64_t tlp__cap_spilled(tlp_pool *pool)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < pool->nshards; i++)
        n += tlp__relaxed_get(&pool->shards[i].cap_spilled);
    return n;
}
