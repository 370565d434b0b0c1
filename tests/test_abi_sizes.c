/* SPDX-License-Identifier: MIT */
/*
 * ABI-safe structs: a program built against an older header (a shorter
 * tlp_config, tlp_stats, tlp_bufpool_config, tlp_bufpool_stats; copies of
 * those definitions below) runs against this library, which reads and writes
 * only the bytes that program knows. Also a newer program (a longer struct)
 * and the 0.2 entry points (the unsized names), which assume the 0.2 sizes.
 * The bytes after each old struct are filled with 0xA5: a library that read
 * them would see a wild `name` pointer, one that wrote them would change them.
 */
#include <tlpool.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

#define GARBAGE 0xA5

/* tlp_config of an older header: everything up to drain_ms, no name. */
typedef struct old_config {
    size_t obj_size, obj_align;
    void *(*obj_new)(void *ctx);
    bool (*obj_reset)(void *obj, void *ctx);
    void (*obj_free)(void *obj, void *ctx);
    void *ctx;
    unsigned thread_cache, shards;
    size_t max_idle;
    unsigned drain_ms;
} old_config;
/* What that older header's tlp_pool_create macro expanded to. */
#define old_pool_create(cfg, out) tlp_pool_create_sized((const tlp_config *)(const void *)(cfg), sizeof(old_config), (out))

/* tlp_stats of an older header: without the last counter. */
typedef struct old_stats {
    const char *name;
    uint64_t gets, puts, hits_thread, hits_shared, hits_victim, made, made_on_get, new_failed,
        released, dropped_reset, released_by_drain, released_by_cap, drains, idle, idle_thread,
        idle_shared, idle_victim, out;
} old_stats;

/* tlp_bufpool_config of an older header: no zero_on_free, no name. */
typedef struct old_bufconfig {
    size_t min_class, max_class;
    unsigned thread_cache, drain_ms;
    size_t max_idle_bytes;
} old_bufconfig;

/* The per-class entry of 0.2 (per-class counters were appended since). */
typedef struct old_bufclass {
    size_t size;
    uint64_t idle, idle_bytes, out;
} old_bufclass;
typedef struct old_bufstats {
    unsigned nclasses;
    old_bufclass classes[64];
    uint64_t idle_bytes, large_allocs;
} old_bufstats;

static bool all_garbage(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != GARBAGE)
            return false;
    return true;
}

static void shorter_config_and_stats(void)
{
    struct {
        old_config c;
        unsigned char after[64];
    } in;
    memset(&in, GARBAGE, sizeof in);
    memset(&in.c, 0, sizeof in.c);
    in.c.obj_size = 32;
    tlp_pool *p = NULL;
    CHECK(old_pool_create(&in.c, &p) == 0);
    if (!p)
        return;
    CHECK(strcmp(tlp_pool_name(p), "") == 0); /* name beyond the old struct: default */
    void *o = tlp_get(p);
    tlp_put(p, o);

    struct {
        old_stats s;
        unsigned char after[64];
    } out;
    memset(&out, GARBAGE, sizeof out);
    tlp_stats_get_sized(p, (tlp_stats *)(void *)&out.s, sizeof out.s);
    CHECK(out.s.gets == 1 && out.s.puts == 1 && out.s.out == 0);
    CHECK(all_garbage(out.after, sizeof out.after)); /* nothing written past it */
    tlp_pool_destroy(p);
}

static void longer_config(void)
{
    /* A newer program: a field this library does not know, left 0. */
    struct {
        tlp_config c;
        uint64_t future_field;
    } in;
    memset(&in, 0, sizeof in);
    in.c.obj_size = 16;
    in.c.name = "newer";
    tlp_pool *p = NULL;
    CHECK(tlp_pool_create_sized(&in.c, sizeof in, &p) == 0);
    if (p) {
        CHECK(strcmp(tlp_pool_name(p), "newer") == 0);
        tlp_pool_destroy(p);
    }
}

static void too_small(void)
{
    tlp_config c = {.obj_size = 8};
    tlp_pool *p = NULL;
    CHECK(tlp_pool_create_sized(&c, 0, &p) == EINVAL && p == NULL);
    CHECK(tlp_pool_create_sized(&c, sizeof(size_t) - 1, &p) == EINVAL && p == NULL);
    CHECK(tlp_pool_create_sized(&c, sizeof(size_t), &p) == 0); /* obj_size alone */
    tlp_pool_destroy(p);
    tlp_bufpool_config bc = {0};
    tlp_bufpool *bp = NULL;
    CHECK(tlp_bufpool_create_sized(&bc, 1, &bp) == EINVAL && bp == NULL);
}

