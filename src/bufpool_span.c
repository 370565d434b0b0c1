/* SPDX-License-Identifier: MIT */
/*
 * Where pooled buffers come from: spans, the radix map that finds a
 * buffer's span from its address, and the class pools' hooks that carve
 * buffers from spans and give them back (docs/BUFFERS.md, "Spans").
 *
 * A span is CHUNK << k bytes (64 KiB << k) of the library's own anonymous
 * mappings, 64 KiB-aligned; one class carves it into nbuf buffers of its
 * size, back to back, with no header. Its descriptor (buf_span) lives
 * outside the span and every chunk of the span maps to it. A bit per buffer
 * says whether the buffer is free (in the span) or with the class's pool
 * (idle in a cache or tier, or out with the user); the pool's hooks flip it.
 * A span whose buffers are all free again (the pool released them: drain,
 * release_idle, the idle budget, destroy) is given back at once: unmapped,
 * its pages returned to the system (MADV_DONTNEED), its address range kept
 * for the next span of its length.
 *
 * Locks: a class's lock (its span lists and free maps), then span_lock (the
 * span allocator and the descriptor list). The map is written under
 * span_lock (leaves) or by the span's only user (entries) and read without
 * locks.
 */
#include "bufpool.h"
#include "internal.h" /* TLP_FORK_* */
#include "track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK TLP__BUF_CHUNK
#define SHIFT TLP__BUF_CHUNK_SHIFT
#define MAP_N (1u << TLP__BUF_MAP_BITS)
/* Regions are mapped this much at a time (address space: pages are
 * resident only once touched). */
#define REGION ((size_t)16 << 20)
/* Spans hold at least this many buffers (the 64 KiB minimum aside), and
 * are at most CHUNK << MAX_SHIFT (16 MiB: 8 buffers of 2 MiB). */
#define MIN_BUFS 8u
#define MAX_SHIFT 8u

#ifdef TLP_CHECKED
#define CHECKED 1
#else
#define CHECKED 0
#endif
#ifdef TLP_POISON
#define POISON 1
#else
#define POISON 0
#endif

TLP__ATOMIC(tlp__buf_leaf *) tlp__buf_map[1u << TLP__BUF_MAP_BITS];

static pthread_mutex_t span_lock = PTHREAD_MUTEX_INITIALIZER;
static char *region_cur, *region_end;   /* the unused rest of the newest region */
static buf_span *free_spans[MAX_SHIFT + 1]; /* given back, by length */
static buf_span *free_descs;                /* descriptors without a span */

/* Every live buffer pool, for the fork handlers (pools_lock). */
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static tlp_bufpool *pools;

void tlp__buf_pool_link(tlp_bufpool *bp, bool add)
{
    pthread_mutex_lock(&pools_lock);
    if (add) {
        bp->prev_pool = NULL;
        bp->next_pool = pools;
        if (pools)
            pools->prev_pool = bp;
        pools = bp;
    } else {
        if (bp->prev_pool)
            bp->prev_pool->next_pool = bp->next_pool;
        else
            pools = bp->next_pool;
        if (bp->next_pool)
            bp->next_pool->prev_pool = bp->prev_pool;
    }
    pthread_mutex_unlock(&pools_lock);
}

/* fork(): pools_lock, every class lock, span_lock, in the locks' order. */
void tlp__buf_span_atfork(int phase)
{
    if (phase == TLP_FORK_PREPARE) {
        pthread_mutex_lock(&pools_lock);
        for (tlp_bufpool *bp = pools; bp; bp = bp->next_pool)
            for (uint32_t i = 0; i < bp->head.nclasses; i++)
                pthread_mutex_lock(&bp->classes[i].lock);
        pthread_mutex_lock(&span_lock);
        return;
    }
    pthread_mutex_unlock(&span_lock);
    for (tlp_bufpool *bp = pools; bp; bp = bp->next_pool)
        for (uint32_t i = 0; i < bp->head.nclasses; i++)
            pthread_mutex_unlock(&bp->classes[i].lock);
    pthread_mutex_unlock(&pools_lock);
}

/* ---- the radix map -------------------------------------------------------- */

