/* SPDX-License-Identifier: MIT */
/*
 * The reference model of pool_ops_fuzzer (see pool_model.h): the object
 * table, the hooks that check every make/reset/release against it, and the
 * comparison with tlp_stats_get.
 *
 * What is exact here follows from the documented tier order and drain rule,
 * given that at every check only the main thread holds a thread cache (the
 * helper threads have exited and flushed theirs):
 *   - a get makes a new object only when no object is idle;
 *   - it returns an object of the victim generation (age 1) only when no
 *     younger idle object exists, and that is a victim hit;
 *   - right after a put on the main thread, the next get there returns the
 *     same object (the thread cache is a LIFO);
 *   - a drain releases exactly the objects that were already in the victim
 *     generation, and moves every other idle object there;
 *   - the pool never changes the bytes of an object it holds.
 */
#include "pool_model.h"

#include "fuzz_util.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hooked variants have max_idle or odd thread caches; own-allocation ones
 * have no max_idle, so every release they make is predictable. */
const variant variants[NVARIANTS] = {
    { "plain",     24,  0,    false, false, 4,  1, 0 },
    { "hooked",    48,  0,    true,  true,  2,  2, 0 },
    { "capped",    16,  0,    true,  true,  8,  3, 4 },
    { "aligned",   100, 64,   false, false, 1,  1, 0 },
    { "tiny-cap",  8,   0,    true,  false, 3,  0, 1 },
    { "page",      1,   4096, false, false, 0,  2, 0 },
    { "reset-own", 256, 0,    false, true,  5,  4, 0 },
    { "big",       512, 32,   true,  true,  16, 1, 16 },
};

static const char *const state_names[] = { "fresh", "out", "held by the helper thread",
                                           "being put", "idle" };

static enum phase phase;
static mpool *target;
static uint8_t next_tag = 1;

void model_phase(enum phase ph, mpool *t)
{
    phase = ph;
    target = t;
}

static size_t eff_align(const variant *v)
{
    return v->obj_align ? v->obj_align : alignof(max_align_t);
}

/* ---- the table ---------------------------------------------------------- */

mobj *model_find(mpool *mp, const void *p)
{
    for (size_t i = 0; i < mp->nobjs; i++)
        if (mp->objs[i].p == p)
            return &mp->objs[i];
    return NULL;
}

mobj *model_add(mpool *mp, void *p, enum obj_state st)
{
    if (mp->nobjs == mp->cap) {
        mp->cap = mp->cap ? 2 * mp->cap : 64;
        mp->objs = realloc(mp->objs, mp->cap * sizeof *mp->objs);
        FZ_CHECK(mp->objs != NULL, "out of memory in the model");
    }
    mobj *m = &mp->objs[mp->nobjs++];
    memset(m, 0, sizeof *m);
    m->p = p;
    m->state = (uint8_t)st;
    return m;
}

void model_remove(mpool *mp, mobj *m)
{
    *m = mp->objs[--mp->nobjs];
}

size_t model_count(const mpool *mp, enum obj_state st, int age)
{
    size_t n = 0;
    for (size_t i = 0; i < mp->nobjs; i++)
        n += mp->objs[i].state == st && (age < 0 || mp->objs[i].age == age);
    return n;
}

void model_fill(mpool *mp, mobj *m)
{
    m->tag = next_tag++;
    memset(m->p, m->tag, mp->v->obj_size);
}

void model_check_bytes(const mpool *mp, const mobj *m)
{
    const unsigned char *b = m->p;
    size_t i = fz_first_not(b, mp->v->obj_size, m->tag);
    FZ_CHECK(i == mp->v->obj_size, "pool %s: byte %zu of idle object %p changed from 0x%02x to 0x%02x",
             mp->name, i, m->p, m->tag, b[i]);
}

/* ---- hooks (ctx is the mpool) ------------------------------------------- */

/* Hooks may use pools: every obj_free makes a pool, uses it, drains and
 * destroys it, wherever the library calls the hook from (put, drains,
 * release_idle_all, thread exit, destroy, races). */
