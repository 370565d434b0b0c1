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

tlp_pool **tlp__pools_ref(size_t *n_out)
{
    pthread_mutex_lock(&tlp__registry_lock);
    size_t n = 0;
    for (uint32_t s = 0; s < tlp__pools_cap; s++)
        n += tlp__pools[s] != NULL;
    tlp_pool **out = malloc((n ? n : 1) * sizeof *out);
    n = 0;
    if (out) {
        for (uint32_t s = 0; s < tlp__pools_cap; s++) {
            tlp_pool *p = tlp__pools[s];
            if (p) {
                p->refs++;
                out[n++] = p;
            }
        }
    }
    pthread_mutex_unlock(&tlp__registry_lock);
    *n_out = n;
    return out;
}

void tlp__pools_unref(tlp_pool **pools, size_t n)
{
    if (n) {
        pthread_mutex_lock(&tlp__registry_lock);
        for (size_t i = 0; i < n; i++)
            pools[i]->refs--;
        pthread_cond_broadcast(&tlp__registry_cond);
        pthread_mutex_unlock(&tlp__registry_lock);
    }
    free(pools);
}

/* One pool at a time, each kept alive by a reference while fn runs: fn may
 * create and destroy other pools (not the one it is given). Pools created
 * meanwhile may be skipped. */
int tlp_pool_foreach(int (*fn)(tlp_pool *pool, void *arg), void *arg)
{
    if (!fn)
        return EINVAL;
    int ret = 0;
    for (uint32_t s = 0; ret == 0; s++) {
        tlp__ref ref;
        tlp_pool *pool = NULL;
        pthread_mutex_lock(&tlp__registry_lock);
        for (; s < tlp__pools_cap && !pool; s++)
            if (tlp__pools[s] && !tlp__pools[s]->buf_class)
                pool = tlp__pools[s];
        if (pool) {
            s--;
            tlp__ref_take(&ref, pool);
        }
        pthread_mutex_unlock(&tlp__registry_lock);
        if (!pool)
            break;
        ret = fn(pool, arg);
        tlp__ref_drop(&ref);
    }
    return ret;
}
