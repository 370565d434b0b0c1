/*
 * The buffer pools' calls: what tlp_bufpool_alloc/free and the drop-ins do
 * off their inline fast paths (tlpool.h), large buffers, calloc, realloc,
 * size, and the messages for bad pointers. Pools are made in bufpool.c.
 */
#include "bufpool.h"
#include "internal.h" /* tlp__vfatal */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define HDR TLP__BUF_HDR
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
    va_start(ap, fmt);
    tlp__vfatal("buffer pool", bp ? bp->name : NULL, fmt, ap);
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
    return tlp__buf_grid_class(bp, tlp__buf_grid(size));
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
    uint32_t i = tlp__buf_grid_class(bp, grid);
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
    void *p = tlp__buf_alloc_in(bp, total);
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
        return tlp__buf_alloc_in(bp, size);
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
    void *np = tlp__buf_alloc_in(bp, size);
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
    tlp__buf_check_bp(bp, "tlp_bufpool_alloc");
    return tlp__buf_alloc_fast(bp, size);
}

void *tlp_bufpool_calloc(tlp_bufpool *bp, size_t n, size_t size)
{
    tlp__buf_check_bp(bp, "tlp_bufpool_calloc");
    return tlp__bufpool_calloc(bp, n, size);
}

void *tlp_bufpool_realloc(tlp_bufpool *bp, void *ptr, size_t size)
{
    tlp__buf_check_bp(bp, "tlp_bufpool_realloc");
    return tlp__bufpool_realloc(bp, ptr, size, "tlp_bufpool_realloc");
}

void tlp_bufpool_free(tlp_bufpool *bp, void *ptr)
{
    tlp__buf_check_bp(bp, "tlp_bufpool_free");
    if (ptr)
        tlp__buf_free_fast(bp, ptr, "tlp_bufpool_free");
}

size_t tlp_bufpool_size(tlp_bufpool *bp, const void *ptr)
{
    tlp__buf_check_bp(bp, "tlp_bufpool_size");
    return tlp__bufpool_size(bp, ptr, "tlp_bufpool_size");
}
