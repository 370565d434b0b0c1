/* SPDX-License-Identifier: MIT */
/*
 * Buffer pools: size classes over tlp_pools. This file makes and destroys
 * them: the classes' hooks, the class layout and budget at create, drains,
 * statistics. The calls that hand buffers out and take them back are in
 * bufpool_calls.c (slow paths, large buffers, calloc/realloc/size) and, for
 * their fast paths, inline in tlpool.h.
 *
 * Each class is one tlp_pool whose objects are its buffers; the pool's
 * obj_new/obj_free hooks carve them from the class's spans and give them
 * back (bufpool_span.c; bufpool.h has the layout).
 *
 * The idle-bytes budget is translated into per-class max_idle counts when
 * the pool is created (docs/BUFFERS.md says why): no counter is shared
 * between classes, so nothing but the core's own paths runs per buffer.
 */
#include "bufpool.h"
#include "internal.h" /* tlp__pool_create_class, tlp__bufpool_register */
#include "sized.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MIN_CLASS 16u
#define DEFAULT_MAX_CLASS ((size_t)64 << 10)
#define DEFAULT_MAX_IDLE_BYTES ((size_t)64 << 20)
/* Default thread cache of a class: about TC_BYTES of buffers, within
 * [TC_MIN, TC_MAX] buffers (a thread touching every default class keeps at
 * most ~4 MiB; docs/BUFFERS.md has the exact figure). */
#define TC_BYTES ((size_t)128 << 10)
#define TC_MIN 2u
#define TC_MAX 128u
/* Per-thread cap on idle bytes across the classes: this, or 4 x the largest
 * class if that is more. */
#define DEFAULT_THREAD_IDLE_BYTES ((size_t)256 << 10)
/* Under a per-thread cap, a class's thread cache holds at most cap /
 * CLASS_SHARE bytes (at least one buffer), so a thread can use CLASS_SHARE
 * classes at their full cache before the cap binds: when it does, the slow
 * paths walk the thread's caches and move magazines (src/threadcap.c), which
 * a server's mix of sizes must not do often. 32: docs/BUFFERS.md has the
 * measurements. */
#define CLASS_SHARE 32u
/* Largest max_class accepted; far below any overflow in header arithmetic. */
#define MAX_CLASS_LIMIT ((size_t)PTRDIFF_MAX / 8)

/* ---- create / destroy --------------------------------------------------- */

/* A class's thread cache under the per-thread cap: at most cap / CLASS_SHARE
 * bytes, at least one buffer (thread_cache 1: a single magazine of one). */
static unsigned capped_thread_cache(unsigned tc, size_t size, size_t cap)
{
    if (cap == SIZE_MAX)
        return tc;
    size_t most = cap / CLASS_SHARE / size;
    if (most < 1)
        most = 1;
    return tc > most ? (unsigned)most : tc;
}

static unsigned default_thread_cache(size_t size, uint64_t max_idle)
{
    size_t tc = TC_BYTES / size;
    if (tc < TC_MIN)
        tc = TC_MIN;
    if (tc > TC_MAX)
        tc = TC_MAX;
    /* A magazine (thread_cache / 2 buffers) larger than the class's share of
     * the shared tier could never be stored there: every flush would free. */
    if (max_idle && tc > 2 * max_idle)
        tc = (size_t)(2 * max_idle);
    return (unsigned)tc;
}

static void destroy_classes(tlp_bufpool *bp, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        tlp_pool_destroy(bp->classes[i].pool);
        tlp__buf_class_fini(&bp->classes[i]);
    }
}

