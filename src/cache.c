/* SPDX-License-Identifier: MIT */
/*
 * The thread cache's slow paths: what tlp_get/tlp_put do when the loaded
 * magazine is empty/full (or the fast path is off: reset hook, checked build).
 * Each thread has two magazines per pool (Bonwick's loaded + previous), so a
 * thread does at least mag_cap operations between visits to the shared tier.
 */
#include "internal.h"
#include "leak.h"
#include "track.h"


/* Under the thread lock: an object from this thread's own cache or a whole
 * magazine from the shared tier, or NULL. h: the home shard's index. */
static void *get_cached(tlp_pool *pool, tlp_thread_rec *r, tlp_tslot *ts, uint32_t h)
{
    uint32_t slot = pool->head.slot;
    tlp__mag *m = ts->cur;
    tlp__mag *p = ts->prev;
    void *obj = NULL;

    if (m && tlp__mag_count(m)) {
        obj = tlp__mag_pop(m);
    } else if (p && tlp__mag_count(p)) {
        ts->prev = m;
        m = p;
        obj = tlp__mag_pop(m);
    } else {
        tlp_shard *home = &pool->shards[h];
        /* The empty one goes with the trade, unless it becomes the second
         * magazine (two_mags and none yet). Its puts are retired first, on
         * the home shard's line (if no trade happens it stays loaded, its
         * puts counted already). */
        bool keep = m && !p && pool->two_mags;
        tlp__mag *give = (m && !keep) ? m : NULL;
        if (give)
            tlp__mag_retire_puts_to(home, give);
        tlp__mag *full = tlp__shard_trade_empty(pool, h, give);
        if (full) {
            if (keep)
                ts->prev = m;
            m = full;
            obj = tlp__mag_pop(m); /* counted by the trade (hits_traded) */
        } else if (!m) {
            /* An empty magazine now, so the puts that follow are fast.
             * NULL (no memory) is fine: the put path retries. */
            m = tlp__mag_take(pool, h);
        }
    }
    tlp__thread_load(r, slot, m, pool->hidden);
    return obj;
}

/* A drain could not reach this thread (signal fallback) and left its
 * magazines of the slot unloaded: the owner hands them to the victim
 * generation itself, as the drain would have. Thread lock held; returns
 * what goes to the victim generation (pushed after unlocking). */
static tlp__mag *hand_over(tlp_pool *pool, tlp_tslot *ts)
{
    tlp__mag *list = NULL;
    /* A split-window pool's put magazine too, its records forgotten. */
    tlp__mag *mags[3] = { ts->cur, ts->prev, tlp__leak_take_put(pool, ts) };
    atomic_store_explicit(&ts->missed, false, memory_order_relaxed);
    ts->cur = ts->prev = NULL;
    for (int i = 0; i < 3; i++) {
        if (mags[i])
            tlp__mag_retire_puts(pool, mags[i]);
        if (mags[i] && tlp__mag_count(mags[i])) {
            mags[i]->next = list;
            list = mags[i];
        } else if (mags[i]) {
            tlp__mag_recycle(pool, mags[i]);
        }
    }
    return list;
}

__attribute__((noinline)) static void catch_up(tlp_pool *pool, tlp_thread_rec *r, tlp_tslot *ts)
{
    tlp__mag *list = hand_over(pool, ts);
    tlp__lock_drop(&r->lock);
    tlp__victim_add(pool, list);
    tlp__lock_take(&r->lock);
}

static inline void lock_owner(tlp_pool *pool, tlp_thread_rec *r, tlp_tslot *ts)
{
    tlp__lock_take(&r->lock);
    if (unlikely(atomic_load_explicit(&ts->missed, memory_order_relaxed)))
        catch_up(pool, r, ts);
}

/* A pool in a group (a buffer pool's class): the per-thread idle cap
 * (threadcap.c), then the thread lock is released and whatever the cap
 * took from the thread's caches goes to the shared tiers. */
