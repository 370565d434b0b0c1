/* SPDX-License-Identifier: MIT */
/*
 * Taking a pool's magazines out of other threads' caches while those threads
 * may be running their fast paths: the drainer's half of an asymmetric
 * Dekker handshake (the owner's half is TLP__ENTER/TLP__LEAVE in tlpool.h).
 *
 *   owner (fast path)                 drainer (here, thread lock held)
 *   busy = 1          (relaxed)       loaded[slot] = empty   (store)
 *   compiler fence                    membarrier()           (full fence on
 *   m = loaded[slot]  (relaxed)                               every CPU)
 *   ... use m ...                     wait until busy == 0   (acquire)
 *   busy = 0          (release)       take cur/prev magazines
 *
 * membarrier puts a full barrier into the owner's instruction stream at some
 * point between the drainer's store and its read of busy. If that point falls
 * before the owner's busy = 1, the owner's later load of loaded[slot] sees the
 * empty sentinel and it goes to the slow path (which needs the thread lock the
 * drainer holds). If it falls after busy = 1, the drainer sees busy == 1 and
 * waits for the release store busy = 0, after which the owner's writes to the
 * magazine are visible and it will not touch the magazine again without the
 * lock. Either way owner and drainer never use a magazine at the same time.
 * With TLP_FENCED both sides use seq_cst instead and no membarrier is needed.
 */
#include "internal.h"
#include "leak.h"

#include <sched.h>

static void unload(tlp_thread_rec *r, uint32_t slot)
{
#ifdef TLP_FENCED
    atomic_store_explicit(&tlp__loaded_of(r)[slot], &tlp__empty_mag, memory_order_seq_cst);
#else
    /* Relaxed: membarrier below orders it before our read of busy. */
    atomic_store_explicit(&tlp__loaded_of(r)[slot], &tlp__empty_mag, memory_order_relaxed);
#endif
}

static void wait_idle(tlp_thread_rec *r)
{
#ifdef TLP_FENCED
    const memory_order mo = memory_order_seq_cst;
#else
    const memory_order mo = memory_order_acquire;
#endif
    /* busy == 1 only inside a fast path: a few instructions, unless the
     * owner was preempted there; then yield until it runs again. */
    for (unsigned i = 0; atomic_load_explicit(&r->pub->busy, mo) != 0; i++) {
        if (i > 64)
            sched_yield();
    }
}

static void take(tlp_pool *pool, tlp__mag **list, tlp__mag *m)
{
    if (!m)
        return;
    tlp__mag_retire_puts(pool, m);
    if (tlp__mag_count(m)) {
        m->next = *list;
        *list = m;
    } else {
        tlp__mag_recycle(pool, m);
    }
}

/* Owner's lock held, its loaded slots unloaded (and the heavy barrier done
 * in the relaxed build): waits out a fast path in flight, then takes the
 * tslot's magazines (put_only: a split-window pool's put magazine alone),
 * the put magazine's records forgotten first (leak.c). */
static void take_tslot(tlp_pool *pool, tlp__mag **list, tlp_tslot *ts, bool put_only)
{
    wait_idle(ts->rec);
    take(pool, list, tlp__leak_take_put(pool, ts));
    if (put_only)
        return;
    take(pool, list, ts->cur);
    take(pool, list, ts->prev);
    ts->cur = ts->prev = NULL;
    atomic_store_explicit(&ts->missed, false, memory_order_relaxed);
}

/* Owner's lock held: unloads what a take must, or returns false when the
 * tslot has nothing to take. A split-window pool's owner changes its
 * tslot's pointers under the handshake (leak.c): they are not read before
 * it, and both slots are unloaded. */
static bool unload_tslot(tlp_pool *pool, tlp_thread_rec *r, tlp_tslot *ts, bool put_only)
{
    uint32_t ps = tlp__put_slot2(pool);
    if (ps != TLP__NO_SLOT) {
        unload(r, ps);
        if (!put_only)
            unload(r, pool->head.slot);
        return true;
    }
    if (!ts->cur && !ts->prev)
        return false;
    unload(r, pool->head.slot);
    return true;
}