static void hook_uses_pools(void)
{
    tlp_config c = { .obj_size = 24, .thread_cache = 2, .shards = 1, .name = "in-hook" };
    tlp_pool *p = NULL;
    FZ_CHECK(tlp_pool_create(&c, &p) == 0, "tlp_pool_create inside obj_free failed");
    void *o = tlp_get(p);
    FZ_CHECK(o != NULL, "tlp_get inside obj_free failed");
    tlp_put(p, o);
    tlp_drain(p);
    tlp_pool_destroy(p);
}

static void *hook_new(void *ctx)
{
    mpool *mp = ctx;
    pthread_mutex_lock(&mp->lock);
    FZ_CHECK(phase == PH_GET || phase == PH_THREAD || phase == PH_RACE,
             "pool %s: obj_new called outside tlp_get (phase %d)", mp->name, (int)phase);
    FZ_CHECK(target == mp, "pool %s: obj_new called during an operation on another pool", mp->name);
    mp->hook_new++;
    void *p = NULL;
    if (mp->fail_next_new) {
        mp->fail_next_new = false;
        mp->hook_new_failed++;
    } else {
        size_t a = eff_align(mp->v);
        p = aligned_alloc(a, (mp->v->obj_size + a - 1) / a * a);
        FZ_CHECK(p != NULL, "out of memory in obj_new");
        model_add(mp, p, ST_FRESH);
        mp->made++;
    }
    pthread_mutex_unlock(&mp->lock);
    return p;
}

static bool hook_reset(void *obj, void *ctx)
{
    mpool *mp = ctx;
    pthread_mutex_lock(&mp->lock);
    mp->hook_reset++;
    mobj *m = model_find(mp, obj);
    FZ_CHECK(m && m->state == ST_PUTTING, "pool %s: obj_reset(%p) on an object %s", mp->name, obj,
             m ? state_names[m->state] : "the pool never made");
    bool keep = !m->refuse;
    pthread_mutex_unlock(&mp->lock);
    return keep;
}

static void hook_free(void *obj, void *ctx)
{
    mpool *mp = ctx;
    pthread_mutex_lock(&mp->lock);
    mobj *m = model_find(mp, obj);
    FZ_CHECK(m, "pool %s: obj_free(%p): not an object of this pool, or released twice", mp->name, obj);
    FZ_CHECK(target == NULL || target == mp, "pool %s: obj_free during an operation on pool %s",
             mp->name, target->name);
    bool idle = m->state == ST_IDLE, putting = m->state == ST_PUTTING;
    bool refused = putting && m->refuse && mp->v->reset;
    const char *st = state_names[m->state];
    switch (phase) {
    case PH_PUT:
        /* The object being put, refused; or a magazine of the main thread's
         * cache released whole because the shared tier is at max_idle. */
        FZ_CHECK(refused || (idle && m->age == 0 && mp->v->max_idle),
                 "pool %s: tlp_put released object %p (%s, age %u)", mp->name, obj, st, m->age);
        if (refused)
            mp->dropped_reset++;
        else
            mp->by_cap++;
        break;
    case PH_THREAD:
        /* Refused, or young objects over the cap when the helper's cache
         * spills or is flushed at its exit (victim objects never pass
         * through a thread cache: a rescue takes one object). */
        FZ_CHECK(refused || (idle && m->age == 0 && mp->v->max_idle),
                 "pool %s: helper thread released object %p (%s)", mp->name, obj, st);
        if (refused)
            mp->dropped_reset++;
        else
            mp->by_cap++;
        break;
    case PH_DRAIN:
        FZ_CHECK(idle && m->age == 1,
                 "pool %s: tlp_drain released object %p (%s, age %u): only the victim "
                 "generation may go", mp->name, obj, st, m->age);
        mp->by_drain++;
        break;
    case PH_RELEASE:
    case PH_DESTROY:
        FZ_CHECK(idle, "pool %s: released object %p which is %s", mp->name, obj, st);
        break;
    case PH_RACE:
        /* Cause counters are taken from the stats after the race. */
        FZ_CHECK(idle || putting, "pool %s: released object %p which is %s", mp->name, obj, st);
        break;
    default:
        FZ_CHECK(0, "pool %s: obj_free(%p) during phase %d", mp->name, obj, (int)phase);
    }
    model_remove(mp, m);
    mp->released++;
    pthread_mutex_unlock(&mp->lock);
    free(obj);
    hook_uses_pools();
}

