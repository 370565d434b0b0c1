/* SPDX-License-Identifier: MIT */
/*
 * TLP_SCOPED / TLP_TAKE from C (C11 with GNU extensions), and the header's C
 * compatibility: this file is compiled as C. Each case counts puts (stats)
 * and obj_reset calls and checks the stats identities; exits non-zero after
 * reporting every failed check. Built twice: with the inline fast path
 * (test_scoped) and with TLP_NO_INLINE (test_scoped_noinline).
 */
#include <tlpool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

struct thing {
    int a;
    char buf[60];
};

static tlp_pool *pool;
static unsigned resets;
static unsigned pool_evals;

static bool count_reset(void *obj, void *ctx)
{
    (void)obj;
    ++*(unsigned *)ctx;
    return true;
}

static tlp_stats stats(tlp_pool *p)
{
    tlp_stats s;
    tlp_stats_get(p, &s);
    return s;
}

static void expect_identities(const char *what, tlp_pool *p);

/* Baseline for the next case. */
static uint64_t puts0, out0;
static unsigned resets0;
static void mark(void)
{
    tlp_stats s = stats(pool);
    puts0 = s.puts;
    out0 = s.out;
    resets0 = resets;
}

/* Since mark(): n puts, n resets, and `out` changed by out_delta. */
static void expect_since_mark(const char *what, uint64_t n, int64_t out_delta)
{
    tlp_stats s = stats(pool);
    if (s.puts - puts0 != n || resets - resets0 != n || (int64_t)(s.out - out0) != out_delta) {
        fprintf(stderr, "%s: puts +%llu, resets +%u, out %+lld; expected %llu, %llu, %+lld\n", what,
                (unsigned long long)(s.puts - puts0), resets - resets0, (long long)(s.out - out0),
                (unsigned long long)n, (unsigned long long)n, (long long)out_delta);
        failures++;
    }
    expect_identities(what, pool);
}

/* The identities the header promises for a quiescent pool, exact. */
static void expect_identities(const char *what, tlp_pool *p)
{
    tlp_stats s = stats(p);
    if (s.gets != s.hits_thread + s.hits_shared + s.hits_victim + s.made_on_get ||
        s.made_on_get != s.made || s.out != s.gets - s.puts || s.made != s.released + s.idle + s.out ||
        s.idle != s.idle_thread + s.idle_shared + s.idle_victim) {
        fprintf(stderr,
                "%s: identities broken: gets=%llu hits=%llu+%llu+%llu made=%llu/%llu puts=%llu out=%llu "
                "released=%llu idle=%llu (%llu+%llu+%llu)\n",
                what, (unsigned long long)s.gets, (unsigned long long)s.hits_thread,
                (unsigned long long)s.hits_shared, (unsigned long long)s.hits_victim,
                (unsigned long long)s.made, (unsigned long long)s.made_on_get, (unsigned long long)s.puts,
                (unsigned long long)s.out, (unsigned long long)s.released, (unsigned long long)s.idle,
                (unsigned long long)s.idle_thread, (unsigned long long)s.idle_shared,
                (unsigned long long)s.idle_victim);
        failures++;
    }
}

static tlp_pool *pool_expr(void)
{
    pool_evals++;
    return pool;
}

/* ---- the exit paths ------------------------------------------------------ */

static void fall_off_end(void)
{
    TLP_SCOPED(struct thing *, t, pool);
    CHECK(t != NULL);
    t->a = 1;
    expect_since_mark("fall off end (inside)", 0, 1);
}

static int early_return(int x)
{
    TLP_SCOPED(struct thing *, t, pool);
    CHECK(t != NULL);
    if (x)
        return 1;
    t->a = 2;
    return 0;
}

static void break_out_of_loop(void)
{
    for (int i = 0; i < 10; i++) {
        TLP_SCOPED(struct thing *, t, pool);
        CHECK(t != NULL);
        if (i == 3)
            break;
        t->a = i;
    }
}

static void continue_in_loop(void)
{
    for (int i = 0; i < 5; i++) {
        TLP_SCOPED(struct thing *, t, pool);
        CHECK(t != NULL);
        if (i % 2 == 0)
            continue;
        t->a = i;
    }
}

static void break_out_of_switch(int k)
{
    switch (k) {
    case 1: {
        TLP_SCOPED(struct thing *, t, pool);
        CHECK(t != NULL);
        break;
    }
    default:
        break;
    }
}

static void goto_out_of_scope(void)
{
    {
        TLP_SCOPED(struct thing *, t, pool);
        CHECK(t != NULL);
        if (t)
            goto out;
        t->a = 3; /* not reached */
    }
out:
    expect_since_mark("goto out of the scope (at the label)", 1, 0);
}

static void nested_scopes(void)
{
    TLP_SCOPED(struct thing *, outer, pool);
    {
        TLP_SCOPED(struct thing *, inner, pool);
        CHECK(inner != NULL && inner != outer);
    }
    expect_since_mark("nested (inner closed)", 1, 1);
}

