/* SPDX-License-Identifier: MIT */
/*
 * config_fuzzer: random tlp_config values. tlp_pool_create must accept
 * exactly the configurations tlpool.h calls valid and refuse the others with
 * EINVAL (leaving *out untouched); a pool it creates must work (a few gets
 * and puts, two drains, stats that add up) and release everything it made.
 *
 * Input: a flags byte, then for each numeric field a selector byte and eight
 * raw bytes (the selector picks a range: small, near a limit, or anything),
 * then the drain period, the name, and the number of objects to take.
 */
#include "tlpool.h"

#include "fuzz_util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger objects are not allocated: obj_new fails for them (ENOMEM path),
 * and pools without hooks skip their gets (libFuzzer's malloc limit). */
#define OBJ_LIMIT ((size_t)64 << 10)
#define MAX_GETS 16

enum {
    F_NEW = 1,       /* obj_new */
    F_FREE = 2,      /* obj_free */
    F_RESET = 4,     /* obj_reset (refuses every refuse_every-th put) */
    F_NAME = 8,      /* a name (else NULL) */
    F_DRAIN = 16,    /* drain_ms > 0: the background drainer runs */
    F_SLEEP = 32,    /* with F_DRAIN: wait long enough for it to drain */
    F_ZERO = 64,     /* zero_new */
};

/* Hook counters: the background drainer calls obj_free from its thread. */
typedef struct hooks {
    size_t size;
    unsigned refuse_every;
    _Atomic uint64_t news, news_failed, frees, resets;
} hooks;

static void *h_new(void *ctx)
{
    hooks *h = ctx;
    atomic_fetch_add(&h->news, 1);
    void *p = h->size <= OBJ_LIMIT ? malloc(h->size) : NULL;
    if (!p)
        atomic_fetch_add(&h->news_failed, 1);
    return p;
}

static void h_free(void *obj, void *ctx)
{
    hooks *h = ctx;
    atomic_fetch_add(&h->frees, 1);
    free(obj);
}

static bool h_reset(void *obj, void *ctx)
{
    hooks *h = ctx;
    uint64_t n = atomic_fetch_add(&h->resets, 1) + 1;
    return !(h->refuse_every && n % h->refuse_every == 0);
}

/* A size_t from a selector and raw bits: small, around a limit, or anything. */
static size_t pick_size(uint8_t sel, uint64_t raw)
{
    switch (sel % 8) {
    case 0: return 0;
    case 1: return raw % 257;
    case 2: return raw & 0xffff;
    case 3: return (size_t)raw;
    case 4: return SIZE_MAX - (raw & 0xff);
    case 5: return (size_t)PTRDIFF_MAX / 2 + (raw & 3) - 1;
    case 6: return (size_t)1 << (raw % 64);
    default: return ((size_t)1 << (raw % 64)) + 1;
    }
}

static size_t pick_align(uint8_t sel, uint64_t raw)
{
    switch (sel % 6) {
    case 0: return 0;
    case 1: return (size_t)1 << (raw % 14); /* 1 .. 8192 */
    case 2: return raw & 0x1fff;
    case 3: return (size_t)raw;
    case 4: return TLP_MAX_ALIGN;
    default: return TLP_MAX_ALIGN + 1 + (raw & 0xfff);
    }
}

/* For thread_cache and shards: a value around `limit`, small, or anything. */
static unsigned pick_count(uint8_t sel, uint64_t raw, unsigned limit)
{
    switch (sel % 4) {
    case 0: return 0;
    case 1: return (unsigned)(raw % 300);
    case 2: return limit + (unsigned)(raw % 3) - 1;
    default: return (unsigned)raw;
    }
}

static bool valid(const tlp_config *c)
{
    size_t a = c->obj_align;
    return c->obj_size != 0 && (a & (a - 1)) == 0 && a <= TLP_MAX_ALIGN &&
           !c->obj_new == !c->obj_free && c->thread_cache <= TLP_MAX_THREAD_CACHE &&
           c->shards <= TLP_MAX_SHARDS;
}

/* Gets, puts and drains on a created pool, then destroy. */
static void exercise(tlp_pool *pool, const tlp_config *c, hooks *h, unsigned ngets,
                     const char *name, bool sleep)
{
    bool quiet = c->drain_ms == 0; /* no background drainer: stats are exact */
    FZ_CHECK(strcmp(tlp_pool_name(pool), name ? name : "") == 0, "pool name '%s', expected '%s'",
             tlp_pool_name(pool), name ? name : "");
    size_t align = c->obj_align ? c->obj_align : _Alignof(max_align_t);
    bool can_get = c->obj_new || c->obj_size <= OBJ_LIMIT;
    void *objs[MAX_GETS];
    unsigned got = 0;
    for (unsigned i = 0; i < ngets && can_get; i++) {
        errno = 0;
        void *p = tlp_get(pool);
        if (!p) {
            /* Only obj_new can fail here; the pool must stay usable. */
            FZ_CHECK(errno == ENOMEM, "tlp_get returned NULL with errno %d", errno);
            FZ_CHECK(c->obj_new && c->obj_size > OBJ_LIMIT, "tlp_get failed for a %zu-byte object",
                     c->obj_size);
            continue;
        }
        for (unsigned k = 0; k < got; k++)
            FZ_CHECK(objs[k] != p, "object %p handed out twice", p);
        if (!c->obj_new)
            FZ_CHECK((uintptr_t)p % align == 0, "object %p not aligned to %zu", p, align);
        /* The pool is fresh and nothing was put yet: every object is new. */
        if (c->zero_new && !c->obj_new) {
            const unsigned char *b = p;
            for (size_t k = 0; k < c->obj_size; k++)
                FZ_CHECK(b[k] == 0, "zero_new: byte %zu of a new %zu-byte object is %#x", k,
                         c->obj_size, b[k]);
        }
        memset(p, 0xa5, c->obj_size); /* all of it is ours (ASan checks) */
        objs[got++] = p;
    }
    if (c->leak_sample == 1 || c->leak_sample == TLP_LEAK_TRACE) {
        /* Every object taken is reported (this is the process's only pool). */
        FILE *null = fopen("/dev/null", "w");
        FZ_CHECK(null != NULL, "fopen /dev/null");
        size_t n = tlp_leaks_print(null, 0);
        fclose(null);
        FZ_CHECK(n == got, "tlp_leaks_print reported %zu of %u objects out", n, got);
    }
    tlp_stats s;
    if (quiet) {
        tlp_stats_get(pool, &s);
        FZ_CHECK(s.out == got && s.gets == got, "stats.out %llu, gets %llu, %u taken",
                 (unsigned long long)s.out, (unsigned long long)s.gets, got);
    }
    tlp_put(pool, NULL);
    for (unsigned k = got; k-- > 0;)
        tlp_put(pool, objs[k]);
    if (quiet) {
        tlp_drain(pool);
        tlp_drain(pool);
        tlp_stats_get(pool, &s);
        FZ_CHECK(s.out == 0 && s.idle == 0 && s.made == s.released && s.puts == got,
                 "after two drains: out %llu idle %llu made %llu released %llu puts %llu",
                 (unsigned long long)s.out, (unsigned long long)s.idle,
                 (unsigned long long)s.made, (unsigned long long)s.released,
                 (unsigned long long)s.puts);
        FZ_CHECK(s.gets == s.hits_thread + s.hits_shared + s.hits_victim + s.made_on_get,
                 "stats: gets %llu != hits + made", (unsigned long long)s.gets);
    } else if (sleep && c->drain_ms <= 3) {
        /* Let the background drainer run against this pool. */
        struct timespec ts = { 0, (long)(2 * c->drain_ms + 1) * 1000000L };
        nanosleep(&ts, NULL);
    }
    tlp_pool_destroy(pool);
    if (c->obj_new) {
        uint64_t made = atomic_load(&h->news) - atomic_load(&h->news_failed);
        FZ_CHECK(atomic_load(&h->frees) == made, "obj_free called %llu times for %llu objects made",
                 (unsigned long long)atomic_load(&h->frees), (unsigned long long)made);
    }
    if (c->obj_reset)
        FZ_CHECK(atomic_load(&h->resets) == got, "obj_reset called %llu times for %u puts",
                 (unsigned long long)atomic_load(&h->resets), got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input in = { data, size };
    hooks h = { 0 };
    tlp_config c = { 0 };
    uint8_t flags = fz_u8(&in);
    uint8_t sel;
    sel = fz_u8(&in);
    c.obj_size = pick_size(sel, fz_u64(&in));
    sel = fz_u8(&in);
    c.obj_align = pick_align(sel, fz_u64(&in));
    sel = fz_u8(&in);
    c.thread_cache = pick_count(sel, fz_u64(&in), TLP_MAX_THREAD_CACHE);
    sel = fz_u8(&in);
    c.shards = pick_count(sel, fz_u64(&in), TLP_MAX_SHARDS);
    sel = fz_u8(&in);
    c.max_idle = sel % 2 ? (size_t)fz_u64(&in) : fz_u8(&in);
    uint8_t drain = fz_u8(&in);
    c.drain_ms = (flags & F_DRAIN) ? 1 + drain % 3 + (drain >= 128 ? 1000 : 0) : 0;
    char *name = NULL;
    if (flags & F_NAME) {
        size_t len = fz_u8(&in) % 65;
        name = calloc(1, len + 1);
        FZ_CHECK(name != NULL, "out of memory");
        for (size_t i = 0; i < len; i++)
            name[i] = (char)fz_u8(&in); /* a NUL byte ends it early: fine */
    }
    c.name = name;
    unsigned ngets = fz_u8(&in) % (MAX_GETS + 1);
    h.size = c.obj_size;
    h.refuse_every = fz_u8(&in) % 4;
    /* Read last, so that older seeds keep their meaning: leak tracking of
     * every object, one in N, or with backtraces (rarely: they are slow). */
    uint8_t leak = fz_u8(&in);
    c.leak_sample = leak % 4 == 1 ? 1 : leak % 4 == 2 ? 1u + leak / 4
                  : leak % 4 == 3 && leak >= 250 ? TLP_LEAK_TRACE : 0;
    c.ctx = &h;
    c.obj_new = (flags & F_NEW) ? h_new : NULL;
    c.obj_free = (flags & F_FREE) ? h_free : NULL;
    c.obj_reset = (flags & F_RESET) ? h_reset : NULL;
    c.zero_new = (flags & F_ZERO) != 0;

    tlp_pool *const untouched = (tlp_pool *)(uintptr_t)0x1234;
    tlp_pool *pool = untouched;
    FZ_CHECK(tlp_pool_create(NULL, &pool) == EINVAL && pool == untouched, "create(NULL cfg)");
    FZ_CHECK(tlp_pool_create(&c, NULL) == EINVAL, "create with out == NULL");

    int err = tlp_pool_create(&c, &pool);
    /* The name is copied: the pool must not read our buffer after create. */
    char *name_copy = name ? strdup(name) : NULL;
    free(name);
    if (!valid(&c)) {
        FZ_CHECK(err == EINVAL, "invalid config (size %zu align %zu tc %u shards %u hooks %d%d%d) "
                 "gave %d", c.obj_size, c.obj_align, c.thread_cache, c.shards, !!c.obj_new,
                 !!c.obj_free, !!c.obj_reset, err);
    } else if (c.obj_size > (size_t)PTRDIFF_MAX / 2) {
        /* Objects no allocator can make: refusing them up front is fine. */
        FZ_CHECK(err == 0 || err == EINVAL || err == ENOMEM, "huge obj_size gave %d", err);
    } else {
        /* create allocates O(shards) bytes: ENOMEM would be a bug here. */
        FZ_CHECK(err == 0, "valid config (size %zu align %zu tc %u shards %u max_idle %zu "
                 "drain_ms %u) gave %d", c.obj_size, c.obj_align, c.thread_cache, c.shards,
                 c.max_idle, c.drain_ms, err);
    }
    if (err == 0)
        exercise(pool, &c, &h, ngets, name_copy, flags & F_SLEEP);
    else
        FZ_CHECK(pool == untouched, "failed create wrote *out");
    free(name_copy);
    return 0;
}
