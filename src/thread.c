/* SPDX-License-Identifier: MIT */
/*
 * Per-thread state: the TLS pointer the inline fast path reads, the sentinel
 * it points at before a thread's first slow path, the registry of threads
 * (what drains and destroy walk), and the thread-exit flush.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

tlp__mag tlp__empty_mag = { .count = 0, .fast_cap = 0, .next = NULL };

/* Every slot of the sentinel holds the empty magazine: the fast path finds
 * count 0 / fast_cap 0 and takes the slow path, which creates the thread's
 * record. The sentinel is never written but for `busy` (relaxed stores of
 * any thread on its first operation; nobody reads it). */
tlp__thread tlp__sentinel_thread = {
    .loaded = { [0 ... TLP_MAX_POOLS - 1] = &tlp__empty_mag },
};

__attribute__((visibility("default"), tls_model("initial-exec")))
__thread tlp__thread *tlp__tls = &tlp__sentinel_thread;

pthread_mutex_t tlp__registry_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t tlp__registry_cond = PTHREAD_COND_INITIALIZER;
tlp_thread_rec *tlp__threads;

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static _Atomic uint32_t next_home;

/* Under the registry and thread locks: takes the magazines of the first
 * slot at or after *from that has any, and a reference on its pool. */
static tlp_pool *take_next(tlp_thread_rec *r, uint32_t *from, tlp__mag **mags, tlp__ref *ref)
{
    for (uint32_t s = *from; s < TLP_MAX_POOLS; s++) {
        tlp_pool *pool = tlp__pools[s];
        /* A drain may have emptied the cache of a thread that put objects:
         * its put count must survive it all the same. (Destroy zeroes the
         * counters of its slot, so a non-zero count means a live pool.) */
        if (r->pub.puts[s]) {
            tlp__count(&pool->retired_puts, r->pub.puts[s]);
            r->pub.puts[s] = 0;
        }
        r->missed[s] = false;
        if (!r->cur[s] && !r->prev_mag[s])
            continue;
        mags[0] = r->cur[s];
        mags[1] = r->prev_mag[s];
        r->cur[s] = r->prev_mag[s] = NULL;
        atomic_store_explicit(&r->pub.loaded[s], &tlp__empty_mag, memory_order_relaxed);
        tlp__ref_take(ref, pool);
        *from = s;
        return pool;
    }
    return NULL;
}

/* Thread exit: hand every cached magazine to its pool's shared tier, so
 * nothing is lost and another thread can reuse the objects. One pool at a
 * time, kept alive by a reference while we push outside the locks (pushing
 * may release objects through hooks, which must run without locks and may
 * use pools themselves). Needs no memory. */
static void thread_exit(void *arg)
{
    tlp_thread_rec *r = arg;
    uint32_t from = 0;
    int old = tlp__nocancel_begin();
    for (;;) {
        tlp__mag *mags[2];
        tlp__ref ref;
        pthread_mutex_lock(&tlp__registry_lock);
        pthread_mutex_lock(&r->lock);
        tlp_pool *pool = take_next(r, &from, mags, &ref);
        if (!pool && from != 0) {
            /* A hook may have used a pool of a lower slot: one more pass. */
            from = 0;
            pool = take_next(r, &from, mags, &ref);
        }
        pthread_mutex_unlock(&r->lock);
        if (!pool) {
            /* Nothing cached any more: leave the registry. */
            if (r->prev)
                r->prev->next = r->next;
            else
                tlp__threads = r->next;
            if (r->next)
                r->next->prev = r->prev;
            pthread_mutex_unlock(&tlp__registry_lock);
            break;
        }
        pthread_mutex_unlock(&tlp__registry_lock);
        for (int i = 0; i < 2; i++) {
            if (!mags[i])
                continue;
            if (mags[i]->count)
                tlp__shard_push(pool, r->home, mags[i]);
            else
                tlp__mag_recycle(pool, mags[i]);
        }
        tlp__ref_drop(&ref);
    }
    tlp__tls = &tlp__sentinel_thread;
    tlp__nocancel_end(old);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static void make_exit_key(void)
{
    if (pthread_key_create(&exit_key, thread_exit) != 0)
        abort(); /* only EAGAIN: the process is out of TLS keys at start-up */
}

tlp_thread_rec *tlp__thread_self(void)
{
    tlp__thread *t = tlp__tls;
    if (likely(t != &tlp__sentinel_thread))
        return (tlp_thread_rec *)t;

    pthread_once(&exit_key_once, make_exit_key);
    tlp_thread_rec *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    for (uint32_t s = 0; s < TLP_MAX_POOLS; s++)
        atomic_init(&r->pub.loaded[s], &tlp__empty_mag);
    atomic_init(&r->pub.busy, 0);
    pthread_mutex_init(&r->lock, NULL);
    r->home = atomic_fetch_add_explicit(&next_home, 1, memory_order_relaxed);
    r->tid = pthread_self();
    r->ktid = (int)gettid();
    atomic_init(&r->acks, 0);
    if (pthread_setspecific(exit_key, r) != 0) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    pthread_mutex_lock(&tlp__registry_lock);
    r->next = tlp__threads;
    if (tlp__threads)
        tlp__threads->prev = r;
    tlp__threads = r;
    pthread_mutex_unlock(&tlp__registry_lock);
    tlp__tls = &r->pub;
    return r;
}

void tlp__thread_load(tlp_thread_rec *r, uint32_t slot, tlp__mag *m, bool hidden)
{
    r->cur[slot] = m;
#if TLP_FASTPATH
    /* Relaxed: only this thread's fast path reads `loaded` for the magazine
     * contents, and it is this thread that wrote them. Drains never read
     * `loaded`; they use cur[] under the thread lock. */
    atomic_store_explicit(&r->pub.loaded[slot], m && !hidden ? m : &tlp__empty_mag,
                          memory_order_relaxed);
#else
    (void)hidden;
#endif
}