/* ---- lifecycle ---------------------------------------------------------- */

/* Whether TLPOOL_CONF samples leak records one in N > 1 (its last leaks
 * key counts, as in conf.c). Such pools without a reset hook run in the
 * split window mode (where the inline path exists; the model's checks are
 * only weaker where it does not). */
static bool conf_sampled(void)
{
    const char *c = getenv("TLPOOL_CONF");
    bool sampled = false;
    for (const char *k = c; k && (k = strstr(k, "leaks:")) != NULL; k += 6) {
        if (k != c && k[-1] != ',')
            continue;
        char *end;
        unsigned long n = strtoul(k + 6, &end, 10);
        sampled = end != k + 6 && n > 1;
    }
    return sampled;
}

void model_create(mpool *mp, const variant *v, unsigned id)
{
    memset(mp, 0, sizeof *mp);
    mp->v = v;
    snprintf(mp->name, sizeof mp->name, "%s#%u", v->name, id);
    pthread_mutex_init(&mp->lock, NULL);
    tlp_config cfg = {
        .obj_size = v->obj_size,
        .obj_align = v->obj_align,
        .obj_new = v->hooks ? hook_new : NULL,
        .obj_free = v->hooks ? hook_free : NULL,
        .obj_reset = v->reset ? hook_reset : NULL,
        .ctx = mp,
        .thread_cache = v->thread_cache,
        .shards = v->shards,
        .max_idle = v->max_idle,
        .name = mp->name,
    };
    mp->window = !v->reset && conf_sampled();
    int err = tlp_pool_create(&cfg, &mp->pool);
    FZ_CHECK(err == 0, "tlp_pool_create(%s) failed: %d", mp->name, err);
    FZ_CHECK(strcmp(tlp_pool_name(mp->pool), mp->name) == 0, "pool name '%s', expected '%s'",
             tlp_pool_name(mp->pool), mp->name);
}

void model_destroy(mpool *mp)
{
    FZ_CHECK(model_count(mp, ST_IDLE, -1) == mp->nobjs,
             "pool %s: destroy with objects out (harness bug)", mp->name);
    model_check_stats(mp);
    model_phase(PH_DESTROY, mp);
    tlp_pool_destroy(mp->pool);
    model_phase(PH_NONE, NULL);
    model_released(mp);
    FZ_CHECK(mp->released == mp->made, "pool %s: destroyed with %llu made, %llu released",
             mp->name, (unsigned long long)mp->made, (unsigned long long)mp->released);
    free(mp->objs);
    pthread_mutex_destroy(&mp->lock);
    memset(mp, 0, sizeof *mp);
}

/* ---- operations of the main thread -------------------------------------- */

void model_got(mpool *mp, void *p, int err)
{
    size_t idle0 = model_count(mp, ST_IDLE, 0), idle1 = model_count(mp, ST_IDLE, 1);
    if (!p) {
        mp->new_failed++;
        FZ_CHECK(err == ENOMEM, "pool %s: tlp_get returned NULL with errno %d", mp->name, err);
        FZ_CHECK(mp->v->hooks && mp->hook_new_failed == mp->new_failed,
                 "pool %s: tlp_get returned NULL but obj_new did not fail", mp->name);
        FZ_CHECK(idle0 + idle1 == 0, "pool %s: tlp_get called obj_new while %zu objects were idle",
                 mp->name, idle0 + idle1);
        return;
    }
    mobj *m = model_find(mp, p);
    bool fresh;
    if (mp->v->hooks) {
        FZ_CHECK(m, "pool %s: tlp_get returned %p, which obj_new never made (or it was released)",
                 mp->name, p);
        fresh = m->state == ST_FRESH;
    } else {
        fresh = m == NULL;
        if (fresh) {
            m = model_add(mp, p, ST_FRESH);
            mp->made++;
            FZ_CHECK((uintptr_t)p % eff_align(mp->v) == 0, "pool %s: object %p not aligned to %zu",
                     mp->name, p, eff_align(mp->v));
        }
    }
    if (fresh) {
        /* Made ahead (window mode without obj_new): made while others idle. */
        FZ_CHECK(idle0 + idle1 == 0 || (mp->window && !mp->v->hooks),
                 "pool %s: tlp_get made a new object while %zu were idle", mp->name, idle0 + idle1);
    } else {
        FZ_CHECK(m->state == ST_IDLE, "pool %s: tlp_get returned %p, which is %s (handed out twice?)",
                 mp->name, p, state_names[m->state]);
        if (idle0 && !mp->window) {
            FZ_CHECK(m->age == 0, "pool %s: tlp_get rescued %p from the victim generation while "
                     "%zu younger objects were idle", mp->name, p, idle0);
        } else if (m->age != 0) {
            mp->hits_victim++;
        }
        FZ_CHECK(!mp->last_put || p == mp->last_put || mp->window,
                 "pool %s: tlp_get returned %p, not %p which was just put (LIFO cache)", mp->name, p,
                 mp->last_put);
        model_check_bytes(mp, m);
    }
    m->state = ST_OUT;
    m->refuse = false;
    FZ_CHECK(model_count(mp, ST_FRESH, -1) == 0,
             "pool %s: obj_new made an object that tlp_get did not return", mp->name);
    mp->gets++;
    mp->last_put = NULL;
    model_fill(mp, m);
}

