/* SPDX-License-Identifier: MIT */
/*
 * Iterating live pools: tlp_pool_foreach, and the snapshot that leak and
 * stats printing use. tlp__pools_ref is the one function that reads the
 * pool registry for this; each pool it returns holds a reference, which
 * tlp_pool_destroy waits for, so the pools stay alive while they are used
 * outside the registry lock.
 */
#include "internal.h"

#include <stdlib.h>

size_t tlp__pools_ref(tlp_pool **out)
{
    size_t n = 0;
    pthread_mutex_lock(&tlp__registry_lock);
    for (uint32_t s = 0; s < TLP_MAX_POOLS; s++) {
        tlp_pool *p = tlp__pools[s];
        if (p) {
            p->refs++;
            out[n++] = p;
        }
    }
    pthread_mutex_unlock(&tlp__registry_lock);
    return n;
}

void tlp__pools_unref(tlp_pool **pools, size_t n)
{
    if (!n)
        return;
    pthread_mutex_lock(&tlp__registry_lock);
    for (size_t i = 0; i < n; i++)
        pools[i]->refs--;
    pthread_cond_broadcast(&tlp__registry_cond);
    pthread_mutex_unlock(&tlp__registry_lock);
}

int tlp_pool_foreach(int (*fn)(tlp_pool *pool, void *arg), void *arg)
{
    if (!fn)
        return EINVAL;
    tlp_pool **pools = malloc(TLP_MAX_POOLS * sizeof *pools);
    if (!pools)
        return ENOMEM;
    size_t n = tlp__pools_ref(pools);
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (!pools[i]->buf_class)
            ret = fn(pools[i], arg);
    tlp__pools_unref(pools, n);
    free(pools);
    return ret;
}
