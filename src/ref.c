/* SPDX-License-Identifier: MIT */
/*
 * References that keep a pool alive while a thread works on it outside the
 * registry lock (tlp_release_idle_all, thread exit). A thread holds at most
 * one at a time per call level, so a hook that destroys some other pool
 * never waits for a reference its own thread holds on that pool (it would,
 * if one call held references on every pool at once). Each reference is a
 * node on its holder's stack, linked into a per-thread list: a fork()ed
 * child recounts every pool's references from the forking thread's list,
 * since the other threads' references died with them.
 */
#include "internal.h"

static __thread tlp__ref *held;

void tlp__ref_take(tlp__ref *node, tlp_pool *pool)
{
    pool->refs++;
    node->pool = pool;
    node->next = held;
    held = node;
}

void tlp__ref_drop(tlp__ref *node)
{
    /* Nested holders drop in reverse order of taking (call levels). */
    pthread_mutex_lock(&tlp__registry_lock);
    held = node->next;
    node->pool->refs--;
    pthread_cond_broadcast(&tlp__registry_cond);
    pthread_mutex_unlock(&tlp__registry_lock);
}

void tlp__ref_wait_none(tlp_pool *pool)
{
    /* pthread_cond_wait is a cancellation point: cancelled there, the
     * thread would leave with the registry lock held. */
    int old = tlp__nocancel_begin();
    while (pool->refs)
        pthread_cond_wait(&tlp__registry_cond, &tlp__registry_lock);
    tlp__nocancel_end(old);
}

void tlp__ref_fork_child(void)
{
    for (uint32_t s = 0; s < tlp__pools_cap; s++)
        if (tlp__pools[s])
            tlp__pools[s]->refs = 0;
    for (tlp__ref *r = held; r; r = r->next)
        r->pool->refs++;
}
