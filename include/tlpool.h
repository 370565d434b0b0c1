/* SPDX-License-Identifier: MIT */
/*
 * tlpool — a thread-local object pool for C11 (the C answer to Go's sync.Pool).
 *
 * Objects live in three tiers:
 *   1. a per-thread cache (two "magazines" per pool): get/put touch only this,
 *      with no lock and no atomic read-modify-write;
 *   2. a sharded shared tier: full magazines are linked into a shard, empty
 *      caches take a whole magazine back (O(1) moves, never object by object);
 *   3. a victim generation: what a drain found idle; a get rescues from it
 *      before making a new object, the next drain releases it.
 *
 * The pool never reads or writes the bytes of an object it holds (outside the
 * optional zeroing/poisoning modes), so objects can carry state across uses;
 * use obj_reset to clean them on put.
 *
 * Unless stated otherwise, functions are thread-safe. Errors are reported as
 * errno values (0 on success). Read docs/DESIGN.md for the tiers and the
 * concurrency protocol.
 *
 * Signal handlers: like malloc, tlpool is NOT async-signal-safe; do not call
 * it from a signal handler. A handler that interrupts a tlpool call and calls
 * tlpool itself stops the program with a message ("called from a signal
 * handler") wherever the library can see it: always in checked builds, and
 * in release builds whenever either call leaves the inline fast path.
 * Hooks, by contrast, may use other pools. Cancellation: the library's
 * blocking waits are not cancellation points.
 *
 * ABI note: tlp_get()/tlp_put() are static inline fast paths over a small set
 * of internal structures (tlp__*) exported by the library. Those structures are
 * part of the ABI: libraries with the same TLP_ABI_VERSION (the SONAME major)
 * are interchangeable. Define TLP_NO_INLINE before including this header to call
 * the out-of-line versions instead (slower, but independent of the layout).
 */