int tlp__bufpool_create(const tlp_bufpool_config *cfg, tlp_bufpool **out)
{
    if (!cfg || !out)
        return EINVAL;
    size_t minc = cfg->min_class ? cfg->min_class : DEFAULT_MIN_CLASS;
    size_t maxc = cfg->max_class ? cfg->max_class : DEFAULT_MAX_CLASS;
    if (minc > maxc || maxc > MAX_CLASS_LIMIT || cfg->thread_cache > TLP_MAX_THREAD_CACHE)
        return EINVAL;
    uint32_t gmin = tlp__buf_grid(minc), gmax = tlp__buf_grid(maxc);
    uint32_t n = gmax - gmin + 1;
    /* (gmax < TLP__BUF_GRID_N always holds: grid(MAX_CLASS_LIMIT) is 219.) */
    if (n > TLP__BUF_MAX_CLASSES || gmax >= TLP__BUF_GRID_N)
        return EINVAL;

    /* The budget: each class may keep budget / n bytes in its shared tier.
     * Classes whose share cannot hold one buffer are dropped from the top
     * (their requests become large ones), which raises the others' share. */
    size_t budget = cfg->max_idle_bytes ? cfg->max_idle_bytes : DEFAULT_MAX_IDLE_BYTES;
    if (budget != SIZE_MAX) {
        while (n > 1 && budget / n < tlp__buf_grid_size(gmin + n - 1))
            n--;
        if (budget / n < tlp__buf_grid_size(gmin))
            return EINVAL; /* the budget cannot hold one buffer of the smallest class */
    }

    /* The per-thread cap: at least one buffer of the largest class. */
    size_t largest = tlp__buf_grid_size(gmin + n - 1);
    size_t tcap = cfg->thread_idle_bytes;
    if (tcap == 0)
        tcap = largest > DEFAULT_THREAD_IDLE_BYTES / 4 ? 4 * largest : DEFAULT_THREAD_IDLE_BYTES;
    else if (tcap < largest)
        return EINVAL;

    tlp_bufpool *bp = calloc(1, sizeof(*bp));
    if (!bp)
        return ENOMEM;
    if (tcap != SIZE_MAX) {
        bp->group = calloc(1, sizeof(*bp->group));
        if (!bp->group) {
            free(bp);
            return ENOMEM;
        }
        bp->group->cap = tcap;
        bp->group->n = n;
    }
    bp->thread_idle_bytes = tcap;
    bp->name = strdup(cfg->name ? cfg->name : "");
    if (!bp->name) {
        free(bp->group);
        free(bp);
        return ENOMEM;
    }
    bp->head.nclasses = n;
    bp->grid_min = gmin;
    bp->head.max_size = tlp__buf_grid_size(gmin + n - 1);

    bp->zero_on_free = cfg->zero_on_free;
    bp->max_idle_bytes = budget;

    char name[256];
    for (uint32_t i = 0; i < n; i++) {
        tlp__bufclass *c = &bp->classes[i];
        c->size = tlp__buf_grid_size(gmin + i);
        c->bp = bp;
        c->index = i;
        int err = tlp__buf_class_init(c);
        if (err) {
            destroy_classes(bp, i);
            free(bp->name);
            free(bp->group);
            free(bp);
            return err;
        }
        uint64_t max_idle = budget == SIZE_MAX ? 0 : (budget / n) / c->size; /* >= 1 */
        snprintf(name, sizeof(name), "%s/%zu", bp->name, c->size);
        tlp_config pc = {
            .obj_size = c->size,
            .obj_new = tlp__buf_carve,
            .obj_free = tlp__buf_uncarve,
            .ctx = c,
            .thread_cache = capped_thread_cache(cfg->thread_cache
                                                    ? cfg->thread_cache
                                                    : default_thread_cache(c->size, max_idle),
                                                c->size, tcap),
            .max_idle = (size_t)max_idle,
            .drain_ms = cfg->drain_ms,
            .name = name,
        };
        err = tlp__pool_create_class(&pc, &c->pool);
        if (err) {
            tlp__buf_class_fini(c);
            destroy_classes(bp, i);
            free(bp->name);
            free(bp->group);
            free(bp);
            return err;
        }
        if (bp->group) {
            /* Before any thread can use the class: bp is not published. */
            tlp__group *g = bp->group;
            tlp_pool *p = c->pool;
            g->pool[i] = p;
            g->slot[i] = p->head.slot;
            g->size[i] = c->size;
            p->group_idx = i;
            p->group = g;
            /* A class whose share of the cap is one buffer trades single
             * buffers with its shared tier (src/single.c). */
            p->single = p->mag_cap == 1;
        }
    }
    /* The fast paths' tables: grid indexes below class 0 are served by it. */
    for (uint32_t g = 0; g < gmin + n; g++)
        bp->head.slot_by_grid[g] =
            ((const tlp__pool_head *)(const void *)bp->classes[tlp__buf_grid_class(bp, g)].pool)
                ->slot;
    bp->magic = TLP__BUFPOOL_MAGIC;
    tlp__bufpool_register(bp);
    tlp__buf_pool_link(bp, true);
    *out = bp;
    return 0;
}

