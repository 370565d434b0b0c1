/* SPDX-License-Identifier: MIT */
/*
 * The victim generation: magazines that a drain found idle. A get rescues one
 * object at a time from it (the rest keep their age, as in Go); the next drain
 * replaces the whole list and releases the old one.
 */
#include "internal.h"

void *tlp__victim_rescue(tlp_pool *pool)
{
    /* Relaxed peek: avoids the lock when the generation is empty. */
    if (atomic_load_explicit(&pool->victim_objs, memory_order_relaxed) == 0)
        return NULL;
    void *obj = NULL;
    tlp__mag *empty = NULL;
    pthread_mutex_lock(&pool->victim_lock);
    tlp__mag *m = pool->victim;
    if (m) {
        obj = tlp__mag_pop(m);
        atomic_store_explicit(&pool->victim_objs,
                              atomic_load_explicit(&pool->victim_objs, memory_order_relaxed) - 1,
                              memory_order_relaxed);
        if (tlp__mag_count(m) == 0) {
            pool->victim = m->next;
            empty = m;
        }
    }
    pthread_mutex_unlock(&pool->victim_lock);
    if (empty)
        tlp__mag_recycle(pool, empty);
    return obj;
}

tlp__mag *tlp__victim_swap(tlp_pool *pool, tlp__mag *list, uint64_t objs)
{
    pthread_mutex_lock(&pool->victim_lock);
    tlp__mag *old = pool->victim;
    pool->victim = list;
    atomic_store_explicit(&pool->victim_objs, objs, memory_order_relaxed);
    pthread_mutex_unlock(&pool->victim_lock);
    return old;
}

void tlp__victim_add(tlp_pool *pool, tlp__mag *list)
{
    if (!list)
        return;
    uint64_t n = tlp__mag_list_objs(list);
    tlp__mag *last = list;
    tlp__mag_retire_puts(pool, last);
    while (last->next) {
        last = last->next;
        tlp__mag_retire_puts(pool, last);
    }
    pthread_mutex_lock(&pool->victim_lock);
    last->next = pool->victim;
    pool->victim = list;
    atomic_store_explicit(&pool->victim_objs,
                          atomic_load_explicit(&pool->victim_objs, memory_order_relaxed) + n,
                          memory_order_relaxed);
    pthread_mutex_unlock(&pool->victim_lock);
}
