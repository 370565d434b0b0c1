/* SPDX-License-Identifier: MIT */
/*
 * bufpool_fuzzer: alloc, calloc, realloc and free of sizes drawn from the
 * input, on buffer pools with zero_on_free on and off, and on the process
 * default pool through the drop-in tlp_buf_* calls. Checked for every buffer:
 * the usable size covers the request (all of it is written, so ASan checks
 * the claim), alignment is at least alignof(max_align_t), realloc keeps the
 * contents, calloc zeroes, zero_on_free pools hand out zeroed buffers, and
 * the per-class statistics count exactly the buffers still out.
 *
 * Input: a byte picks the pool (variants below), then each operation is an
 * opcode byte, a byte choosing a live buffer, and its operands. The pools
 * live across inputs (each class is a tlp_pool, and checked builds keep
 * destroyed pools as tombstones); every input ends with all buffers freed
 * and the idle ones released.
 */
#include "tlpool.h"

#include "fuzz_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 256
#define MAX_LIVE 64
#define MAX_LIVE_BYTES ((size_t)16 << 20)
#define MAX_THREADS 4

typedef struct bvariant {
    const char *name;
    tlp_bufpool_config cfg;
    bool dropin; /* the default pool, through tlp_buf_* */
} bvariant;

static const bvariant bvariants[] = {
    { "defaults", { 0 }, false },
    { "zeroed", { .min_class = 1, .max_class = 1000, .thread_cache = 4,
                  .max_idle_bytes = 64 << 10, .zero_on_free = true }, false },
    { "narrow", { .min_class = 64, .max_class = 4096, .thread_cache = 1,
                  .max_idle_bytes = 8192, .zero_on_free = true }, false },
    { "wide", { .min_class = 16, .max_class = 256 << 10, .max_idle_bytes = SIZE_MAX }, false },
    { "default-pool", { 0 }, true },
};
#define NBVARIANTS (sizeof bvariants / sizeof bvariants[0])

typedef struct bpool {
    tlp_bufpool *bp;
    const bvariant *v;
    size_t largest;  /* usable size of the largest class: above it, malloc */
} bpool;

typedef struct buf {
    unsigned char *p;
    size_t req, usable;
    uint8_t tag;
} buf;

static bpool pools[NBVARIANTS];
static buf live[MAX_LIVE];
static size_t nlive, live_bytes;
static uint8_t next_tag = 1;

static bpool *pool_for(unsigned i)
{
    bpool *b = &pools[i];
    if (!b->bp) {
        b->v = &bvariants[i];
        if (b->v->dropin) {
            b->bp = tlp_bufpool_default();
        } else {
            tlp_bufpool_config cfg = b->v->cfg;
            cfg.name = b->v->name;
            int err = tlp_bufpool_create(&cfg, &b->bp);
            FZ_CHECK(err == 0, "tlp_bufpool_create(%s): %d", b->v->name, err);
        }
        FZ_CHECK(b->bp != NULL, "no buffer pool");
        tlp_bufpool_stats s;
        tlp_bufpool_stats_get(b->bp, &s);
        FZ_CHECK(s.nclasses >= 1 && s.nclasses <= 64, "%s: %u classes", b->v->name, s.nclasses);
        b->largest = s.classes[s.nclasses - 1].size;
    }
    return b;
}

/* ---- the calls, on an explicit pool or through the drop-ins ------------- */

/* The drop-ins exist twice: inline (tlp_buf_alloc(n), a macro) and as the
 * exported functions ((tlp_buf_alloc)(n)); the two must mix freely, so the
 * choice follows a bit of the size or the pointer. */
static void *b_alloc(bpool *b, size_t n)
{
    if (!b->v->dropin)
        return tlp_bufpool_alloc(b->bp, n);
    return (n & 1) ? tlp_buf_alloc(n) : (tlp_buf_alloc)(n);
}

static void *b_calloc(bpool *b, size_t n, size_t size)
{
    return b->v->dropin ? tlp_buf_calloc(n, size) : tlp_bufpool_calloc(b->bp, n, size);
}

static void *b_realloc(bpool *b, void *p, size_t n)
{
    return b->v->dropin ? tlp_buf_realloc(p, n) : tlp_bufpool_realloc(b->bp, p, n);
}

static void b_free(bpool *b, void *p)
{
    if (!b->v->dropin)
        tlp_bufpool_free(b->bp, p);
    else if (((uintptr_t)p >> 4) & 1)
        tlp_buf_free(p);
    else
        (tlp_buf_free)(p);
}

static size_t b_size(bpool *b, const void *p)
{
    return b->v->dropin ? tlp_buf_size(p) : tlp_bufpool_size(b->bp, p);
}

