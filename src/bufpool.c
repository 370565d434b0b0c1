/*
 * Buffer pools: size classes over tlp_pools, with a malloc-like API.
 *
 * Each class is one tlp_pool whose objects are [header | class-size bytes];
 * the pool's obj_new/obj_free hooks malloc/free them and write the header
 * once. A free reads the header to find the class (see bufpool.h for the
 * layout), so the hot paths are: class lookup (a clz), tlp_get / tlp_put, and
 * on free one header load that also validates the pointer.
 *
 * The idle-bytes budget is translated into per-class max_idle counts when
 * the pool is created (docs/BUFFERS.md says why): no counter is shared
 * between classes, so nothing but the core's own paths runs per buffer.
 */
#include "bufpool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define HDR TLP__BUF_HDR
#define DEFAULT_MIN_CLASS 16u
#define DEFAULT_MAX_CLASS ((size_t)64 << 10)
#define DEFAULT_MAX_IDLE_BYTES ((size_t)64 << 20)
/* Default thread cache of a class: about TC_BYTES of buffers, within
 * [TC_MIN, TC_MAX] buffers (a thread touching every default class keeps at
 * most ~4 MiB; docs/BUFFERS.md has the exact figure). */
#define TC_BYTES ((size_t)128 << 10)
#define TC_MIN 2u
#define TC_MAX 128u
/* Largest max_class accepted; far below any overflow in header arithmetic. */
#define MAX_CLASS_LIMIT ((size_t)PTRDIFF_MAX / 8)
/* Large requests are refused above this (malloc would refuse them anyway). */
#define LARGE_LIMIT ((size_t)PTRDIFF_MAX - 2 * HDR)

#ifdef TLP_CHECKED
#define CHECKED 1
#else
#define CHECKED 0
#endif

/* ---- messages ----------------------------------------------------------- */

