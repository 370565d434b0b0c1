/* SPDX-License-Identifier: MIT */
/*
 * Pool lifecycle: configuration checks, create, destroy, name, version.
 */
#include "conf.h"
#include "internal.h"
#include "leak.h"
#include "sized.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

unsigned tlp_version(void)
{
    return TLP_VERSION_HEX;
}

unsigned tlp_build_features(void)
{
    unsigned f = 0;
#ifdef TLP_CHECKED
    f |= TLP_FEATURE_CHECKED;
#endif
#ifdef TLP_POISON
    f |= TLP_FEATURE_POISON;
#endif
#ifdef TLP_FENCED
    f |= TLP_FEATURE_FENCED;
#endif
#if TLP_FASTPATH
    f |= TLP_FEATURE_FASTPATH;
#endif
    return f;
}

static int check_config(const tlp_config *cfg)
{
    if (!cfg || cfg->obj_size == 0 || cfg->obj_size > PTRDIFF_MAX / 2)
        return EINVAL;
    size_t a = cfg->obj_align;
    if (a & (a - 1) || a > TLP_MAX_ALIGN)
        return EINVAL;
    if (!cfg->obj_new != !cfg->obj_free)
        return EINVAL;
    if (cfg->thread_cache > TLP_MAX_THREAD_CACHE || cfg->shards > TLP_MAX_SHARDS)
        return EINVAL;
    return 0;
}

static uint32_t default_shards(void)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);
    if (n < 1)
        n = 1;
    return n > 64 ? 64 : (uint32_t)n;
}

/* cls: a buffer pool's class (TLPOOL_CONF's pool defaults do not apply). */
static int create(const tlp_config *cfg, tlp_pool **out, bool cls)
{
    if (!out)
        return EINVAL;
    int err = check_config(cfg);
    if (err)
        return err;
    const tlp__conf_t *conf = tlp__conf();

    uint32_t nshards = cfg->shards ? cfg->shards : default_shards();
    size_t size = sizeof(tlp_pool) + nshards * sizeof(tlp_shard) + sizeof(tlp__pool_life);
    size = (size + TLP_CACHELINE - 1) & ~(size_t)(TLP_CACHELINE - 1);
    tlp_pool *pool = aligned_alloc(TLP_CACHELINE, size);
    if (!pool)
        return ENOMEM;
    memset(pool, 0, size);
    pool->name = strdup(cfg->name ? cfg->name : "");
    if (!pool->name) {
        free(pool);
        return ENOMEM;
    }
    pool->magic = TLP_POOL_MAGIC;
    pool->obj_size = cfg->obj_size;
    pool->obj_align = cfg->obj_align ? cfg->obj_align : _Alignof(max_align_t);
    pool->obj_new = cfg->obj_new;
    pool->obj_reset = cfg->obj_reset;
    pool->obj_free = cfg->obj_free;
    pool->ctx = cfg->ctx;
    pool->buf_class = cls;
    pool->nshards = nshards; /* tlp__life() needs it */
    tlp__life(pool)->zero_new = cfg->zero_new;
    unsigned tc = cfg->thread_cache                ? cfg->thread_cache
                  : !cls && conf->thread_cache != 0 ? conf->thread_cache
                                                    : TLP_DEFAULT_THREAD_CACHE;
    /* Two magazines of tc/2 (rounded down: a thread never keeps more than
     * tc); thread_cache 1 gets a single magazine of one. */
    /* A magazine's count is 16 bits (tlp__mag_word). */
    _Static_assert(TLP_MAX_THREAD_CACHE / 2 < 65536u, "magazine count is 16 bits");
    pool->mag_cap = tc > 1 ? tc / 2 : 1;
    pool->two_mags = tc > 1;
    /* Checked builds send every put out of line (fast_cap 0). A reset hook
     * runs on every put: the inline tlp_put calls it before pushing (see
     * put_slot below), so the magazines of such pools take inline pushes. */
    pool->fast_cap = TLP_FASTPATH ? pool->mag_cap : 0;
    pool->head.reset = cfg->obj_reset;
    pool->head.ctx = cfg->ctx;
    pool->max_idle = cfg->max_idle;
    pool->drain_ms = cfg->drain_ms ? cfg->drain_ms : cls ? 0 : conf->drain_ms;
    /* Leak tracking: every get and put must reach the slow paths. */
    unsigned sample = cfg->leak_sample ? cfg->leak_sample : conf->leaks;
    if (sample) {
        pool->leaks = tlp__leaks_new(sample, cfg->obj_reset != NULL);
        if (!pool->leaks) {
            free(pool->name);
            free(pool);
            return ENOMEM;
        }
        pool->hidden = true;
        pool->fast_cap = 0; /* puts reach leak.c (sampled pools' go to a put magazine: leak.c) */
        tlp__exit_report_leaks();
    }
    pthread_mutex_init(&pool->drain_lock, NULL);
    pthread_mutex_init(&pool->victim_lock, NULL);
    pthread_mutex_init(&pool->spare_lock, NULL);
    for (uint32_t i = 0; i < nshards; i++)
        tlp__lock_init(&pool->shards[i].lock);
#ifdef TLP_CHECKED
    pthread_mutex_init(&pool->check_lock, NULL);
#endif
    (void)tlp__heavy_barrier_available(); /* register membarrier early */
    tlp__fork_init();

    uint32_t put_slot2 = TLP__NO_SLOT;
    pthread_mutex_lock(&tlp__registry_lock);
    err = tlp__slot_alloc(pool);
    /* A split-window pool's put magazine has a slot of its own (leak.c);
     * not a buffer pool's class (its puts are locked: the per-thread cap). */
    if (!err && !cls && tlp__leaks_split(pool->leaks)) {
        err = tlp__slot_reserve(&put_slot2);
        if (err)
            tlp__slot_free(pool->head.slot);
    }
    pthread_mutex_unlock(&tlp__registry_lock);
    if (err) {
        tlp__leaks_free(pool->leaks);
        free(pool->name);
        free(pool);
        return err;
    }
    /* What the inline tlp_put uses (tlp__pool_head): checked builds and
     * leak-tracked pools put out of line; a reset hook is called inline. */
    if (put_slot2 != TLP__NO_SLOT)
        pool->head.put_slot = put_slot2;
    else if (!TLP_FASTPATH || pool->leaks)
        pool->head.put_slot = TLP__PUT_SLOW;
    else if (cfg->obj_reset)
        pool->head.put_slot = pool->head.slot | TLP__PUT_RESET;
    else
        pool->head.put_slot = pool->head.slot;
    if (pool->drain_ms && tlp__drainer_add(pool) != 0) {
        pthread_mutex_lock(&tlp__registry_lock);
        tlp__slot_free(pool->head.slot);
        if (put_slot2 != TLP__NO_SLOT)
            tlp__slot_free(put_slot2);
        pthread_mutex_unlock(&tlp__registry_lock);
        tlp__leaks_free(pool->leaks);
        free(pool->name);
        free(pool);
        return ENOMEM;
    }
    *out = pool;
    return 0;
}

