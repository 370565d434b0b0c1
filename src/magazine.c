/* SPDX-License-Identifier: MIT */
/*
 * Magazines: fixed-capacity LIFO stacks that move whole between a thread's
 * cache, the shards and the victim generation. Empty ones are kept in a small
 * stock per shard (what threads exchange on their slow paths, under the home
 * shard's lock) and on the pool's spare list (everything else, and the
 * stocks' overflow); the pool frees them on release_idle and destroy.
 */
#include "internal.h"

#include <stdlib.h>

tlp__mag *tlp__mag_alloc(tlp_pool *pool)
{
    pthread_mutex_lock(&pool->spare_lock);
    tlp__mag *m = pool->spares;
    if (m)
        pool->spares = m->next;
    pthread_mutex_unlock(&pool->spare_lock);
    if (!m) {
        /* Cache-line aligned and sized: two threads' magazines never
         * share a line, so their fast paths do not false-share. */
        size_t size = sizeof *m + (size_t)pool->mag_cap * sizeof(void *);
        size = (size + TLP_CACHELINE - 1) & ~(size_t)(TLP_CACHELINE - 1);
        m = aligned_alloc(TLP_CACHELINE, size);
        if (!m)
            return NULL;
    }
    m->n.word = 0;
    m->fast_cap = pool->fast_cap;
    m->next = NULL;
    return m;
}

void tlp__mag_recycle(tlp_pool *pool, tlp__mag *m)
{
    tlp__mag_retire_puts(pool, m);
    m->n.word = 0;
    pthread_mutex_lock(&pool->spare_lock);
    m->next = pool->spares;
    pool->spares = m;
    pthread_mutex_unlock(&pool->spare_lock);
}

tlp__mag *tlp__mag_take(tlp_pool *pool, uint32_t home)
{
    tlp_shard *s = &pool->shards[home % pool->nshards];
    pthread_mutex_lock(&s->lock);
    tlp__mag *m = tlp__stock_pop(s);
    pthread_mutex_unlock(&s->lock);
    if (!m)
        return tlp__mag_alloc(pool);
    m->next = NULL;
    return m;
}

void tlp__mag_give(tlp_pool *pool, uint32_t home, tlp__mag *m)
{
    tlp_shard *s = &pool->shards[home % pool->nshards];
    tlp__mag_retire_puts(pool, m);
    m->n.word = 0;
    pthread_mutex_lock(&s->lock);
    /* Bounded: when one thread only refills and another only flushes, the
     * empties pile up at the first one's home; the overflow goes to the
     * spare list, where the other finds them. */
    bool kept = tlp__stock_push(s, m);
    pthread_mutex_unlock(&s->lock);
    if (!kept)
        tlp__mag_recycle(pool, m);
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
        pthread_mutex_lock(&s->lock);
        tlp__mag *stock = s->empties;
        s->empties = NULL;
        s->nempties = 0;
        pthread_mutex_unlock(&s->lock);
        free_list(stock);
    }
    pthread_mutex_lock(&pool->spare_lock);
    tlp__mag *m = pool->spares;
    pool->spares = NULL;
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
