/* SPDX-License-Identifier: MIT */
/*
 * Internal types and declarations of tlpool.
 *
 * Glossary
 *   pool      struct tlp_pool: immutable config, shared tier, victim generation.
 *   slot      a pool's index into the per-thread arrays; unique among live
 *             pools, the lowest free one is reused after destroy (so a thread's
 *             arrays are bounded by the live pools, not by the pools ever
 *             created). A thread's arrays cover only up to the highest slot
 *             it has used.
 *   tslot     struct tlp_tslot: one thread's cache of one pool (its two
 *             magazines), made at the thread's first use of the pool and
 *             linked into the pool's holder list: drains, destroy and stats
 *             visit only the pool's holders.
 *   magazine  tlp__mag: a LIFO stack of up to mag_cap idle objects. Magazines
 *             move whole between tiers (O(1) pointer links, never per object).
 *   thread    struct tlp_thread_rec: one per thread that used any pool. Holds,
 *             per slot, the loaded magazine (the fast path's), the previous one,
 *             and the counter of fast-path puts.
 *   shard     one lock + a list of non-empty magazines; a pool has nshards,
 *             each on its own cache line. A thread's home shard is fixed.
 *   victim    the pool's second generation: magazines a drain found idle.
 *   sentinel  tlp__empty_mag (count 0, fast_cap 0) and the sentinel thread:
 *             the fast path reads them instead of testing for NULL.
 *
 * Lock order (outer to inner): registry_lock -> pool drain_lock -> thread
 * lock -> one of a pool's shard / victim / spare locks (never two of those at
 * once, but for fork.c, which takes them all in a fixed order). The
 * drainer's schedule lock and the pressure watcher's lock are taken alone
 * (fork.c takes them first).
 * Hooks (obj_new, obj_reset, obj_free) are never called with a lock held.
 */
#ifndef TLP_INTERNAL_H
#define TLP_INTERNAL_H

#include "tlpool.h"
#include "lock.h"

#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#define TLP_CACHELINE 64
#define TLP_DEFAULT_THREAD_CACHE 128u
#define TLP_POOL_MAGIC 0x746c706f6f6c2121ull /* "tlpool!!" */
#define TLP_POOL_DEAD 0xdeadbeefdeadbeefull

/* Checked builds (and poisoning builds) keep every operation out of line:
 * magazines are never installed where the inline fast path can see them. */
#if defined(TLP_CHECKED) || defined(TLP_POISON)
#define TLP_FASTPATH 0
#else
#define TLP_FASTPATH 1
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- shared tier -------------------------------------------------------- */

/* The first cache line holds everything a trade touches (lock.h's lock,
 * not a pthread mutex: 4 bytes, and no calls). */
typedef struct tlp_shard {
    tlp__lock lock;
    _Atomic uint32_t nempties; /* magazines in empties: written under lock, read as a hint */
    tlp__mag *mags;      /* non-empty magazines, LIFO */
    _Atomic uint64_t objs; /* objects in mags: written under lock, read as a hint */
    tlp__mag *empties;   /* the stock of empty magazines of the threads at home
                          * here, so that exchanging magazines takes this lock
                          * and not the pool-wide spare_lock; not bounded: an
                          * empty magazine goes to the stock of the shard its
                          * full replacement came from, and a shard whose stock
                          * runs out takes from the others' before allocating */
    /* The trades' statistics, counted under `lock` (tlp__count_locked: a
     * load and a store, no read-modify-write): gets served by a trade with
     * this shard, and the slow puts and retired inline puts of the put
     * side's trades (summed into slow puts). */
    _Atomic uint64_t hits_shared, puts_traded;
    /* Single objects' puts (single.c) stored here, counted under `lock`
     * (also counted in puts_traded) as spilled by the per-thread cap. */
    _Atomic uint64_t spilled_traded;
    uint64_t quota;      /* max_idle room this shard reserved in shared_objs ahead of
                          * single objects' puts (shard.c; under lock) */
    /* The other slow-path statistics of the threads running on this
     * shard's CPU: relaxed adds on a line no other CPU writes (stats sum
     * the shards). */
    _Atomic uint64_t slow_puts __attribute__((aligned(TLP_CACHELINE)));
    _Atomic uint64_t retired_puts;
    _Atomic uint64_t cap_spilled; /* objects a thread's idle cap sent here (threadcap.c) */
} __attribute__((aligned(TLP_CACHELINE))) tlp_shard;

