/* SPDX-License-Identifier: MIT */
/*
 * Pool slots: each live pool owns one index into the per-thread arrays.
 * Destroy drops every thread's cache of the pool (its holders) before the
 * slot is freed, so a reused slot starts clean and the fast path needs no
 * generation check. The lowest free slot is handed out first: a thread's
 * arrays cover the slots up to the highest it has used, which this keeps
 * near the number of live pools. The table of live pools grows by doubling;
 * it is read only under the registry lock.
 */
#include "internal.h"

#include <stdlib.h>

tlp_pool **tlp__pools;
uint32_t tlp__pools_cap;
static uint32_t lowest_free; /* no free slot below it */
/* Slots reserved without a pool (tlp__slot_reserve): tlp__pools[] stays
 * NULL there, so the loops over pools skip them. tlp__pools_cap entries. */
static bool *reserved;

static uint32_t find_free(void)
{
    uint32_t s = lowest_free;
    while (s < tlp__pools_cap && (tlp__pools[s] || reserved[s]))
        s++;
    if (s == tlp__pools_cap) {
        if (tlp__pools_cap >= TLP_MAX_POOLS)
            return UINT32_MAX;
        uint64_t cap = tlp__pools_cap ? (uint64_t)tlp__pools_cap * 2 : 64;
        if (cap > TLP_MAX_POOLS)
            cap = TLP_MAX_POOLS;
        bool *v = realloc(reserved, cap * sizeof *v);
        if (!v)
            return UINT32_MAX;
        reserved = v;
        tlp_pool **t = realloc(tlp__pools, cap * sizeof *t);
        if (!t)
            return UINT32_MAX;
        for (uint64_t i = tlp__pools_cap; i < cap; i++) {
            t[i] = NULL;
            v[i] = false;
        }
        tlp__pools = t;
        tlp__pools_cap = (uint32_t)cap;
    }
    lowest_free = s + 1;
    return s;
}

int tlp__slot_alloc(tlp_pool *pool)
{
    uint32_t s = find_free();
    if (s == UINT32_MAX)
        return ENOMEM;
    tlp__pools[s] = pool;
    pool->head.slot = s;
    return 0;
}

int tlp__slot_reserve(uint32_t *slot)
{
    uint32_t s = find_free();
    if (s == UINT32_MAX)
        return ENOMEM;
    reserved[s] = true;
    *slot = s;
    return 0;
}

void tlp__slot_free(uint32_t slot)
{
    tlp__pools[slot] = NULL;
    reserved[slot] = false;
    if (slot < lowest_free)
        lowest_free = slot;
}