_Noreturn void tlp__buf_fatal(const tlp_bufpool *bp, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tlpool: buffer pool '%s': ", bp ? bp->name : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

__attribute__((cold, noinline)) _Noreturn void tlp__buf_bad_header(const tlp_bufpool *bp,
                                                                  const void *ptr, const char *fn)
{
    const tlp__buf_hdr *h = tlp__buf_hdr_of(ptr);
    if (h->cookie == TLP__BUF_FREE && h->owner == bp)
        tlp__buf_fatal(bp, "%s(%p): double free (the buffer was already freed)", fn, ptr);
    if (h->cookie == TLP__BUF_FREE || h->cookie == TLP__BUF_LIVE) {
        if (h->owner != bp)
            tlp__buf_fatal(bp, "%s(%p): the buffer belongs to another buffer pool (%p)", fn, ptr,
                           (const void *)h->owner);
        tlp__buf_fatal(bp, "%s(%p): corrupt buffer header (class %u of %u)", fn, ptr,
                       (unsigned)h->cls, (unsigned)bp->head.nclasses);
    }
    tlp__buf_fatal(bp,
                   "%s(%p): not a buffer of this buffer pool (bad header cookie 0x%08x; "
                   "foreign pointer, or the bytes before the buffer were overwritten)",
                   fn, ptr, (unsigned)h->cookie);
}

/* Validates ptr's header and returns its class index or TLP__BUF_LARGE. */
static uint32_t live_class(const tlp_bufpool *bp, const void *ptr, const char *fn)
{
    const tlp__buf_hdr *h = tlp__buf_hdr_of(ptr);
    if (unlikely(h->cookie != TLP__BUF_LIVE || h->owner != bp ||
                 (h->cls >= bp->head.nclasses && h->cls != TLP__BUF_LARGE)))
        tlp__buf_bad_header(bp, ptr, fn);
    return h->cls;
}

static inline void check_bp(const tlp_bufpool *bp, const char *fn)
{
#ifdef TLP_CHECKED
    if (!bp || bp->magic != TLP__BUFPOOL_MAGIC)
        tlp__buf_fatal(NULL, "%s: %p is not a live buffer pool", fn, (const void *)bp);
#else
    (void)bp;
    (void)fn;
#endif
}

/* ---- class objects (the tlp_pool hooks) --------------------------------- */

static void *buf_new(void *ctx)
{
    const tlp__bufclass *c = ctx;
    size_t n = HDR + c->size;
    /* zero_on_free: every buffer a class holds is all zeroes, fresh ones too,
     * so calloc can skip its memset. */
    char *base = c->bp->zero_on_free ? calloc(1, n) : malloc(n);
    if (!base)
        return NULL;
    tlp__buf_hdr *h = tlp__buf_hdr_of(base + HDR);
    h->owner = c->bp;
    h->cls = c->index;
    h->cookie = CHECKED ? TLP__BUF_FREE : TLP__BUF_LIVE;
    return base;
}

static void buf_release(void *obj, void *ctx)
{
    (void)ctx;
    free(obj);
}

/* ---- create / destroy --------------------------------------------------- */

static unsigned default_thread_cache(size_t size, uint64_t max_idle)
{
    size_t tc = TC_BYTES / size;
    if (tc < TC_MIN)
        tc = TC_MIN;
    if (tc > TC_MAX)
        tc = TC_MAX;
    /* A magazine (thread_cache / 2 buffers) larger than the class's share of
     * the shared tier could never be stored there: every flush would free. */
    if (max_idle && tc > 2 * max_idle)
        tc = (size_t)(2 * max_idle);
    return (unsigned)tc;
}

static void destroy_classes(tlp_bufpool *bp, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        tlp_pool_destroy(bp->classes[i].pool);
}

int tlp_bufpool_create(const tlp_bufpool_config *cfg, tlp_bufpool **out)
{
    if (!cfg || !out)
        return EINVAL;
    size_t minc = cfg->min_class ? cfg->min_class : DEFAULT_MIN_CLASS;
    size_t maxc = cfg->max_class ? cfg->max_class : DEFAULT_MAX_CLASS;
    if (minc > maxc || maxc > MAX_CLASS_LIMIT || cfg->thread_cache > TLP_MAX_THREAD_CACHE)
        return EINVAL;
    uint32_t gmin = tlp__buf_grid(minc), gmax = tlp__buf_grid(maxc);
    uint32_t n = gmax - gmin + 1;
    /* (gmax < TLP__BUF_GRID_N always holds: grid(MAX_CLASS_LIMIT) is 219.) */
    if (n > TLP__BUF_MAX_CLASSES || gmax >= TLP__BUF_GRID_N)
        return EINVAL;

    /* The budget: each class may keep budget / n bytes in its shared tier.
     * Classes whose share cannot hold one buffer are dropped from the top
     * (their requests become large ones), which raises the others' share. */
    size_t budget = cfg->max_idle_bytes ? cfg->max_idle_bytes : DEFAULT_MAX_IDLE_BYTES;
    if (budget != SIZE_MAX) {
        while (n > 1 && budget / n < tlp__buf_grid_size(gmin + n - 1))
            n--;
        if (budget / n < tlp__buf_grid_size(gmin))
            return EINVAL; /* the budget cannot hold one buffer of the smallest class */
    }

    tlp_bufpool *bp = calloc(1, sizeof(*bp));
    if (!bp)
        return ENOMEM;
    bp->name = strdup(cfg->name ? cfg->name : "");
    if (!bp->name) {
        free(bp);
        return ENOMEM;
    }
    bp->head.nclasses = n;
    bp->grid_min = gmin;
    bp->head.max_size = tlp__buf_grid_size(gmin + n - 1);

    bp->zero_on_free = cfg->zero_on_free;
    bp->max_idle_bytes = budget;

    char name[256];
    for (uint32_t i = 0; i < n; i++) {
        tlp__bufclass *c = &bp->classes[i];
        c->size = tlp__buf_grid_size(gmin + i);
        c->bp = bp;
        c->index = i;
        uint64_t max_idle = budget == SIZE_MAX ? 0 : (budget / n) / c->size; /* >= 1 */
        snprintf(name, sizeof(name), "%s/%zu", bp->name, c->size);
        tlp_config pc = {
            .obj_size = HDR + c->size,
            .obj_new = buf_new,
            .obj_free = buf_release,
            .ctx = c,
            .thread_cache = cfg->thread_cache ? cfg->thread_cache
                                              : default_thread_cache(c->size, max_idle),
            .max_idle = (size_t)max_idle,
            .drain_ms = cfg->drain_ms,
            .name = name,
        };
        int err = tlp_pool_create(&pc, &c->pool);
        if (err) {
            destroy_classes(bp, i);
            free(bp->name);
            free(bp);
            return err;
        }
    }
    /* The fast paths' tables: grid indexes below class 0 are served by it. */
    for (uint32_t i = 0; i < n; i++)
        bp->head.slot_by_cls[i] = (uint16_t)((const tlp__pool_head *)(const void *)bp->classes[i].pool)->slot;
    for (uint32_t g = 0; g < gmin + n; g++)
        bp->head.slot_by_grid[g] = bp->head.slot_by_cls[g > gmin ? g - gmin : 0];
    bp->head.fast_free_cls = (CHECKED || bp->zero_on_free) ? 0 : n;
    bp->magic = TLP__BUFPOOL_MAGIC;
    *out = bp;
    return 0;
}

void tlp_bufpool_destroy(tlp_bufpool *bp)
{
    if (!bp)
        return;
    check_bp(bp, "tlp_bufpool_destroy");
#ifdef TLP_CHECKED
    uint64_t large = atomic_load_explicit(&bp->large_out, memory_order_relaxed);
    if (large)
        tlp__buf_fatal(bp, "tlp_bufpool_destroy with %llu large buffer(s) still out (not freed)",
                       (unsigned long long)large);
#endif
    /* Buffers of a class still out are the core's to report (checked builds). */
    destroy_classes(bp, bp->head.nclasses);
    bp->magic = 0;
    free(bp->name);
    free(bp);
}

/* ---- large buffers ------------------------------------------------------ */

void *tlp__buf_large_alloc(tlp_bufpool *bp, size_t size, bool zero)
{
    if (size > LARGE_LIMIT) {
        errno = ENOMEM;
        return NULL;
    }
    char *base = zero ? calloc(1, 2 * HDR + size) : malloc(2 * HDR + size);
    if (!base) {
        errno = ENOMEM;
        return NULL;
    }
    *(size_t *)(void *)base = size;
    char *p = base + 2 * HDR;
    tlp__buf_hdr *h = tlp__buf_hdr_of(p);
    h->owner = bp;
    h->cls = TLP__BUF_LARGE;
    h->cookie = TLP__BUF_LIVE;
    /* Relaxed: statistics only. */
    atomic_fetch_add_explicit(&bp->large_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bp->large_out, 1, memory_order_relaxed);
    return p;
}

static size_t large_size(const void *ptr)
{
    return *(const size_t *)(const void *)((const char *)ptr - 2 * HDR);
}

static void large_free(tlp_bufpool *bp, void *ptr)
{
    /* explicit_bzero: a memset right before free() may be optimised away. */
    if (bp->zero_on_free)
        explicit_bzero(ptr, large_size(ptr));
    free((char *)ptr - 2 * HDR);
    atomic_fetch_sub_explicit(&bp->large_out, 1, memory_order_relaxed);
}

/* ---- malloc-like calls -------------------------------------------------- */

static inline uint32_t class_of(const tlp_bufpool *bp, size_t size)
{
    uint32_t g = tlp__buf_grid(size);
    return g > bp->grid_min ? g - bp->grid_min : 0;
}

#ifdef TLP_CHECKED
/* A buffer leaving its class must carry the header buf_new / free wrote. */
static void checked_got(tlp_bufpool *bp, void *p, uint32_t cls)
{
    tlp__buf_hdr *h = tlp__buf_hdr_of(p);
    if (h->cookie != TLP__BUF_FREE || h->owner != bp || h->cls != cls)
        tlp__buf_fatal(bp,
                       "alloc: the header of idle buffer %p (class %zu B) was overwritten "
                       "(a write after free, or an underflow)",
                       p, bp->classes[cls].size);
    h->cookie = TLP__BUF_LIVE;
}
#endif

__attribute__((noinline)) void *tlp__buf_alloc_slow(tlp_bufpool *bp, uint32_t grid)
{
    uint32_t i = grid > bp->grid_min ? grid - bp->grid_min : 0;
    char *base = tlp__get_slow(bp->classes[i].pool);
    /* NULL: tlp__get_slow has set errno = ENOMEM already. */
    if (unlikely(!base))
        return NULL;
#ifdef TLP_CHECKED
    checked_got(bp, base + HDR, i);
#endif
    return base + HDR;
}

__attribute__((noinline)) void tlp__buf_free_slow(tlp_bufpool *bp, void *ptr, const char *fn)
{
    uint32_t cls = live_class(bp, ptr, fn);
    if (cls == TLP__BUF_LARGE) {
        large_free(bp, ptr);
        return;
    }
    tlp__bufclass *c = &bp->classes[cls];
    /* Zero the whole usable size: the user may have written all of it. */
    if (bp->zero_on_free)
        memset(ptr, 0, c->size);
#ifdef TLP_CHECKED
    tlp__buf_hdr_of(ptr)->cookie = TLP__BUF_FREE;
#endif
    /* The inline put was tried already (or is not allowed): straight to the
     * core's slow path, which also handles a full magazine. */
    tlp__put_slow(c->pool, (char *)ptr - HDR);
}

void *tlp__bufpool_calloc(tlp_bufpool *bp, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > bp->head.max_size)
        return tlp__buf_large_alloc(bp, total, true);
    void *p = tlp__buf_alloc_fast(bp, total);
    if (p && !bp->zero_on_free)
        memset(p, 0, total);
    return p;
}