#ifndef TLPOOL_H
#define TLPOOL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
#include <atomic>
extern "C" {
#else
#include <stdatomic.h>
#endif

/* The one place the version is kept: CMakeLists.txt reads these three lines
 * for project(VERSION), the SONAME, the .pc and CMake package files. */
#define TLP_VERSION_MAJOR 0
#define TLP_VERSION_MINOR 6
#define TLP_VERSION_PATCH 0
#define TLP_VERSION_HEX \
    ((TLP_VERSION_MAJOR << 16) | (TLP_VERSION_MINOR << 8) | TLP_VERSION_PATCH)
/* Bumped whenever the layout of the tlp__ structures below changes. */
#define TLP_ABI_VERSION 2

#if defined(_WIN32) || !defined(__GNUC__)
#define TLP_API
#else
#define TLP_API __attribute__((visibility("default")))
#endif

/* Limits checked by tlp_pool_create (larger values: EINVAL). */
#define TLP_MAX_ALIGN        4096u    /* obj_align */
#define TLP_MAX_THREAD_CACHE 65536u   /* thread_cache */
#define TLP_MAX_SHARDS       1024u    /* shards */
/* Pools alive at the same time in one process (a pool's slot is a 32-bit
 * index; per-thread memory grows only with the pools a thread uses). Past
 * it, or out of memory: ENOMEM. */
#define TLP_MAX_POOLS        0x7fffffffu

/* Returns the version of the library linked at run time (TLP_VERSION_HEX). */
TLP_API unsigned tlp_version(void);

/* How the linked library was built: a mask of TLP_FEATURE_* bits. */
#define TLP_FEATURE_CHECKED  1u  /* TLP_CHECKED: misuse stops the program */
#define TLP_FEATURE_POISON   2u  /* TLP_POISON: idle objects poisoned (ASan/valgrind) */
#define TLP_FEATURE_FENCED   4u  /* TLP_FENCED: seq-cst handshake, no membarrier */
#define TLP_FEATURE_FASTPATH 8u  /* the inline fast path is live (not checked/poison) */
TLP_API unsigned tlp_build_features(void);

/* ------------------------------------------------------------------------ */
/* Pools                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct tlp_pool tlp_pool;

/*
 * Pool configuration. A zero-initialised struct with only obj_size set is
 * valid: every other field has a default. Fields may be added at the end:
 * tlp_pool_create passes sizeof(tlp_config) as the program saw it, and the
 * library reads only that many bytes (fields the program does not know are
 * 0, which always means the older behaviour).
 */
typedef struct tlp_config {
    size_t      obj_size;   /* bytes per object, > 0 */
    size_t      obj_align;  /* power of two <= TLP_MAX_ALIGN; 0 means alignof(max_align_t) */
    void     *(*obj_new)(void *ctx);              /* optional: make a fresh object (NULL = failure) */
    bool      (*obj_reset)(void *obj, void *ctx); /* optional: runs inside tlp_put; false = drop the object */
    void      (*obj_free)(void *obj, void *ctx);  /* optional: release an object the pool drops */
    void       *ctx;                              /* passed to the three hooks */
    unsigned    thread_cache;  /* objects one thread keeps for this pool; 0 = default (128) */
    unsigned    shards;        /* overflow shards; 0 = default from the CPU count */
    size_t      max_idle;      /* cap on idle objects held in the shared tier; 0 = no cap */
    unsigned    drain_ms;      /* > 0: drained every drain_ms by the shared background drainer */
    const char *name;          /* used in stats and error messages; may be NULL (copied) */
    bool        zero_new;      /* new objects from the pool's own allocation are all-zero
                                * bytes (calloc-like); with obj_new, obj_new decides */
    unsigned    leak_sample;   /* leak tracking: 0 = as TLPOOL_CONF says (default off),
                                * 1 = every object, N = one object in N (random),
                                * TLP_LEAK_TRACE = every object with a backtrace;
                                * see tlp_leaks_print */
} tlp_config;

/* tlp_config.leak_sample: every object, with a short backtrace of its taker. */
#define TLP_LEAK_TRACE 0xffffffffu

/*
 * The life of an object.
 *  - New: when no idle object is at hand, tlp_get makes one. With obj_new it
 *    is whatever obj_new returned. Otherwise it is the pool's own allocation
 *    of obj_size bytes at obj_align: uninitialised bytes, like malloc, or all
 *    zero bytes when zero_new is set, like calloc. A reset hook that reads
 *    members of the object (to free them, or to keep a capacity) needs
 *    zero_new or obj_new, or it reads garbage on a new object.
 *  - Recycled: an object tlp_get returns from the pool's tiers is exactly as
 *    the last put left it, after obj_reset: the pool never touches its bytes
 *    (outside the poisoning builds' checks).
 *  - Released: obj_free (or the pool's own free) when obj_reset returns
 *    false, when a drain or max_idle lets it go, and at tlp_pool_destroy.
 *
 * Hooks must return normally: no longjmp and no C++ exception may leave
 * obj_new, obj_reset or obj_free. The library is C and runs no cleanup when
 * one passes through it: the object in hand is lost to the pool (counted as
 * out for ever) and the call's own bookkeeping is left half done. In C++ an
 * exception escaping a hook reaches the caller of tlp_get/tlp_put that way
 * (or calls std::terminate where the library has no unwind tables), and
 * calls std::terminate when it happens during unwinding (a destructor's
 * or TLP_SCOPED's put while another exception is in flight: TLP_SCOPED's
 * cleanup is noexcept). Catch inside the hook. Neither tlp_get nor tlp_put
 * throws or unwinds on its own, so calling them from a C++ destructor, also
 * while an exception unwinds the stack, is safe as long as the hooks do not
 * throw.
 */

/*
 * Creates a pool. Returns 0 and sets *out, or returns an error and leaves *out
 * untouched:
 *   EINVAL  cfg or out NULL, obj_size 0 or above PTRDIFF_MAX / 2, obj_align not a power of two or above
 *           TLP_MAX_ALIGN, obj_new without obj_free (or the reverse),
 *           thread_cache > TLP_MAX_THREAD_CACHE, shards > TLP_MAX_SHARDS;
 *   ENOMEM  out of memory, or TLP_MAX_POOLS pools already alive.
 * Hooks are called without any pool lock held; they may use other pools.
 */
TLP_API int tlp_pool_create_sized(const tlp_config *cfg, size_t cfg_size, tlp_pool **out);
/* The 0.2 entry point (assumes the 0.2 tlp_config); programs built with this
 * header call tlp_pool_create_sized through the macro below. */
TLP_API int tlp_pool_create(const tlp_config *cfg, tlp_pool **out);
#define tlp_pool_create(cfg, out) tlp_pool_create_sized((cfg), sizeof(tlp_config), (out))

/*
 * Destroys a pool: releases every idle object it holds (in every tier and in
 * the caches of all live threads) and the per-thread memory it used.
 * Preconditions: no thread uses the pool concurrently, and every object taken
 * has been put back (checked builds report objects still out). NULL: no-op.
 */
TLP_API void tlp_pool_destroy(tlp_pool *pool);

/* The pool's name as given in its config ("" when none was given). */
TLP_API const char *tlp_pool_name(const tlp_pool *pool);

/*
 * Takes an object: from this thread's cache, else a batch from the shared
 * tier, else one object rescued from the victim generation, else obj_new (or
 * the pool's own aligned allocation). Returns NULL with errno = ENOMEM only
 * when a new object cannot be made; the pool stays usable.
 */
static inline void *tlp_get(tlp_pool *pool);

/*
 * Returns an object taken from the same pool. NULL is a no-op. obj_reset runs
 * first in the calling thread; when it returns false the object is released
 * at once (obj_free or the pool's own free). Any thread may put an object
 * another thread took.
 */
static inline void tlp_put(tlp_pool *pool, void *obj);

/* Out-of-line versions of tlp_get/tlp_put (what TLP_NO_INLINE selects). */
TLP_API void *tlp_get_noinline(tlp_pool *pool);
TLP_API void tlp_put_noinline(tlp_pool *pool, void *obj);

/*
 * One drain period (Go's GC-time pool cleanup): every idle object of the pool,
 * in every thread's cache and in the shared tier, moves to the victim
 * generation, and what was already in the victim generation is released. An
 * object left idle survives one drain and is released by the second.
 * Safe to call from any thread at any time, concurrently with get/put.
 */
TLP_API void tlp_drain(tlp_pool *pool);

/*
 * Releases every idle object of the pool now (both generations, all threads).
 * What an application calls when it is told of memory pressure.
 */
TLP_API void tlp_release_idle(tlp_pool *pool);

/* tlp_release_idle() for every live pool. */
TLP_API void tlp_release_idle_all(void);

/*
 * Opt-in watcher of Linux PSI memory pressure: a thread ("tlp-pressure")
 * that waits on a /proc/pressure/memory trigger ("some" stall of stall_us
 * within window_us) and calls tlp_release_idle_all() when it fires. Returns
 * 0; EINVAL unless 0 < stall_us <= window_us and 500 ms <= window_us <= 10 s
 * (the kernel's range); ENOTSUP where PSI or that trigger is unavailable
 * (unprivileged processes may only use windows that are multiples of 2 s);
 * EALREADY if running; or another errno. Stop with
 * tlp_pressure_watch_stop() (joins the thread).
 */
TLP_API int  tlp_pressure_watch_start(unsigned stall_us, unsigned window_us);
TLP_API void tlp_pressure_watch_stop(void);

/* ------------------------------------------------------------------------ */
/* Statistics                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * A snapshot of a pool's counters. Thread caches are summed on read without
 * stopping their owners, so figures taken while threads run are approximate;
 * when the pool is quiescent they are exact and consistent:
 *   gets == hits_thread + hits_shared + hits_victim + made_on_get
 *   out  == gets - puts
 *   made == released + idle + out
 */
typedef struct tlp_stats {
    const char *name;           /* the pool's name */
    uint64_t gets;              /* tlp_get calls that returned an object */
    uint64_t puts;              /* tlp_put calls with a non-NULL object */
    uint64_t hits_thread;       /* gets served by the calling thread's cache */
    uint64_t hits_shared;       /* gets served by a batch from the shared tier */
    uint64_t hits_victim;       /* gets served by rescue from the victim generation */
    uint64_t made;              /* objects made (obj_new or own allocation) */
    uint64_t made_on_get;       /* == made; kept for the identity above */
    uint64_t new_failed;        /* gets that returned NULL (ENOMEM) */
    uint64_t released;          /* objects released (obj_free or own free), all causes */
    uint64_t dropped_reset;     /* objects dropped because obj_reset returned false */
    uint64_t released_by_drain; /* objects released by drains (second generation) */
    uint64_t released_by_cap;   /* objects released because max_idle was reached */
    uint64_t drains;            /* drains done (tlp_drain + background drainer) */
    uint64_t idle;              /* idle objects now: idle_thread + idle_shared + idle_victim */
    uint64_t idle_thread;       /* ... in thread caches (first generation) */
    uint64_t idle_shared;       /* ... in the shared tier (first generation) */
    uint64_t idle_victim;       /* ... in the victim generation */
    uint64_t out;               /* objects taken and not yet put back */
    uint64_t threads;           /* threads holding a cache for this pool */
} tlp_stats;

/* Fills *out (pool and out non-NULL). Writes sizeof(tlp_stats) bytes as the
 * program saw it (counters added later are not written into older callers). */
TLP_API void tlp_stats_get_sized(tlp_pool *pool, tlp_stats *out, size_t out_size);
TLP_API void tlp_stats_get(tlp_pool *pool, tlp_stats *out);  /* 0.2 entry point */
#define tlp_stats_get(pool, out) tlp_stats_get_sized((pool), (out), sizeof(tlp_stats))

/*
 * Prints the statistics of every live pool and every buffer pool (with its
 * classes) to out: format "text" (a table) or "json" (one JSON document:
 * {"pools":[{"name":..., every tlp_stats counter under its name}],
 *  "buffer_pools":[{"name":..., "classes":[{"size":..., ...}]}]}).
 * Returns 0, or EINVAL for a NULL out or an unknown format.
 */
TLP_API int tlp_stats_print(FILE *out, const char *format);

/*
 * Calls fn(pool, arg) for every live pool (not the classes of buffer pools)
 * until fn returns non-zero; returns that value, 0, or EINVAL (fn NULL).
 * One pool at a time, kept alive by a reference while fn runs: fn may create
 * and destroy other pools, but not the one it is given (destroy would wait
 * for the reference). Pools created meanwhile may be missed.
 */
TLP_API int tlp_pool_foreach(int (*fn)(tlp_pool *pool, void *arg), void *arg);

/* ------------------------------------------------------------------------ */
/* Leak tracking                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Off by default and free when off. On for a pool with tlp_config.leak_sample,
 * or for every pool (buffer pools' classes included) with TLPOOL_CONF
 * "leaks:all", "leaks:N" or "leaks:trace" (see the README). A tracked pool
 * records each object taken (or one in N) with the time and the call site of
 * tlp_get / tlp_buf_alloc, and drops the record on put; its puts then run
 * out of line, and so do its gets when it tracks every object (a sampled
 * pool's gets stay inline but for the recorded ones; see the README's
 * figures).
 *
 * tlp_leaks_print prints every tracked object out for at least min_age_ms,
 * grouped by pool and call site, with counts and ages; sites are symbolized
 * with dladdr (function names of shared objects, and of executables linked
 * with -rdynamic; always object+offset for addr2line). Returns the number of
 * objects reported (sampled pools: the sampled ones). tlp_pool_destroy of a
 * tracked pool with objects out, and process exit, print the same to stderr.
 */
TLP_API size_t tlp_leaks_print(FILE *out, unsigned min_age_ms);

/* ------------------------------------------------------------------------ */
/* Scoped get/put                                                             */
/* ------------------------------------------------------------------------ */

/*
 * TLP_SCOPED(type, var, pool) declares `type var = tlp_get(pool)` and puts var
 * back into pool on every exit from the enclosing scope (return, break, goto,
 * end of block). Set var = NULL, or use TLP_TAKE(var), to hand ownership out:
 * then nothing is put. `pool` is evaluated once. `type` is a pointer type.
 * Check var for NULL (allocation failure) as with tlp_get. GCC and Clang only.
 * The put is the inline tlp_put (no extra call). C++ exceptions unwinding the
 * scope put var too, in C++ and in C compiled with -fexceptions (C compiled
 * without it has no cleanups to run: an exception thrown through such C code
 * leaves var out of the pool).
 */
#if defined(__GNUC__) || defined(__clang__)
typedef struct tlp__scope {
    tlp_pool *pool;
    void *var; /* address of the user's pointer variable */
} tlp__scope;
/* The out-of-line cleanup of 0.2's TLP_SCOPED, kept for binaries built
 * against it. */
TLP_API void tlp__scope_exit(tlp__scope *s);
#if defined(__cplusplus)
#define TLP__NOEXCEPT noexcept
#else
#define TLP__NOEXCEPT
#endif
/* TLP_SCOPED's cleanup. The variable has the user's pointer type: its bytes
 * are copied rather than read through a void ** (no aliasing assumption);
 * once inlined the copy is a plain read of the variable. */
static inline void tlp__scope_put(tlp__scope *s) TLP__NOEXCEPT
{
    void *obj;
    __builtin_memcpy(&obj, s->var, sizeof obj);
    if (obj)
        tlp_put(s->pool, obj);
}
#define TLP__CAT2(a, b) a##b
#define TLP__CAT(a, b) TLP__CAT2(a, b)
#define TLP_SCOPED(type, var, pool)                                          \
    tlp_pool *const TLP__CAT(tlp__scoped_pool_, var) = (pool);               \
    type var = (type)tlp_get(TLP__CAT(tlp__scoped_pool_, var));              \
    __attribute__((cleanup(tlp__scope_put), unused))                         \
    tlp__scope TLP__CAT(tlp__scoped_guard_, var) = {                         \
        TLP__CAT(tlp__scoped_pool_, var), (void *)&(var) }
/* Evaluates to var and sets var to NULL (ownership leaves the scope). */
#define TLP_TAKE(var) __extension__({ __typeof__(var) tlp__taken = (var); (var) = NULL; tlp__taken; })
#else
#ifdef __cplusplus
#define TLP_SCOPED(type, var, pool) static_assert(false, "TLP_SCOPED needs GCC or Clang (__attribute__((cleanup)))")
#else
#define TLP_SCOPED(type, var, pool) _Static_assert(0, "TLP_SCOPED needs GCC or Clang (__attribute__((cleanup)))")
#endif
#define TLP_TAKE(var) TLP_SCOPED(void *, var, 0)
#endif

/* ------------------------------------------------------------------------ */
/* Buffer pools: size-classed buffers with a malloc-like API                  */
/* ------------------------------------------------------------------------ */

typedef struct tlp_bufpool tlp_bufpool;

typedef struct tlp_bufpool_config {
    size_t   min_class;       /* smallest pooled class in bytes; 0 = default (16) */
    size_t   max_class;       /* largest pooled class in bytes; 0 = default (64 KiB); larger requests go to malloc */
    unsigned thread_cache;    /* per class, per thread; 0 = default by class size */
    unsigned drain_ms;        /* > 0: drained every drain_ms by the background drainer */
    size_t   max_idle_bytes;  /* cap on idle bytes across all classes' shared tiers; 0 = default (64 MiB); SIZE_MAX = none */
    bool     zero_on_free;    /* zero every buffer when it comes back */
    const char *name;         /* used in stats and messages; may be NULL */
    size_t   thread_idle_bytes; /* cap on idle bytes one thread's caches keep across all
                                 * classes; 0 = default (256 KiB, at least 4 x the largest
                                 * class); SIZE_MAX = none; below the largest class: EINVAL */
} tlp_bufpool_config;

/* 0, or EINVAL (bad config) / ENOMEM; *out untouched on error. Sized like
 * tlp_pool_create: fields added at the end of the config are 0 for older
 * callers. */
TLP_API int  tlp_bufpool_create_sized(const tlp_bufpool_config *cfg, size_t cfg_size,
                                      tlp_bufpool **out);
TLP_API int  tlp_bufpool_create(const tlp_bufpool_config *cfg, tlp_bufpool **out); /* 0.2 */
#define tlp_bufpool_create(cfg, out) \
    tlp_bufpool_create_sized((cfg), sizeof(tlp_bufpool_config), (out))
/* Same preconditions as tlp_pool_destroy. NULL: no-op. */
TLP_API void tlp_bufpool_destroy(tlp_bufpool *bp);

/* malloc-like calls on an explicit buffer pool. NULL with errno = ENOMEM on failure. */
TLP_API void  *tlp_bufpool_alloc(tlp_bufpool *bp, size_t size);
TLP_API void  *tlp_bufpool_calloc(tlp_bufpool *bp, size_t n, size_t size);
TLP_API void  *tlp_bufpool_realloc(tlp_bufpool *bp, void *ptr, size_t size);
TLP_API void   tlp_bufpool_free(tlp_bufpool *bp, void *ptr);
TLP_API size_t tlp_bufpool_size(tlp_bufpool *bp, const void *ptr);
TLP_API void   tlp_bufpool_drain(tlp_bufpool *bp);
TLP_API void   tlp_bufpool_release_idle(tlp_bufpool *bp);

typedef struct tlp_bufclass_stats {
    size_t   size;        /* class size in bytes */
    uint64_t idle;        /* idle buffers */
    uint64_t idle_bytes;  /* idle * size */
    uint64_t out;         /* buffers taken and not yet freed */
    /* The class's own counters (its tlp_stats, same meanings): */
    uint64_t gets;        /* allocations served by the class */
    uint64_t hits_thread; /* ... from the thread cache */
    uint64_t hits_shared; /* ... from the shared tier */
    uint64_t hits_victim; /* ... rescued from the victim generation */
    uint64_t made;        /* buffers made (malloc) */
    uint64_t released;    /* buffers released (free) */
} tlp_bufclass_stats;

typedef struct tlp_bufpool_stats {
    unsigned nclasses;
    tlp_bufclass_stats classes[64];
    uint64_t idle_bytes;     /* sum over classes */
    uint64_t large_allocs;   /* requests above max_class served by malloc */
    uint64_t large_out;      /* ... still out */
    uint64_t span_bytes;     /* address space of the spans pooled buffers are carved from
                              * (resident once touched; given back when all their buffers are idle
                              * and a drain or release_idle releases them) */
    uint64_t thread_idle_cap;   /* the per-thread cap on idle bytes (UINT64_MAX: none) */
    uint64_t idle_thread_bytes; /* idle bytes in threads' caches (all threads; part of idle_bytes) */
    uint64_t cap_spilled_bytes; /* bytes the per-thread cap moved from thread caches to the
                                 * shared tiers */
} tlp_bufpool_stats;

/* Fills *out; writes sizeof(tlp_bufpool_stats) bytes as the program saw it. */
TLP_API void tlp_bufpool_stats_get_sized(tlp_bufpool *bp, tlp_bufpool_stats *out,
                                         size_t out_size);
TLP_API void tlp_bufpool_stats_get(tlp_bufpool *bp, tlp_bufpool_stats *out); /* 0.2 */
#define tlp_bufpool_stats_get(bp, out) \
    tlp_bufpool_stats_get_sized((bp), (out), sizeof(tlp_bufpool_stats))

/* The process-wide default buffer pool (created on first use). */
TLP_API tlp_bufpool *tlp_bufpool_default(void);

/*
 * Configures the default buffer pool; call before its first use (any
 * tlp_buf_* call or tlp_bufpool_default). 0; EINVAL for a config that
 * tlp_bufpool_create refuses; EBUSY once the default pool exists. The
 * TLPOOL_CONF keys buf_max_idle_bytes, buf_thread_idle_bytes, buf_zero_on_free
 * and buf_drain_ms override what it sets.
 */
TLP_API int tlp_buf_default_config(const tlp_bufpool_config *cfg);

/* The buffer pool's name as given in its config ("" when none; "tlp_buf" for
 * the default pool unless configured). */
TLP_API const char *tlp_bufpool_name(const tlp_bufpool *bp);

/* Calls fn(bp, arg) for every live buffer pool until fn returns non-zero
 * (as tlp_pool_foreach). fn must not create or destroy buffer pools. */
TLP_API int tlp_bufpool_foreach(int (*fn)(tlp_bufpool *bp, void *arg), void *arg);

/*
 * Drop-in replacements for malloc/calloc/realloc/free on the default pool.
 * tlp_buf_alloc(n) and tlp_buf_free(p) expand to an inline fast path (like
 * tlp_get/tlp_put) unless TLP_NO_INLINE is defined; they are function-like
 * macros, so `&tlp_buf_free` or `tlp_buf_free` passed as a callback still
 * names the real, exported function.
 */
TLP_API void  *tlp_buf_alloc(size_t size);
TLP_API void  *tlp_buf_calloc(size_t n, size_t size);
TLP_API void  *tlp_buf_realloc(void *ptr, size_t size);
TLP_API void   tlp_buf_free(void *ptr);
TLP_API size_t tlp_buf_size(const void *ptr);

/* ------------------------------------------------------------------------ */
/* Build variants                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A fenced library (TLP_FENCED, exported by its tlpool.pc and CMake package)
 * names its thread-local state differently, so the inline fast path of a
 * program built for the other handshake fails to link, or to load when the
 * library is swapped under it. Checked and poison libraries have names of
 * their own (libtlpool_checked.so, tlpool_checked.pc, find_package(tlpool_checked)).
 * TLP_NO_INLINE programs reference none of it and run with any variant.
 */
#if defined(TLP_FENCED)
#define tlp__tls tlp__tls_fenced
#endif

/* ------------------------------------------------------------------------ */
/* Internals of the inline fast path (ABI, not API: do not use directly)      */
/* ------------------------------------------------------------------------ */

#ifdef __cplusplus
#define TLP__ATOMIC(T) std::atomic<T>
#define TLP__RELAXED std::memory_order_relaxed
#define TLP__ACQUIRE std::memory_order_acquire
#define TLP__RELEASE std::memory_order_release
#define TLP__SEQ_CST std::memory_order_seq_cst
#define TLP__LOAD(p, mo) (p)->load(mo)
#define TLP__STORE(p, v, mo) (p)->store((v), (mo))
#define TLP__SIGNAL_FENCE() std::atomic_signal_fence(std::memory_order_seq_cst)
#else
#define TLP__ATOMIC(T) _Atomic(T)
#define TLP__RELAXED memory_order_relaxed
#define TLP__ACQUIRE memory_order_acquire
#define TLP__RELEASE memory_order_release
#define TLP__SEQ_CST memory_order_seq_cst
#define TLP__LOAD(p, mo) atomic_load_explicit((p), (mo))
#define TLP__STORE(p, v, mo) atomic_store_explicit((p), (v), (mo))
#define TLP__SIGNAL_FENCE() atomic_signal_fence(memory_order_seq_cst)
#endif

#if defined(__GNUC__)
#define TLP__LIKELY(x) __builtin_expect(!!(x), 1)
#define TLP__UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Tells the compiler x holds (never NULL, here): a caller's own test folds. */
#define TLP__ASSUME(x) ((x) ? (void)0 : __builtin_unreachable())
#else
#define TLP__ASSUME(x) ((void)0)
#define TLP__LIKELY(x) (x)
#define TLP__UNLIKELY(x) (x)
#endif

/* A magazine: a LIFO stack of idle objects, owned by one thread at a time.
 * Its object count and the count of inline puts into it share one 64-bit
 * word: the count in the low 16 bits (read alone as the 16-bit part that
 * holds them), the puts above. The inline put then adds TLP__MAG_PUT_STEP
 * (count + 1 and puts + 1) with one read-modify-write of memory, and the
 * inline get subtracts 1 (count > 0, so no borrow reaches the puts). Magazine
 * capacity is at most TLP_MAX_THREAD_CACHE / 2, below 2^16. The union is
 * type punning that C allows and GCC and Clang also define for C++. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define TLP__MAG_COUNT_PART 3
#else
#define TLP__MAG_COUNT_PART 0
#endif
#define TLP__MAG_PUT_STEP ((uint64_t)0x10001u)
typedef union tlp__mag_word {
    uint64_t word;        /* puts << 16 | count */
    uint16_t part[4];     /* part[TLP__MAG_COUNT_PART] is the count */
} tlp__mag_word;
#define TLP__MAG_COUNT(m) ((uintptr_t)(m)->n.part[TLP__MAG_COUNT_PART])
/* C++ has no flexible array members: GCC and Clang accept one as an
 * extension, silenced here so the header stays -Wpedantic clean in C++ too
 * (same layout as in C). */