/* ---- the pool ----------------------------------------------------------- */

struct tlp_pool {
    tlp__pool_head head;  /* must stay first: read by the inline fast path */
    uint64_t magic;

    /* immutable after create */
    size_t obj_size, obj_align;
    void *(*obj_new)(void *ctx);
    bool (*obj_reset)(void *obj, void *ctx);
    void (*obj_free)(void *obj, void *ctx);
    void *ctx;
    uint32_t mag_cap;      /* objects per magazine: thread_cache / 2 */
    bool two_mags;         /* false for thread_cache 1: no previous magazine */
    uint32_t fast_cap;     /* fast_cap of this pool's magazines (0: every put is slow) */
    uint32_t nshards;
    uint64_t max_idle;     /* 0 = none */
    unsigned drain_ms;
    char *name;
    bool hidden;           /* leak tracking: the fast path sees the tslot's mark, not the magazines */
    bool buf_class;        /* a class of a buffer pool (not listed by tlp_pool_foreach) */
    uint32_t group_idx;    /* index of the pool in its group */
    bool single;           /* in a group, thread cache of one object: single.c */
    struct tlp__group *group; /* the pools sharing a per-thread idle cap (a buffer
                               * pool's classes), NULL for none; set before use */
    struct tlp__leaks *leaks; /* leak records (leak.c), NULL when not tracked */

    /* counters written by slow paths (relaxed atomics: statistics only) */
    _Atomic uint64_t made, new_failed, released, dropped_reset, released_by_drain,
        released_by_cap, drains, hits_shared, hits_victim, slow_puts, retired_puts;
    _Atomic uint64_t shared_objs;   /* objects in all shards; kept only when max_idle != 0 */

    /* drains of this pool run one at a time (unlink phase only) */
    pthread_mutex_t drain_lock;

    /* victim generation */
    pthread_mutex_t victim_lock;
    tlp__mag *victim;
    _Atomic uint64_t victim_objs;  /* written under victim_lock, read as a hint */

    /* empty magazines kept for reuse (drains, exits; the shards' stocks
     * hold the slow paths' own) */
    pthread_mutex_t spare_lock;
    _Atomic(tlp__mag *) spares;  /* written under spare_lock, peeked relaxed */

    /* references held by the background drainer / release_idle_all;
     * guarded by registry_lock, destroy waits for 0 on registry_cond */
    unsigned refs;
    struct tlp_tslot *holders;  /* threads with a cache of this pool (registry lock) */
    uint64_t next_drain_ns;  /* background drainer's schedule (drainer lock) */
    bool drain_busy;         /* the drainer is draining it now (drainer lock) */

#ifdef TLP_CHECKED
    pthread_mutex_t check_lock;
    void **out_set;          /* open-addressing set of objects handed out */
    uintptr_t *out_taker;    /* pthread_self() of the taker, per entry */
    size_t out_cap, out_len, out_used; /* used = live + tombstones */
#endif

    tlp_shard shards[];      /* nshards, each on its own cache line */
};

/* ---- threads ------------------------------------------------------------ */

/* One thread's cache of one pool: the slow path's side (the fast path sees
 * only loaded[slot]). Written by the owner under its thread lock, and by
 * drains / destroy / fork under the registry lock and that thread lock. */
/* What a leak-tracked pool's slot shows the inline path while the thread
 * has magazines of it: a magazine head with count 0 and fast_cap 0 like
 * tlp__empty_mag (every inline get and put fails), at the start of the
 * thread's tslot of the pool, with next pointing at itself. leak.c knows
 * it by that (no magazine links to itself, the sentinel's next is NULL)
 * and finds the tslot from it without a lookup; a drain stores
 * tlp__empty_mag over it first. Never written after the tslot is made.
 * may_alias: it is read through tlp__mag pointers (its first fields are
 * tlp__mag's). */
typedef struct __attribute__((may_alias)) tlp__mark {
    tlp__mag_word n;
    uintptr_t fast_cap;
    struct tlp__mag *next;
} tlp__mark;

