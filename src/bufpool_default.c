/* SPDX-License-Identifier: MIT */
/*
 * The process-wide default buffer pool and the tlp_buf_* drop-ins for
 * malloc/calloc/realloc/free/malloc_usable_size.
 *
 * The default pool is made on first use and lives as long as the process.
 * It is never destroyed: a buffer may be freed by a static destructor or a
 * detached thread after any exit hook of ours would have run. At exit, idle
 * buffers are still reachable (the class pools hold the start of each
 * allocation, and the pools are reachable from the static pointer below), so
 * valgrind and LeakSanitizer do not report them as leaks; buffers the
 * program never freed are reported, as with malloc.
 */
#include "bufpool.h"
#include "conf.h"     /* tlp__buf_default_settings */
#include "internal.h" /* tlp__fork_init, TLP_FORK_* */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* No background drains for the default pool: a malloc replacement should
 * not start a thread behind the caller's back (fork, sandboxes, and a thread
 * still running at exit shows up in valgrind as "possibly lost"). Its idle
 * memory is bounded by the budget and the thread caches; the application
 * may call tlp_bufpool_drain(tlp_bufpool_default()) from its own timer, or
 * start tlp_pressure_watch_start(), which releases it under pressure. */
#define DEFAULT_DRAIN_MS 0u

/* Published with release once complete; read with acquire (a plain load on
 * x86-64 and AArch64 ldar) so the pool's fields are visible to any reader.
 * Exported: the inline tlp_buf_alloc/tlp_buf_free of tlpool.h read it. */
_Atomic(tlp_bufpool *) tlp__buf_default;
/* A mutex rather than pthread_once: creation may fail (ENOMEM), and then
 * the malloc fallback below is made instead, once. */
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;

/* Set, for good, when the default pool could not be made (no memory): a
 * pool without classes, so every drop-in call is a large buffer, i.e.
 * plain malloc with the large-buffer bookkeeping. Made once:
 * the drop-ins then never try to make the default pool again (each attempt
 * made and destroyed dozens of pools), and tlp_bufpool_default() returns
 * NULL. Its buffers belong to it, so the default pool must never appear
 * after it. */
static _Atomic(tlp_bufpool *) fallback;

static tlp_bufpool *make_fallback(void)
{
    tlp_bufpool *fb = calloc(1, sizeof(*fb));
    if (!fb)
        return NULL;
    fb->name = strdup("tlp_buf");
    if (!fb->name) {
        free(fb);
        return NULL;
    }
    /* nclasses = 0, max_size = 0: the calls below never reach a class. */
    fb->max_idle_bytes = SIZE_MAX;
    fb->thread_idle_bytes = SIZE_MAX; /* no classes: nothing is ever cached */
    fb->magic = TLP__BUFPOOL_MAGIC;
    return fb;
}

void tlp__bufpool_atfork(int phase)
{
    /* default_lock first: create_default holds it while making pools. */
    if (phase == TLP_FORK_PREPARE) {
        pthread_mutex_lock(&default_lock);
        tlp__buf_span_atfork(phase);
    } else {
        tlp__buf_span_atfork(phase);
        pthread_mutex_unlock(&default_lock); /* the child has only the forking thread */
    }
}

__attribute__((cold, noinline)) static tlp_bufpool *create_default(void)
{
    /* The fork handlers first, so that a fork while this thread holds
     * default_lock finds them installed (they take the lock). */
    tlp__fork_init();
    pthread_mutex_lock(&default_lock);
    tlp_bufpool *bp = atomic_load_explicit(&tlp__buf_default, memory_order_relaxed);
    if (!bp && !atomic_load_explicit(&fallback, memory_order_relaxed)) {
        tlp_bufpool_config cfg;
        tlp__buf_default_settings(&cfg, "tlp_buf", DEFAULT_DRAIN_MS);
        int err = tlp_bufpool_create(&cfg, &bp);
        if (err) {
            bp = NULL;
            /* NULL too: the next call tries again. */
            atomic_store_explicit(&fallback, make_fallback(), memory_order_release);
        } else {
            atomic_store_explicit(&tlp__buf_default, bp, memory_order_release);
        }
    }
    pthread_mutex_unlock(&default_lock);
    if (!bp)
        errno = ENOMEM;
    return bp;
}

static inline tlp_bufpool *get_fallback(void)
{
    return atomic_load_explicit(&fallback, memory_order_acquire);
}

static inline tlp_bufpool *get_default(void)
{
    tlp_bufpool *bp = atomic_load_explicit(&tlp__buf_default, memory_order_acquire);
    if (__builtin_expect(bp != NULL, 1))
        return bp;
    return get_fallback() ? NULL : create_default();
}

/* The pool the drop-ins use: the default pool, else the fallback (made by
 * a failed creation). NULL (errno = ENOMEM) when there is neither. */
static tlp_bufpool *dropin_pool(void)
{
    tlp_bufpool *bp = get_default();
    return bp ? bp : get_fallback();
}

/* For free/size/realloc of a non-NULL pointer. The pool normally exists
 * already; if not, it is made, so a foreign pointer gets the usual message. */
static inline tlp_bufpool *existing_pool(const void *ptr, const char *fn)
{
    tlp_bufpool *bp = dropin_pool();
    if (__builtin_expect(bp == NULL, 0))
        tlp__buf_fatal(NULL, "%s(%p): the default buffer pool cannot be created", fn, ptr);
    return bp;
}

tlp_bufpool *tlp_bufpool_default(void)
{
    tlp_bufpool *bp = get_default();
    if (!bp)
        errno = ENOMEM;
    return bp;
}

/* The first alloc of the process, or every alloc once the default pool
 * could not be made (then plain malloc, through the fallback). */
__attribute__((cold, noinline)) void *tlp__buf_alloc_first(size_t size)
{
    tlp_bufpool *bp = dropin_pool();
    if (!bp)
        return NULL;
    return tlp__buf_alloc_in(bp, size);
}

/* The out-of-line drop-ins: the same inline paths (tlpool.h) in a function. */
void *tlp_buf_alloc(size_t size)
{
    return tlp__buf_alloc_inline(size);
}

void *tlp_buf_calloc(size_t n, size_t size)
{
    tlp_bufpool *bp = dropin_pool();
    return bp ? tlp__bufpool_calloc(bp, n, size) : NULL;
}

void *tlp_buf_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return tlp_buf_alloc(size);
    return tlp__bufpool_realloc(existing_pool(ptr, "tlp_buf_realloc"), ptr, size,
                                "tlp_buf_realloc");
}

/* A free before any alloc: not a buffer of ours, whatever it is. A function
 * of its own, called in tail position, so that tlp_buf_free keeps no frame. */
__attribute__((cold, noinline)) void tlp__buf_free_first(void *ptr)
{
    tlp__buf_free_fast(existing_pool(ptr, "tlp_buf_free"), ptr, "tlp_buf_free");
}

void tlp_buf_free(void *ptr)
{
    tlp__buf_free_inline(ptr);
}

size_t tlp_buf_size(const void *ptr)
{
    if (!ptr)
        return 0;
    return tlp__bufpool_size(existing_pool(ptr, "tlp_buf_size"), ptr, "tlp_buf_size");
}
