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
 *  3. otherwise rebalances: walks the thread's caches of the group from the
 *     largest class down and, until the sum is back under three quarters of
 *     the cap, takes back each one's unused grant (fast_cap = count) and
 *     moves its magazines to the pool's shared tier (then this pool's
 *     previous one if still over); then grants what is left.
 * A put that failed inline only for want of a grant (count == fast_cap <
 * mag_cap) gets a new one without the thread lock (tlp__cap_put_lean).
 * So after every slow path the sum is within the cap, and since nothing but
 * a slow path can raise a cache's bound, a thread never holds more than the
 * cap idle (outside a slow path of its own, which may hold one more object
 * while it runs). bufpool.c bounds each class's thread cache to cap / 32
 * (at least one buffer), so the loaded magazine always fits, and a thread
 * must use many classes at once before the walk runs at all.
 *
 * A drain empties caches without updating the records: they then overstate,
 * and the next rebalance recomputes those it visits.
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
    sp->e[sp->n].victim = false;
    sp->n++;
}

/* A cache of the walk that a drain could not reach (signal fallback): all
 * of it goes where the drain would have put it, the victim generation (as
 * cache.c's catch-up does at the class's own next slow path), not to the
 * shared tier, where it would outlive the next drain. Empty magazines are
 * recycled. Thread lock held. */
static void take_missed(tlp__spills *sp, tlp_pool *pool, tlp_tslot *t)
{
    tlp__mag *mags[2] = { t->cur, t->prev };
    atomic_store_explicit(&t->missed, false, memory_order_relaxed);
    t->prev = NULL; /* cur: the caller's tlp__thread_load */
    for (int i = 0; i < 2; i++) {
        if (!mags[i])
            continue;
        if (count_of(mags[i])) {
            take(sp, pool, mags[i]);
            sp->e[sp->n - 1].victim = true;
        } else {
            tlp__mag_recycle(pool, mags[i]);
        }
    }
}

/* The slow path's walk (see the top of the file). `me` is the pool whose
 * slow path runs, its cache ts; returns the grant for its loaded magazine.
 *
 * One pass from the largest class down, stopping as soon as the thread is
 * back under three quarters of the cap: each class visited loses its grant
 * (fast_cap = count), then its previous magazine, then its loaded one, as
 * far as needed. Largest first: the few large buffers a thread keeps are
 * most of its bytes and the rarest requests, while the small classes,
 * which take most of the requests, keep their magazines and grants (a
 * grant taken back costs the class a slow put; a magazine, a trip to the
 * shared tier). A visited class's record is recomputed from its counts, so
 * records a drain left overstated are corrected on the way. */
