/* SPDX-License-Identifier: MIT */
/*
 * tlp_stats_print: every live pool and every buffer pool, as a table a
 * person reads or as one JSON document (jemalloc's malloc_stats_print with
 * its JSON option). The counters are tlp_stats_get's and
 * tlp_bufpool_stats_get's, under the same names.
 */
#include "bufpool.h"
#include "internal.h"

#include <string.h>

const char *tlp_bufpool_name(const tlp_bufpool *bp)
{
    return bp->name;
}

/* ---- JSON --------------------------------------------------------------- */

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* The counters of tlp_stats, in its order, by name. */
#define TLP_STATS_FIELDS(X)                                                         \
    X(gets) X(puts) X(hits_thread) X(hits_shared) X(hits_victim) X(made)            \
    X(made_on_get) X(new_failed) X(released) X(dropped_reset) X(released_by_drain) \
    X(released_by_cap) X(drains) X(idle) X(idle_thread) X(idle_shared)             \
    X(idle_victim) X(out) X(threads)

#define TLP_CLASS_FIELDS(X)                                                         \
    X(gets) X(hits_thread) X(hits_shared) X(hits_victim) X(made) X(released)       \
    X(idle) X(idle_bytes) X(out)

typedef struct ctx {
    FILE *out;
    bool json;
    unsigned n;
} ctx;

static int pool_json(tlp_pool *pool, void *arg)
{
    ctx *c = arg;
    tlp_stats st;
    tlp_stats_get(pool, &st);
    fprintf(c->out, "%s\n    {\"name\": ", c->n++ ? "," : "");
    json_string(c->out, st.name);
#define X(f) fprintf(c->out, ", \"" #f "\": %llu", (unsigned long long)st.f);
    TLP_STATS_FIELDS(X)
#undef X
    fputc('}', c->out);
    return 0;
}

static int bufpool_json(tlp_bufpool *bp, void *arg)
{
    ctx *c = arg;
    tlp_bufpool_stats st;
    tlp_bufpool_stats_get(bp, &st);
    fprintf(c->out, "%s\n    {\"name\": ", c->n++ ? "," : "");
    json_string(c->out, bp->name);
    fprintf(c->out, ", \"idle_bytes\": %llu, \"large_allocs\": %llu, \"large_out\": %llu,"
                    " \"thread_idle_cap\": %llu, \"idle_thread_bytes\": %llu,"
                    " \"cap_spilled_bytes\": %llu, \"classes\": [",
            (unsigned long long)st.idle_bytes, (unsigned long long)st.large_allocs,
            (unsigned long long)st.large_out, (unsigned long long)st.thread_idle_cap,
            (unsigned long long)st.idle_thread_bytes, (unsigned long long)st.cap_spilled_bytes);
    for (unsigned i = 0; i < st.nclasses; i++) {
        const tlp_bufclass_stats *k = &st.classes[i];
        fprintf(c->out, "%s\n      {\"size\": %zu", i ? "," : "", k->size);
#define X(f) fprintf(c->out, ", \"" #f "\": %llu", (unsigned long long)k->f);
        TLP_CLASS_FIELDS(X)
#undef X
        fputc('}', c->out);
    }
    fprintf(c->out, "%s]}", st.nclasses ? "\n    " : "");
    return 0;
}

/* ---- text --------------------------------------------------------------- */

static int pool_text(tlp_pool *pool, void *arg)
{
    ctx *c = arg;
    tlp_stats st;
    tlp_stats_get(pool, &st);
    if (c->n++ == 0)
        fprintf(c->out, "%-20s %12s %12s %12s %12s %12s %12s %12s %10s %10s %7s\n", "pool", "gets",
                "hits_thread", "hits_shared", "hits_victim", "made", "released", "drains", "idle",
                "out", "threads");
    fprintf(c->out, "%-20s %12llu %12llu %12llu %12llu %12llu %12llu %12llu %10llu %10llu %7llu\n",
            st.name[0] ? st.name : "(unnamed)", (unsigned long long)st.gets,
            (unsigned long long)st.hits_thread, (unsigned long long)st.hits_shared,
            (unsigned long long)st.hits_victim, (unsigned long long)st.made,
            (unsigned long long)st.released, (unsigned long long)st.drains,
            (unsigned long long)st.idle, (unsigned long long)st.out,
            (unsigned long long)st.threads);
    return 0;
}

static int bufpool_text(tlp_bufpool *bp, void *arg)
{
    ctx *c = arg;
    tlp_bufpool_stats st;
    tlp_bufpool_stats_get(bp, &st);
    fprintf(c->out,
            "\nbuffer pool '%s': %llu bytes idle (%llu in thread caches), %llu large allocations"
            " (%llu out), %llu bytes moved to the shared tiers by the per-thread cap\n",
            bp->name, (unsigned long long)st.idle_bytes, (unsigned long long)st.idle_thread_bytes,
            (unsigned long long)st.large_allocs, (unsigned long long)st.large_out,
            (unsigned long long)st.cap_spilled_bytes);
    fprintf(c->out, "%10s %12s %12s %12s %12s %12s %12s %10s %12s %10s\n", "class", "gets",
            "hits_thread", "hits_shared", "hits_victim", "made", "released", "idle",
            "idle_bytes", "out");
    for (unsigned i = 0; i < st.nclasses; i++) {
        const tlp_bufclass_stats *k = &st.classes[i];
        if (!k->gets && !k->idle && !k->made)
            continue; /* a class never used: one line less to read */
        fprintf(c->out, "%10zu %12llu %12llu %12llu %12llu %12llu %12llu %10llu %12llu %10llu\n",
                k->size, (unsigned long long)k->gets, (unsigned long long)k->hits_thread,
                (unsigned long long)k->hits_shared, (unsigned long long)k->hits_victim,
                (unsigned long long)k->made, (unsigned long long)k->released,
                (unsigned long long)k->idle, (unsigned long long)k->idle_bytes,
                (unsigned long long)k->out);
    }
    c->n++;
    return 0;
}

int tlp_stats_print(FILE *out, const char *format)
{
    if (!out || !format)
        return EINVAL;
    ctx c = { out, false, 0 };
    if (strcmp(format, "json") == 0) {
        c.json = true;
        flockfile(out);
        fprintf(out, "{\"library\": \"tlpool\", \"version\": \"%d.%d.%d\",\n  \"pools\": [",
                TLP_VERSION_MAJOR, TLP_VERSION_MINOR, TLP_VERSION_PATCH);
        tlp_pool_foreach(pool_json, &c);
        fprintf(out, "%s],\n  \"buffer_pools\": [", c.n ? "\n  " : "");
        c.n = 0;
        tlp_bufpool_foreach(bufpool_json, &c);
        fprintf(out, "%s]}\n", c.n ? "\n  " : "");
        funlockfile(out);
    } else if (strcmp(format, "text") == 0) {
        flockfile(out);
        tlp_pool_foreach(pool_text, &c);
        if (!c.n)
            fprintf(out, "no pools\n");
        c.n = 0;
        tlp_bufpool_foreach(bufpool_text, &c);
        funlockfile(out);
    } else {
        return EINVAL;
    }
    fflush(out);
    return 0;
}