/* ---- checks ------------------------------------------------------------- */

static void fill(buf *x)
{
    x->tag = next_tag++;
    memset(x->p, x->tag, x->usable);
}

static void check_bytes(const unsigned char *p, size_t n, unsigned char want, const char *what)
{
    size_t i = fz_first_not(p, n, want);
    FZ_CHECK(i == n, "%s: byte %zu of %zu is 0x%02x, expected 0x%02x", what, i, n, p[i], want);
}

/* A buffer just returned for a request of req bytes. */
static void check_new(bpool *b, buf *x, size_t req, bool zeroed, const char *what)
{
    FZ_CHECK(x->p != NULL, "%s(%zu) on %s failed (errno %d)", what, req, b->v->name, errno);
    FZ_CHECK((uintptr_t)x->p % alignof(max_align_t) == 0, "%s(%zu) returned %p: misaligned", what,
             req, (void *)x->p);
    x->req = req;
    x->usable = b_size(b, x->p);
    FZ_CHECK(x->usable >= req, "%s(%zu): usable size %zu", what, req, x->usable);
    if (zeroed)
        check_bytes(x->p, req, 0, what);
    /* zero_on_free: a pooled buffer comes out zeroed in full. */
    if (b->v->cfg.zero_on_free && req <= b->largest)
        check_bytes(x->p, x->usable, 0, "zero_on_free buffer");
    fill(x); /* writes the whole usable size: ASan checks the claim */
}

static void check_stats(bpool *b)
{
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(b->bp, &s);
    uint64_t out = s.large_out, idle_bytes = 0;
    for (unsigned i = 0; i < s.nclasses; i++) {
        const tlp_bufclass_stats *c = &s.classes[i];
        FZ_CHECK(c->idle_bytes == c->idle * c->size, "class %zu: idle_bytes", c->size);
        FZ_CHECK(i == 0 || c->size > s.classes[i - 1].size, "classes not increasing");
        out += c->out;
        idle_bytes += c->idle_bytes;
    }
    FZ_CHECK(out == nlive, "%s: stats count %llu buffers out, %zu live", b->v->name,
             (unsigned long long)out, nlive);
    FZ_CHECK(idle_bytes == s.idle_bytes, "%s: idle_bytes %llu, classes sum to %llu", b->v->name,
             (unsigned long long)s.idle_bytes, (unsigned long long)idle_bytes);
}

/* ---- operations --------------------------------------------------------- */

/* Sizes around the class grid, small ones, and large ones up to 1 MiB. */
static size_t pick_size(fz_input *in)
{
    static const size_t edges[] = { 0, 1, 15, 16, 17, 127, 128, 129, 159, 160, 161, 255, 256,
                                    257, 1000, 1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536,
                                    65537, 262143, 262144, 262145 };
    uint8_t sel = fz_u8(in);
    switch (sel % 4) {
    case 0: return fz_u8(in);
    case 1: return fz_u16(in) % 5000;
    case 2: return edges[fz_u8(in) % (sizeof edges / sizeof edges[0])];
    default: return fz_u32(in) % ((1u << 20) + 1);
    }
}

static bool room(size_t n)
{
    return nlive < MAX_LIVE && n <= MAX_LIVE_BYTES - live_bytes;
}

static void add_live(buf x)
{
    live[nlive++] = x;
    live_bytes += x.req;
}

static void drop_live(size_t i)
{
    live_bytes -= live[i].req;
    live[i] = live[--nlive];
}

static void op_alloc(bpool *b, size_t n)
{
    if (!room(n))
        return;
    buf x = { .p = b_alloc(b, n) };
    check_new(b, &x, n, false, "alloc");
    add_live(x);
}

static void op_calloc(bpool *b, fz_input *in)
{
    uint8_t k = fz_u8(in);
    size_t size = pick_size(in);
    if (k == 255) {
        /* n * size overflows: NULL with ENOMEM, nothing allocated. */
        errno = 0;
        void *p = b_calloc(b, SIZE_MAX / 2 + 1, 2 + size);
        FZ_CHECK(p == NULL && errno == ENOMEM, "calloc overflow returned %p, errno %d", p, errno);
        return;
    }
    size_t n = k % 17;
    size = n ? size / n : size; /* keep n * size within the same range */
    if (!room(n * size))
        return;
    buf x = { .p = b_calloc(b, n, size) };
    check_new(b, &x, n * size, true, "calloc");
    add_live(x);
}

