/* SPDX-License-Identifier: MIT */
/*
 * The buffer pools' calls: what tlp_bufpool_alloc/free and the drop-ins do
 * off their inline fast paths (tlpool.h), large buffers, calloc, realloc,
 * size, and the messages for bad pointers. Pools are made in bufpool.c.
 */
#include "bufpool.h"
#include "internal.h" /* tlp__vfatal */
#include "track.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Large requests are refused above this (malloc would refuse them anyway). */
#define LARGE_LIMIT ((size_t)PTRDIFF_MAX - TLP__BUF_CHUNK)

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

__attribute__((cold, noinline)) _Noreturn void tlp__buf_bad_pointer(const tlp_bufpool *bp,
                                                                   const void *ptr, const char *fn)
{
    const buf_span *s = tlp__buf_span_lookup(ptr);
    if (!s)
        tlp__buf_fatal(bp,
                       "%s(%p): not a buffer of this buffer pool (in no span of any buffer "
                       "pool: a pointer tlpool never handed out, or freed twice and its span "
                       "given back)",
                       fn, ptr);
    if (!s->owner)
        tlp__buf_fatal(bp,
                       "%s(%p): not a live buffer (its span is not in use: a double free, or "
                       "a buffer of a destroyed pool)",
                       fn, ptr);
    if (s->owner != bp)
        tlp__buf_fatal(bp, "%s(%p): the buffer belongs to another buffer pool (%p '%s')", fn, ptr,
                       (const void *)s->owner, s->owner->name);
    tlp__buf_fatal(bp,
                   "%s(%p): not a buffer of this buffer pool (inside a span of class %zu B, "
                   "not at the start of a buffer)",
                   fn, ptr, (size_t)s->size);
}

/* Validates ptr (a pooled buffer of bp, or a large buffer of bp) and
 * returns its span. Release builds check the span, the owner and that ptr
 * starts a buffer; checked builds also that it is out (double free). */
static buf_span *live_span(const tlp_bufpool *bp, const void *ptr, const char *fn)
{
    buf_span *s = tlp__buf_span_lookup(ptr);
    if (unlikely(!s || s->owner != bp))
        tlp__buf_bad_pointer(bp, ptr, fn);
    if (s->pub.cls == TLP__BUF_LARGE) {
        if (unlikely((const char *)ptr != tlp__buf_span_base(s)))
            tlp__buf_bad_pointer(bp, ptr, fn);
        return s;
    }
    uint32_t i = tlp__buf_index(s, ptr);
    if (unlikely(i == UINT32_MAX))
        tlp__buf_bad_pointer(bp, ptr, fn);
#ifdef TLP_CHECKED
    if (!(atomic_load_explicit(&s->outmap[i / 64], memory_order_relaxed) &
          ((uint64_t)1 << (i % 64))))
        tlp__buf_fatal(bp, "%s(%p): double free (the buffer was already freed)", fn, ptr);
#endif
    return s;
}

#ifdef TLP_CHECKED
/* Checked builds: ptr (a pooled buffer) goes out / comes back. */
static void checked_mark(buf_span *s, const void *ptr, bool out)
{
    uint32_t i = tlp__buf_index(s, ptr);
    uint64_t bit = (uint64_t)1 << (i % 64);
    if (out)
        atomic_fetch_or_explicit(&s->outmap[i / 64], bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&s->outmap[i / 64], ~bit, memory_order_relaxed);
}
#endif

/* ---- large buffers ------------------------------------------------------ */

void *tlp__buf_large_alloc(tlp_bufpool *bp, size_t size, bool zero)
{
    if (size > LARGE_LIMIT) {
        errno = ENOMEM;
        return NULL;
    }
    /* 64 KiB-aligned: the block's first chunk of the map is its own. */
    void *p;
    if (posix_memalign(&p, TLP__BUF_CHUNK, size ? size : 1) != 0) {
        errno = ENOMEM;
        return NULL;
    }
    if (!tlp__buf_large_map(bp, p, size)) {
        free(p);
        errno = ENOMEM;
        return NULL;
    }
    if (zero)
        memset(p, 0, size);
    /* Relaxed: statistics only. */
    atomic_fetch_add_explicit(&bp->large_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bp->large_out, 1, memory_order_relaxed);
    return p;
}

static void large_free(tlp_bufpool *bp, buf_span *s, void *ptr)
{
    /* explicit_bzero: a memset right before free() may be optimised away. */
    if (bp->zero_on_free)
        explicit_bzero(ptr, s->bytes);
    tlp__buf_large_unmap(s);
    free(ptr);
    atomic_fetch_sub_explicit(&bp->large_out, 1, memory_order_relaxed);
}

/* ---- malloc-like calls -------------------------------------------------- */

static inline uint32_t class_of(const tlp_bufpool *bp, size_t size)
{
    return tlp__buf_grid_class(bp, tlp__buf_grid(size));
}

__attribute__((noinline)) void *tlp__buf_alloc_slow(tlp_bufpool *bp, uint32_t grid)
{
    uint32_t i = tlp__buf_grid_class(bp, grid);
    /* The caller's site: the user's code when inlined (leak tracking). */
    char *p = tlp__get_slow_at(bp->classes[i].pool, __builtin_return_address(0));
    /* NULL: tlp__get_slow has set errno = ENOMEM already. */
    if (unlikely(!p))
        return NULL;
#ifdef TLP_CHECKED
    checked_mark(tlp__buf_span_lookup(p), p, true);
#endif
    tlp__track_alloc(p, bp->classes[i].size, bp->zero_on_free);
    return p;
}

__attribute__((noinline)) void tlp__buf_free_slow(tlp_bufpool *bp, void *ptr, const char *fn)
{
    buf_span *s = live_span(bp, ptr, fn);
    if (s->pub.cls == TLP__BUF_LARGE) {
        large_free(bp, s, ptr);
        return;
    }
    tlp__bufclass *c = &bp->classes[s->pub.cls];
#ifdef TLP_CHECKED
    checked_mark(s, ptr, false);
#endif
    tlp__track_free(ptr);
    /* Zero the whole usable size: the user may have written all of it. */
    if (bp->zero_on_free) {
        tlp__track_unpoison(ptr, c->size);
        memset(ptr, 0, c->size);
    }
    /* The inline put was tried already (or is not allowed): straight to the
     * core's slow path, which also handles a full magazine. */
    tlp__put_slow(c->pool, ptr);
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
    const buf_span *s = live_span(bp, ptr, fn);
    return s->pub.cls == TLP__BUF_LARGE ? s->bytes : s->size;
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
    buf_span *s = live_span(bp, ptr, fn);
    size_t old;
    if (s->pub.cls == TLP__BUF_LARGE) {
        old = s->bytes;
        /* large to large, shrinking: in place (the block keeps its length). */
        if (size > bp->head.max_size && size <= old && !bp->zero_on_free) {
            s->bytes = size;
            return ptr;
        }
    } else {
        uint32_t i = s->pub.cls;
        old = s->size;
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