typedef struct tlp_tslot {
    tlp__mark mark;          /* must stay first (see tlp__mark) */
    tlp__mag *cur;           /* the loaded magazine (authoritative copy) */
    tlp__mag *prev;          /* the previous one */
    struct tlp_thread_rec *rec;
    struct tlp_tslot *hnext, *hprev;  /* the pool's holder list (registry lock) */
    uint64_t leak_left;      /* sampled leak tracking: gets of this pool until
                              * the next recorded one (owner only; leak.c) */
    uintptr_t leak_seen;     /* ... cur's count when the library last ran */
    uint64_t leak_tick, leak_ns;  /* leak tracking's clock cache: the cycle
                              * counter and the clock read together (owner only) */
    _Atomic bool missed;     /* a drain could not reach the thread: its
                              * magazines go to the victim generation at its
                              * next slow path (or the cap's walk, or the
                              * thread's exit). Written under the thread
                              * lock; the lock-free slow paths of group pools
                              * read it relaxed (tlp__tslot_missed) */
    uint64_t cap_bytes;      /* group pools: the most this cache may hold before
                              * its next slow path, as last recorded (threadcap.c) */
    struct tlp__tgroup *tg;  /* group pools: the thread's record for the group */
} tlp_tslot;

typedef struct tlp_thread_rec {
    tlp__thread *pub;        /* the fast path's record (header + loaded[]);
                              * replaced when it grows (owner, thread lock held) */
    tlp__lock lock;          /* owner's slow path, drains, destroy (lock.h) */
    struct tlp_thread_rec *next, *prev;  /* registry list */
    struct tlp_thread_rec *pending;      /* handshake.c scratch (registry lock) */
    struct tlp_tslot *pending_ts;        /* ... and its tslot of the pool being drained */
    uint64_t ack_goal;                   /* barrier.c scratch */
    uint32_t home;           /* home shard seed */
    pthread_t tid;           /* for the signal barrier (barrier.c) */
    int ktid;                /* kernel thread id: /proc/self/task/ktid (barrier.c) */
    bool reached;            /* barrier.c scratch: the heavy barrier reached it */
    _Atomic uint64_t acks;   /* signal barriers this thread has run */
    uint64_t leak_rng;       /* leak sampling's generator (owner only; leak.c) */
    tlp_tslot **ts;          /* pub->nslots entries: per slot, NULL if unused */
} tlp_thread_rec;

static inline tlp__slot_ref *tlp__loaded_of(const tlp_thread_rec *r)
{
    return (tlp__slot_ref *)(void *)(r->pub + 1);
}
_Static_assert(offsetof(tlp__mark, fast_cap) == offsetof(tlp__mag, fast_cap) &&
                   offsetof(tlp__mark, next) == offsetof(tlp__mag, next),
               "tlp__mark is a magazine head");
/* A split-window pool's tslot (leak.c, "Split window") is allocated with
 * this right after it (kept out of tlp_tslot, whose layout the ABI dump
 * sees): the thread's put magazine, shown at loaded[put slot]. */
typedef struct tlp__split {
    tlp__mag *put;           /* the put magazine (NULL: none) */
    uintptr_t put_seen;      /* its objects below this were scanned for records */
    void *leak_mine;         /* the object this thread recorded last (a hint) */
} tlp__split;
static inline tlp__split *tlp__split_of(tlp_tslot *ts)
{
    return (tlp__split *)(void *)(ts + 1);
}
/* A split-window pool's put magazine slot (its head.put_slot: a slot of
 * its own, reserved in slot.c), or TLP__NO_SLOT. */
#define TLP__NO_SLOT UINT32_MAX
static inline uint32_t tlp__put_slot2(const tlp_pool *pool)
{
    return pool->leaks && pool->head.put_slot < TLP__PUT_SLOW ? pool->head.put_slot : TLP__NO_SLOT;
}
static inline tlp__mag *tlp__mark_of(tlp_tslot *ts)
{
    return (tlp__mag *)(void *)&ts->mark;
}
static inline tlp_tslot *tlp__tslot(const tlp_thread_rec *r, uint32_t slot)
{
    return slot < r->pub->nslots ? r->ts[slot] : NULL;
}