void tlp_bufpool_destroy(tlp_bufpool *bp)
{
    if (!bp)
        return;
    tlp__buf_check_bp(bp, "tlp_bufpool_destroy");
#ifdef TLP_CHECKED
    uint64_t large = atomic_load_explicit(&bp->large_out, memory_order_relaxed);
    if (large)
        tlp__buf_fatal(bp, "tlp_bufpool_destroy with %llu large buffer(s) still out (not freed)",
                       (unsigned long long)large);
#endif
    tlp__bufpool_unregister(bp);
    /* Buffers of a class still out are the core's to report (checked builds). */
    tlp__buf_pool_link(bp, false);
    destroy_classes(bp, bp->head.nclasses);
    bp->magic = 0;
    free(bp->group);
    free(bp->name);
    free(bp);
}

void tlp_bufpool_drain(tlp_bufpool *bp)
{
    tlp__buf_check_bp(bp, "tlp_bufpool_drain");
    for (uint32_t i = 0; i < bp->head.nclasses; i++)
        tlp_drain(bp->classes[i].pool);
}

void tlp_bufpool_release_idle(tlp_bufpool *bp)
{
    tlp__buf_check_bp(bp, "tlp_bufpool_release_idle");
    for (uint32_t i = 0; i < bp->head.nclasses; i++)
        tlp_release_idle(bp->classes[i].pool);
}

/* ---- statistics --------------------------------------------------------- */

void tlp__bufpool_stats_get(tlp_bufpool *bp, tlp_bufpool_stats *out)
{
    tlp__buf_check_bp(bp, "tlp_bufpool_stats_get");
    memset(out, 0, sizeof(*out));
    out->nclasses = bp->head.nclasses;
    for (uint32_t i = 0; i < bp->head.nclasses; i++) {
        tlp_stats s;
        tlp_stats_get(bp->classes[i].pool, &s);
        tlp_bufclass_stats *c = &out->classes[i];
        c->size = bp->classes[i].size;
        c->idle = s.idle;
        c->idle_bytes = s.idle * c->size;
        c->out = s.out;
        c->gets = s.gets;
        c->hits_thread = s.hits_thread;
        c->hits_shared = s.hits_shared;
        c->hits_victim = s.hits_victim;
        c->made = s.made;
        c->released = s.released;
        out->idle_bytes += c->idle_bytes;
        out->idle_thread_bytes += s.idle_thread * c->size;
        out->cap_spilled_bytes += tlp__cap_spilled(bp->classes[i].pool) * c->size;
        out->span_bytes +=
            atomic_load_explicit(&bp->classes[i].span_bytes, memory_order_relaxed);
    }
    out->large_allocs = atomic_load_explicit(&bp->large_allocs, memory_order_relaxed);
    out->large_out = atomic_load_explicit(&bp->large_out, memory_order_relaxed);
    out->thread_idle_cap = bp->thread_idle_bytes == SIZE_MAX ? UINT64_MAX : bp->thread_idle_bytes;
}
