/* SPDX-License-Identifier: MIT */
/*
 * The exported create and statistics calls, sized (see sized.h): a program
 * built against an older header passes a shorter struct, one built against a
 * newer header a longer one; the library reads and writes only the bytes both
 * know. The 0.2 names stay exported for binaries built against 0.2.
 */
#include "sized.h"

#include <errno.h>
#include <string.h>

/* The 0.2 layouts on LP64 (x86-64, AArch64): a field inserted before the end
 * of a 0.2 struct breaks every 0.2 binary and this assert. */
_Static_assert(sizeof(void *) != 8 || (TLP__CONFIG_SIZE_V0_2 == 80 && TLP__STATS_SIZE_V0_2 == 160 &&
                                       TLP__BUFCONFIG_SIZE_V0_2 == 48),
               "a field was inserted into a 0.2 struct: append new fields at the end");

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

int tlp_pool_create_sized(const tlp_config *cfg, size_t cfg_size, tlp_pool **out)
{
    if (!cfg || !out || cfg_size < TLP__CONFIG_SIZE_MIN)
        return EINVAL;
    tlp_config c;
    memset(&c, 0, sizeof c);
    memcpy(&c, cfg, min_size(cfg_size, sizeof c));
    return tlp__pool_create(&c, out);
}

int (tlp_pool_create)(const tlp_config *cfg, tlp_pool **out)
{
    return tlp_pool_create_sized(cfg, TLP__CONFIG_SIZE_V0_2, out);
}

void tlp_stats_get_sized(tlp_pool *pool, tlp_stats *out, size_t out_size)
{
    tlp_stats s;
    tlp__stats_get(pool, &s);
    memcpy(out, &s, min_size(out_size, sizeof s));
}

void (tlp_stats_get)(tlp_pool *pool, tlp_stats *out)
{
    tlp_stats_get_sized(pool, out, TLP__STATS_SIZE_V0_2);
}

int tlp_bufpool_create_sized(const tlp_bufpool_config *cfg, size_t cfg_size, tlp_bufpool **out)
{
    if (!cfg || !out || cfg_size < TLP__BUFCONFIG_SIZE_MIN)
        return EINVAL;
    tlp_bufpool_config c;
    memset(&c, 0, sizeof c);
    memcpy(&c, cfg, min_size(cfg_size, sizeof c));
    return tlp__bufpool_create(&c, out);
}

int (tlp_bufpool_create)(const tlp_bufpool_config *cfg, tlp_bufpool **out)
{
    return tlp_bufpool_create_sized(cfg, TLP__BUFCONFIG_SIZE_V0_2, out);
}

/* The 0.2 layout of tlp_bufpool_stats (LP64: 2080 bytes). */
typedef struct v02_bufclass {
    size_t size;
    uint64_t idle, idle_bytes, out;
} v02_bufclass;
typedef struct v02_bufstats {
    unsigned nclasses;
    v02_bufclass classes[64];
    uint64_t idle_bytes, large_allocs, large_out;
} v02_bufstats;
_Static_assert(sizeof(void *) != 8 || sizeof(v02_bufstats) == TLP__BUFSTATS_SIZE_V0_2,
               "the 0.2 layout of tlp_bufpool_stats");
_Static_assert(sizeof(void *) != 8 || TLP__BUFSTATS_SIZE_V0_3 == 5160,
               "a field was inserted into 0.3's tlp_bufpool_stats: append new fields at the end");

void tlp_bufpool_stats_get_sized(tlp_bufpool *bp, tlp_bufpool_stats *out, size_t out_size)
{
    tlp_bufpool_stats s;
    tlp__bufpool_stats_get(bp, &s);
    if (out_size >= TLP__BUFSTATS_SIZE_V0_3) {
        /* 0.3 and later: the same layout, fields appended at the end. */
        memcpy(out, &s, min_size(out_size, sizeof s));
        return;
    }
    /* A caller with the 0.2 header: its per-class entries are shorter. */
    v02_bufstats o;
    memset(&o, 0, sizeof o);
    o.nclasses = s.nclasses;
    for (unsigned i = 0; i < 64; i++) {
        o.classes[i].size = s.classes[i].size;
        o.classes[i].idle = s.classes[i].idle;
        o.classes[i].idle_bytes = s.classes[i].idle_bytes;
        o.classes[i].out = s.classes[i].out;
    }
    o.idle_bytes = s.idle_bytes;
    o.large_allocs = s.large_allocs;
    o.large_out = s.large_out;
    memcpy(out, &o, min_size(out_size, sizeof o));
}

void (tlp_bufpool_stats_get)(tlp_bufpool *bp, tlp_bufpool_stats *out)
{
    tlp_bufpool_stats_get_sized(bp, out, TLP__BUFSTATS_SIZE_V0_2);
}
