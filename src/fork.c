/* SPDX-License-Identifier: MIT */
/*
 * fork() safety (pthread_atfork). Before the fork the forking thread takes
 * every lock of the library, in the documented order, so no lock is held by
 * a thread that will not exist in the child. The parent then releases them.
 * The child, which has only the forking thread, also adopts the caches of
 * the threads that did not come along (their magazines move to the shared
 * tier: the objects are valid memory in the child) and restarts the
 * background drainer if pools need it.
 *
 * A magazine is consistent at every instruction of the fast path (a get
 * reads the object before lowering count; a put writes it before raising
 * count), so a thread caught mid-operation by the fork leaves a usable one.
 */
#include "internal.h"
#include "bufpool.h" /* tlp__bufpool_atfork */
#include "leak.h"

#include <stdlib.h>

static void pool_locks(tlp_pool *p, bool lock)
{
    /* Fixed order: shards by index, victim, spare, check. Nothing else holds
     * two of these at once, so this order cannot deadlock. */
    if (lock) {
        for (uint32_t i = 0; i < p->nshards; i++)
            tlp__lock_take(&p->shards[i].lock);
        pthread_mutex_lock(&p->victim_lock);
        pthread_mutex_lock(&p->spare_lock);
#ifdef TLP_CHECKED
        pthread_mutex_lock(&p->check_lock);
#endif
    } else {
#ifdef TLP_CHECKED
        pthread_mutex_unlock(&p->check_lock);
#endif
        pthread_mutex_unlock(&p->spare_lock);
        pthread_mutex_unlock(&p->victim_lock);
        for (uint32_t i = p->nshards; i-- > 0;)
            tlp__lock_drop(&p->shards[i].lock);
    }
}

static void prepare(void)
{
    tlp__bufpool_atfork(TLP_FORK_PREPARE);
    tlp__drainer_atfork(TLP_FORK_PREPARE);
    tlp__pressure_atfork(TLP_FORK_PREPARE);
    pthread_mutex_lock(&tlp__registry_lock);
    for (uint32_t s = 0; s < tlp__pools_cap; s++)
        if (tlp__pools[s])
            pthread_mutex_lock(&tlp__pools[s]->drain_lock);
    for (tlp_thread_rec *r = tlp__threads; r; r = r->next)
        tlp__lock_take(&r->lock);
    for (uint32_t s = 0; s < tlp__pools_cap; s++)
        if (tlp__pools[s])
            pool_locks(tlp__pools[s], true);
    tlp__leaks_atfork(TLP_FORK_PREPARE);
}

static void release_all(void)
{
    tlp__leaks_atfork(TLP_FORK_PARENT); /* (the same in the child) */
    for (uint32_t s = tlp__pools_cap; s-- > 0;)
        if (tlp__pools[s])
            pool_locks(tlp__pools[s], false);
    for (tlp_thread_rec *r = tlp__threads; r; r = r->next)
        tlp__lock_drop(&r->lock);
    for (uint32_t s = tlp__pools_cap; s-- > 0;)
        if (tlp__pools[s])
            pthread_mutex_unlock(&tlp__pools[s]->drain_lock);
    pthread_mutex_unlock(&tlp__registry_lock);
}

static void parent(void)
{
    release_all();
    tlp__pressure_atfork(TLP_FORK_PARENT);
    tlp__drainer_atfork(TLP_FORK_PARENT);
    tlp__bufpool_atfork(TLP_FORK_PARENT);
}

/* Child, all locks held: link a dead thread's magazine into its pool's
 * shard directly (no max_idle release: no hooks inside a fork handler). */
static void adopt(tlp_pool *p, tlp__mag *m)
{
    if (!m)
        return;
    tlp__mag_retire_puts(p, m);
    if (!tlp__mag_count(m)) {
        m->next = atomic_load_explicit(&p->spares, memory_order_relaxed);
        atomic_store_explicit(&p->spares, m, memory_order_relaxed);
        return;
    }
    tlp_shard *s = &p->shards[0];
    m->next = s->mags;
    s->mags = m;
    atomic_store_explicit(&s->objs, atomic_load_explicit(&s->objs, memory_order_relaxed) + tlp__mag_count(m),
                          memory_order_relaxed);
    if (p->max_idle)
        atomic_fetch_add_explicit(&p->shared_objs, tlp__mag_count(m), memory_order_relaxed);
}

static void child(void)
{
    tlp_thread_rec *self = tlp__self_rec;
    tlp_thread_rec *r = tlp__threads, *keep = NULL;
    while (r) {
        tlp_thread_rec *next = r->next;
        if (r == self) {
            keep = r;
        } else {
            for (uint32_t s = 0; s < r->pub->nslots; s++) {
                tlp_tslot *ts = r->ts[s];
                if (!ts)
                    continue;
                tlp_pool *p = tlp__pools[s];
                adopt(p, ts->cur);
                adopt(p, ts->prev);
                adopt(p, tlp__leak_take_put_fork(p, ts));
                tlp__tslot_drop(p, ts, s);
            }
            free(r->ts);
            free(r->pub);
            free(r); /* its lock is held by us and dies with it */
        }
        r = next;
    }
    tlp__threads = keep;
    if (keep)
        keep->next = keep->prev = NULL;
    /* References held by the threads that did not come along died with
     * them: destroy must not wait for them. */
    tlp__ref_fork_child();
#ifdef TLP_CHECKED
    /* Objects taken by those threads are not out in the child. */
    for (uint32_t s = 0; s < tlp__pools_cap; s++)
        if (tlp__pools[s])
            tlp__check_fork_child(tlp__pools[s]);
#endif
    /* Waiters of the parent (a destroy waiting for references) may be
     * counted in the condition variable; they do not exist here. */
    pthread_cond_init(&tlp__registry_cond, NULL);
    release_all();
    tlp__pressure_atfork(TLP_FORK_CHILD);
    tlp__drainer_atfork(TLP_FORK_CHILD);
    tlp__bufpool_atfork(TLP_FORK_CHILD);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void install(void)
{
    if (pthread_atfork(prepare, parent, child) != 0)
        abort(); /* ENOMEM at start-up */
}

void tlp__fork_init(void)
{
    pthread_once(&once, install);
}