__attribute__((noinline)) static uint64_t rebalance(tlp__group *g, tlp_thread_rec *r,
                                                   tlp_pool *pool, tlp_tslot *ts, tlp__spills *sp)
{
    tlp__tgroup *tg = ts->tg;
    const uint32_t me = pool->group_idx;
    const uint64_t cap = g->cap;
    const uint64_t low = cap - cap / 4;
    const uint64_t size = g->size[me];
    uint64_t mine = (count_of(ts->cur) + count_of(ts->prev)) * size;
    uint64_t want = grant_of(pool, ts->cur, count_of(ts->cur));
    /* The others' records: what this walk brings down. */
    uint64_t others = tg->bytes - ts->cap_bytes;

    for (uint32_t i = g->n; i-- > 0 && others + mine + want * size > low;) {
        tlp_tslot *t = i == me ? NULL : tlp__tslot(r, g->slot[i]);
        if (!t)
            continue;
        const uint64_t sz = g->size[i];
        tlp_pool *p = g->pool[i];
        others -= t->cap_bytes;
        if (tlp__tslot_missed(t)) {
            take_missed(sp, p, t);
            tlp__thread_load(r, g->slot[i], NULL, p->hidden);
            t->cap_bytes = 0;
            continue;
        }
        uint64_t nc = count_of(t->cur), np = count_of(t->prev);
        if (t->cur && grants(p))
            t->cur->fast_cap = nc; /* the grant back */
        if (np && others + (nc + np) * sz + mine + want * size > low) {
            take(sp, p, t->prev);
            t->prev = NULL;
            np = 0;
        }
        if (nc && others + nc * sz + mine + want * size > low) {
            take(sp, p, t->cur);
            /* The loaded magazine: the inline path sees the empty
             * sentinel until this pool's next slow path. */
            tlp__thread_load(r, g->slot[i], NULL, p->hidden);
            nc = 0;
        }
        t->cap_bytes = (nc + np) * sz;
        others += t->cap_bytes;
    }
    /* Still over: this pool's previous magazine. */
    if (others + mine + size > cap && count_of(ts->prev)) {
        mine -= count_of(ts->prev) * size;
        take(sp, pool, ts->prev);
        ts->prev = NULL;
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

#if TLP_FASTPATH
/*
 * A put of a group pool whose inline push failed. The common case under a
 * mix of sizes is a loaded magazine with room whose grant was used up or
 * taken back (count == fast_cap < mag_cap): it gets a new grant and the
 * push here, with no lock, at little more than the inline push's cost.
 * Every rebalance takes grants back, so this is most of a capped thread's
 * slow puts.
 *
 * The handshake is the inline path's (tlpool.h): busy = 1, then
 * loaded[slot] is read. If it shows a real magazine, that is ts->cur (the
 * loaded magazine is the tslot's cur whenever it is shown), and a drain
 * that wants it stores the sentinel and waits for busy == 0 before it
 * touches the tslot's magazines: everything below happens before. Only
 * the magazine's contents and the owner's own byte counts (ts->cap_bytes,
 * tg->bytes: written by the owner and by tslot_drop, which runs only when
 * the pool is destroyed, i.e. unused) change. ts->prev is read, not
 * written.
 *
 * Returns TLP__LEAN_DONE (pushed), TLP__LEAN_ALONE (a pool->single class
 * whose cache is full, or has no magazine or no room under the cap: the
 * object goes to the shared tier by itself, single.c, rather than through
 * a rebalance that would push out other classes for one large buffer) or
 * TLP__LEAN_SLOW (the general slow path: no tslot yet, the magazine full,
 * not shown, or no room).
 */
int tlp__cap_put_lean(tlp_pool *pool, void *obj)
{
    tlp_thread_rec *r = tlp__self_rec;
    const uint32_t slot = pool->head.slot;
    tlp_tslot *ts = r ? tlp__tslot(r, slot) : NULL;
    if (!ts || !ts->tg)
        return TLP__LEAN_SLOW;
    tlp__slot_ref *l = tlp__tls;
    tlp__thread *t = tlp__head(l);
    /* A signal handler that interrupted the library: the slow path's
     * checks stop it (busy set, or a pool marked as inside). */
    if (atomic_load_explicit(&t->busy, memory_order_relaxed) != 0 || tlp__inside != NULL)
        return TLP__LEAN_SLOW;
    const tlp__group *g = pool->group;
    tlp__tgroup *tg = ts->tg;
    const uint64_t size = pool->obj_size;
    const uint64_t others = tg->bytes - ts->cap_bytes;
    int how = pool->single ? TLP__LEAN_ALONE : TLP__LEAN_SLOW;
    TLP__ENTER(t);
    tlp__mag *m = TLP__LOADED(l, slot);
    if (m == &tlp__empty_mag || m->next == m) {
        /* No magazine shown (never written). A single class gets one back
         * through the slow path only when it fits without a rebalance, or
         * when a drain missed this thread (the slow path hands its cache
         * over to the victim generation). */
        if (others + size <= g->cap || tlp__tslot_missed(ts))
            how = TLP__LEAN_SLOW;
    } else {
        const uint64_t n = tlp__mag_count(m);
        const uint64_t fixed = (n + count_of(ts->prev)) * size;
        if (n < pool->mag_cap && others + fixed + size <= g->cap) {
            uint64_t want = pool->mag_cap - n; /* this push and the inline ones after it */
            uint64_t room = (g->cap - others - fixed) / size;
            if (want > room)
                want = room;
            ts->cap_bytes = fixed + want * size;
            tg->bytes = others + ts->cap_bytes;
            m->objs[n] = obj;
            m->n.word += TLP__MAG_PUT_STEP; /* count + 1, puts + 1 (an inline put) */
            m->fast_cap = n + want;
            how = TLP__LEAN_DONE;
        }
    }
    TLP__LEAVE(t);
    return how;
}
#endif

void tlp__cap_push(tlp_thread_rec *r, tlp__spills *sp)
{
    uint32_t home = tlp__home(r);
    for (uint32_t i = 0; i < sp->n; i++) {
        tlp_pool *pool = sp->e[i].pool;
        tlp__mag *m = sp->e[i].m;
        if (sp->e[i].victim) {
            /* A missed cache: what the drain would have taken, not a spill. */
            m->next = NULL;
            tlp__victim_add(pool, m);
            continue;
        }
        tlp__count(&tlp__stat_shard(pool)->cap_spilled, count_of(m));
        tlp__shard_push(pool, home, m);
    }
    sp->n = 0;
}

uint64_t tlp__cap_spilled(tlp_pool *pool)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < pool->nshards; i++)
        n += tlp__relaxed_get(&pool->shards[i].cap_spilled) +
             tlp__relaxed_get(&pool->shards[i].spilled_traded);
    return n;
}