size_t tlp__bufpool_size(tlp_bufpool *bp, const void *ptr, const char *fn)
{
    if (!ptr)
        return 0;
    uint32_t i = live_class(bp, ptr, fn);
    return i == TLP__BUF_LARGE ? large_size(ptr) : bp->classes[i].size;
}

/*
 * realloc: NULL -> alloc; size 0 -> free, returns NULL. A pooled buffer
 * stays in place while size maps to its class, or to a smaller class with
 * less than half the buffer unused (no copy ping-pong on small shrinks). A
 * shrink never fails: if the smaller buffer cannot be had, ptr is returned.
 */
void *tlp__bufpool_realloc(tlp_bufpool *bp, void *ptr, size_t size, const char *fn)
{
    if (!ptr)
        return tlp__buf_alloc_fast(bp, size);
    if (size == 0) {
        tlp__buf_free_fast(bp, ptr, fn);
        return NULL;
    }
    uint32_t i = live_class(bp, ptr, fn);
    size_t old;
    if (i == TLP__BUF_LARGE) {
        old = large_size(ptr);
        /* large to large: the system realloc may move pages, not bytes. Not
         * with zero_on_free: it would release the old block unzeroed. */
        if (size > bp->head.max_size && !bp->zero_on_free) {
            if (size > LARGE_LIMIT) {
                errno = ENOMEM;
                return NULL;
            }
            char *base = realloc((char *)ptr - 2 * HDR, 2 * HDR + size);
            if (!base) {
                errno = ENOMEM;
                return NULL;
            }
            *(size_t *)(void *)base = size;
            return base + 2 * HDR;
        }
    } else {
        old = bp->classes[i].size;
        if (size <= old && (class_of(bp, size) == i || size > old / 2))
            return ptr;
    }
    bool shrink = size < old;
    int saved = errno;
    void *np = tlp__buf_alloc_fast(bp, size);
    if (!np) {
        if (shrink) {
            errno = saved;
            return ptr;
        }
        return NULL;
    }
    memcpy(np, ptr, shrink ? size : old);
    tlp__buf_free_fast(bp, ptr, fn);
    return np;
}