/* The owner, without its lock: a drain missed this cache (its magazines
 * wait to be handed over by the general slow path, cache.c). */
static inline bool tlp__tslot_missed(tlp_tslot *ts)
{
    return atomic_load_explicit(&ts->missed, memory_order_relaxed);
}

/* ---- per-thread idle cap over a group of pools (threadcap.c) ----------- */

/* Pools whose thread caches share one per-thread cap on idle bytes: a
 * buffer pool's classes. Immutable once the pools are in use. */
typedef struct tlp__group {
    uint64_t cap;                         /* bytes one thread may keep idle */
    uint32_t n;                           /* pools */
    uint32_t slot[TLP__BUF_MAX_CLASSES];  /* their slots (the walk reads no pool) */
    uint64_t size[TLP__BUF_MAX_CLASSES];  /* obj_size */
    tlp_pool *pool[TLP__BUF_MAX_CLASSES];
} tlp__group;

/* One thread's record for one group, shared by its tslots of the group's
 * pools (owner and drains, under the thread lock). */
typedef struct tlp__tgroup {
    uint64_t bytes;   /* sum of the tslots' cap_bytes: <= cap after each slow path */
    uint32_t refs;    /* tslots pointing here; freed by the last tslot_drop */
} tlp__tgroup;

/* Magazines a slow path takes out of the thread's caches to honour the cap;
 * pushed to their pools' shared tiers once the thread lock is released. */
typedef struct tlp__spills {
    uint32_t n;
    struct {
        tlp_pool *pool;
        tlp__mag *m;
        bool victim; /* a cache a drain missed: to the victim generation */
    } e[2 * TLP__BUF_MAX_CLASSES];
} tlp__spills;

struct tlp_thread_rec;
/* Thread lock held, after the slow path's magazine moves on a group pool:
 * records the cache's new bound, grants the loaded magazine its inline puts
 * (fast_cap) and, when the thread's bound would pass the cap, trims the
 * other caches' grants and moves magazines into sp. */
void tlp__cap_after(tlp_pool *pool, struct tlp_thread_rec *r, tlp_tslot *ts, tlp__spills *sp);
/* A group pool's put whose inline push failed: a new grant and the push
 * without a lock (DONE), the object to the shared tier alone (ALONE:
 * tlp__single_put), or the general slow path (SLOW). */
enum { TLP__LEAN_DONE, TLP__LEAN_ALONE, TLP__LEAN_SLOW };
int tlp__cap_put_lean(tlp_pool *pool, void *obj);
/* No lock held: pushes what tlp__cap_after took (counted as cap_spilled). */
void tlp__cap_push(struct tlp_thread_rec *r, tlp__spills *sp);
/* The objects pool's shards received from the cap (statistics). */
uint64_t tlp__cap_spilled(tlp_pool *pool);

/* ---- globals (thread.c) ------------------------------------------------- */

extern pthread_mutex_t tlp__registry_lock;
extern pthread_cond_t tlp__registry_cond;
extern tlp_thread_rec *tlp__threads;            /* registry list head */
extern tlp_pool **tlp__pools;                   /* live pools by slot (registry lock) */
extern uint32_t tlp__pools_cap;                  /* entries of tlp__pools */
extern tlp__mag tlp__empty_mag;
extern tlp__thread tlp__sentinel_thread;

/* The calling thread's record (NULL before its first slow path) */
extern __thread tlp_thread_rec *tlp__self_rec __attribute__((tls_model("initial-exec")));
/* thread.c: the calling thread's record, made (NULL: ENOMEM) */
tlp_thread_rec *tlp__thread_make(void);
/* The calling thread's record, created on first use (NULL: ENOMEM) */
static inline tlp_thread_rec *tlp__thread_self(void)
{
    tlp_thread_rec *r = tlp__self_rec;
    return likely(r != NULL) ? r : tlp__thread_make();
}
/* thread.c: make the calling thread's cache of pool (NULL: ENOMEM). Takes
 * the registry lock and r->lock. */