static void op_realloc(bpool *b, size_t i, size_t n)
{
    buf *x = &live[i];
    if (n > x->req && n - x->req > MAX_LIVE_BYTES - live_bytes)
        return;
    if (n == 0) {
        /* realloc(p, 0) frees p and returns NULL. */
        FZ_CHECK(b_realloc(b, x->p, 0) == NULL, "realloc(p, 0) returned a buffer");
        drop_live(i);
        return;
    }
    size_t keep = x->usable < n ? x->usable : n;
    uint8_t tag = x->tag;
    buf y = { .p = b_realloc(b, x->p, n) };
    FZ_CHECK(y.p != NULL, "realloc(%zu -> %zu) failed", x->req, n);
    check_bytes(y.p, keep, tag, "realloc kept contents");
    y.req = n;
    y.usable = b_size(b, y.p);
    FZ_CHECK(y.usable >= n, "realloc(%zu): usable size %zu", n, y.usable);
    FZ_CHECK((uintptr_t)y.p % alignof(max_align_t) == 0, "realloc returned %p: misaligned",
             (void *)y.p);
    fill(&y);
    live_bytes += n - x->req;
    *x = y;
}

/* Sizes no allocator can serve: NULL with ENOMEM, the old buffer intact. */
static void op_huge(bpool *b, size_t i, uint8_t k)
{
    size_t n = SIZE_MAX - k;
    errno = 0;
    void *p = b_alloc(b, n);
    FZ_CHECK(p == NULL && errno == ENOMEM, "alloc(SIZE_MAX - %u) returned %p, errno %d", k, p, errno);
    if (!nlive)
        return;
    errno = 0;
    p = b_realloc(b, live[i].p, n);
    FZ_CHECK(p == NULL && errno == ENOMEM, "realloc(p, SIZE_MAX - %u) returned %p, errno %d", k, p,
             errno);
    check_bytes(live[i].p, live[i].usable, live[i].tag, "buffer after a failed realloc");
}

typedef struct thread_job {
    bpool *b;
    void *p;
} thread_job;

static void *thread_free(void *arg)
{
    thread_job *j = arg;
    b_free(j->b, j->p);
    return NULL; /* exit flushes this thread's class caches */
}

static void op_thread_free(bpool *b, size_t i)
{
    thread_job j = { b, live[i].p };
    pthread_t t;
    int err = pthread_create(&t, NULL, thread_free, &j);
    FZ_CHECK(err == 0, "pthread_create: %d", err);
    pthread_join(t, NULL);
    drop_live(i);
}

static void finish(bpool *b)
{
    while (nlive) {
        check_bytes(live[nlive - 1].p, live[nlive - 1].usable, live[nlive - 1].tag, "live buffer");
        b_free(b, live[nlive - 1].p);
        drop_live(nlive - 1);
    }
    tlp_bufpool_release_idle(b->bp);
    check_stats(b);
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(b->bp, &s);
    FZ_CHECK(s.idle_bytes == 0 && s.large_out == 0, "%s: %llu idle bytes, %llu large out after release",
             b->v->name, (unsigned long long)s.idle_bytes, (unsigned long long)s.large_out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input in = { data, size };
    bpool *b = pool_for(fz_u8(&in) % NBVARIANTS);
    unsigned threads = 0;
    for (unsigned n = 0; n < MAX_OPS && fz_more(&in); n++) {
        uint8_t op = fz_u8(&in), pick = fz_u8(&in);
        size_t i = nlive ? pick % nlive : 0; /* the buffer an op works on */
        switch (op % 13) {
        case 0:
            op_alloc(b, pick_size(&in));
            break;
        case 1:
            op_calloc(b, &in);
            break;
        case 2:
            if (nlive)
                op_realloc(b, i, pick_size(&in));
            break;
        case 3:
            if (nlive) {
                check_bytes(live[i].p, live[i].usable, live[i].tag, "live buffer");
                b_free(b, live[i].p);
                drop_live(i);
            }
            break;
        case 4:
            tlp_bufpool_drain(b->bp);
            break;
        case 5:
            tlp_bufpool_release_idle(b->bp);
            break;
        case 6:
            check_stats(b);
            break;
        case 7: { /* realloc(NULL, n) is alloc(n) */
            size_t req = pick_size(&in);
            if (room(req)) {
                buf x = { .p = b_realloc(b, NULL, req) };
                check_new(b, &x, req, false, "realloc(NULL)");
                add_live(x);
            }
            break;
        }
        case 8:
            if (nlive)
                op_realloc(b, i, 0);
            break;
        case 9:
            b_free(b, NULL);
            FZ_CHECK(b_size(b, NULL) == 0, "size(NULL) != 0");
            break;
        case 10:
            if (nlive && threads++ < MAX_THREADS)
                op_thread_free(b, i);
            break;
        case 11:
            op_huge(b, i, fz_u8(&in));
            break;
        default:
            op_alloc(b, 0);
            break;
        }
    }
    finish(b);
    return 0;
}
