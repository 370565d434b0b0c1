/* SPDX-License-Identifier: MIT */
/*
 * Internal types of the buffer pools (bufpool.c, bufpool_calls.c,
 * bufpool_span.c, bufpool_default.c).
 *
 * Glossary
 *   grid      the sizes a class may have: multiples of 16 up to 128 B, then
 *             four steps per power of two (160, 192, 224, 256, 320, ...).
 *             A grid index g names one such size; class_grid() maps a request
 *             to the smallest grid size that holds it.
 *   class     one grid size between the pool's min_class and max_class, backed
 *             by its own tlp_pool. Pooled buffers of a class all have the same
 *             usable size.
 *   chunk     64 KiB of address space aligned to 64 KiB: the granule of the
 *             radix map (tlp__buf_map, tlpool.h).
 *   span      a run of chunks (64 KiB << k) from which one class carves its
 *             buffers, back to back, without headers; described by a
 *             buf_span kept outside the span, which every chunk of the span
 *             maps to. Spans come from the library's own mmap'd regions.
 *   large     a request above the largest class: its own block from the
 *             backing allocator (posix_memalign, 64 KiB-aligned so that its
 *             first chunk is its own), with a buf_span of kind large mapped
 *             from that chunk; freed by free(), never kept idle.
 *
 * Layout:
 *   pooled:  [ buffer 0 | buffer 1 | ... | buffer nbuf-1 | unused tail ]  one span
 *             ^ span base (64 KiB-aligned); buffer i at base + i * class size
 *   large:   [ user bytes ]  ^ user pointer = the posix_memalign block
 * The tlp_pools hold the user pointers.
 */
#ifndef TLP_BUFPOOL_H
#define TLP_BUFPOOL_H

#include "tlpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Grid: 8 classes of 16-byte steps up to 128, then 4 per doubling. */
#define TLP__BUF_QUANTUM 16u
#define TLP__BUF_LINEAR_MAX 128u   /* last size of the 16-byte steps */
#define TLP__BUF_LINEAR_N 8u       /* grid indexes 0..7: 16..128 */
#define TLP__BUF_LARGE UINT32_MAX  /* buf_span.pub.cls of a large buffer */

#define TLP__BUF_CHUNK ((size_t)1 << TLP__BUF_CHUNK_SHIFT)
/* A span holds at most CHUNK / 16 buffers (a 64 KiB span of 16-byte ones):
 * its free map has that many bits. */
#define TLP__BUF_SPAN_MAX_BUFS (TLP__BUF_CHUNK / TLP__BUF_QUANTUM)
#define TLP__BUF_MAP_WORDS (TLP__BUF_SPAN_MAX_BUFS / 64)

struct tlp__bufclass;

/* A span's descriptor (or a large buffer's). Never freed: a descriptor whose
 * span was given back waits on a free list, so a stale lookup (a double free
 * after the span went back) still reads a descriptor, never freed memory. */
typedef struct buf_span {
    tlp__buf_span pub;           /* first: what the inline free reads */
    struct tlp_bufpool *owner;   /* the owning pool; NULL while the span is not in use */
    uintptr_t base_chunk;        /* base >> CHUNK_SHIFT (not a pointer: a leak checker
                                  * must not see the first buffer as reachable) */
    size_t bytes;                /* span: its length (64 KiB << k); large: the size asked for */
    uint32_t size;               /* class size (0 for a large buffer) */
    uint32_t nbuf, nfree;        /* buffers in the span / not handed to the class's pool */
    uint32_t hint;               /* free map word to look at first */
    struct buf_span *next, *prev;        /* the class's list of spans with free buffers,
                                          * or a free list of the span allocator */
    struct buf_span *all_next, *all_prev; /* every span of the class */
    bool partial;                /* on the class's list of spans with free buffers */
    uint64_t freemap[TLP__BUF_MAP_WORDS]; /* bit i: buffer i is free (not with the pool) */
#ifdef TLP_CHECKED
    _Atomic uint64_t outmap[TLP__BUF_MAP_WORDS]; /* bit i: buffer i is out (checked builds) */
#endif
} buf_span;

/* The span holding ptr: tlp__buf_span_of, as the library's type. */
static inline buf_span *tlp__buf_span_lookup(const void *ptr)
{
    return (buf_span *)(uintptr_t)tlp__buf_span_of(ptr);
}

static inline char *tlp__buf_span_base(const buf_span *s)
{
    return (char *)(s->base_chunk << TLP__BUF_CHUNK_SHIFT);
}

#define TLP__BUF_ALIGN _Alignof(max_align_t)

/* One size class. ctx of its pool's hooks. */
typedef struct tlp__bufclass {
    tlp_pool *pool;
    size_t size;                 /* usable bytes */
    struct tlp_bufpool *bp;
    uint32_t index;
    uint32_t span_shift;         /* its spans are CHUNK << span_shift bytes */
    pthread_mutex_t lock;        /* the lists below and the spans' free maps */
    buf_span *partial;           /* spans with free buffers */
    buf_span *all;               /* every span of the class */
    _Atomic uint64_t span_bytes; /* bytes of the spans in all (relaxed: statistics) */
} tlp__bufclass;

