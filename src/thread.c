/* SPDX-License-Identifier: MIT */
/*
 * Per-thread state: the TLS pointer the inline fast path reads, the sentinel
 * it points at before a thread's first slow path, the registry of threads,
 * each thread's caches of the pools it uses (tslots, linked into the pools'
 * holder lists), and the thread-exit flush.
 *
 * Memory per thread: a record, plus 16 bytes per slot up to the highest
 * slot it has used (loaded[] and ts[]), plus one tslot per pool it uses.
 * A thread that never used a pool has nothing.
 */
#include "internal.h"
#include "leak.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

tlp__mag tlp__empty_mag = { .n = {0}, .fast_cap = 0, .next = NULL };

/* nslots = 0: every fast path of a thread without a record goes to the slow
 * path, which makes one. Never written. */
tlp__thread tlp__sentinel_thread = { .nslots = 0 };

__attribute__((visibility("default"), tls_model("initial-exec")))
__thread tlp__slot_ref *tlp__tls = (tlp__slot_ref *)(void *)(&tlp__sentinel_thread + 1);

__thread tlp_thread_rec *tlp__self_rec __attribute__((tls_model("initial-exec")));

pthread_mutex_t tlp__registry_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t tlp__registry_cond = PTHREAD_COND_INITIALIZER;
tlp_thread_rec *tlp__threads;

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static _Atomic uint32_t next_home;

void tlp__tslot_drop(tlp_pool *pool, tlp_tslot *ts, uint32_t slot)
{
    tlp_thread_rec *r = ts->rec;
    if (ts->hprev)
        ts->hprev->hnext = ts->hnext;
    else
        pool->holders = ts->hnext;
    if (ts->hnext)
        ts->hnext->hprev = ts->hprev;
    r->ts[slot] = NULL;
    atomic_store_explicit(&tlp__loaded_of(r)[slot], &tlp__empty_mag, memory_order_relaxed);
    uint32_t ps = tlp__put_slot2(pool);
    if (ps != TLP__NO_SLOT)
        atomic_store_explicit(&tlp__loaded_of(r)[ps], &tlp__empty_mag, memory_order_relaxed);
    if (ts->tg) {
        ts->tg->bytes -= ts->cap_bytes;
        if (--ts->tg->refs == 0)
            free(ts->tg);
    }
    free(ts);
}

/* Thread lock held: the thread's record for pool's group, shared with its
 * other tslots of the group (made by the first one). */
static tlp__tgroup *group_of(tlp_thread_rec *r, tlp_pool *pool)
{
    const tlp__group *g = pool->group;
    for (uint32_t i = 0; i < g->n; i++) {
        tlp_tslot *t = tlp__tslot(r, g->slot[i]);
        if (t && t->tg)
            return t->tg;
    }
    return calloc(1, sizeof(tlp__tgroup));
}

/* Under the registry and thread locks: the magazines of the first slot at
 * or after *from that the thread has a cache for, its tslot dropped, and a
 * reference on its pool. */
static tlp_pool *take_next(tlp_thread_rec *r, uint32_t *from, tlp__mag **mags, bool *missed,
                           tlp__ref *ref)
{
    for (uint32_t s = *from; s < r->pub->nslots; s++) {
        tlp_tslot *ts = r->ts[s];
        if (!ts)
            continue;
        tlp_pool *pool = tlp__pools[s];
        mags[0] = ts->cur;
        mags[1] = ts->prev;
        /* A drain could not reach this thread (signal fallback): its
         * magazines go where the drain would have put them. */
        *missed = atomic_load_explicit(&ts->missed, memory_order_relaxed);
        mags[2] = tlp__leak_take_put(pool, ts); /* its records forgotten */
        for (int i = 0; i < 3; i++)
            if (mags[i])
                tlp__mag_retire_puts(pool, mags[i]);
        tlp__tslot_drop(pool, ts, s);
        tlp__ref_take(ref, pool);
        *from = s;
        return pool;
    }
    return NULL;
}

/* Thread exit: hand every cached magazine to its pool's shared tier, so
 * nothing is lost and another thread can reuse the objects (a cache a drain
 * missed: to the victim generation, as the drain would have). One pool at a
 * time, kept alive by a reference while we push outside the locks (pushing
 * may release objects through hooks, which must run without locks and may
 * use pools themselves). Needs no memory. O(slots the thread covers). */
static void thread_exit(void *arg)
{
    tlp_thread_rec *r = arg;
    uint32_t from = 0;
    int old = tlp__nocancel_begin();
    for (;;) {
        tlp__mag *mags[3];
        bool missed = false;
        tlp__ref ref;
        pthread_mutex_lock(&tlp__registry_lock);
        tlp__lock_take(&r->lock);
        tlp_pool *pool = take_next(r, &from, mags, &missed, &ref);
        if (!pool && from != 0) {
            /* A hook may have used a pool of a lower slot: one more pass. */
            from = 0;
            pool = take_next(r, &from, mags, &missed, &ref);
        }
        tlp__lock_drop(&r->lock);
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
        for (int i = 0; i < 3; i++) {
            if (!mags[i])
                continue;
            if (tlp__mag_count(mags[i]) && missed) {
                mags[i]->next = NULL;
                tlp__victim_add(pool, mags[i]);
            } else if (tlp__mag_count(mags[i])) {
                tlp__shard_push(pool, r->home, mags[i]);
            } else {
                tlp__mag_recycle(pool, mags[i]);
            }
        }
        tlp__ref_drop(&ref);
    }
    tlp__tls = (tlp__slot_ref *)(void *)(&tlp__sentinel_thread + 1);
    tlp__self_rec = NULL;
    tlp__nocancel_end(old);
    free(r->ts);
    free(r->pub);
    free(r);
}