/* Visits only the pool's holders: the threads that have a cache of it. */
static tlp__mag *take_mags(tlp_pool *pool, bool remote, bool detach, bool put_only)
{
    uint32_t slot = pool->head.slot;
    tlp_thread_rec *self = tlp__self_rec;
    tlp_thread_rec *pending = NULL;
    tlp__mag *list = NULL;

    if (detach) {
        /* Destroy: nobody uses the pool (precondition), so no handshake;
         * every holder's tslot goes, so that a new pool on this slot starts
         * clean in every thread. */
        while (pool->holders) {
            tlp_tslot *ts = pool->holders;
            tlp_thread_rec *r = ts->rec;
            tlp__lock_take(&r->lock);
            take(pool, &list, tlp__leak_take_put(pool, ts));
            take(pool, &list, ts->cur);
            take(pool, &list, ts->prev);
            tlp__tslot_drop(pool, ts, slot);
            tlp__lock_drop(&r->lock);
        }
        return list;
    }

#if defined(TLP_FENCED) || !TLP_FASTPATH
    /* Seq-cst handshake (or no inline path): no heavy barrier to share, so
     * one holder at a time, never two thread locks at once. (A program
     * built for the relaxed handshake cannot link against this library:
     * the TLS symbol's name differs, see tlpool.h.) */
    (void)self;
    (void)pending;
    for (tlp_tslot *ts = pool->holders; ts; ts = ts->hnext) {
        tlp_thread_rec *r = ts->rec;
        if (!remote && r != self)
            continue;
        tlp__lock_take(&r->lock);
        if (unload_tslot(pool, r, ts, put_only))
            take_tslot(pool, &list, ts, put_only);
        tlp__lock_drop(&r->lock);
    }
    pthread_mutex_unlock(&tlp__registry_lock);
    return list;
#else
    /* Phase 1: lock each holder with magazines and swap the empty sentinel
     * in. Several thread locks are held at once, taken in holder-list order
     * (which differs between pools); that cannot deadlock because they are
     * all taken under the registry lock, and the holder of a set takes no
     * other thread lock and not the registry lock before releasing them.
     * The locks keep the owners' slow paths out, and keep the threads from
     * exiting (thread exit needs the lock). */
    for (tlp_tslot *ts = pool->holders; ts; ts = ts->hnext) {
        tlp_thread_rec *r = ts->rec;
        if (!remote && r != self)
            continue;
        tlp__lock_take(&r->lock);
        if (!unload_tslot(pool, r, ts, put_only)) {
            tlp__lock_drop(&r->lock);
            continue;
        }
        r->pending = pending;
        r->pending_ts = ts; /* phase 3 needs no lookup through r->ts[] */
        r->reached = true;
        pending = r;
    }
    /* Nobody waits for the registry while we wait for other threads. The
     * pending threads' tslots stay: dropping one needs its thread lock. */
    pthread_mutex_unlock(&tlp__registry_lock);
    if (!pending)
        return NULL;

    /* Phase 2: one heavy barrier for all of them. */
    if (remote)
        tlp__heavy_barrier(pending);

    /* Phase 3: wait for any fast path in flight, then the magazines are ours. */
    for (tlp_thread_rec *r = pending; r; r = pending) {
        pending = r->pending;
        tlp_tslot *ts = r->pending_ts;
        if (!r->reached) {
            /* Not reached (signal fallback: the thread blocks the signal or
             * did not answer in time): its cache stays as it is, unloaded,
             * so that its owner's next operation takes the slow path and
             * hands the magazines to the victim generation itself (or
             * the cap's walk of another class, or the thread's exit, does:
             * threadcap.c, thread.c). A put magazine alone is installed
             * again by its owner (leak.c). */
            if (!put_only)
                atomic_store_explicit(&ts->missed, true, memory_order_relaxed);
            tlp__lock_drop(&r->lock);
            continue;
        }
        take_tslot(pool, &list, ts, put_only);
        tlp__lock_drop(&r->lock);
    }
    return list;
#endif
}

tlp__mag *tlp__take_thread_mags(tlp_pool *pool, bool remote, bool detach)
{
    return take_mags(pool, remote, detach, false);
}

/* A split-window pool's put magazines, taken from every holder as a drain
 * would (registry lock held on entry, released on return). */
tlp__mag *tlp__take_put_mags(tlp_pool *pool, bool remote)
{
    return take_mags(pool, remote, false, true);
}
