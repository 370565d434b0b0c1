/* SPDX-License-Identifier: MIT */
/*
 * Pools whose thread cache is one object, in a group: the large classes of
 * a buffer pool under a per-thread idle cap, whose share of the cap
 * (cap / 32) holds one buffer. A thread keeps at most one idle buffer of
 * such a class, so under a mix of sizes most of its requests for the class
 * find the cache empty (get) or full (put). The magazine exchange the
 * general slow path does for that (thread lock, two shard lock round
 * trips, the cap's accounting) would cost several hundred instructions per
 * buffer; here the buffer itself goes to or comes from the shared tier in
 * one shard lock round trip, and the thread's cache stays as it is (so the
 * cap's records need no update).
 *
 * The thread's loaded magazine is looked at with the inline path's
 * handshake (busy = 1, then loaded[slot]; tlpool.h): only its count is
 * read, and only while a drain cannot have taken it. Pools without a
 * loaded magazine (none yet, or drained) take the general path, which
 * installs one.
 */
#include "internal.h"
#include "track.h"

#if TLP_FASTPATH

/* The count of this thread's loaded magazine of pool, or -1 when the slot
 * shows none (a sentinel) or the thread has no record for it yet. A call
 * from a signal handler that interrupted the library gets -1 too: the
 * general path stops it. */
static int64_t loaded_count(const tlp_pool *pool)
{
    const uint32_t slot = pool->head.slot;
    tlp__slot_ref *l = tlp__tls;
    tlp__thread *t = tlp__head(l);
    if (slot >= t->nslots || tlp__inside != NULL ||
        atomic_load_explicit(&t->busy, memory_order_relaxed) != 0)
        return -1;
    TLP__ENTER(t);
    const tlp__mag *m = TLP__LOADED(l, slot);
    int64_t n = (m == &tlp__empty_mag || m->next == m) ? -1 : (int64_t)tlp__mag_count(m);
    TLP__LEAVE(t);
    return n;
}

void *tlp__single_get(tlp_pool *pool)
{
    /* -1 with a record: the magazine was spilled by the cap or drained. */
    tlp_thread_rec *r = tlp__self_rec;
    if (loaded_count(pool) > 0 || !r)
        return NULL;
    /* A drain could not reach this thread (signal fallback): the general
     * path hands its cache over to the victim generation first. */
    tlp_tslot *ts = tlp__tslot(r, pool->head.slot);
    if (ts && tlp__tslot_missed(ts))
        return NULL;
    tlp__lib_enter(pool, "tlp_get");
    void *obj = tlp__shard_get_one(pool, tlp__home_idx(pool, r));
    if (obj)
        tlp__track_unpoison(obj, pool->obj_size); /* recycled: accessible again */
    tlp__lib_leave();
    return obj;
}

void tlp__single_put(tlp_pool *pool, void *obj)
{
    tlp__lib_enter(pool, "tlp_put");
    tlp__track_poison(obj, pool->obj_size);
    const uint32_t h = tlp__home_idx(pool, tlp__self_rec);
    switch (tlp__shard_put_one(pool, h, obj)) {
    case TLP__ONE_STORED:
        break;
    case TLP__ONE_OVER:
        /* The shared tier's budget is full: the buffer goes back to its
         * maker, as a magazine that does not fit would. */
        tlp__count(&pool->shards[h].slow_puts, 1);
        tlp__count(&pool->shards[h].cap_spilled, 1);
        tlp__obj_release(pool, obj);
        tlp__count(&pool->released_by_cap, 1);
        break;
    default: { /* no empty magazine in the shard's stock: bring one */
        tlp__count(&pool->shards[h].slow_puts, 1);
        tlp__count(&pool->shards[h].cap_spilled, 1);
        tlp__mag *m = tlp__mag_alloc_near(pool, h);
        if (!m) {
            tlp__obj_release(pool, obj); /* no memory: keep nothing, lose nothing */
            break;
        }
        tlp__mag_push(m, obj);
        tlp__shard_push(pool, h, m); /* may release it (max_idle) */
        break;
    }
    }
    tlp__lib_leave();
}

#endif