struct tlp_bufpool {
    tlp__bufpool_head head;      /* first: what the inline paths read */
    uint64_t magic;              /* TLP__BUFPOOL_MAGIC while alive */
    uint32_t grid_min;           /* grid index of class 0 */
    bool zero_on_free;
    size_t max_idle_bytes;       /* as configured (SIZE_MAX: none) */
    size_t thread_idle_bytes;    /* per-thread cap in effect (SIZE_MAX: none) */
    struct tlp__group *group;    /* the classes' shared per-thread cap (NULL: none) */
    char *name;
    _Atomic uint64_t large_allocs, large_out;  /* relaxed: statistics only */
    struct tlp_bufpool *next_pool, *prev_pool; /* every live pool (bufpool_span.c) */
    tlp__bufclass classes[TLP__BUF_MAX_CLASSES];
};

#define TLP__BUFPOOL_MAGIC 0x7470627566706f6full /* "tpbufpoo" */

/* ---- spans (bufpool_span.c) ---------------------------------------------- */

/* The class pools' hooks: carve a buffer from the class's spans / give one
 * back (a span whose buffers are all back is given back to the span
 * allocator: unmapped from tlp__buf_map, its pages returned to the system). */
void *tlp__buf_carve(void *ctx);
void tlp__buf_uncarve(void *obj, void *ctx);
/* Class set-up and tear-down: lock, span size. At destroy, spans still
 * holding buffers out are left in place but marked not in use, so a late free
 * of one of their buffers stops with a message instead of reaching a freed
 * pool. */
int tlp__buf_class_init(tlp__bufclass *c);
void tlp__buf_class_fini(tlp__bufclass *c);
/* A descriptor for a large buffer at p (mapped from p's chunk), or NULL. */
buf_span *tlp__buf_large_map(tlp_bufpool *bp, void *p, size_t size);
void tlp__buf_large_unmap(buf_span *s);
/* Links bp into (add) or out of the list of live pools the fork handlers
 * walk; tlp__buf_span_atfork takes and releases the pools' locks. */
void tlp__buf_pool_link(tlp_bufpool *bp, bool add);
void tlp__buf_span_atfork(int phase);
/* Buffer index of ptr in its span, or UINT32_MAX when ptr is not the start
 * of one of its buffers. */
uint32_t tlp__buf_index(const buf_span *s, const void *ptr);

/* The size of grid index g (inverse of tlp__buf_grid on grid sizes). */
static inline size_t tlp__buf_grid_size(uint32_t g)
{
    if (g < TLP__BUF_LINEAR_N)
        return (size_t)(g + 1) * TLP__BUF_QUANTUM;
    uint32_t k = 7 + (g - TLP__BUF_LINEAR_N) / 4, j = (g - TLP__BUF_LINEAR_N) % 4;
    return ((size_t)1 << k) + (size_t)(j + 1) * ((size_t)1 << (k - 2));
}

/* tlp__buf_alloc_fast, or a large buffer for a pool without classes (the
 * default pool's malloc fallback, bufpool_default.c). */
static inline void *tlp__buf_alloc_in(tlp_bufpool *bp, size_t size)
{
    if (__builtin_expect(bp->head.nclasses == 0, 0))
        return tlp__buf_large_alloc(bp, size, false);
    return tlp__buf_alloc_fast(bp, size);
}

/* The implementations behind the public calls (bufpool.c). Hidden symbols, so
 * the drop-in functions reach them without a PLT indirection. bp is valid.
 * The alloc and free fast paths are inline, in tlpool.h. */
void *tlp__bufpool_calloc(tlp_bufpool *bp, size_t n, size_t size);
void *tlp__bufpool_realloc(tlp_bufpool *bp, void *ptr, size_t size, const char *fn);
size_t tlp__bufpool_size(tlp_bufpool *bp, const void *ptr, const char *fn);

/* ptr is not a live buffer of bp: aborts with what it most likely is. */
_Noreturn void tlp__buf_bad_pointer(const tlp_bufpool *bp, const void *ptr, const char *fn);

/* fork(): the default pool's creation lock is held across the fork
 * (phase: TLP_FORK_PREPARE / PARENT / CHILD of internal.h), so a child never
 * inherits it locked by a thread that did not come along. Called first in
 * the prepare handler (the lock is taken before every core lock, as in
 * create_default) and last in the parent and child handlers. */
void tlp__bufpool_atfork(int phase);

/* Aborts with a message naming the buffer pool (bp may be NULL). */
_Noreturn void tlp__buf_fatal(const tlp_bufpool *bp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The class serving grid index g (grid indexes below class 0 map to it). */
static inline uint32_t tlp__buf_grid_class(const tlp_bufpool *bp, uint32_t g)
{
    return g > bp->grid_min ? g - bp->grid_min : 0;
}

/* Checked builds: bp must be a live buffer pool (its magic number). */
static inline void tlp__buf_check_bp(const tlp_bufpool *bp, const char *fn)
{
#ifdef TLP_CHECKED
    if (!bp || bp->magic != TLP__BUFPOOL_MAGIC)
        tlp__buf_fatal(NULL, "%s: %p is not a live buffer pool", fn, (const void *)bp);
#else
    (void)bp;
    (void)fn;
#endif
}

#endif /* TLP_BUFPOOL_H */