tlp_tslot *tlp__thread_attach_new(tlp_thread_rec *r, tlp_pool *pool);
/* The calling thread's cache of pool, made on first use (NULL: ENOMEM). */
static inline tlp_tslot *tlp__thread_attach(tlp_thread_rec *r, tlp_pool *pool)
{
    tlp_tslot *ts = tlp__tslot(r, pool->head.slot);
    return likely(ts != NULL) ? ts : tlp__thread_attach_new(r, pool);
}
/* thread.c: unlink ts from its pool's holders and forget it (registry lock
 * and the thread's lock held; its magazines already taken) */
void tlp__tslot_drop(tlp_pool *pool, tlp_tslot *ts, uint32_t slot);
/* Install m as the loaded magazine of slot (owner, thread lock held);
 * hidden: show the fast path the tslot's mark instead (leak-tracked pools) */
static inline void tlp__thread_load(tlp_thread_rec *r, uint32_t slot, tlp__mag *m, bool hidden)
{
    r->ts[slot]->cur = m;
#if TLP_FASTPATH
    /* Relaxed: only this thread's fast path reads `loaded` for the magazine
     * contents, and it is this thread that wrote them. Drains never read
     * `loaded`; they use the tslot under the thread lock. Hidden
     * (leak-tracked) pools show the tslot's mark: every operation leaves
     * the inline path, and leak.c's path uses the tslot's magazines. */
    tlp__mag *view = !m ? &tlp__empty_mag : hidden ? tlp__mark_of(r->ts[slot]) : m;
    atomic_store_explicit(&tlp__loaded_of(r)[slot], view, memory_order_relaxed);
#else
    (void)hidden;
#endif
}

/* slot.c: allocate / free a pool slot (registry lock held) */
int tlp__slot_alloc(tlp_pool *pool);
void tlp__slot_free(uint32_t slot);
/* A slot that no pool owns (tlp__pools[] stays NULL there), kept from
 * tlp__slot_alloc until freed: a split-window pool's put magazine. */
int tlp__slot_reserve(uint32_t *slot);

/* object.c: make / release objects, counting them */
void *tlp__obj_make(tlp_pool *pool);
void tlp__obj_release(tlp_pool *pool, void *obj);
void tlp__release_mags(tlp_pool *pool, tlp__mag *list, _Atomic uint64_t *why);

/* magazine.c */
tlp__mag *tlp__mag_alloc(tlp_pool *pool);       /* an empty magazine or NULL */
void tlp__mag_recycle(tlp_pool *pool, tlp__mag *m);
/* The same for a thread's slow path: the home shard's stock first. */
/* The shard a thread's slow path uses now: the one of the CPU it runs on
 * (sched_getcpu reads glibc's rseq area: a few instructions), so threads
 * running at the same time use different shards whatever their number; the
 * thread's fixed seed where the CPU is unknown. */
static inline uint32_t tlp__home(const tlp_thread_rec *r)
{
    int cpu = sched_getcpu();
    return cpu >= 0 ? (uint32_t)cpu : r->home;
}
/* The slow path's shard index: tlp__home reduced to [0, nshards), once per
 * slow path (the CPU lookup and the division are not repeated). */
static inline uint32_t tlp__home_idx(tlp_pool *pool, const tlp_thread_rec *r)
{
    uint32_t c = tlp__home(r);
    /* Shards default to one per CPU: no division in the common case. */
    return likely(c < pool->nshards) ? c : c % pool->nshards;
}
/* An empty magazine for a slow path at home shard h (h < nshards): the
 * home stock, else tlp__mag_alloc_near. */
tlp__mag *tlp__mag_take(tlp_pool *pool, uint32_t h);
/* An empty magazine when the home stock (h) had none: the spare list, else
 * another shard's stock, else a new one; NULL without memory. */
tlp__mag *tlp__mag_alloc_near(tlp_pool *pool, uint32_t h);
void tlp__mag_free_spares(tlp_pool *pool);      /* the spare list and every shard's stock */
uint64_t tlp__mag_list_objs(const tlp__mag *list);

/* shard.c */
void tlp__shard_push(tlp_pool *pool, uint32_t home, tlp__mag *m);  /* may release (max_idle) */
/* One lock round trip each: a full magazine for an empty one (get side:
 * the home shard h first, then the others), an empty one for a full one
 * (put side; not for pools with max_idle). h < nshards. */