__attribute__((noinline)) static void cap_unlock(tlp_pool *pool, tlp_thread_rec *r, tlp_tslot *ts)
{
    tlp__spills sp;
    sp.n = 0;
    tlp__cap_after(pool, r, ts, &sp);
    tlp__lock_drop(&r->lock);
    if (sp.n)
        tlp__cap_push(r, &sp);
}

/* site: the caller of tlp_get / tlp_buf_alloc, for leak tracking. */
void *tlp__get_slow(tlp_pool *pool)
{
    return tlp__get_slow_at(pool, __builtin_return_address(0));
}

void *tlp__get_slow_at(tlp_pool *pool, void *site)
{
    tlp__check_pool(pool, "tlp_get");
#if TLP_FASTPATH
    /* Leak tracking: leak.c's lock-free path, which calls the one below
     * when it cannot serve the get. */
    if (unlikely(pool->leaks))
        return tlp__leak_get(pool, site);
    /* A class whose thread cache holds one buffer: one from the shared
     * tier, the thread's cache left as it is (single.c). */
    if (pool->single) {
        void *obj = tlp__single_get(pool);
        if (obj)
            return obj;
    }
#endif
    return tlp__get_locked(pool, site);
}

void *tlp__get_locked(tlp_pool *pool, void *site)
{
    tlp__lib_enter(pool, "tlp_get");
    tlp_thread_rec *r = tlp__thread_self();
    tlp_tslot *ts = r ? tlp__thread_attach(r, pool) : NULL;
    void *obj = NULL;
    if (ts) {
        uint32_t h = tlp__home_idx(pool, r);
        lock_owner(pool, r, ts);
        obj = get_cached(pool, r, ts, h);
        if (unlikely(pool->group != NULL))
            cap_unlock(pool, r, ts);
        else
            tlp__lock_drop(&r->lock);
    }
    if (!obj) {
        obj = tlp__victim_rescue(pool);
        if (obj)
            tlp__count(&pool->hits_victim, 1);
    }
    if (obj) {
        tlp__track_unpoison(obj, pool->obj_size); /* recycled: accessible again */
    } else {
        obj = tlp__obj_make(pool); /* counts; errno = ENOMEM on failure */
        if (!obj) {
            tlp__lib_leave();
            return NULL;
        }
    }
    tlp__check_got(pool, obj);
    if (unlikely(pool->leaks))
        tlp__leak_took(pool, obj, site);
    tlp__lib_leave();
    return obj;
}

/* Under the thread lock: push obj; returns a full magazine for the shared
 * tier (pushed by the caller after unlocking), or sets *failed. h: the home
 * shard's index. */
static tlp__mag *put_cached(tlp_pool *pool, tlp_thread_rec *r, tlp_tslot *ts, void *obj,
                           uint32_t h, bool *failed, bool *counted)
{
    uint32_t slot = pool->head.slot;
    tlp__mag *m = ts->cur;
    tlp__mag *spill = NULL;

    if (!m) {
        m = tlp__mag_take(pool, h);
        if (!m) {
            *failed = true;
            return NULL;
        }
    } else if (tlp__mag_count(m) == pool->mag_cap) {
        tlp__mag *p = ts->prev;
        if (p && tlp__mag_count(p) < pool->mag_cap) {
            ts->prev = m;
            m = p;
        } else if (pool->two_mags && !pool->max_idle) {
            /* p (full, or NULL) goes to the shard in the same lock round
             * trip that brings an empty magazine back. */
            tlp__mag *e = tlp__shard_trade_full(pool, h, p);
            *counted = true; /* the trade counted this slow put */
            ts->prev = m;
            if (!e) {
                /* p is in the shard already; m stays loaded, as the
                 * second magazine's place is now free. */
                ts->prev = NULL;
                *failed = true;
                return NULL;
            }
            m = e;
        } else {
            tlp__mag *e = tlp__mag_take(pool, h);
            if (!e) {
                *failed = true;
                return NULL;
            }
            if (pool->two_mags) {
                spill = p; /* full (or NULL): goes to the shared tier */
                ts->prev = m;
            } else {
                spill = m;
            }
            m = e;
        }
    }
    tlp__mag_push(m, obj);
    tlp__thread_load(r, slot, m, pool->hidden);
    return spill;
}

