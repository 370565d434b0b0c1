/* SPDX-License-Identifier: MIT */
/*
 * The reference model behind pool_ops_fuzzer: what a tlp_pool must hold and
 * count after each operation, written as plainly as possible.
 *
 * Every object the harness has ever seen from a pool is an entry in that
 * pool's table, with its state (out, idle, being put, ...) and, when idle,
 * its age: 0 after a put, 1 after one drain (it is then in the victim
 * generation and the next drain must release it). Pools with hooks report
 * every object they make and release through obj_new/obj_free, which check
 * the release against the table and the operation in progress (the phase);
 * for pools without hooks the model applies the releases the API promises.
 * tlp_stats_get must then agree with the table and the counters exactly.
 */
#ifndef TLP_FUZZ_POOL_MODEL_H
#define TLP_FUZZ_POOL_MODEL_H

#include "tlpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A pool configuration the fuzzer can pick. */
typedef struct variant {
    const char *name;
    size_t obj_size, obj_align;
    bool hooks;              /* obj_new + obj_free from the model */
    bool reset;              /* obj_reset from the model (refuses flagged objects) */
    unsigned thread_cache, shards;
    size_t max_idle;         /* only with hooks: cap releases are observed, not predicted */
} variant;

#define NVARIANTS 8
extern const variant variants[NVARIANTS];

enum obj_state {
    ST_FRESH,    /* made by obj_new inside a tlp_get that has not returned yet */
    ST_OUT,      /* held by the main thread */
    ST_HELD,     /* held by the helper thread */
    ST_PUTTING,  /* inside tlp_put (the reset hook may run, a refusal releases it) */
    ST_IDLE,     /* in the pool */
};

typedef struct mobj {
    void *p;
    uint8_t state;
    uint8_t age;        /* ST_IDLE: 0 after a put, 1 after one drain */
    uint8_t tag;        /* the byte the object's memory is filled with */
    bool refuse;        /* the reset hook will refuse it */
} mobj;

typedef struct mpool {
    tlp_pool *pool;
    const variant *v;
    char name[32];
    mobj *objs;
    size_t nobjs, cap;
    /* Expected values of the tlp_stats counters since create. */
    uint64_t made, released, gets, puts, new_failed, dropped_reset, by_drain, by_cap,
        drains, hits_victim;
    /* Hook calls seen. */
    uint64_t hook_new, hook_new_failed, hook_reset;
    bool fail_next_new;  /* the next obj_new returns NULL */
    bool put_refuse;     /* the main thread's put in progress asked for a refusal */
    void *last_put;      /* the main thread's cache top: the next get returns it */
    bool window;         /* sampled leak tracking without a reset hook (TLPOOL_CONF):
                          * the get window and put magazine are apart, so the
                          * cache is not LIFO, and without obj_new objects may
                          * be made ahead (docs/DESIGN.md, "Leak tracking") */
    pthread_mutex_t lock;/* the table, while the helper thread runs */
} mpool;

/* What the main thread is doing: decides which hook calls are legal. */
enum phase { PH_NONE, PH_GET, PH_PUT, PH_DRAIN, PH_RELEASE, PH_DESTROY, PH_THREAD, PH_RACE };
void model_phase(enum phase ph, mpool *target); /* target NULL: any pool */

/* Creates mp->pool with variant v (aborts on failure: the configs are valid). */
void model_create(mpool *mp, const variant *v, unsigned id);
/* Destroys the pool: every object must be idle (puts are the caller's). */
void model_destroy(mpool *mp);

mobj *model_find(mpool *mp, const void *p);
mobj *model_add(mpool *mp, void *p, enum obj_state st);
void model_remove(mpool *mp, mobj *m);
size_t model_count(const mpool *mp, enum obj_state st, int age); /* age -1: any */

/* Fills / checks the object's bytes (the pool must never touch them). */
void model_fill(mpool *mp, mobj *m);
void model_check_bytes(const mpool *mp, const mobj *m);

/* The object returned by a tlp_get on the main thread (or NULL: errno). */
void model_got(mpool *mp, void *p, int err);
/* Around a tlp_put of an object the main thread holds. */
void model_put_begin(mpool *mp, mobj *m, bool refuse);
void model_put_end(mpool *mp, void *p);
/* After tlp_drain / tlp_release_idle (or destroy) returned. */
void model_drained(mpool *mp);
void model_released(mpool *mp);

/* tlp_stats_get and the hook counts against the model. */
void model_check_stats(mpool *mp);

#endif /* TLP_FUZZ_POOL_MODEL_H */
