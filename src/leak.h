/* SPDX-License-Identifier: MIT */
/*
 * Leak tracking (leak.c): per pool, a record of every object out (or one in
 * N, sampled) with the time it was taken and where. A tracked pool's slot
 * shows the inline fast path its tslot's mark (pool->hidden), so every get and
 * put reaches tlp__get_slow_at / tlp__put_slow, which call tlp__leak_get /
 * tlp__leak_put (lock-free), and the locked paths call tlp__leak_took /
 * tlp__leak_gave. Sampled pools without a reset hook run most gets and puts
 * inline (leak.c: window mode, split window). Pools without tracking never
 * get here.
 */
#ifndef TLP_LEAK_H
#define TLP_LEAK_H

#include "internal.h"

#include <stdio.h>

/* A table for a pool tracking one object in `sample` (1: every object;
 * TLP_LEAK_TRACE: every object with a backtrace), with or without a reset
 * hook. NULL: out of memory. */
struct tlp__leaks *tlp__leaks_new(unsigned sample, bool reset_hook);
void tlp__leaks_free(struct tlp__leaks *leaks);
/* Whether the pool runs in split-window mode (leak.c): a second slot for its
 * put magazine. False for NULL. */
bool tlp__leaks_split(const struct tlp__leaks *leaks);

/* A split-window pool's put magazine of ts, taken from its thread (the
 * thread lock held, the owner kept out as by a drain, or the owner
 * itself), the records of the objects put into it inline forgotten. NULL
 * if none (and for every other pool). The _fork variant is for a fork()ed
 * child's handler, which holds the leak tables' locks. */
tlp__mag *tlp__leak_take_put(tlp_pool *pool, tlp_tslot *ts);
tlp__mag *tlp__leak_take_put_fork(tlp_pool *pool, tlp_tslot *ts);

/* obj was handed out by pool; site is the return address of the user's call. */
void tlp__leak_took(tlp_pool *pool, void *obj, void *site);
/* obj came back to pool. */
void tlp__leak_gave(tlp_pool *pool, void *obj);

#if TLP_FASTPATH
/* A tracked pool's get / put (pool checked already) from the calling
 * thread's magazines without the thread lock, recording / forgetting the
 * object; they call tlp__get_locked / tlp__put_locked (cache.c) where the
 * locked path must act. tlp__leak_put is for pools without a reset hook. */
void *tlp__leak_get(tlp_pool *pool, void *site);
void tlp__leak_put(tlp_pool *pool, void *obj);
#endif

/* Prints pool's records older than min_age_ms (the format of
 * tlp_leaks_print); `why` prefixes the pool line ("" or "destroy"). Returns
 * the number of objects reported. The records of objects in put magazines
 * (split window) are forgotten first: with a drain's handshake, or, when
 * destroying (nobody uses the pool), without. */
size_t tlp__leaks_report(FILE *out, tlp_pool *pool, unsigned min_age_ms, const char *why,
                         bool destroying);

#endif