/* A binary built against 0.2 calls the unsized names with 0.2 structs. */
static void v0_2_entry_points(void)
{
    const size_t stats_v0_2 = offsetof(tlp_stats, threads) + sizeof(uint64_t);
    tlp_config c;
    memset(&c, 0, sizeof c);
    c.obj_size = 24;
    c.name = "v0.2";
    tlp_pool *p = NULL;
    CHECK((tlp_pool_create)(&c, &p) == 0);
    if (!p)
        return;
    CHECK(strcmp(tlp_pool_name(p), "v0.2") == 0);
    tlp_put(p, tlp_get(p));
    struct {
        tlp_stats s;
        unsigned char after[64];
    } out;
    memset(&out, GARBAGE, sizeof out);
    (tlp_stats_get)(p, &out.s);
    CHECK(out.s.puts == 1 && out.s.threads == 1);
    /* Counters added after 0.2 are not written into a 0.2 caller's struct. */
    CHECK(all_garbage((unsigned char *)&out + stats_v0_2, sizeof out - stats_v0_2));
    tlp_pool_destroy(p);
}

static void shorter_bufpool(void)
{
    struct {
        old_bufconfig c;
        unsigned char after[64];
    } in;
    memset(&in, GARBAGE, sizeof in);
    memset(&in.c, 0, sizeof in.c);
    in.c.max_class = 1024;
    tlp_bufpool *bp = NULL;
    CHECK(tlp_bufpool_create_sized((const tlp_bufpool_config *)(const void *)&in.c, sizeof in.c, &bp) == 0);
    if (!bp)
        return;
    char *b = tlp_bufpool_alloc(bp, 100);
    CHECK(b != NULL);
    struct {
        old_bufstats s;
        unsigned char after[64];
    } out;
    memset(&out, GARBAGE, sizeof out);
    tlp_bufpool_stats_get_sized(bp, (tlp_bufpool_stats *)(void *)&out.s, sizeof out.s);
    CHECK(out.s.nclasses > 0 && out.s.large_allocs == 0);
    /* The 0.2 per-class layout: sizes grow class by class, one buffer out. */
    CHECK(out.s.classes[0].size > 0 && out.s.classes[1].size > out.s.classes[0].size);
    uint64_t outs = 0;
    for (unsigned i = 0; i < out.s.nclasses; i++)
        outs += out.s.classes[i].out;
    CHECK(outs == 1);
    CHECK(all_garbage(out.after, sizeof out.after));
    /* zero_on_free was beyond the old struct (0xA5 there): it must be off,
     * so the freed buffer keeps its bytes and comes back as it was. */
    memset(b, 'q', 100);
    tlp_bufpool_free(bp, b);
    char *again = tlp_bufpool_alloc(bp, 100);
    CHECK(again == b && again[0] == 'q');
    tlp_bufpool_free(bp, again);
    tlp_bufpool_destroy(bp);
}

/* A program built against 0.3: its tlp_bufpool_config ended at name (no
 * thread_idle_bytes: the default cap applies), its tlp_bufpool_stats at
 * span_bytes (0.3's per-class layout; the fields appended since are not
 * written into it). */
static void v0_3_bufpool(void)
{
    const size_t cfg_v0_3 = offsetof(tlp_bufpool_config, name) + sizeof(const char *);
    const size_t stats_v0_3 = offsetof(tlp_bufpool_stats, span_bytes) + sizeof(uint64_t);
    CHECK(sizeof(void *) != 8 || stats_v0_3 == 5160);
    unsigned char cfgbuf[sizeof(tlp_bufpool_config) + 64];
    memset(cfgbuf, GARBAGE, sizeof cfgbuf);
    memset(cfgbuf, 0, cfg_v0_3);
    tlp_bufpool *bp = NULL;
    CHECK(tlp_bufpool_create_sized((const tlp_bufpool_config *)(const void *)cfgbuf, cfg_v0_3,
                                   &bp) == 0);
    if (!bp)
        return;
    char *b = tlp_bufpool_alloc(bp, 100);
    CHECK(b != NULL);
    static unsigned char out[sizeof(tlp_bufpool_stats) + 64];
    memset(out, GARBAGE, sizeof out);
    tlp_bufpool_stats_get_sized(bp, (tlp_bufpool_stats *)(void *)out, stats_v0_3);
    tlp_bufpool_stats s;
    memcpy(&s, out, stats_v0_3);
    /* 0.3's per-class entries: the class of 100 bytes (112) has one get. */
    uint64_t gets = 0;
    for (unsigned i = 0; i < s.nclasses; i++)
        gets += s.classes[i].size == 112 ? s.classes[i].gets : 0;
    CHECK(s.nclasses == 44 && gets == 1 && s.span_bytes > 0);
    CHECK(all_garbage(out + stats_v0_3, sizeof out - stats_v0_3));
    /* And a full-size read: the default cap, as thread_idle_bytes was 0. */
    tlp_bufpool_stats_get(bp, &s);
    CHECK(s.thread_idle_cap == 256u << 10);
    tlp_bufpool_free(bp, b);
    tlp_bufpool_destroy(bp);
}

int main(void)
{
    shorter_config_and_stats();
    longer_config();
    too_small();
    v0_2_entry_points();
    shorter_bufpool();
    v0_3_bufpool();
    if (failures)
        fprintf(stderr, "test_abi_sizes: %d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