/* ---- public calls on an explicit pool ----------------------------------- */

void *tlp_bufpool_alloc(tlp_bufpool *bp, size_t size)
{
    check_bp(bp, "tlp_bufpool_alloc");
    return tlp__buf_alloc_fast(bp, size);
}

void *tlp_bufpool_calloc(tlp_bufpool *bp, size_t n, size_t size)
{
    check_bp(bp, "tlp_bufpool_calloc");
    return tlp__bufpool_calloc(bp, n, size);
}

void *tlp_bufpool_realloc(tlp_bufpool *bp, void *ptr, size_t size)
{
    check_bp(bp, "tlp_bufpool_realloc");
    return tlp__bufpool_realloc(bp, ptr, size, "tlp_bufpool_realloc");
}

void tlp_bufpool_free(tlp_bufpool *bp, void *ptr)
{
    check_bp(bp, "tlp_bufpool_free");
    if (ptr)
        tlp__buf_free_fast(bp, ptr, "tlp_bufpool_free");
}

size_t tlp_bufpool_size(tlp_bufpool *bp, const void *ptr)
{
    check_bp(bp, "tlp_bufpool_size");
    return tlp__bufpool_size(bp, ptr, "tlp_bufpool_size");
}

void tlp_bufpool_drain(tlp_bufpool *bp)
{
    check_bp(bp, "tlp_bufpool_drain");
    for (uint32_t i = 0; i < bp->head.nclasses; i++)
        tlp_drain(bp->classes[i].pool);
}

void tlp_bufpool_release_idle(tlp_bufpool *bp)
{
    check_bp(bp, "tlp_bufpool_release_idle");
    for (uint32_t i = 0; i < bp->head.nclasses; i++)
        tlp_release_idle(bp->classes[i].pool);
}

/* ---- statistics --------------------------------------------------------- */

void tlp_bufpool_stats_get(tlp_bufpool *bp, tlp_bufpool_stats *out)
{
    check_bp(bp, "tlp_bufpool_stats_get");
    memset(out, 0, sizeof(*out));
    out->nclasses = bp->head.nclasses;
    for (uint32_t i = 0; i < bp->head.nclasses; i++) {
        tlp_stats s;
        tlp_stats_get(bp->classes[i].pool, &s);
        tlp_bufclass_stats *c = &out->classes[i];
        c->size = bp->classes[i].size;
        c->idle = s.idle;
        c->idle_bytes = s.idle * c->size;
        c->out = s.out;
        out->idle_bytes += c->idle_bytes;
    }
    out->large_allocs = atomic_load_explicit(&bp->large_allocs, memory_order_relaxed);
    out->large_out = atomic_load_explicit(&bp->large_out, memory_order_relaxed);
}
