/*
 * The inline alloc and free paths of the buffer pools, shared by the calls
 * on an explicit pool (bufpool.c) and the drop-ins on the default pool
 * (bufpool_default.c), so that each public call is one function with no
 * frame and no nested call on its common path.
 *
 * alloc: size -> grid index (a few ALU operations, no branch) -> the slot of
 *        the class's tlp_pool (one table load) -> the core's inline get.
 * free:  the header before the buffer (one line, usually the only cache miss
 *        of the call) -> validity checks and class -> the class's slot -> the
 *        core's inline put.
 * Everything else (an empty or full magazine, large buffers, zero_on_free,
 * checked builds) goes to the slow paths in bufpool.c.
 */
#ifndef TLP_BUFPOOL_FAST_H
#define TLP_BUFPOOL_FAST_H

#include "bufpool.h"

static inline void *tlp__buf_alloc_fast(tlp_bufpool *bp, size_t size)
{
    if (__builtin_expect(size <= bp->max_size, 1)) {
        uint32_t g = tlp__buf_grid(size);
        void *base;
#ifndef TLP_CHECKED /* checked builds validate every idle buffer's header */
        if (__builtin_expect(tlp__get_fast(bp->slot_by_grid[g], &base), 1))
            return (char *)base + TLP__BUF_HDR;
#else
        (void)base;
#endif
        return tlp__buf_alloc_slow(bp, g);
    }
    return tlp__buf_large_alloc(bp, size, false);
}

/* ptr is not NULL. Every build checks the cookie and the owner: both sit on
 * the line the class is read from, so the check costs two compares and no
 * miss. Anything unusual, a bad header included, leaves through one tail
 * call to the slow path, which checks again and says what is wrong. */
static inline void tlp__buf_free_fast(tlp_bufpool *bp, void *ptr, const char *fn)
{
    const tlp__buf_hdr *h = tlp__buf_hdr_of(ptr);
    if (__builtin_expect(h->cookie == TLP__BUF_LIVE && h->owner == bp, 1)) {
        uint32_t cls = h->cls;
        if (__builtin_expect(cls < bp->fast_free_cls, 1) &&
            __builtin_expect(tlp__put_fast(bp->slot_by_cls[cls], (char *)ptr - TLP__BUF_HDR), 1))
            return;
    }
    tlp__buf_free_slow(bp, ptr, fn);
}

#endif /* TLP_BUFPOOL_FAST_H */