/* Under span_lock: the leaf for address a, made if missing (NULL: no memory). */
static tlp__buf_leaf *leaf_for(uintptr_t a)
{
    uintptr_t top = a >> (SHIFT + TLP__BUF_MAP_BITS);
    if (top >= MAP_N)
        return NULL;
    tlp__buf_leaf *leaf = atomic_load_explicit(&tlp__buf_map[top], memory_order_relaxed);
    if (!leaf) {
        /* 512 KiB of address space; a page becomes resident once a span in
         * its 256 MiB of address space is mapped. */
        void *m = mmap(NULL, sizeof(tlp__buf_leaf), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        leaf = m;
        atomic_store_explicit(&tlp__buf_map[top], leaf, memory_order_release);
    }
    return leaf;
}

/* Under span_lock: every chunk of [a, a + bytes) maps to s (NULL: unmaps).
 * Only a map of a new range can fail (no memory for a leaf). */
static bool map_range(uintptr_t a, size_t bytes, buf_span *s)
{
    tlp__buf_span *v = s ? &s->pub : NULL;
    for (uintptr_t c = a; c < a + bytes; c += CHUNK) {
        tlp__buf_leaf *leaf = leaf_for(c);
        if (!leaf) {
            if (s)
                map_range(a, c - a, NULL);
            return false;
        }
        atomic_store_explicit(&(*leaf)[(c >> SHIFT) & (MAP_N - 1)], v, memory_order_release);
    }
    return true;
}

/* ---- descriptors and spans (span_lock held) ------------------------------- */

static buf_span *desc_new(void)
{
    buf_span *s = free_descs;
    if (s)
        free_descs = s->next;
    else
        s = malloc(sizeof(*s));
    if (s)
        memset(s, 0, sizeof(*s));
    return s;
}

static void desc_free(buf_span *s)
{
    s->next = free_descs;
    free_descs = s;
}

static char *region_take(size_t bytes)
{
    if ((size_t)(region_end - region_cur) < bytes) {
        size_t len = bytes > REGION ? bytes : REGION;
        char *m = mmap(NULL, len + CHUNK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        char *al = (char *)(((uintptr_t)m + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1));
        if (al > m)
            munmap(m, (size_t)(al - m));
        if (al + len < m + len + CHUNK)
            munmap(al + len, (size_t)(m + len + CHUNK - (al + len)));
        /* The old region's rest (less than one span) stays unused:
         * address space only, never touched. */
        region_cur = al;
        region_end = al + len;
    }
    char *p = region_cur;
    region_cur += bytes;
    return p;
}

/* A span of CHUNK << shift bytes, unmapped, all zero. */
static buf_span *span_get(uint32_t shift)
{
    buf_span *s = free_spans[shift];
    if (s) {
        free_spans[shift] = s->next;
        return s;
    }
    s = desc_new();
    if (!s)
        return NULL;
    char *base = region_take(CHUNK << shift);
    if (!base) {
        desc_free(s);
        return NULL;
    }
    s->base_chunk = (uintptr_t)base >> SHIFT;
    s->bytes = CHUNK << shift;
    return s;
}

/* ---- the classes' hooks --------------------------------------------------- */

int tlp__buf_class_init(tlp__bufclass *c)
{
    uint32_t k = 0;
    while (k < MAX_SHIFT && (CHUNK << k) < MIN_BUFS * c->size)
        k++;
    c->span_shift = k;
    c->partial = c->all = NULL;
    atomic_store_explicit(&c->span_bytes, 0, memory_order_relaxed);
    return pthread_mutex_init(&c->lock, NULL) ? ENOMEM : 0;
}

void tlp__buf_class_fini(tlp__bufclass *c)
{
    /* What is left holds buffers still out (the pool has released every
     * idle one): keep it mapped, but not in use. */
    for (buf_span *s = c->all; s; s = s->all_next) {
        s->pub.fast_owner = NULL;
        s->owner = NULL;
    }
    pthread_mutex_destroy(&c->lock);
}

static void list_del(buf_span **head, buf_span *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

static void list_push(buf_span **head, buf_span *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
}

static void all_del(tlp__bufclass *c, buf_span *s)
{
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        c->all = s->all_next;
    if (s->all_next)
        s->all_next->all_prev = s->all_prev;
}

/* Class lock held: a new span for c, mapped, on its lists. */
static buf_span *class_new_span(tlp__bufclass *c)
{
    pthread_mutex_lock(&span_lock);
    buf_span *s = span_get(c->span_shift);
    if (!s) {
        pthread_mutex_unlock(&span_lock);
        return NULL;
    }
    tlp_bufpool *bp = c->bp;
    s->owner = bp;
    s->pub.fast_owner = (CHECKED || POISON || bp->zero_on_free) ? NULL : bp;
    s->pub.slot = ((const tlp__pool_head *)(const void *)c->pool)->slot;
    s->pub.cls = c->index;
    s->size = (uint32_t)c->size;
    size_t n = s->bytes / c->size;
    s->nbuf = s->nfree = (uint32_t)(n < TLP__BUF_SPAN_MAX_BUFS ? n : TLP__BUF_SPAN_MAX_BUFS);
    memset(s->freemap, 0, sizeof(s->freemap));
    for (uint32_t i = 0; i < s->nbuf / 64; i++)
        s->freemap[i] = ~(uint64_t)0;
    if (s->nbuf % 64)
        s->freemap[s->nbuf / 64] = ((uint64_t)1 << (s->nbuf % 64)) - 1;
    s->hint = 0;
#ifdef TLP_CHECKED
    for (uint32_t i = 0; i < TLP__BUF_MAP_WORDS; i++)
        atomic_store_explicit(&s->outmap[i], 0, memory_order_relaxed);
#endif
    char *base = tlp__buf_span_base(s);
    if (!map_range((uintptr_t)base, s->bytes, s)) {
        s->owner = NULL;
        s->next = free_spans[c->span_shift];
        free_spans[c->span_shift] = s;
        pthread_mutex_unlock(&span_lock);
        return NULL;
    }
    pthread_mutex_unlock(&span_lock);
    tlp__track_poison(base, s->bytes); /* nothing carved yet */
    list_push(&c->partial, s);
    s->partial = true;
    s->all_prev = NULL;
    s->all_next = c->all;
    if (c->all)
        c->all->all_prev = s;
    c->all = s;
    atomic_fetch_add_explicit(&c->span_bytes, s->bytes, memory_order_relaxed);
    return s;
}

void *tlp__buf_carve(void *ctx)
{
    tlp__bufclass *c = ctx;
    pthread_mutex_lock(&c->lock);
    buf_span *s = c->partial;
    if (!s && !(s = class_new_span(c))) {
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    uint32_t w = s->hint;
    while (!s->freemap[w])
        w = (w + 1) % TLP__BUF_MAP_WORDS;
    uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(s->freemap[w]);
    s->freemap[w] &= s->freemap[w] - 1;
    s->hint = w;
    if (--s->nfree == 0) {
        list_del(&c->partial, s);
        s->partial = false;
    }
    char *p = tlp__buf_span_base(s) + (size_t)i * c->size;
    pthread_mutex_unlock(&c->lock);
    tlp__track_unpoison(p, c->size);
    return p;
}

void tlp__buf_uncarve(void *obj, void *ctx)
{
    tlp__bufclass *c = ctx;
    buf_span *s = tlp__buf_span_lookup(obj);
    uint32_t i = (uint32_t)(((char *)obj - tlp__buf_span_base(s)) / c->size);
    tlp__track_poison(obj, c->size);
    pthread_mutex_lock(&c->lock);
    s->freemap[i / 64] |= (uint64_t)1 << (i % 64);
    if (++s->nfree < s->nbuf) {
        if (!s->partial) {
            list_push(&c->partial, s);
            s->partial = true;
        }
        pthread_mutex_unlock(&c->lock);
        return;
    }
    /* Every buffer is back: give the span back. */
    if (s->partial)
        list_del(&c->partial, s);
    s->partial = false;
    all_del(c, s);
    atomic_fetch_sub_explicit(&c->span_bytes, s->bytes, memory_order_relaxed);
    pthread_mutex_unlock(&c->lock);

    char *base = tlp__buf_span_base(s);
    s->pub.fast_owner = NULL;
    s->owner = NULL;
    tlp__track_unpoison(base, s->bytes);
    /* The pages go back to the system now; the range reads as zeroes when it
     * is used again (which zero_on_free relies on). */
    madvise(base, s->bytes, MADV_DONTNEED);
    uint32_t shift = (uint32_t)__builtin_ctzll(s->bytes >> SHIFT);
    pthread_mutex_lock(&span_lock);
    map_range((uintptr_t)base, s->bytes, NULL);
    s->next = free_spans[shift];
    free_spans[shift] = s;
    pthread_mutex_unlock(&span_lock);
}

uint32_t tlp__buf_index(const buf_span *s, const void *ptr)
{
    uintptr_t off = (uintptr_t)ptr - (uintptr_t)tlp__buf_span_base(s);
    if (!s->size || off >= (uintptr_t)s->nbuf * s->size || off % s->size)
        return UINT32_MAX;
    return (uint32_t)(off / s->size);
}

/* ---- large buffers -------------------------------------------------------- */

buf_span *tlp__buf_large_map(tlp_bufpool *bp, void *p, size_t size)
{
    pthread_mutex_lock(&span_lock);
    buf_span *s = desc_new();
    if (s) {
        s->owner = bp;
        s->pub.cls = TLP__BUF_LARGE;
        s->base_chunk = (uintptr_t)p >> SHIFT;
        s->bytes = size;
        /* Only the first chunk: the only one that is surely the block's alone
         * (the block may be shorter than a chunk), and the one ptr is in. */
        if (!map_range((uintptr_t)p, CHUNK, s)) {
            desc_free(s);
            s = NULL;
        }
    }
    pthread_mutex_unlock(&span_lock);
    return s;
}

void tlp__buf_large_unmap(buf_span *s)
{
    pthread_mutex_lock(&span_lock);
    map_range((uintptr_t)tlp__buf_span_base(s), CHUNK, NULL);
    s->owner = NULL;
    desc_free(s);
    pthread_mutex_unlock(&span_lock);
}