#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc99-extensions"
#endif
#if defined(__cplusplus) && defined(__GNUC__)
#define TLP__FAM_EXT __extension__
#else
#define TLP__FAM_EXT
#endif
typedef struct tlp__mag {
    tlp__mag_word n;      /* objects in objs[0..count), and inline puts into it while
                           * loaded (owner-only writes; the puts are added to the pool's
                           * count when the magazine leaves the thread) */
    uintptr_t fast_cap;   /* the inline put may push while count < fast_cap (0: always slow) */
    struct tlp__mag *next;/* link in a shard, victim or spare list */
    TLP__FAM_EXT void *objs[]; /* capacity fixed per pool */
} tlp__mag;
#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic pop
#endif

/*
 * Per-thread state read by the fast path: `busy` (the owner's half of the
 * drain handshake, docs/DESIGN.md) and `nslots`, followed by `nslots`
 * entries of `loaded` (per pool slot: the magazine in use). A thread's
 * record covers only the slots up to the highest one it has used, so the
 * fast path checks the slot against `nslots` (a slot past it takes the slow
 * path, which grows the record). The TLS pointer points at loaded[0], with
 * this header just below it: both are then reached with one base register
 * and constant displacements. (No flexible array member: the header stays
 * valid ISO C++.)
 */
