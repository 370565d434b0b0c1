/* SPDX-License-Identifier: MIT */
/*
 * Magazines: fixed-capacity LIFO stacks that move whole between a thread's
 * cache, the shards and the victim generation. Empty ones are kept in a
 * stock per shard (what threads exchange on their slow paths, under the home
 * shard's lock) and on the pool's spare list (those of drains and exits);
 * the pool frees them on release_idle and destroy.
 */
#include "internal.h"

#include <stdlib.h>

/* A new magazine (NULL without memory), empty, for this pool. */
static tlp__mag *mag_new(tlp_pool *pool)
{
    /* Cache-line aligned and sized: two threads' magazines never share a
     * line, so their fast paths do not false-share. */
    size_t size = sizeof(tlp__mag) + (size_t)pool->mag_cap * sizeof(void *);
    size = (size + TLP_CACHELINE - 1) & ~(size_t)(TLP_CACHELINE - 1);
    tlp__mag *m = aligned_alloc(TLP_CACHELINE, size);
    if (!m)
        return NULL;
    m->n.word = 0;
    m->fast_cap = pool->fast_cap;
    m->next = NULL;
    return m;
}

/* One from the spare list, or NULL. A relaxed peek first: the list is
 * usually empty, and an empty list costs no lock on a pool-wide line. */
static tlp__mag *spare_pop(tlp_pool *pool)
{
    if (atomic_load_explicit(&pool->spares, memory_order_relaxed) == NULL)
        return NULL;
    pthread_mutex_lock(&pool->spare_lock);
    tlp__mag *m = atomic_load_explicit(&pool->spares, memory_order_relaxed);
    if (m)
        atomic_store_explicit(&pool->spares, m->next, memory_order_relaxed);
    pthread_mutex_unlock(&pool->spare_lock);
    return m;
}

static tlp__mag *ready(tlp_pool *pool, tlp__mag *m)
{
    m->n.word = 0;
    m->fast_cap = pool->fast_cap;
    m->next = NULL;
    return m;
}

tlp__mag *tlp__mag_alloc(tlp_pool *pool)
{
    tlp__mag *m = spare_pop(pool);
    return m ? ready(pool, m) : mag_new(pool);
}

tlp__mag *tlp__mag_alloc_near(tlp_pool *pool, uint32_t h)
{
    tlp__mag *m = spare_pop(pool);
    /* Another shard's stock: where the empties of threads that take more
     * than they give pile up (a consumer trades with the producer's shard,
     * so this is rare). Hints peeked first, as for the full magazines. */
    for (uint32_t i = 1; !m && i < pool->nshards; i++) {
        tlp_shard *s = &pool->shards[(h + i) % pool->nshards];
        if (atomic_load_explicit(&s->nempties, memory_order_relaxed) == 0)
            continue;
        tlp__lock_take(&s->lock);
        m = tlp__stock_pop(s);
        tlp__lock_drop(&s->lock);
    }
    return m ? ready(pool, m) : mag_new(pool);
}

void tlp__mag_recycle(tlp_pool *pool, tlp__mag *m)
{
    tlp__mag_retire_puts(pool, m);
    m->n.word = 0;
    pthread_mutex_lock(&pool->spare_lock);
    m->next = atomic_load_explicit(&pool->spares, memory_order_relaxed);
    atomic_store_explicit(&pool->spares, m, memory_order_relaxed);
    pthread_mutex_unlock(&pool->spare_lock);
}

tlp__mag *tlp__mag_take(tlp_pool *pool, uint32_t h)
{
    tlp_shard *s = &pool->shards[h];
    tlp__lock_take(&s->lock);
    tlp__mag *m = tlp__stock_pop(s);
    tlp__lock_drop(&s->lock);
    if (!m)
        return tlp__mag_alloc_near(pool, h);
    m->next = NULL;
    return m;
}

static void free_list(tlp__mag *m)
{
    while (m) {
        tlp__mag *next = m->next;
        free(m);
        m = next;
    }
}

void tlp__mag_free_spares(tlp_pool *pool)
{
    for (uint32_t i = 0; i < pool->nshards; i++) {
        tlp_shard *s = &pool->shards[i];
        tlp__lock_take(&s->lock);
        tlp__mag *stock = s->empties;
        s->empties = NULL;
        atomic_store_explicit(&s->nempties, 0, memory_order_relaxed);
        tlp__lock_drop(&s->lock);
        free_list(stock);
    }
    pthread_mutex_lock(&pool->spare_lock);
    tlp__mag *m = atomic_load_explicit(&pool->spares, memory_order_relaxed);
    atomic_store_explicit(&pool->spares, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&pool->spare_lock);
    free_list(m);
}

uint64_t tlp__mag_list_objs(const tlp__mag *list)
{
    uint64_t n = 0;
    for (; list; list = list->next)
        n += tlp__mag_count(list);
    return n;
}