tlp__mag *tlp__shard_trade_empty(tlp_pool *pool, uint32_t h, tlp__mag *empty);
tlp__mag *tlp__shard_trade_full(tlp_pool *pool, uint32_t h, tlp__mag *full);
tlp__mag *tlp__shard_take_all(tlp_pool *pool);
/* Single objects (single.c's pools): see shard.c. */
enum { TLP__ONE_STORED, TLP__ONE_NO_EMPTY, TLP__ONE_OVER };
int tlp__shard_put_one(tlp_pool *pool, uint32_t h, void *obj);
void *tlp__shard_get_one(tlp_pool *pool, uint32_t h);

/* single.c: a capped buffer pool's large classes (pool->single: a thread
 * cache of one buffer per magazine). A get that finds the thread's
 * magazine empty or not shown takes one object from the shared tier and
 * leaves the thread's cache alone (NULL: take the general path); a put
 * tlp__cap_put_lean sent ALONE stores the object there by itself. */
void *tlp__single_get(tlp_pool *pool);
void tlp__single_put(tlp_pool *pool, void *obj);

/* victim.c */
void *tlp__victim_rescue(tlp_pool *pool);
tlp__mag *tlp__victim_swap(tlp_pool *pool, tlp__mag *list, uint64_t objs);

/* handshake.c: take every magazine of `pool` from every thread's cache
 * (registry lock held). remote = false: only the calling thread's. detach:
 * also forget the threads' fast-put counters (destroy). Unless detach, the
 * registry lock is released before the function waits for other threads
 * (it returns with the registry lock released); with detach it stays held. */
tlp__mag *tlp__take_thread_mags(tlp_pool *pool, bool remote, bool detach);
/* The same for a split-window pool's put magazines alone (leak.c). */
tlp__mag *tlp__take_put_mags(tlp_pool *pool, bool remote);
/* May drains take magazines from other, running threads? */
bool tlp__remote_drain_ok(void);
/* barrier.c: the heavy side of the handshake. barrier() is called after
 * the pending threads' loaded slots were swapped (their locks held); it sets
 * r->reached for each, false for a thread it could not reach (signal mode:
 * the thread blocks the signal, or did not acknowledge by one deadline for
 * all), whose magazines must then be left alone. May block up to 100 ms in
 * signal mode: the caller must not hold the registry lock. */
bool tlp__heavy_barrier_available(void);
bool tlp__heavy_barrier_uses_signal(void);
void tlp__heavy_barrier(tlp_thread_rec *pending);

/* ref.c: references that keep a pool alive (destroy waits for none) while
 * a thread works on it outside the registry lock. Each is a node on the
 * holder's stack, linked into a per-thread list, so that a fork()ed child
 * keeps exactly the references of the thread that forked. Take with the
 * registry lock held; drop takes it. */
typedef struct tlp__ref {
    tlp_pool *pool;
    struct tlp__ref *next;
} tlp__ref;
void tlp__ref_take(tlp__ref *node, tlp_pool *pool);
void tlp__ref_drop(tlp__ref *node);
void tlp__ref_wait_none(tlp_pool *pool);  /* registry lock held; not cancellable */
void tlp__ref_fork_child(void);           /* all locks held by the forker */

/* The statistics shard of the calling thread: the running CPU's, so that
 * slow paths on different CPUs write different lines. */
static inline tlp_shard *tlp__stat_shard(tlp_pool *pool)
{
    int cpu = sched_getcpu();
    return &pool->shards[(uint32_t)(cpu < 0 ? 0 : cpu) % pool->nshards];
}

/* A magazine's count and inline puts (include/tlpool.h, tlp__mag_word).
 * Owner-only, or with the magazine taken from its owner. */
