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
                                       TLP__BUFCONFIG_SIZE_V0_2 == 48 &&
                                       TLP__BUFSTATS_SIZE_V0_2 == 2080),
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

void tlp_bufpool_stats_get_sized(tlp_bufpool *bp, tlp_bufpool_stats *out, size_t out_size)
{
    tlp_bufpool_stats s;
    tlp__bufpool_stats_get(bp, &s);
    memcpy(out, &s, min_size(out_size, sizeof s));
}

void (tlp_bufpool_stats_get)(tlp_bufpool *bp, tlp_bufpool_stats *out)
{
    tlp_bufpool_stats_get_sized(bp, out, TLP__BUFSTATS_SIZE_V0_2);
}
