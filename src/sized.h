/* SPDX-License-Identifier: MIT */
/*
 * Sized entry points. The exported tlp_pool_create_sized & co. (sized.c) copy
 * the caller's struct, of the size the caller's header had, into a zeroed
 * struct of this library's size and call these, which see full structs only.
 *
 * Appending a field to tlp_config, tlp_stats, tlp_bufpool_config or
 * tlp_bufpool_stats needs nothing here: 0 in a new config field must mean the
 * old behaviour. The V0_2 sizes are what binaries built against 0.2 pass
 * through the unsized names (tlp_pool_create, ...); they never change.
 */
#ifndef TLP_SIZED_H
#define TLP_SIZED_H

#include "tlpool.h"

#include <stddef.h>

#define TLP__END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define TLP__CONFIG_SIZE_V0_2 TLP__END(tlp_config, name)
#define TLP__STATS_SIZE_V0_2 TLP__END(tlp_stats, threads)
#define TLP__BUFCONFIG_SIZE_V0_2 TLP__END(tlp_bufpool_config, name)
/* tlp_bufpool_stats of 0.2: its per-class entries were 4 words; the per-class
 * counters appended to tlp_bufclass_stats since made them longer, so a 0.2
 * caller gets its layout converted (sized.c). */
#define TLP__BUFSTATS_SIZE_V0_2 ((size_t)2080)
/* 0.3's tlp_bufpool_stats (ended at span_bytes): callers from 0.3 on share
 * its layout and get only the fields they know. */
#define TLP__BUFSTATS_SIZE_V0_3 TLP__END(tlp_bufpool_stats, span_bytes)
/* The smallest config a caller may pass: the first field. */
#define TLP__CONFIG_SIZE_MIN TLP__END(tlp_config, obj_size)
#define TLP__BUFCONFIG_SIZE_MIN TLP__END(tlp_bufpool_config, min_class)

int tlp__pool_create(const tlp_config *cfg, tlp_pool **out);
void tlp__stats_get(tlp_pool *pool, tlp_stats *out);
int tlp__bufpool_create(const tlp_bufpool_config *cfg, tlp_bufpool **out);
void tlp__bufpool_stats_get(tlp_bufpool *bp, tlp_bufpool_stats *out);

#endif /* TLP_SIZED_H */