#if TLP_FASTPATH
/* Pools with a reset hook: after the hook has run (out of line, busy == 0,
 * so the hook may use pools itself), the push is the inline fast path's,
 * with the same handshake (see tlpool.h), and no lock. */
static bool put_after_reset(tlp_pool *pool, void *obj)
{
    uint32_t slot = pool->head.slot;
    tlp__slot_ref *l = tlp__tls;
    tlp__thread *t = tlp__head(l);
    if (slot >= t->nslots)
        return false;
    TLP__ENTER(t);
    tlp__mag *m = TLP__LOADED(l, slot);
    uintptr_t n = tlp__mag_count(m);
    /* The empty sentinel has count 0 but must never be written (nor
     * the tslot's mark: leak-tracked pools do not come here). */
    bool ok = m != &tlp__empty_mag && n < pool->mag_cap;
    if (ok) {
        m->objs[n] = obj;
        m->n.word += TLP__MAG_PUT_STEP; /* count + 1, puts + 1 */
    }
    TLP__LEAVE(t);
    return ok;
}
#endif

/* The locked part of a put: the thread's second magazine, or a spill of a
 * full one to the shared tier. Out of line, so that the reset-hook path of
 * tlp__put_slow stays a short function. */
__attribute__((noinline)) static void put_locked(tlp_pool *pool, void *obj)
{
    tlp__track_poison(obj, pool->obj_size);

    tlp_thread_rec *r = tlp__thread_self();
    tlp_tslot *ts = r ? tlp__thread_attach(r, pool) : NULL;
    /* The running CPU's shard, looked up once: statistics, trades, spill. */
    uint32_t h = r ? tlp__home_idx(pool, r) : 0;
    bool failed = (ts == NULL), counted = false;
    tlp__mag *spill = NULL;
    if (ts) {
        lock_owner(pool, r, ts);
        spill = put_cached(pool, r, ts, obj, h, &failed, &counted);
        if (unlikely(pool->group != NULL))
            cap_unlock(pool, r, ts);
        else
            tlp__lock_drop(&r->lock);
    }
    if (!counted)
        tlp__count(&pool->shards[h].slow_puts, 1);
    if (failed) {
        /* No memory for a magazine: do not keep the object, lose nothing. */
        tlp__obj_release(pool, obj);
        return;
    }
    if (spill)
        tlp__shard_push(pool, h, spill);
}

__attribute__((noinline)) static void drop_refused(tlp_pool *pool, void *obj)
{
    tlp__count(&tlp__stat_shard(pool)->slow_puts, 1);
    tlp__count(&pool->dropped_reset, 1);
    tlp__obj_release(pool, obj);
}

/* Every put but a reset-hook pool's common case: marked as inside the
 * library (re-entry from a signal handler is caught), the hook run with the
 * mark cleared (it may use pools), then the push under the thread lock. */
__attribute__((noinline)) static void put_general(tlp_pool *pool, void *obj, bool reset_done)
{
    tlp__lib_enter(pool, "tlp_put");
    tlp__check_put(pool, obj);
    if (unlikely(pool->leaks))
        tlp__leak_gave(pool, obj);
    if (pool->obj_reset && !reset_done) {
        bool keep;
        TLP__HOOK(keep = pool->obj_reset(obj, pool->ctx));
        if (!keep) {
            drop_refused(pool, obj);
            tlp__lib_leave();
            return;
        }
#if TLP_FASTPATH
        if (put_after_reset(pool, obj)) {
            tlp__lib_leave();
            return;
        }
#endif
    }
    put_locked(pool, obj);
    tlp__lib_leave();
}

/* The inline tlp_put of a pool with obj_reset ran the hook (keep is its
 * result) and could not push: a refused object is dropped, a kept one takes
 * the general path without the hook. */
