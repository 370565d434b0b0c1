/* SPDX-License-Identifier: MIT */
/*
 * Statistics. The fast path counts only its puts, per thread and per slot,
 * with a plain increment; everything else is derived (see tlp_stats in
 * tlpool.h) from those, the slow paths' relaxed atomic counters and the idle
 * counts of each tier.
 */
#include "internal.h"
#include "sized.h"

#include <string.h>

/* Reads fields that owners update in their fast path without atomics: a
 * racy but benign read of aligned words (statistics are documented as
 * approximate while threads run). Hidden from TSan for that reason only. */
#if defined(__clang__) || __GNUC__ >= 8
__attribute__((no_sanitize("thread")))
#endif
__attribute__((noinline)) static void read_thread(tlp_tslot *ts, bool split, uint64_t *idle,
                                                   uint64_t *puts, bool *has)
{
    /* A split-window pool's put magazine too (leak.c). */
    const tlp__mag *mags[3] = { ts->cur, ts->prev, split ? tlp__split_of(ts)->put : NULL };
    *has = false;
    for (int i = 0; i < 3; i++) {
        if (!mags[i])
            continue;
        /* One read of the word that holds both (tlp__mag_word). */
        uint64_t w = *(const volatile uint64_t *)&mags[i]->n.word;
        *idle += w & 0xffffu;
        *puts += w >> 16;
        *has = true;
    }
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

void tlp__stats_get(tlp_pool *pool, tlp_stats *out)
{
    tlp__check_pool(pool, "tlp_stats_get");
    uint64_t idle_thread = 0, fast_puts = 0, threads = 0;
    bool split = tlp__put_slot2(pool) != TLP__NO_SLOT;

    /* Only the pool's holders: the threads with a cache of it. */
    pthread_mutex_lock(&tlp__registry_lock);
    for (tlp_tslot *ts = pool->holders; ts; ts = ts->hnext) {
        bool has = false;
        tlp__lock_take(&ts->rec->lock);
        read_thread(ts, split, &idle_thread, &fast_puts, &has);
        tlp__lock_drop(&ts->rec->lock);
        threads += has;
    }
    pthread_mutex_unlock(&tlp__registry_lock);

    memset(out, 0, sizeof *out);
    out->name = pool->name;
    out->idle_thread = idle_thread;
    for (uint32_t i = 0; i < pool->nshards; i++)
        out->idle_shared += atomic_load_explicit(&pool->shards[i].objs, memory_order_relaxed);
    out->idle_victim = tlp__relaxed_get(&pool->victim_objs);
    out->idle = out->idle_thread + out->idle_shared + out->idle_victim;
    out->made = out->made_on_get = tlp__relaxed_get(&pool->made);
    out->new_failed = tlp__relaxed_get(&pool->new_failed);
    out->released = tlp__relaxed_get(&pool->released);
    out->dropped_reset = tlp__relaxed_get(&pool->dropped_reset);
    out->released_by_drain = tlp__relaxed_get(&pool->released_by_drain);
    out->released_by_cap = tlp__relaxed_get(&pool->released_by_cap);
    out->drains = tlp__relaxed_get(&pool->drains);
    uint64_t hits_shared = tlp__relaxed_get(&pool->hits_shared);
    uint64_t slow_puts = tlp__relaxed_get(&pool->slow_puts);
    uint64_t retired_puts = tlp__relaxed_get(&pool->retired_puts);
    for (uint32_t i = 0; i < pool->nshards; i++) {
        hits_shared += tlp__relaxed_get(&pool->shards[i].hits_shared);
        slow_puts += tlp__relaxed_get(&pool->shards[i].slow_puts) +
                     tlp__relaxed_get(&pool->shards[i].puts_traded);
        retired_puts += tlp__relaxed_get(&pool->shards[i].retired_puts);
    }
    out->hits_shared = hits_shared;
    out->hits_victim = tlp__relaxed_get(&pool->hits_victim);
    out->puts = fast_puts + retired_puts + slow_puts;
    /* made = released + idle + out, and every get adds one to out. */
    out->out = sub0(out->made, out->released + out->idle);
    out->gets = out->puts + out->out;
    out->hits_thread = sub0(out->gets, out->hits_shared + out->hits_victim + out->made);
    out->threads = threads;
}
