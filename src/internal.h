/*
 * Internal types and declarations of tlpool.
 *
 * Glossary
 *   pool      struct tlp_pool: immutable config, shared tier, victim generation.
 *   slot      a pool's index into every thread's per-pool arrays; unique among
 *             live pools, reused after destroy (so per-thread memory is bounded
 *             by TLP_MAX_POOLS, not by the number of pools ever created).
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

#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <stdatomic.h>
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

typedef struct tlp_shard {
    pthread_mutex_t lock;
    tlp__mag *mags;      /* non-empty magazines, LIFO */
    _Atomic uint64_t objs; /* objects in mags: written under lock, read as a hint */
    tlp__mag *empties;   /* a small stock of empty magazines for the threads at
                          * home here, so that exchanging magazines takes this
                          * lock and not the pool-wide spare_lock */
    uint32_t nempties;   /* at most TLP_SHARD_EMPTIES */
} __attribute__((aligned(TLP_CACHELINE))) tlp_shard;

#define TLP_SHARD_EMPTIES 8u

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

    /* empty magazines kept for reuse */
    pthread_mutex_t spare_lock;
    tlp__mag *spares;

    /* references held by the background drainer / release_idle_all;
     * guarded by registry_lock, destroy waits for 0 on registry_cond */
    unsigned refs;
    uint64_t next_drain_ns;  /* background drainer's schedule (drainer lock) */
    bool drain_busy;         /* the drainer is draining it now (drainer lock) */

#ifdef TLP_CHECKED
    pthread_mutex_t check_lock;
    void **out_set;          /* open-addressing set of objects handed out */
    size_t out_cap, out_len, out_used; /* used = live + tombstones */
#endif

    tlp_shard shards[];      /* nshards, each on its own cache line */
};

/* ---- threads ------------------------------------------------------------ */

typedef struct tlp_thread_rec {
    tlp__thread pub;         /* must stay first: tlp__tls points here */
    pthread_mutex_t lock;    /* owner's slow path, drains, destroy */
    struct tlp_thread_rec *next, *prev;  /* registry list */
    struct tlp_thread_rec *pending;      /* handshake.c scratch (registry lock) */
    uint64_t ack_goal;                   /* barrier.c scratch (registry lock) */
    uint32_t home;           /* home shard seed */
    pthread_t tid;           /* for the signal barrier (barrier.c) */
    _Atomic uint64_t acks;   /* signal barriers this thread has run */
    tlp__mag *cur[TLP_MAX_POOLS];   /* the loaded magazine (authoritative copy) */
    tlp__mag *prev_mag[TLP_MAX_POOLS];
} tlp_thread_rec;

/* ---- globals (thread.c) ------------------------------------------------- */

extern pthread_mutex_t tlp__registry_lock;
extern pthread_cond_t tlp__registry_cond;
extern tlp_thread_rec *tlp__threads;            /* registry list head */
extern tlp_pool *tlp__pools[TLP_MAX_POOLS];     /* live pools by slot */
extern tlp__mag tlp__empty_mag;
extern tlp__thread tlp__sentinel_thread;

/* thread.c: the calling thread's record, created on first use (NULL: ENOMEM) */
tlp_thread_rec *tlp__thread_self(void);
/* thread.c: install m as the loaded magazine of slot (owner, thread lock held) */
void tlp__thread_load(tlp_thread_rec *r, uint32_t slot, tlp__mag *m);

/* slot.c: allocate / free a pool slot (registry lock held) */
int tlp__slot_alloc(tlp_pool *pool);
void tlp__slot_free(uint32_t slot);

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
tlp__mag *tlp__mag_take(tlp_pool *pool, uint32_t home);
void tlp__mag_give(tlp_pool *pool, uint32_t home, tlp__mag *m);
void tlp__mag_free_spares(tlp_pool *pool);      /* the spare list and every shard's stock */
uint64_t tlp__mag_list_objs(const tlp__mag *list);

/* shard.c */
void tlp__shard_push(tlp_pool *pool, uint32_t home, tlp__mag *m);  /* may release (max_idle) */
tlp__mag *tlp__shard_pop(tlp_pool *pool, uint32_t home);           /* home first, then steal */
tlp__mag *tlp__shard_take_all(tlp_pool *pool);

/* victim.c */
void *tlp__victim_rescue(tlp_pool *pool);
tlp__mag *tlp__victim_swap(tlp_pool *pool, tlp__mag *list, uint64_t objs);

/* handshake.c: take every magazine of `pool` from every thread's cache
 * (registry lock held). remote = false: only the calling thread's. detach:
 * also forget the threads' fast-put counters (destroy). */
tlp__mag *tlp__take_thread_mags(tlp_pool *pool, bool remote, bool detach);
/* May drains take magazines from other, running threads? */
bool tlp__remote_drain_ok(void);
/* barrier.c: the heavy side of the handshake. barrier() must be called
 * with the registry lock held, after the pending threads' loaded slots were
 * swapped; it returns false for a thread it could not reach (signal mode: no
 * acknowledgement in time), whose magazines must then be left alone. */
bool tlp__heavy_barrier_available(void);
void tlp__heavy_barrier(tlp_thread_rec *pending);
bool tlp__heavy_barrier_reached(tlp_thread_rec *r);

/* drainer.c */
void tlp__drainer_add(tlp_pool *pool);
void tlp__drainer_remove(tlp_pool *pool);

/* fork.c: pthread_atfork handlers, installed at the first pool create */
enum { TLP_FORK_PREPARE, TLP_FORK_PARENT, TLP_FORK_CHILD };
void tlp__fork_init(void);
void tlp__drainer_atfork(int phase);
void tlp__pressure_atfork(int phase);

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
