/* SPDX-License-Identifier: MIT */
/*
 * Drains (Go's GC-time pool cleanup, without a GC): every idle object moves to
 * the victim generation, and the previous victim generation is released.
 * Locks are held only to unlink lists; objects are released after unlocking.
 */
#include "internal.h"

#include <stdlib.h>

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
 * unlinks the first generation of every tier. Lock order: registry first. */
static tlp__mag *lock_and_unlink_idle(tlp_pool *pool)
{
    pthread_mutex_lock(&tlp__registry_lock);
    pthread_mutex_lock(&pool->drain_lock);
    tlp__mag *list = tlp__take_thread_mags(pool, tlp__remote_drain_ok(), false);
    pthread_mutex_unlock(&tlp__registry_lock);
    return concat(list, tlp__shard_take_all(pool));
}

void tlp_drain(tlp_pool *pool)
{
    tlp__check_pool(pool, "tlp_drain");
    tlp__mag *young = lock_and_unlink_idle(pool);
    tlp__mag *old = tlp__victim_swap(pool, young, tlp__mag_list_objs(young));
    pthread_mutex_unlock(&pool->drain_lock);

    tlp__release_mags(pool, old, &pool->released_by_drain);
    tlp__count(&pool->drains, 1);
}

void tlp_release_idle(tlp_pool *pool)
{
    tlp__check_pool(pool, "tlp_release_idle");
    tlp__mag *young = lock_and_unlink_idle(pool);
    tlp__mag *old = tlp__victim_swap(pool, NULL, 0);
    pthread_mutex_unlock(&pool->drain_lock);

    tlp__release_mags(pool, concat(young, old), NULL);
    tlp__mag_free_spares(pool);
}

void tlp_release_idle_all(void)
{
    tlp_pool **live = malloc(TLP_MAX_POOLS * sizeof *live);
    if (!live)
        return;
    size_t n = 0;
    /* A reference keeps each pool alive (destroy waits for refs == 0)
     * while we release its objects outside the registry lock. */
    pthread_mutex_lock(&tlp__registry_lock);
    for (uint32_t s = 0; s < TLP_MAX_POOLS; s++) {
        if (tlp__pools[s]) {
            tlp__pools[s]->refs++;
            live[n++] = tlp__pools[s];
        }
    }
    pthread_mutex_unlock(&tlp__registry_lock);

    for (size_t i = 0; i < n; i++)
        tlp_release_idle(live[i]);

    pthread_mutex_lock(&tlp__registry_lock);
    for (size_t i = 0; i < n; i++)
        live[i]->refs--;
    pthread_cond_broadcast(&tlp__registry_cond);
    pthread_mutex_unlock(&tlp__registry_lock);
    free(live);
}