void model_put_begin(mpool *mp, mobj *m, bool refuse)
{
    m->refuse = refuse;
    m->state = ST_PUTTING;
    mp->put_refuse = refuse;
    model_phase(PH_PUT, mp);
}

void model_put_end(mpool *mp, void *p)
{
    model_phase(PH_NONE, NULL);
    mp->puts++;
    mobj *m = model_find(mp, p);
    if (mp->v->reset && mp->put_refuse) {
        if (mp->v->hooks) {
            FZ_CHECK(!m, "pool %s: object %p refused by obj_reset was not released", mp->name, p);
        } else {
            FZ_CHECK(m && m->state == ST_PUTTING, "harness: refused object lost");
            model_remove(mp, m);
            mp->released++;
            mp->dropped_reset++;
        }
        mp->last_put = NULL;
    } else {
        FZ_CHECK(m && m->state == ST_PUTTING, "pool %s: object %p was released by its own put",
                 mp->name, p);
        m->state = ST_IDLE;
        m->age = 0;
        m->refuse = false;
        mp->last_put = p;
    }
}

void model_drained(mpool *mp)
{
    if (mp->v->hooks) {
        FZ_CHECK(model_count(mp, ST_IDLE, 1) == 0,
                 "pool %s: tlp_drain left %zu objects of the victim generation alive", mp->name,
                 model_count(mp, ST_IDLE, 1));
    } else {
        for (size_t i = mp->nobjs; i-- > 0;) {
            if (mp->objs[i].state == ST_IDLE && mp->objs[i].age == 1) {
                model_remove(mp, &mp->objs[i]);
                mp->released++;
                mp->by_drain++;
            }
        }
    }
    for (size_t i = 0; i < mp->nobjs; i++)
        if (mp->objs[i].state == ST_IDLE)
            mp->objs[i].age = 1;
    mp->drains++;
    mp->last_put = NULL;
}

void model_released(mpool *mp)
{
    if (mp->v->hooks) {
        FZ_CHECK(model_count(mp, ST_IDLE, -1) == 0, "pool %s: %zu idle objects survived a release",
                 mp->name, model_count(mp, ST_IDLE, -1));
    } else {
        for (size_t i = mp->nobjs; i-- > 0;) {
            if (mp->objs[i].state == ST_IDLE) {
                model_remove(mp, &mp->objs[i]);
                mp->released++;
            }
        }
    }
    mp->last_put = NULL;
}

/* ---- statistics --------------------------------------------------------- */

#define EQ(field, want)                                                                     \
    FZ_CHECK(s.field == (uint64_t)(want), "pool %s: stats." #field " = %llu, model %llu",  \
             mp->name, (unsigned long long)s.field, (unsigned long long)(want))

