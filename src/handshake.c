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

#include <sched.h>

static void unload(tlp_thread_rec *r, uint32_t slot)
{
#ifdef TLP_FENCED
    atomic_store_explicit(&r->pub.loaded[slot], &tlp__empty_mag, memory_order_seq_cst);
#else
    /* Relaxed: membarrier below orders it before our read of busy. */
    atomic_store_explicit(&r->pub.loaded[slot], &tlp__empty_mag, memory_order_relaxed);
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
    for (unsigned i = 0; atomic_load_explicit(&r->pub.busy, mo) != 0; i++) {
        if (i > 64)
            sched_yield();
    }
}

static void take(tlp_pool *pool, tlp__mag **list, tlp__mag *m)
{
    if (!m)
        return;
    if (m->count) {
        m->next = *list;
        *list = m;
    } else {
        tlp__mag_recycle(pool, m);
    }
}

tlp__mag *tlp__take_thread_mags(tlp_pool *pool, bool remote, bool detach)
{
    uint32_t slot = pool->head.slot;
    tlp__thread *self = tlp__tls;
    tlp_thread_rec *pending = NULL;
    tlp__mag *list = NULL;

    /* Phase 1: lock each thread that holds magazines of this pool and swap
     * the empty sentinel in. The locks keep the owners' slow paths out. */
    for (tlp_thread_rec *r = tlp__threads; r; r = r->next) {
        if (!remote && &r->pub != self)
            continue;
        pthread_mutex_lock(&r->lock);
        if (!r->cur[slot] && !r->prev_mag[slot]) {
            if (detach)
                r->pub.puts[slot] = 0;
            pthread_mutex_unlock(&r->lock);
            continue;
        }
        unload(r, slot);
        r->pending = pending;
        pending = r;
    }
    if (!pending)
        return NULL;

    /* Phase 2: one heavy barrier for all of them. Destroy (detach) needs
     * none: its precondition is that no thread uses the pool. */
    bool barrier = false;
#if !defined(TLP_FENCED) && TLP_FASTPATH
    barrier = remote && !detach;
    if (barrier)
        tlp__heavy_barrier(pending);
#endif

    /* Phase 3: wait for any fast path in flight, then the magazines are ours. */
    for (tlp_thread_rec *r = pending; r; r = pending) {
        pending = r->pending;
        if (barrier && !tlp__heavy_barrier_reached(r)) {
            /* Not reached (signal fallback: the thread blocks the signal):
             * leave its cache as it was. */
            tlp__thread_load(r, slot, r->cur[slot], pool->hidden);
            pthread_mutex_unlock(&r->lock);
            continue;
        }
        wait_idle(r);
        take(pool, &list, r->cur[slot]);
        take(pool, &list, r->prev_mag[slot]);
        r->cur[slot] = r->prev_mag[slot] = NULL;
        if (detach) {
            tlp__count(&pool->retired_puts, r->pub.puts[slot]);
            r->pub.puts[slot] = 0;
        }
        pthread_mutex_unlock(&r->lock);
    }
    return list;
}
