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
#define TLP__BUF_MAX_CLASSES 64u   /* = the size of tlp_bufpool_stats.classes */
#define TLP__BUF_GRID_N 224u       /* grid indexes of every size up to MAX_CLASS_LIMIT (bufpool.c) */
#define TLP__BUF_LARGE UINT32_MAX  /* buf_hdr.cls of a large buffer */

/* Cookies: what a live / freed header holds. Freed headers are marked only in
 * checked builds (TLP_CHECKED); release builds keep LIVE forever. */
#define TLP__BUF_LIVE 0x7470626cu /* "tpbl" */
#define TLP__BUF_FREE 0x74706266u /* "tpbf" */

typedef struct tlp__buf_hdr {
    struct tlp_bufpool *owner;  /* the buffer pool that made the buffer */
    uint32_t cls;               /* class index, or TLP__BUF_LARGE */
    uint32_t cookie;            /* TLP__BUF_LIVE / TLP__BUF_FREE; next to the user bytes,
                                 * so a small underflow by the user corrupts it first */
} tlp__buf_hdr;

#define TLP__BUF_ALIGN _Alignof(max_align_t)
#define TLP__BUF_HDR \
    ((sizeof(tlp__buf_hdr) + TLP__BUF_ALIGN - 1) & ~(size_t)(TLP__BUF_ALIGN - 1))

/* One size class. ctx of its pool's hooks. */
typedef struct tlp__bufclass {
    tlp_pool *pool;
    size_t size;                 /* usable bytes */
    struct tlp_bufpool *bp;
    uint32_t index;
} tlp__bufclass;

struct tlp_bufpool {
    /* Read by every alloc and free: the first line. */
    size_t max_size;             /* size of the largest class */
    uint32_t nclasses;
    uint32_t fast_free_cls;      /* frees of class < this may take the inline put:
                                  * nclasses, or 0 with zero_on_free / in checked builds */
    uint16_t slot_by_cls[TLP__BUF_MAX_CLASSES];  /* class -> its pool's slot */
    uint16_t slot_by_grid[TLP__BUF_GRID_N];      /* grid index (<= the largest class's)
                                                  * -> slot of the class serving it */
    uint64_t magic;              /* TLP__BUFPOOL_MAGIC while alive */
    uint32_t grid_min;           /* grid index of class 0 */
    bool zero_on_free;
    size_t max_idle_bytes;       /* as configured (SIZE_MAX: none) */
    char *name;
    _Atomic uint64_t large_allocs, large_out;  /* relaxed: statistics only */
    tlp__bufclass classes[TLP__BUF_MAX_CLASSES];
};

#define TLP__BUFPOOL_MAGIC 0x7470627566706f6full /* "tpbufpoo" */

/*
 * The grid index of the smallest grid size >= n (n = 0 counts as 1). Without
 * branches: a server's sizes are random, and a mispredicted "n <= 128" costs
 * more than this whole function. With m = n - 1 and k = floor(log2(m | 64)):
 * above 128 the index is 4k - 20 plus the two bits below the top one; for
 * m < 128 (k = 6) the same formula gives 4 + (m >> 4) & 3, which is the
 * linear grid's m >> 4 for 64 <= m < 128 and 4 too many below 64.
 */
static inline uint32_t tlp__buf_grid(size_t n)
{
    size_t m = n - (n != 0);
    uint32_t k = 63u - (uint32_t)__builtin_clzll((unsigned long long)(m | 64));
    uint32_t g = 4 * k - 20 + (uint32_t)((m >> (k - 2)) & 3);
    return g - (m < 64 ? 4u : 0u);
}

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

/* The implementations behind the public calls (bufpool.c). Hidden symbols, so
 * the drop-in functions reach them without a PLT indirection. bp is valid.
 * The alloc and free fast paths are inline, in bufpool_fast.h. */
void *tlp__bufpool_calloc(tlp_bufpool *bp, size_t n, size_t size);
void *tlp__bufpool_realloc(tlp_bufpool *bp, void *ptr, size_t size, const char *fn);
size_t tlp__bufpool_size(tlp_bufpool *bp, const void *ptr, const char *fn);

/* The slow paths behind bufpool_fast.h. */
void *tlp__buf_alloc_slow(tlp_bufpool *bp, uint32_t grid);
void *tlp__buf_large_alloc(tlp_bufpool *bp, size_t size, bool zero);
void tlp__buf_free_slow(tlp_bufpool *bp, void *ptr, const char *fn);
/* A header that is not a live buffer of bp: aborts with what it most likely is. */
_Noreturn void tlp__buf_bad_header(const tlp_bufpool *bp, const void *ptr, const char *fn);

/* Aborts with a message naming the buffer pool (bp may be NULL). */
_Noreturn void tlp__buf_fatal(const tlp_bufpool *bp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* TLP_BUFPOOL_H */
