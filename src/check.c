/* SPDX-License-Identifier: MIT */
/*
 * Checked builds (TLP_CHECKED): every object handed out is recorded, so a put
 * of an object that is not out (double put, foreign pointer, wrong pool) and
 * objects still out at destroy stop the program with a message naming the
 * pool. Release builds compile these to a magic-number check on slow paths.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>

void tlp__vfatal(const char *kind, const char *name, const char *fmt, va_list ap)
{
    fprintf(stderr, "tlpool: %s '%s': ", kind, name ? name : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

void tlp__fatal(const tlp_pool *pool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tlp__vfatal("pool", pool ? pool->name : NULL, fmt, ap);
}

__attribute__((cold, noinline)) void tlp__bad_pool(const tlp_pool *pool, const char *what)
{
    if (!pool) {
        fprintf(stderr, "tlpool: %s: NULL pool\n", what);
        abort();
    }
    if (pool->magic == TLP_POOL_DEAD)
        tlp__fatal(pool, "%s: the pool was destroyed", what);
    fprintf(stderr, "tlpool: %s: %p is not a tlpool pool (corrupt or freed)\n", what,
            (const void *)pool);
    abort();
}

#ifdef TLP_CHECKED

#define EMPTY NULL
static void *const TOMB = (void *)(uintptr_t)1;

static size_t hash(const void *p, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static bool set_grow(tlp_pool *pool)
{
    /* Double when half the live entries fill it, else rebuild in place to
     * drop tombstones. */
    size_t cap = pool->out_cap ? pool->out_cap : 64;
    if ((pool->out_len + 1) * 4 > cap)
        cap *= 2;
    void **t = calloc(cap, sizeof *t);
    uintptr_t *tk = calloc(cap, sizeof *tk);
    if (!t || !tk) {
        free(t);
        free(tk);
        return false;
    }
    for (size_t i = 0; i < pool->out_cap; i++) {
        void *p = pool->out_set[i];
        if (p == EMPTY || p == TOMB)
            continue;
        size_t j = hash(p, cap);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = p;
        tk[j] = pool->out_taker[i];
    }
    free(pool->out_set);
    free(pool->out_taker);
    pool->out_set = t;
    pool->out_taker = tk;
    pool->out_cap = cap;
    pool->out_used = pool->out_len;
    return true;
}

static size_t *find(tlp_pool *pool, const void *obj, size_t *idx)
{
    if (!pool->out_cap)
        return NULL;
    for (size_t j = hash(obj, pool->out_cap), n = 0; n < pool->out_cap;
         j = (j + 1) & (pool->out_cap - 1), n++) {
        if (pool->out_set[j] == EMPTY)
            return NULL;
        if (pool->out_set[j] == obj) {
            *idx = j;
            return idx;
        }
    }
    return NULL;
}

void tlp__check_got(tlp_pool *pool, void *obj)
{
    pthread_mutex_lock(&pool->check_lock);
    size_t i;
    if (find(pool, obj, &i))
        tlp__fatal(pool, "object %p handed out twice (pool corrupted by an earlier misuse)", obj);
    /* Tombstones count as used: rebuild at 1/2 load. */
    if ((pool->out_used + 1) * 2 > pool->out_cap && !set_grow(pool))
        tlp__fatal(pool, "out of memory in the checked-build object table");
    size_t j = hash(obj, pool->out_cap);
    while (pool->out_set[j] != EMPTY && pool->out_set[j] != TOMB)
        j = (j + 1) & (pool->out_cap - 1);
    if (pool->out_set[j] == EMPTY)
        pool->out_used++;
    pool->out_set[j] = obj;
    pool->out_taker[j] = (uintptr_t)pthread_self();
    pool->out_len++;
    pthread_mutex_unlock(&pool->check_lock);
}

static const char *owner_of(const void *obj)
{
    /* Which other live pool has obj out? For the message only. */
    for (uint32_t s = 0; s < tlp__pools_cap; s++) {
        tlp_pool *p = tlp__pools[s];
        size_t i;
        if (!p)
            continue;
        pthread_mutex_lock(&p->check_lock);
        bool has = find(p, obj, &i) != NULL;
        pthread_mutex_unlock(&p->check_lock);
        if (has)
            return p->name;
    }
    return NULL;
}

void tlp__check_put(tlp_pool *pool, void *obj)
{
    pthread_mutex_lock(&pool->check_lock);
    size_t i;
    bool ok = find(pool, obj, &i) != NULL;
    if (ok) {
        pool->out_set[i] = TOMB;
        pool->out_len--;
    }
    pthread_mutex_unlock(&pool->check_lock);
    if (ok)
        return;
    pthread_mutex_lock(&tlp__registry_lock);
    const char *other = owner_of(obj);
    if (other)
        tlp__fatal(pool, "tlp_put of %p, which was taken from pool '%s' (put into the wrong pool)",
                   obj, other);
    tlp__fatal(pool, "tlp_put of %p, which is not out of this pool (double put, or a pointer "
               "the pool never handed out)", obj);
}

void tlp__check_destroy(tlp_pool *pool)
{
    pthread_mutex_lock(&pool->check_lock);
    size_t n = pool->out_len;
    pthread_mutex_unlock(&pool->check_lock);
    if (n)
        tlp__fatal(pool, "tlp_pool_destroy with %zu object(s) still out (not put back)", n);
}

/* fork() child, every lock held by us: objects taken by threads that did
 * not come along are not out here (nobody can put them back). Forgotten,
 * not reported at destroy. */
void tlp__check_fork_child(tlp_pool *pool)
{
    uintptr_t self = (uintptr_t)pthread_self();
    for (size_t i = 0; i < pool->out_cap; i++) {
        void *p = pool->out_set[i];
        if (p == EMPTY || p == TOMB || pool->out_taker[i] == self)
            continue;
        pool->out_set[i] = TOMB;
        pool->out_len--;
    }
}

#endif
