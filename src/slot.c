/* SPDX-License-Identifier: MIT */
/*
 * Pool slots: each live pool owns one index into every thread's per-pool
 * arrays. Destroy clears the slot in every thread before freeing it, so a
 * reused slot starts clean and the fast path needs no generation check.
 */
#include "internal.h"

tlp_pool *tlp__pools[TLP_MAX_POOLS];
static uint32_t hint;

int tlp__slot_alloc(tlp_pool *pool)
{
    for (uint32_t i = 0; i < TLP_MAX_POOLS; i++) {
        uint32_t s = (hint + i) % TLP_MAX_POOLS;
        if (!tlp__pools[s]) {
            tlp__pools[s] = pool;
            pool->head.slot = s;
            hint = s + 1;
            return 0;
        }
    }
    return ENOMEM;
}

void tlp__slot_free(uint32_t slot)
{
    tlp__pools[slot] = NULL;
}