void model_check_stats(mpool *mp)
{
    tlp_stats s;
    tlp_stats_get(mp->pool, &s);
    size_t young = model_count(mp, ST_IDLE, 0), old = model_count(mp, ST_IDLE, 1);
    FZ_CHECK(s.name && strcmp(s.name, mp->name) == 0, "pool %s: stats.name '%s'", mp->name,
             s.name ? s.name : "(null)");
    EQ(out, model_count(mp, ST_OUT, -1));
    if (mp->window && !mp->v->hooks) {
        /* Objects made ahead that no get has returned yet (the model
         * learns of an object when a get returns it): the library's made
         * and released counts are ahead of the model's by them. */
        FZ_CHECK(s.made >= mp->made && s.released >= mp->released &&
                     s.made - mp->made >= s.released - mp->released,
                 "pool %s: made %llu, released %llu; model %llu, %llu", mp->name,
                 (unsigned long long)s.made, (unsigned long long)s.released,
                 (unsigned long long)mp->made, (unsigned long long)mp->released);
        uint64_t unseen = (s.made - mp->made) - (s.released - mp->released);
        unsigned cap = mp->v->thread_cache ? mp->v->thread_cache : 128;
        FZ_CHECK(unseen <= (cap > 1 ? cap / 2 : 1), "pool %s: %llu objects made ahead", mp->name,
                 (unsigned long long)unseen);
        EQ(idle, young + old + unseen);
        FZ_CHECK(s.idle_victim >= old && s.idle_victim <= old + unseen,
                 "pool %s: stats.idle_victim = %llu, model %zu (+ %llu made ahead)", mp->name,
                 (unsigned long long)s.idle_victim, old, (unsigned long long)unseen);
        FZ_CHECK(s.released_by_drain >= mp->by_drain &&
                     s.released_by_drain <= mp->by_drain + (s.released - mp->released),
                 "pool %s: stats.released_by_drain = %llu, model %llu", mp->name,
                 (unsigned long long)s.released_by_drain, (unsigned long long)mp->by_drain);
        FZ_CHECK(s.hits_victim >= mp->hits_victim, "pool %s: stats.hits_victim = %llu, model %llu",
                 mp->name, (unsigned long long)s.hits_victim, (unsigned long long)mp->hits_victim);
    } else {
        EQ(idle, young + old);
        EQ(idle_victim, old);
        EQ(idle_thread + s.idle_shared, young);
        EQ(made, mp->made);
        EQ(made_on_get, mp->made);
        EQ(released, mp->released);
        EQ(released_by_drain, mp->by_drain);
        EQ(hits_victim, mp->hits_victim);
    }
    EQ(gets, mp->gets);
    EQ(puts, mp->puts);
    EQ(new_failed, mp->new_failed);
    EQ(dropped_reset, mp->dropped_reset);
    EQ(released_by_cap, mp->by_cap);
    EQ(drains, mp->drains);
    /* The documented identities. */
    EQ(gets, s.hits_thread + s.hits_shared + s.hits_victim + s.made_on_get);
    EQ(made, s.released + s.idle + s.out);
    FZ_CHECK(s.threads <= 1, "pool %s: stats.threads = %llu with only the main thread alive",
             mp->name, (unsigned long long)s.threads);
    /* thread_cache: "objects one thread keeps for this pool". */
    unsigned tc = mp->v->thread_cache ? mp->v->thread_cache : 128;
    FZ_CHECK(s.idle_thread <= tc, "pool %s: %llu objects in a thread cache of %u",
             mp->name, (unsigned long long)s.idle_thread, tc);
    if (mp->v->max_idle)
        FZ_CHECK(s.idle_shared <= mp->v->max_idle, "pool %s: %llu objects in the shared tier, max_idle %zu",
                 mp->name, (unsigned long long)s.idle_shared, mp->v->max_idle);
    /* Every hook call accounted for. */
    if (mp->v->hooks) {
        FZ_CHECK(mp->hook_new == mp->made + mp->new_failed, "pool %s: obj_new called %llu times",
                 mp->name, (unsigned long long)mp->hook_new);
        FZ_CHECK(mp->hook_new_failed == mp->new_failed, "pool %s: hook failures", mp->name);
    }
    FZ_CHECK(mp->hook_reset == (mp->v->reset ? mp->puts : 0),
             "pool %s: obj_reset called %llu times for %llu puts", mp->name,
             (unsigned long long)mp->hook_reset, (unsigned long long)mp->puts);
}