typedef struct tlp__thread {
    TLP__ATOMIC(uint32_t) busy;  /* 1 while inside an inline fast path */
    uint32_t nslots;             /* entries of loaded[] (0 in the sentinel) */
} tlp__thread;

typedef TLP__ATOMIC(tlp__mag *) tlp__slot_ref;
#define tlp__head(l) ((tlp__thread *)(void *)(l) - 1)

/* The first bytes of every pool, read by the inline fast path. */
typedef struct tlp__pool_head {
    uint32_t slot;        /* index into loaded[], unique among live pools: tlp_get */
    uint32_t put_slot;    /* what tlp_put uses: slot; slot | TLP__PUT_RESET for a pool
                           * with obj_reset (the inline put calls the hook first);
                           * TLP__PUT_SLOW to send every put out of line */
    bool (*reset)(void *obj, void *ctx); /* obj_reset, for the inline put */
    void *ctx;                           /* its ctx */
} tlp__pool_head;
/* Both fail the fast path's `slot < nslots` test (slots are below
 * TLP_MAX_POOLS), so a plain pool's put pays nothing for them. */
#define TLP__PUT_RESET 0x80000000u
#define TLP__PUT_SLOW 0x7fffffffu

/*
 * The calling thread's loaded[] (its tlp__thread just below). initial-exec
 * TLS: one fs-relative load, no __tls_get_addr call. It is a single pointer
 * (8 bytes of static TLS), so a dlopen()ed libtlpool fits in glibc's static
 * TLS surplus. Until a thread's first slow path it points just past a shared
 * sentinel header with nslots = 0.
 */