void tlp__put_reset_slow(tlp_pool *pool, void *obj, bool keep)
{
    tlp__check_pool(pool, "tlp_put");
    if (!keep) {
        if (unlikely(pool->leaks))
            tlp__leak_gave(pool, obj);
        drop_refused(pool, obj);
        return;
    }
    put_general(pool, obj, true);
}

/* A put without a reset hook, locked: leak.c's fallback. */
void tlp__put_locked(tlp_pool *pool, void *obj)
{
    put_general(pool, obj, false);
}

#if TLP_FASTPATH
/* A pool with a reset hook comes here on every put from tlp_put_noinline
 * and TLP_NO_INLINE programs. The common case takes no lock, so it needs no
 * mark: it only stops a call from a signal handler that interrupted tlpool
 * (a mark set, or busy set under an inline operation), runs the hook with
 * nothing held (it may use pools, even this one), and pushes with the
 * inline path's handshake. */
__attribute__((noinline)) static void put_reset(tlp_pool *pool, void *obj)
{
    if (unlikely(tlp__inside != NULL ||
                 atomic_load_explicit(&tlp__head(tlp__tls)->busy, memory_order_relaxed) != 0))
        tlp__reentered(pool, "tlp_put");
    if (unlikely(!pool->obj_reset(obj, pool->ctx))) {
        if (unlikely(pool->leaks))
            tlp__leak_gave(pool, obj);
        drop_refused(pool, obj);
        return;
    }
    /* tlp__tls is read again inside: the hook may have grown the record.
     * A leak-tracked pool's slot shows its tslot's mark, which must not be
     * written: its puts continue in put_general, which forgets the
     * record. */
    if (likely(pool->leaks == NULL) && likely(put_after_reset(pool, obj)))
        return;
    put_general(pool, obj, true);
}
#endif

#if TLP_FASTPATH
/* A plain pool (no hook, not tracked, not checked): put_general's work
 * without its checks, which are all known false here. */
__attribute__((noinline)) static void put_plain(tlp_pool *pool, void *obj)
{
    tlp__lib_enter(pool, "tlp_put");
    put_locked(pool, obj);
    tlp__lib_leave();
}

/* A class of a capped buffer pool: a new grant without a lock when the
 * loaded magazine has room (threadcap.c), the buffer alone to the shared
 * tier (single.c), or the locked path. */
__attribute__((noinline)) static void put_group(tlp_pool *pool, void *obj)
{
    int how = tlp__cap_put_lean(pool, obj);
    if (how == TLP__LEAN_DONE)
        return;
    if (how == TLP__LEAN_ALONE) {
        tlp__single_put(pool, obj);
        return;
    }
    put_plain(pool, obj);
}
#endif

/* A leaf that tail-calls: the leak-tracked pools' puts (every one of them
 * comes here) pay no stack frame for the other cases. */
void tlp__put_slow(tlp_pool *pool, void *obj)
{
    if (!obj)
        return;
    tlp__check_pool(pool, "tlp_put");
#if TLP_FASTPATH
    if (likely(pool->obj_reset == NULL)) {
        /* Leak tracking: leak.c's lock-free path, which calls
         * tlp__put_locked when it cannot serve the put. */
        if (unlikely(pool->leaks)) {
            tlp__leak_put(pool, obj);
            return;
        }
    } else {
        put_reset(pool, obj);
        return;
    }
    /* Tail calls: this function keeps no frame. */
    if (pool->group)
        put_group(pool, obj);
    else
        put_plain(pool, obj);
#else
    put_general(pool, obj, false);
#endif
}

void *tlp_get_noinline(tlp_pool *pool)
{
    void *obj;
    if (likely(tlp__get_fast(pool->head.slot, &obj)))
        return obj;
    return tlp__get_slow_at(pool, __builtin_return_address(0));
}

/* Not the inline tlp_put: its reset-hook branch would give this small
 * function a stack frame; tlp__put_slow runs the hook here. */
void tlp_put_noinline(tlp_pool *pool, void *obj)
{
    if (likely(obj != NULL && tlp__put_fast(pool->head.put_slot, obj)))
        return;
    tlp__put_slow(pool, obj);
}
