/* SPDX-License-Identifier: MIT */
/*
 * Drains (Go's GC-time pool cleanup, without a GC): every idle object moves to
 * the victim generation, and the previous victim generation is released.
 * Locks are held only to unlink lists; objects are released after unlocking.
 */
#include "internal.h"


static tlp__mag *concat(tlp__mag *a, tlp__mag *b)
{
    if (!a)
        return b;
    tlp__mag *t = a;
    while (t->next)
        t = t->next;
    t->next = b;
    return a;
}

/* Takes the pool's drain_lock (drains of one pool run one at a time) and
 * unlinks the first generation of every tier. Lock order: registry first;
 * tlp__take_thread_mags releases the registry lock before it waits for
 * other threads. */
static tlp__mag *lock_and_unlink_idle(tlp_pool *pool)
{
    pthread_mutex_lock(&tlp__registry_lock);
    pthread_mutex_lock(&pool->drain_lock);
    tlp__mag *list = tlp__take_thread_mags(pool, tlp__remote_drain_ok(), false);
    return concat(list, tlp__shard_take_all(pool));
}

void tlp_drain(tlp_pool *pool)
{
    tlp__check_pool(pool, "tlp_drain");
    tlp__lib_enter(pool, "tlp_drain");
    tlp__mag *young = lock_and_unlink_idle(pool);
    tlp__mag *old = tlp__victim_swap(pool, young, tlp__mag_list_objs(young));
    pthread_mutex_unlock(&pool->drain_lock);

    tlp__release_mags(pool, old, &pool->released_by_drain);
    tlp__count(&pool->drains, 1);
    tlp__lib_leave();
}

static void release_idle(tlp_pool *pool)
{
    tlp__mag *young = lock_and_unlink_idle(pool);
    tlp__mag *old = tlp__victim_swap(pool, NULL, 0);
    pthread_mutex_unlock(&pool->drain_lock);

    tlp__release_mags(pool, concat(young, old), NULL);
    tlp__mag_free_spares(pool);
}

void tlp_release_idle(tlp_pool *pool)
{
    tlp__check_pool(pool, "tlp_release_idle");
    tlp__lib_enter(pool, "tlp_release_idle");
    release_idle(pool);
    tlp__lib_leave();
}

/* One pool at a time, each kept alive by a reference while its objects are
 * released outside the registry lock. Never a reference on every pool at
 * once: a hook of one pool may destroy another (destroy waits for that
 * pool's references to go). A pool created meanwhile may be skipped. */
void tlp_release_idle_all(void)
{
    tlp__lib_enter(NULL, "tlp_release_idle_all");
    int old = tlp__nocancel_begin();
    for (uint32_t s = 0; s < tlp__pools_cap; s++) {
        tlp__ref ref;
        pthread_mutex_lock(&tlp__registry_lock);
        tlp_pool *pool = tlp__pools[s];
        if (pool)
            tlp__ref_take(&ref, pool);
        pthread_mutex_unlock(&tlp__registry_lock);
        if (!pool)
            continue;
        tlp__inside = pool;
        release_idle(pool);
        tlp__inside = NULL;
        tlp__ref_drop(&ref);
    }
    tlp__nocancel_end(old);
    tlp__lib_leave();
}