/* __thread rather than thread_local: C++ would route an extern thread_local
 * through a wrapper call in case of dynamic initialisation. */
extern __thread tlp__slot_ref *tlp__tls __attribute__((tls_model("initial-exec")));

TLP_API void *tlp__get_slow(tlp_pool *pool);
TLP_API void tlp__put_slow(tlp_pool *pool, void *obj);
/* The rest of a put whose obj_reset the inline tlp_put has run: keep is
 * what the hook returned. */
TLP_API void tlp__put_reset_slow(tlp_pool *pool, void *obj, bool keep);

/*
 * The fast path. Memory ordering (x86-64 and AArch64 alike):
 *  - busy = 1 is a relaxed store followed by a compiler-only fence. The store-
 *    load ordering it needs against a drainer that swaps `loaded` out comes
 *    from the drainer's membarrier(2), which runs a full barrier on this CPU
 *    between the drainer's swap and its read of busy (asymmetric Dekker).
 *  - `loaded` is read relaxed: the owner only ever reads the pointer it or
 *    the drainer installed; the drainer installs only the empty sentinel,
 *    which the fast path never writes through.
 *  - busy = 0 is a release store: it publishes this operation's writes to the
 *    magazine to a drainer that reads busy == 0 with acquire.
 * In builds with TLP_FENCED (TSan, or platforms without membarrier) busy = 1
 * is a seq_cst store and `loaded` a seq_cst load: a plain Dekker that TSan and
 * the C11 model can check, at the price of one full fence per operation.
 */