/* The sized entry points (sized.c) call this with a full struct. */
int tlp__pool_create(const tlp_config *cfg, tlp_pool **out)
{
    return create(cfg, out, false);
}

int tlp__pool_create_class(const tlp_config *cfg, tlp_pool **out)
{
    return create(cfg, out, true);
}

#ifdef TLP_CHECKED
/* Destroyed pools stay allocated (and reachable) in checked builds, so a use
 * after destroy is caught by the magic check instead of reading freed memory.
 * The last GRAVES of them: a program that creates and destroys pools all its
 * life must not grow without bound (found by config_fuzzer: out of memory). */
#define GRAVES 4096
static pthread_mutex_t graveyard_lock = PTHREAD_MUTEX_INITIALIZER;
static tlp_pool *graveyard[GRAVES];
static unsigned grave_next;

static void bury(tlp_pool *pool)
{
    pthread_mutex_lock(&graveyard_lock);
    tlp_pool *oldest = graveyard[grave_next];
    graveyard[grave_next] = pool;
    grave_next = (grave_next + 1) % GRAVES;
    pthread_mutex_unlock(&graveyard_lock);
    if (oldest) {
        free(oldest->name);
        free(oldest);
    }
}
#endif

void tlp_pool_destroy(tlp_pool *pool)
{
    if (!pool)
        return;
    tlp__check_pool(pool, "tlp_pool_destroy");
    tlp__lib_enter(pool, "tlp_pool_destroy");
    if (pool->drain_ms)
        tlp__drainer_remove(pool); /* waits for a drain in flight */
    /* Objects still out: a warning naming their sites (checked builds then
     * stop in tlp__check_destroy). Printed with no lock held. */
    if (pool->leaks)
        tlp__leaks_report(stderr, pool, 0, "tlp_pool_destroy with objects out: ", true);

    pthread_mutex_lock(&tlp__registry_lock);
    tlp__ref_wait_none(pool);
    tlp__check_destroy(pool); /* reports objects still out (checked builds) */
    tlp__mag *mags = tlp__take_thread_mags(pool, true, true);
    tlp__slot_free(pool->head.slot);
    if (tlp__put_slot2(pool) != TLP__NO_SLOT)
        tlp__slot_free(tlp__put_slot2(pool));
    pthread_mutex_unlock(&tlp__registry_lock);

    tlp__release_mags(pool, mags, NULL);
    tlp__release_mags(pool, tlp__shard_take_all(pool), NULL);
    tlp__release_mags(pool, tlp__victim_swap(pool, NULL, 0), NULL);
    tlp__mag_free_spares(pool);

    pthread_mutex_destroy(&pool->drain_lock);
    pthread_mutex_destroy(&pool->victim_lock);
    pthread_mutex_destroy(&pool->spare_lock);
    pool->magic = TLP_POOL_DEAD;
    tlp__leaks_free(pool->leaks);
    pool->leaks = NULL;
#ifdef TLP_CHECKED
    free(pool->out_set);
    free(pool->out_taker);
    pool->out_set = NULL;
    pool->out_taker = NULL;
    bury(pool);
#else
    free(pool->name);
    free(pool);
#endif
    tlp__lib_leave();
}

const char *tlp_pool_name(const tlp_pool *pool)
{
    return pool->name;
}
