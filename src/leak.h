/* SPDX-License-Identifier: MIT */
/*
 * Leak tracking (leak.c): per pool, a record of every object out (or one in
 * N, sampled) with the time it was taken and where. A tracked pool's
 * magazines are never installed for the inline fast path (pool->hidden), so
 * every get and put reaches tlp__get_slow_at / tlp__put_slow, which call
 * these two when pool->leaks is set. Pools without tracking never get here.
 */
#ifndef TLP_LEAK_H
#define TLP_LEAK_H

#include "internal.h"

#include <stdio.h>

/* A table for a pool tracking one object in `sample` (1: every object;
 * TLP_LEAK_TRACE: every object with a backtrace). NULL: out of memory. */
struct tlp__leaks *tlp__leaks_new(unsigned sample);
void tlp__leaks_free(struct tlp__leaks *leaks);

/* obj was handed out by pool; site is the return address of the user's call. */
void tlp__leak_took(tlp_pool *pool, void *obj, void *site);
/* obj came back to pool. */
void tlp__leak_gave(tlp_pool *pool, void *obj);

/* Prints pool's records older than min_age_ms (the format of
 * tlp_leaks_print); `why` prefixes the pool line ("" or "destroy"). Returns
 * the number of objects reported. */
size_t tlp__leaks_report(FILE *out, tlp_pool *pool, unsigned min_age_ms, const char *why);

#endif