static inline uintptr_t tlp__mag_count(const tlp__mag *m) { return TLP__MAG_COUNT(m); }
static inline void tlp__mag_set_count(tlp__mag *m, uintptr_t n)
{
    m->n.part[TLP__MAG_COUNT_PART] = (uint16_t)n;
}
static inline uint64_t tlp__mag_puts(const tlp__mag *m) { return m->n.word >> 16; }
/* The top object, removed (count > 0). */
static inline void *tlp__mag_pop(tlp__mag *m)
{
    uintptr_t n = tlp__mag_count(m) - 1;
    tlp__mag_set_count(m, n);
    return m->objs[n];
}
/* Pushes obj (count < capacity); not counted as an inline put. */
static inline void tlp__mag_push(tlp__mag *m, void *obj)
{
    uintptr_t n = tlp__mag_count(m);
    m->objs[n] = obj;
    tlp__mag_set_count(m, n + 1);
}

/* The magazine's inline puts join the statistics of shard `stat` (the
 * slow path's home shard, whose line it is using anyway). */
static inline void tlp__mag_retire_puts_to(tlp_shard *stat, tlp__mag *m)
{
    uint64_t puts = tlp__mag_puts(m);
    if (puts) {
        atomic_fetch_add_explicit(&stat->retired_puts, puts, memory_order_relaxed);
        m->n.word &= 0xffffu;
    }
}
/* The same, where no home shard is at hand (drains, exits, fork). */
static inline void tlp__mag_retire_puts(tlp_pool *pool, tlp__mag *m)
{
    if (tlp__mag_puts(m))
        tlp__mag_retire_puts_to(tlp__stat_shard(pool), m);
}

/* A shard's stock of empty magazines, its lock held: pop one (or NULL);
 * push one (its puts retired, its count 0). */