static void make_exit_key(void)
{
    if (pthread_key_create(&exit_key, thread_exit) != 0)
        abort(); /* only EAGAIN: the process is out of TLS keys at start-up */
}

tlp_thread_rec *tlp__thread_make(void)
{
    tlp_thread_rec *r;
    pthread_once(&exit_key_once, make_exit_key);
    r = calloc(1, sizeof *r);
    tlp__thread *pub = calloc(1, sizeof *pub);
    if (!r || !pub) {
        free(r);
        free(pub);
        return NULL;
    }
    r->pub = pub;
    atomic_init(&pub->busy, 0);
    tlp__lock_init(&r->lock);
    r->home = atomic_fetch_add_explicit(&next_home, 1, memory_order_relaxed);
    r->tid = pthread_self();
    r->ktid = (int)gettid();
    atomic_init(&r->acks, 0);
    if (pthread_setspecific(exit_key, r) != 0) {
        free(pub);
        free(r);
        return NULL;
    }
    pthread_mutex_lock(&tlp__registry_lock);
    r->next = tlp__threads;
    if (tlp__threads)
        tlp__threads->prev = r;
    tlp__threads = r;
    pthread_mutex_unlock(&tlp__registry_lock);
    tlp__self_rec = r;
    tlp__tls = tlp__loaded_of(r);
    return r;
}

/* Owner, thread lock held: make the record cover slot. The fast path of
 * this thread is not running (we are in its slow path; a signal handler
 * re-entering is stopped by tlp__lib_enter), and drains read r->pub only
 * under the thread lock, so the old record can be freed at once. */
static bool cover(tlp_thread_rec *r, uint32_t slot)
{
    uint32_t n = r->pub->nslots;
    if (slot < n)
        return true;
    uint64_t want = (uint64_t)n * 2;
    if (want < 8)
        want = 8;
    if (want <= slot)
        want = (uint64_t)slot + 1;
    if (want > TLP_MAX_POOLS)
        want = TLP_MAX_POOLS;
    tlp__thread *pub = malloc(sizeof *pub + want * sizeof(tlp__slot_ref));
    tlp_tslot **ts = realloc(r->ts, want * sizeof *ts);
    if (ts)
        r->ts = ts;
    if (!pub || !ts) {
        free(pub);
        return false;
    }
    tlp__slot_ref *old = tlp__loaded_of(r), *l = (tlp__slot_ref *)(void *)(pub + 1);
    for (uint32_t s = 0; s < n; s++)
        atomic_init(&l[s], atomic_load_explicit(&old[s], memory_order_relaxed));
    for (uint64_t s = n; s < want; s++) {
        atomic_init(&l[s], &tlp__empty_mag);
        r->ts[s] = NULL;
    }
    atomic_init(&pub->busy, 0);
    pub->nslots = (uint32_t)want;
    free(r->pub);
    r->pub = pub;
    tlp__tls = l;
    return true;
}

tlp_tslot *tlp__thread_attach_new(tlp_thread_rec *r, tlp_pool *pool)
{
    uint32_t slot = pool->head.slot;
    /* A split-window pool's tslot has its put magazine's state after it. */
    size_t size = sizeof(tlp_tslot) + (tlp__put_slot2(pool) != TLP__NO_SLOT ? sizeof(tlp__split) : 0);
    tlp_tslot *ts = calloc(1, size);
    if (!ts)
        return NULL;
    ts->rec = r;
    ts->mark.next = tlp__mark_of(ts);
    pthread_mutex_lock(&tlp__registry_lock);
    tlp__lock_take(&r->lock);
    /* A split-window pool's put magazine has a slot of its own (leak.c). */
    uint32_t ps = tlp__put_slot2(pool), top = ps != TLP__NO_SLOT && ps > slot ? ps : slot;
    if (!cover(r, top)) {
        tlp__lock_drop(&r->lock);
        pthread_mutex_unlock(&tlp__registry_lock);
        free(ts);
        return NULL;
    }
    if (pool->group) {
        ts->tg = group_of(r, pool);
        if (!ts->tg) {
            tlp__lock_drop(&r->lock);
            pthread_mutex_unlock(&tlp__registry_lock);
            free(ts);
            return NULL;
        }
        ts->tg->refs++;
    }
    ts->hnext = pool->holders;
    if (pool->holders)
        pool->holders->hprev = ts;
    pool->holders = ts;
    r->ts[slot] = ts;
    tlp__lock_drop(&r->lock);
    pthread_mutex_unlock(&tlp__registry_lock);
    return ts;
}