#if defined(TLP_MEASURE_NO_HANDSHAKE)
/* Only for measuring what the handshake costs (scripts/callgrind_pair.sh):
 * UNSAFE with drains that reach other threads. Never use it otherwise. */
#define TLP__ENTER(t) ((void)0)
#define TLP__LOADED(l, s) TLP__LOAD(&(l)[s], TLP__RELAXED)
#define TLP__LEAVE(t) ((void)0)
#elif defined(TLP_FENCED)
#define TLP__ENTER(t) TLP__STORE(&(t)->busy, 1u, TLP__SEQ_CST)
#define TLP__LOADED(l, s) TLP__LOAD(&(l)[s], TLP__SEQ_CST)
#else
#define TLP__ENTER(t) (TLP__STORE(&(t)->busy, 1u, TLP__RELAXED), TLP__SIGNAL_FENCE())
#define TLP__LOADED(l, s) TLP__LOAD(&(l)[s], TLP__RELAXED)
#endif
#ifndef TLP__LEAVE
#define TLP__LEAVE(t) TLP__STORE(&(t)->busy, 0u, TLP__RELEASE)
#endif

/*
 * The fast path on a pool's slot, for the library's own callers that know the
 * slot already (the buffer pools); tlp_get/tlp_put below are these plus the
 * slow path. They return false, having changed nothing, when the calling
 * thread's magazine for the slot is empty (get) or full / not installed (put);
 * the caller then calls tlp__get_slow / tlp__put_slow. obj must not be NULL.
 */
