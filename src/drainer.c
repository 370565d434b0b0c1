/* SPDX-License-Identifier: MIT */
/*
 * The background drainer: one thread for all pools with drain_ms > 0. It
 * starts with the first such pool and is stopped and joined when the last
 * one is destroyed. A pool being drained is marked drain_busy; destroy waits
 * for that mark to clear before it frees anything.
 */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

typedef struct drainer {
    pthread_t thread;
    bool stop;       /* guarded by lock */
    bool self_free;  /* stopped from its own thread (a hook in a drain
                      * destroyed the last pool): it frees itself */
} drainer;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;          /* CLOCK_MONOTONIC; wakes the drainer and destroyers */
static pthread_once_t cond_once = PTHREAD_ONCE_INIT;
static tlp_pool **pools;    /* the pools with drain_ms, npools of cap */
static uint32_t npools, cap;
static drainer *running;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void init_cond(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cond, &a);
    pthread_condattr_destroy(&a);
}

/* With lock held: a pool that is due now, or the time of the next one. */
static tlp_pool *next_due(uint64_t now, uint64_t *wake)
{
    *wake = now + 1000000000u;
    for (uint32_t i = 0; i < npools; i++) {
        if (pools[i]->next_drain_ns <= now)
            return pools[i];
        if (pools[i]->next_drain_ns < *wake)
            *wake = pools[i]->next_drain_ns;
    }
    return NULL;
}

static void *drainer_main(void *arg)
{
    drainer *d = arg;
    pthread_setname_np(pthread_self(), "tlp-drainer");
    pthread_mutex_lock(&lock);
    while (!d->stop) {
        uint64_t wake, now = now_ns();
        tlp_pool *p = next_due(now, &wake);
        if (p) {
            p->drain_busy = true;
            p->next_drain_ns = now + (uint64_t)p->drain_ms * 1000000u;
            pthread_mutex_unlock(&lock);
            tlp_drain(p);
            pthread_mutex_lock(&lock);
            p->drain_busy = false;
            pthread_cond_broadcast(&cond);
            continue;
        }
        struct timespec ts = { (time_t)(wake / 1000000000u), (long)(wake % 1000000000u) };
        pthread_cond_timedwait(&cond, &lock, &ts);
    }
    bool self_free = d->self_free;
    pthread_mutex_unlock(&lock);
    if (self_free)
        free(d);
    return NULL;
}

static bool start_locked(void)
{
    drainer *d = calloc(1, sizeof *d);
    sigset_t all, old;
    sigfillset(&all);
    /* The drainer takes no signals: the application's handlers run in its
     * own threads. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = d && pthread_create(&d->thread, NULL, drainer_main, d) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ok)
        running = d;
    else
        free(d);
    return ok;
}

void tlp__drainer_atfork(int phase)
{
    pthread_once(&cond_once, init_cond);
    if (phase == TLP_FORK_PREPARE) {
        pthread_mutex_lock(&lock);
        return;
    }
    if (phase == TLP_FORK_CHILD) {
        /* The drainer thread did not come along. A drain it had started is
         * lost (its locks were free: prepare took them all). */
        free(running);
        running = NULL;
        /* The condition variable may count the dead drainer as a waiter:
         * a broadcast in the child would wait for it forever. Start afresh. */
        init_cond();
        for (unsigned i = 0; i < npools; i++)
            pools[i]->drain_busy = false;
        if (npools)
            start_locked();
    }
    pthread_mutex_unlock(&lock);
}

int tlp__drainer_add(tlp_pool *pool)
{
    pthread_once(&cond_once, init_cond);
    pthread_mutex_lock(&lock);
    if (npools == cap) {
        uint32_t c = cap ? cap * 2 : 16;
        tlp_pool **t = realloc(pools, c * sizeof *t);
        if (!t) {
            pthread_mutex_unlock(&lock);
            return ENOMEM;
        }
        pools = t;
        cap = c;
    }
    pool->next_drain_ns = now_ns() + (uint64_t)pool->drain_ms * 1000000u;
    pools[npools++] = pool;
    /* No drainer thread (no memory): pools still work; the next pool with
     * drain_ms tries again, and tlp_drain works as ever. */
    if (!running)
        (void)start_locked();
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return 0;
}

/* With lock held: if `stop`, tell the running drainer (if any) to stop;
 * unlocks, then joins it outside the lock (it needs the lock to see stop). */
static void stop_unlock_join(bool stop)
{
    drainer *d = NULL;
    if (stop && running) {
        d = running;
        running = NULL;
        d->stop = true;
        pthread_cond_broadcast(&cond);
        if (pthread_equal(d->thread, pthread_self())) {
            /* A hook running in a background drain destroyed the last pool
             * with drain_ms: the drainer cannot join itself. It sees stop
             * when the drain returns, and exits and frees itself. */
            d->self_free = true;
            pthread_detach(d->thread);
            d = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    if (d) {
        int old = tlp__nocancel_begin(); /* pthread_join is a cancellation point */
        pthread_join(d->thread, NULL);
        tlp__nocancel_end(old);
        free(d);
    }
}

void tlp__drainer_remove(tlp_pool *pool)
{
    pthread_once(&cond_once, init_cond);
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < npools; i++) {
        if (pools[i] == pool) {
            pools[i] = pools[--npools];
            break;
        }
    }
    int old = tlp__nocancel_begin(); /* pthread_cond_wait is a cancellation point */
    while (pool->drain_busy)
        pthread_cond_wait(&cond, &lock);
    tlp__nocancel_end(old);
    stop_unlock_join(npools == 0);
}

/* At exit, stop and join the drainer thread: no thread is left running
 * behind the program's back (valgrind would report its stack and TLS as
 * possibly lost). Pools still alive simply get no more background drains. */
__attribute__((destructor)) static void stop_at_exit(void)
{
    pthread_mutex_lock(&lock);
    stop_unlock_join(true);
}