/* Two in one scope: both put, the later-declared one first (cleanup order),
 * so the earlier one ends on top of the LIFO cache. */
static void two_in_one_scope(struct thing **first, struct thing **second)
{
    TLP_SCOPED(struct thing *, a, pool);
    TLP_SCOPED(struct thing *, b, pool);
    *first = a;
    *second = b;
}

/* ---- ownership ----------------------------------------------------------- */

static struct thing *take_out(void)
{
    TLP_SCOPED(struct thing *, t, pool);
    CHECK(t != NULL);
    struct thing *mine = TLP_TAKE(t);
    CHECK(t == NULL);
    CHECK(mine != NULL);
    return mine;
}

static struct thing *return_take(void)
{
    TLP_SCOPED(struct thing *, t, pool);
    return TLP_TAKE(t);
}

static struct thing *clear_by_hand(void)
{
    struct thing *keep;
    {
        TLP_SCOPED(struct thing *, t, pool);
        keep = t;
        t = NULL;
    }
    return keep;
}

/* ---- evaluation and failure ---------------------------------------------- */

static void pool_once(void)
{
    TLP_SCOPED(struct thing *, t, pool_expr());
    CHECK(t != NULL);
}

static void *failing_new(void *ctx)
{
    (void)ctx;
    return NULL;
}
static void never_free(void *obj, void *ctx)
{
    (void)obj;
    (void)ctx;
    failures++;
}

static void null_from_get(tlp_pool *p)
{
    TLP_SCOPED(struct thing *, t, p);
    CHECK(t == NULL); /* obj_new failed: the scope must not put NULL as an object */
}

int main(void)
{
    tlp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.obj_size = sizeof(struct thing);
    cfg.obj_reset = count_reset;
    cfg.ctx = &resets;
    cfg.name = "scoped";
    if (tlp_pool_create(&cfg, &pool) != 0) {
        fprintf(stderr, "tlp_pool_create failed\n");
        return 1;
    }

    mark();
    fall_off_end();
    expect_since_mark("fall off end", 1, 0);

    mark();
    CHECK(early_return(1) == 1);
    expect_since_mark("early return", 1, 0);
    mark();
    CHECK(early_return(0) == 0);
    expect_since_mark("return at the end", 1, 0);

    mark();
    break_out_of_loop();
    expect_since_mark("break out of a loop", 4, 0);

    mark();
    continue_in_loop();
    expect_since_mark("continue", 5, 0);

    mark();
    break_out_of_switch(1);
    expect_since_mark("break out of a switch", 1, 0);

    mark();
    goto_out_of_scope();
    expect_since_mark("goto out of the scope", 1, 0);

    mark();
    nested_scopes();
    expect_since_mark("nested", 2, 0);

    struct thing *first = NULL, *second = NULL;
    mark();
    two_in_one_scope(&first, &second);
    expect_since_mark("two in one scope", 2, 0);
    struct thing *x = tlp_get(pool), *y = tlp_get(pool);
    CHECK(x == first);
    CHECK(y == second);
    tlp_put(pool, y);
    tlp_put(pool, x);

    mark();
    struct thing *mine = take_out();
    expect_since_mark("TLP_TAKE", 0, 1);
    mine->a = 42;
    tlp_put(pool, mine);

    mark();
    mine = return_take();
    CHECK(mine != NULL);
    expect_since_mark("return TLP_TAKE(var)", 0, 1);
    tlp_put(pool, mine);

    mark();
    mine = clear_by_hand();
    CHECK(mine != NULL);
    expect_since_mark("var = NULL", 0, 1);
    tlp_put(pool, mine);

    mark();
    pool_once();
    CHECK(pool_evals == 1);
    expect_since_mark("pool expression once", 1, 0);

    CHECK(stats(pool).out == 0);
    tlp_drain(pool); /* objects in the victim generation and the shared tier too */
    expect_identities("after a drain", pool);
    tlp_drain(pool);
    expect_identities("after two drains", pool);
    CHECK(stats(pool).released > 0);
    CHECK(strcmp(tlp_pool_name(pool), "scoped") == 0);
    tlp_pool_destroy(pool);

    /* A failing get inside a scope: NULL, nothing put, pool usable. */
    tlp_config fcfg;
    memset(&fcfg, 0, sizeof fcfg);
    fcfg.obj_size = 8;
    fcfg.obj_new = failing_new;
    fcfg.obj_free = never_free;
    tlp_pool *fp = NULL;
    CHECK(tlp_pool_create(&fcfg, &fp) == 0);
    if (fp) {
        null_from_get(fp);
        tlp_stats s = stats(fp);
        CHECK(s.new_failed == 1);
        CHECK(s.puts == 0);
        CHECK(s.gets == 0);
        tlp_pool_destroy(fp);
    }

    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("test_scoped: all checks passed\n");
    return 0;
}
