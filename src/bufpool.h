/*
 * Internal types of the buffer pools (bufpool.c, bufpool_default.c).
 *
 * Glossary
 *   grid      the sizes a class may have: multiples of 16 up to 128 B, then
 *             four steps per power of two (160, 192, 224, 256, 320, ...).
 *             A grid index g names one such size; class_grid() maps a request
 *             to the smallest grid size that holds it.
 *   class     one grid size between the pool's min_class and max_class, backed
 *             by its own tlp_pool. Pooled buffers of a class all have the same
 *             usable size.
 *   large     a request above the largest class: a plain malloc() with a longer
 *             header, freed by free(), never kept idle.
 *   header    buf_hdr, the bytes right before every user pointer: the owning
 *             buffer pool, the class (or TLP__BUF_LARGE) and a cookie that
 *             tells a buffer pool pointer from a foreign one.
 *
 * Memory layout (HDR = sizeof(buf_hdr) rounded up to alignof(max_align_t),
 * 16 bytes on x86-64 and AArch64):
 *   pooled:  [ buf_hdr (HDR) ][ user bytes: class size ]
 *             ^ object held by the class's tlp_pool   ^ user pointer = object + HDR
 *   large:   [ size_t size (HDR) ][ buf_hdr (HDR) ][ user bytes: size ]
 *             ^ malloc() result                       ^ user pointer = base + 2*HDR
 * The tlp_pools hold the object (start of the allocation), not the user
 * pointer, so idle buffers are plainly reachable for leak checkers.
 */
#ifndef TLP_BUFPOOL_H
#define TLP_BUFPOOL_H

#include "tlpool.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Grid: 8 classes of 16-byte steps up to 128, then 4 per doubling. */
#define TLP__BUF_QUANTUM 16u
#define TLP__BUF_LINEAR_MAX 128u   /* last size of the 16-byte steps */
#define TLP__BUF_LINEAR_N 8u       /* grid indexes 0..7: 16..128 */
#define TLP__BUF_LARGE UINT32_MAX  /* buf_hdr.cls of a large buffer */

/* Cookies: what a live / freed header holds. Freed headers are marked only in
 * checked builds (TLP_CHECKED); release builds keep LIVE forever. */
#define TLP__BUF_FREE 0x74706266u /* "tpbf" */

/* tlp__buf_hdr, tlp__bufpool_head, tlp__buf_grid and the inline alloc and
 * free paths are in tlpool.h: user code inlines them too. */

#define TLP__BUF_ALIGN _Alignof(max_align_t)
_Static_assert(TLP__BUF_HDR == ((sizeof(tlp__buf_hdr) + TLP__BUF_ALIGN - 1) &
                                ~(size_t)(TLP__BUF_ALIGN - 1)),
               "TLP__BUF_HDR is the header rounded up to alignof(max_align_t)");

/* One size class. ctx of its pool's hooks. */
typedef struct tlp__bufclass {
    tlp_pool *pool;
    size_t size;                 /* usable bytes */
    struct tlp_bufpool *bp;
    uint32_t index;
} tlp__bufclass;

struct tlp_bufpool {
    tlp__bufpool_head head;      /* first: what the inline paths read */
    uint64_t magic;              /* TLP__BUFPOOL_MAGIC while alive */
    uint32_t grid_min;           /* grid index of class 0 */
    bool zero_on_free;
    size_t max_idle_bytes;       /* as configured (SIZE_MAX: none) */
    char *name;
    _Atomic uint64_t large_allocs, large_out;  /* relaxed: statistics only */
    tlp__bufclass classes[TLP__BUF_MAX_CLASSES];
};

#define TLP__BUFPOOL_MAGIC 0x7470627566706f6full /* "tpbufpoo" */

/* The size of grid index g (inverse of tlp__buf_grid on grid sizes). */
static inline size_t tlp__buf_grid_size(uint32_t g)
{
    if (g < TLP__BUF_LINEAR_N)
        return (size_t)(g + 1) * TLP__BUF_QUANTUM;
    uint32_t k = 7 + (g - TLP__BUF_LINEAR_N) / 4, j = (g - TLP__BUF_LINEAR_N) % 4;
    return ((size_t)1 << k) + (size_t)(j + 1) * ((size_t)1 << (k - 2));
}

static inline tlp__buf_hdr *tlp__buf_hdr_of(const void *ptr)
{
    return (tlp__buf_hdr *)(void *)((char *)(uintptr_t)ptr - sizeof(tlp__buf_hdr));
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

/* A header that is not a live buffer of bp: aborts with what it most likely is. */
_Noreturn void tlp__buf_bad_header(const tlp_bufpool *bp, const void *ptr, const char *fn);

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