/* `nslots` is read before ENTER: only the owner writes it (in its slow
 * path, where it also moves the record), so no ordering is needed. Both
 * read the count as a 16-bit load (zero-extended, so it indexes directly)
 * and write the whole word with one add or subtract to memory. */
static inline bool tlp__get_fast(uint32_t slot, void **out)
{
    tlp__slot_ref *l = tlp__tls;
    tlp__thread *t = tlp__head(l);
    if (TLP__UNLIKELY(slot >= t->nslots))
        return false;
    TLP__ENTER(t);
    tlp__mag *m = TLP__LOADED(l, slot);
    uintptr_t n = TLP__MAG_COUNT(m);
    if (TLP__LIKELY(n != 0)) {
        *out = m->objs[n - 1];
        m->n.word -= 1;       /* count - 1; puts unchanged */
        TLP__LEAVE(t);
        return true;
    }
    TLP__LEAVE(t);
    return false;
}

static inline bool tlp__put_fast(uint32_t slot, void *obj)
{
    tlp__slot_ref *l = tlp__tls;
    tlp__thread *t = tlp__head(l);
    if (TLP__UNLIKELY(slot >= t->nslots))
        return false;
    TLP__ENTER(t);
    tlp__mag *m = TLP__LOADED(l, slot);
    uintptr_t n = TLP__MAG_COUNT(m);
    /* fast_cap is 0 in checked builds and in the sentinel: those puts go
     * out of line. */
    if (TLP__LIKELY(n < m->fast_cap)) {
        m->objs[n] = obj;
        m->n.word += TLP__MAG_PUT_STEP; /* count + 1, puts + 1 */
        TLP__LEAVE(t);
        return true;
    }
    TLP__LEAVE(t);
    return false;
}

#if !defined(TLP_NO_INLINE)
static inline void *tlp_get(tlp_pool *pool)
{
    void *obj;
    if (TLP__LIKELY(tlp__get_fast(((const tlp__pool_head *)(const void *)pool)->slot, &obj))) {
        /* Magazines never hold NULL: the caller's `if (!obj)` and a later
         * tlp_put's NULL test fold away on this path. */
        TLP__ASSUME(obj != NULL);
        return obj;
    }
    return tlp__get_slow(pool);
}

static inline void tlp_put(tlp_pool *pool, void *obj)
{
    const tlp__pool_head *h = (const tlp__pool_head *)(const void *)pool;
    if (TLP__LIKELY(obj != NULL)) {
        if (TLP__LIKELY(tlp__put_fast(h->put_slot, obj)))
            return;
        /* A pool with obj_reset: its put_slot fails the first attempt (4
         * instructions); the hook runs here, outside the handshake (it may
         * use pools, even this one), then the push is the fast path's.
         * put_slot is read again (not kept from above: keeping it live
         * costs the plain put a register copy). */
        if (h->put_slot & TLP__PUT_RESET) {
            /* busy set: a signal handler interrupted an inline operation;
             * tlp__put_slow stops the program with a message. */
            if (TLP__UNLIKELY(TLP__LOAD(&tlp__head(tlp__tls)->busy, TLP__RELAXED) != 0)) {
                tlp__put_slow(pool, obj);
                return;
            }
            bool keep = h->reset(obj, h->ctx);
            if (TLP__LIKELY(keep) && TLP__LIKELY(tlp__put_fast(h->slot, obj)))
                return;
            tlp__put_reset_slow(pool, obj, keep);
            return;
        }
    }
    /* NULL goes to the slow path, which ignores it. */
    tlp__put_slow(pool, obj);
}
#else
static inline void *tlp_get(tlp_pool *pool) { return tlp_get_noinline(pool); }
static inline void tlp_put(tlp_pool *pool, void *obj) { tlp_put_noinline(pool, obj); }
#endif

/*
 * The buffer pools' fast paths (docs/BUFFERS.md, "The call path"), shared by
 * the library's exported calls and the inline tlp_buf_alloc/tlp_buf_free.
 * Buffers have no header: a class carves them from spans (runs of 64 KiB
 * chunks), and a free finds the span from the address through a two-level
 * radix map of 64 KiB chunks, tlp__buf_map. The object a class's pool holds
 * is the user pointer itself. A buffer pool begins with tlp__bufpool_head.
 */
#define TLP__BUF_MAX_CLASSES 64u   /* = the size of tlp_bufpool_stats.classes */
#define TLP__BUF_GRID_N 256u       /* a power of two above every grid index a class may
                                    * have (219 for the largest class allowed) */
#define TLP__BUF_CHUNK_SHIFT 16u   /* the map's granule: 64 KiB */
#define TLP__BUF_MAP_BITS 16u      /* root and leaf entries: 2^16 each (48-bit addresses) */

/* What a free reads about a buffer's span; the first fields of the library's
 * span descriptor. */
typedef struct tlp__buf_span {
    struct tlp_bufpool *fast_owner; /* the owning pool while the inline free may push
                                     * its buffers; NULL otherwise (large buffers, checked
                                     * and zero_on_free pools, a span not in use) */
    uint32_t slot;                  /* the class's pool slot */
    uint32_t cls;                   /* class index, or UINT32_MAX for a large buffer */
} tlp__buf_span;

/* tlp__buf_map[a >> 32][(a >> 16) & 0xffff]: the span holding address a, or
 * NULL. Leaves are made once and never freed; entries are set (release)
 * before a span's buffers are handed out and cleared when it is given back. */
