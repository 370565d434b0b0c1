/* SPDX-License-Identifier: MIT */
/*
 * Making and releasing objects: the pool's hooks, or its own aligned
 * allocation (zeroed with zero_new). Every object made is counted here, and
 * every release too, so `made == released + idle + out` can be checked.
 */
#include "internal.h"
#include "track.h"

#include <stdlib.h>
#include <string.h>

void *tlp__obj_make(tlp_pool *pool)
{
    void *obj;
    if (pool->obj_new) {
        TLP__HOOK(obj = pool->obj_new(pool->ctx));
    } else if (pool->obj_align <= _Alignof(max_align_t)) {
        obj = tlp__life(pool)->zero_new ? calloc(1, pool->obj_size) : malloc(pool->obj_size);
    } else if (posix_memalign(&obj, pool->obj_align, pool->obj_size) != 0) {
        obj = NULL;
    } else if (tlp__life(pool)->zero_new) {
        memset(obj, 0, pool->obj_size);
    }
    if (!obj) {
        tlp__count(&pool->new_failed, 1);
        errno = ENOMEM;
        return NULL;
    }
    tlp__count(&pool->made, 1);
    return obj;
}

void tlp__obj_release(tlp_pool *pool, void *obj)
{
    tlp__track_unpoison(obj, pool->obj_size);
    if (pool->obj_free)
        TLP__HOOK(pool->obj_free(obj, pool->ctx));
    else
        free(obj);
    tlp__count(&pool->released, 1);
}

void tlp__release_mags(tlp_pool *pool, tlp__mag *list, _Atomic uint64_t *why)
{
    while (list) {
        tlp__mag *next = list->next;
        uintptr_t n = tlp__mag_count(list);
        for (uintptr_t i = 0; i < n; i++)
            tlp__obj_release(pool, list->objs[i]);
        if (why)
            tlp__count(why, n);
        tlp__mag_set_count(list, 0);
        tlp__mag_recycle(pool, list);
        list = next;
    }
}