static inline tlp__mag *tlp__stock_pop(tlp_shard *s)
{
    tlp__mag *m = s->empties;
    if (m) {
        s->empties = m->next;
        atomic_store_explicit(&s->nempties,
                              atomic_load_explicit(&s->nempties, memory_order_relaxed) - 1,
                              memory_order_relaxed);
    }
    return m;
}
static inline void tlp__stock_push(tlp_shard *s, tlp__mag *m)
{
    m->next = s->empties;
    s->empties = m;
    atomic_store_explicit(&s->nempties,
                          atomic_load_explicit(&s->nempties, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* victim.c: magazines an owner hands over after a drain missed it */
void tlp__victim_add(tlp_pool *pool, tlp__mag *list);

/* reenter.c: tlpool is not async-signal-safe. The library marks where it is
 * (the pool) while it runs its own code, and clears the mark around hooks;
 * a call that finds the mark set, or finds the thread inside a fast path
 * (busy), comes from a signal handler that interrupted tlpool, and stops
 * the program with a message instead of deadlocking or corrupting. */
extern __thread const tlp_pool *tlp__inside __attribute__((tls_model("initial-exec")));
_Noreturn void tlp__reentered(const tlp_pool *pool, const char *what);
static inline const tlp_pool *tlp__lib_enter(const tlp_pool *pool, const char *what)
{
    const tlp_pool *was = tlp__inside;
    tlp__thread *t = tlp__head(tlp__tls);
    /* (The sentinel's busy is never written: its nslots is 0.) */
    if (unlikely(was != NULL || atomic_load_explicit(&t->busy, memory_order_relaxed) != 0))
        tlp__reentered(pool, what);
    tlp__inside = pool;
    return was;
}
static inline void tlp__lib_leave(void)
{
    tlp__inside = NULL;
}
/* Around a hook: the hook may use pools (a legitimate nested call). */
#define TLP__HOOK(call)                                  \
    do {                                                 \
        const tlp_pool *tlp__was_inside = tlp__inside;   \
        tlp__inside = NULL;                              \
        call;                                            \
        tlp__inside = tlp__was_inside;                   \
    } while (0)

/* cancel.c: blocking waits inside the library are not cancellation points */
int tlp__nocancel_begin(void);
void tlp__nocancel_end(int old);

/* drainer.c */
int tlp__drainer_add(tlp_pool *pool);   /* 0 or ENOMEM */
void tlp__drainer_remove(tlp_pool *pool);

/* fork.c: pthread_atfork handlers, installed at the first pool create */
enum { TLP_FORK_PREPARE, TLP_FORK_PARENT, TLP_FORK_CHILD };
void tlp__fork_init(void);
void tlp__drainer_atfork(int phase);
void tlp__pressure_atfork(int phase);
void tlp__leaks_atfork(int phase);   /* leak.c: innermost, taken last */

/* check.c. Every build checks the pool's magic number on slow paths (inline:
 * a load and a compare; the message is out of line). The object checks are
 * checked builds only: elsewhere they are empty inlines, not calls. */
_Noreturn void tlp__bad_pool(const tlp_pool *pool, const char *what);
static inline void tlp__check_pool(const tlp_pool *pool, const char *what)
{
    if (unlikely(!pool || pool->magic != TLP_POOL_MAGIC))
        tlp__bad_pool(pool, what);
}
#ifdef TLP_CHECKED
void tlp__check_got(tlp_pool *pool, void *obj);
void tlp__check_put(tlp_pool *pool, void *obj);
void tlp__check_destroy(tlp_pool *pool);
void tlp__check_fork_child(tlp_pool *pool); /* forget objects of threads gone */
#else
static inline void tlp__check_got(tlp_pool *pool, void *obj) { (void)pool; (void)obj; }
static inline void tlp__check_put(tlp_pool *pool, void *obj) { (void)pool; (void)obj; }
static inline void tlp__check_destroy(tlp_pool *pool) { (void)pool; }
#endif

/* track.h has the memory-checker seam */

/* abort with a message naming the pool */
/* The one formatter of fatal messages: "tlpool: <kind> '<name>': <msg>",
 * flushed, then abort(). tlp__fatal and tlp__buf_fatal wrap it. */
_Noreturn void tlp__vfatal(const char *kind, const char *name, const char *fmt, va_list ap);
_Noreturn void tlp__fatal(const tlp_pool *pool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline uint64_t tlp__relaxed_get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}
/* Statistics counters: relaxed, they order nothing. */
static inline void tlp__count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
/* The same for a counter only ever written under one lock, held: a load
 * and a store, no read-modify-write (readers may read it without the lock). */
static inline void tlp__count_locked(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* ======================================================================== */
/* Operators: leak tracking, TLPOOL_CONF, iteration, printing (issue 11).   */
/* Lock order: the buffer-pool list lock (bufreg.c) -> registry_lock. The  */
/* leak tables' stripe locks are innermost: nothing is locked under them.   */
/* ======================================================================== */

/* cache.c: tlp__get_slow with the caller's site given (leak tracking). */
void *tlp__get_slow_at(tlp_pool *pool, void *site);
/* cache.c: the locked get, and the locked put of a pool without a reset
 * hook (pool checked already): leak.c's lock-free path falls back on them. */
void *tlp__get_locked(tlp_pool *pool, void *site);
void tlp__put_locked(tlp_pool *pool, void *obj);

/* pool.c: tlp_pool_create for a buffer pool's class: TLPOOL_CONF's
 * thread_cache and drain_ms defaults do not apply, and the pool is marked
 * buf_class (tlp_pool_foreach skips it). */
int tlp__pool_create_class(const tlp_config *cfg, tlp_pool **out);

/* pool_iter.c: the one place that reads the pool registry for iteration.
 * Returns an array of the *n live pools, each holding a reference (destroy
 * waits for it; for callers that run no hooks), NULL without memory; unref
 * drops the references and frees the array. */
tlp_pool **tlp__pools_ref(size_t *n);
void tlp__pools_unref(tlp_pool **pools, size_t n);

/* bufreg.c: the list of live buffer pools (tlp_bufpool_foreach). */
void tlp__bufpool_register(tlp_bufpool *bp);
void tlp__bufpool_unregister(tlp_bufpool *bp);

/* ==== Object life-cycle options (zero_new) ================================
 * Kept in a small record right after the pool's shards (pool.c allocates
 * room for it), so that struct tlp_pool itself is unchanged; it may move into
 * struct tlp_pool as a plain field. Immutable after create. */
typedef struct tlp__pool_life {
    bool zero_new;   /* the pool's own allocation is zeroed (cfg->zero_new) */
} tlp__pool_life;

static inline tlp__pool_life *tlp__life(tlp_pool *pool)
{
    return (tlp__pool_life *)(void *)&pool->shards[pool->nshards];
}
/* ==== end of the life-cycle block ======================================== */

#endif /* TLP_INTERNAL_H */