typedef TLP__ATOMIC(tlp__buf_span *) tlp__buf_leaf[1u << TLP__BUF_MAP_BITS];
extern TLP_API TLP__ATOMIC(tlp__buf_leaf *) tlp__buf_map[1u << TLP__BUF_MAP_BITS];

typedef struct tlp__bufpool_head {
    size_t max_size;            /* size of the largest class */
    uint32_t nclasses;
    uint32_t reserved;
    uint32_t slot_by_grid[TLP__BUF_GRID_N]; /* grid index -> slot of the class serving it */
} tlp__bufpool_head;

/* The span holding ptr (any address: NULL when it is in no span). */
static inline const tlp__buf_span *tlp__buf_span_of(const void *ptr)
{
    uintptr_t a = (uintptr_t)ptr;
    uintptr_t top = a >> (TLP__BUF_CHUNK_SHIFT + TLP__BUF_MAP_BITS);
    if (TLP__UNLIKELY(top >= (1u << TLP__BUF_MAP_BITS)))
        return NULL;
    tlp__buf_leaf *leaf = TLP__LOAD(&tlp__buf_map[top], TLP__ACQUIRE);
    if (TLP__UNLIKELY(leaf == NULL))
        return NULL;
    return TLP__LOAD(&(*leaf)[(a >> TLP__BUF_CHUNK_SHIFT) & ((1u << TLP__BUF_MAP_BITS) - 1)],
                     TLP__ACQUIRE);
}

/*
 * The grid index of the smallest grid size >= n (n = 0 counts as 1): 16-byte
 * steps up to 128, then four steps per power of two. Without branches: a
 * server's sizes are random, and a mispredicted "n <= 128" costs more than
 * this whole function. With m = n - 1 and k = floor(log2(m | 64)): above 128
 * the index is 4k - 20 plus the two bits below the top one; for m < 128
 * (k = 6) the same formula gives 4 + ((m >> 4) & 3), which is the linear
 * grid's m >> 4 for 64 <= m < 128 and 4 too many below 64.
 */
static inline uint32_t tlp__buf_grid(size_t n)
{
    size_t m = n - (n != 0);
    uint32_t k = 63u - (uint32_t)__builtin_clzll((unsigned long long)(m | 64));
    uint32_t g = 4 * k - 20 + (uint32_t)((m >> (k - 2)) & 3);
    return g - (m < 64 ? 4u : 0u);
}

TLP_API void *tlp__buf_alloc_slow(tlp_bufpool *bp, uint32_t grid);
TLP_API void *tlp__buf_large_alloc(tlp_bufpool *bp, size_t size, bool zero);
TLP_API void tlp__buf_free_slow(tlp_bufpool *bp, void *ptr, const char *fn);

static inline void *tlp__buf_alloc_fast(tlp_bufpool *bp, size_t size)
{
    const tlp__bufpool_head *h = (const tlp__bufpool_head *)(const void *)bp;
    if (TLP__LIKELY(size <= h->max_size)) {
        uint32_t g = tlp__buf_grid(size);
        void *obj;
        /* A checked library never lets this succeed (its magazines are
         * hidden from the fast path), so its checks run on every alloc. */
        /* g <= 219 here; the mask (free: it folds into a zero-extension)
         * tells the compiler so, for callers with a constant size. */
        if (TLP__LIKELY(tlp__get_fast(h->slot_by_grid[g & (TLP__BUF_GRID_N - 1)], &obj)))
            return obj;
        return tlp__buf_alloc_slow(bp, g);
    }
    return tlp__buf_large_alloc(bp, size, false);
}

/* ptr is not NULL. The span's descriptor (shared by all its buffers, so
 * usually in cache) says whether ptr is a pooled buffer of bp that the
 * inline put may take; anything else (a pointer in no span, a buffer of
 * another pool, a large buffer, a full magazine) leaves through one tail
 * call to the slow path, which checks and says what is wrong. The buffer's
 * own bytes are not read. */
static inline void tlp__buf_free_fast(tlp_bufpool *bp, void *ptr, const char *fn)
{
    const tlp__buf_span *s = tlp__buf_span_of(ptr);
    if (TLP__LIKELY(s != NULL && s->fast_owner == bp) && TLP__LIKELY(tlp__put_fast(s->slot, ptr)))
        return;
    tlp__buf_free_slow(bp, ptr, fn);
}

/* The default buffer pool once made (release store after it is complete;
 * read with acquire, a plain load on x86-64 and AArch64 ldar). */
extern TLP_API TLP__ATOMIC(tlp_bufpool *) tlp__buf_default;
TLP_API void *tlp__buf_alloc_first(size_t size);  /* makes the default pool */
TLP_API void tlp__buf_free_first(void *ptr);      /* a free before any alloc */

static inline void *tlp__buf_alloc_inline(size_t size)
{
    tlp_bufpool *bp = TLP__LOAD(&tlp__buf_default, TLP__ACQUIRE);
    if (TLP__LIKELY(bp != NULL))
        return tlp__buf_alloc_fast(bp, size);
    return tlp__buf_alloc_first(size);
}

static inline void tlp__buf_free_inline(void *ptr)
{
    if (!ptr)
        return;
    tlp_bufpool *bp = TLP__LOAD(&tlp__buf_default, TLP__ACQUIRE);
    if (TLP__LIKELY(bp != NULL))
        tlp__buf_free_fast(bp, ptr, "tlp_buf_free");
    else
        tlp__buf_free_first(ptr);
}

#if !defined(TLP_NO_INLINE) && !defined(TLP_BUILDING)
#define tlp_buf_alloc(size) tlp__buf_alloc_inline(size)
#define tlp_buf_free(ptr) tlp__buf_free_inline(ptr)
#endif

#ifdef __cplusplus
}
#endif

#endif /* TLPOOL_H */
