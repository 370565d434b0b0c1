/* SPDX-License-Identifier: MIT */
/*
 * The three hooks: obj_reset once per put (in the putting thread), dropping
 * on false, ctx passed to each hook, and hooks that use another pool.
 */
#include "tlp_test_util.h"

#include <vector>

using namespace tlpt;

/* One obj_reset call per non-NULL put, whichever path the put takes (the
 * loaded magazine, a magazine swap, a spill to the shared tier). */
TEST(PoolHooks, ResetCalledExactlyOncePerPut)
{
    Tracker t;
    tlp_config c = t.config(true);
    c.thread_cache = 4; /* spills every few puts */
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    uint64_t puts = 0;
    for (int round = 0; round < 5; round++) {
        std::vector<void *> held;
        for (int i = 0; i < 37; i++)
            held.push_back(tlp_get(pool));
        EXPECT_EQ(t.resets.load(), puts) << "get must not call obj_reset";
        for (void *p : held) {
            tlp_put(pool, p);
            puts++;
            ASSERT_EQ(t.resets.load(), puts) << "round " << round;
        }
        tlp_put(pool, nullptr); /* no reset for NULL */
        EXPECT_EQ(t.resets.load(), puts);
    }
    tlp_drain(pool);
    tlp_drain(pool);
    EXPECT_EQ(t.resets.load(), puts) << "drains must not call obj_reset";
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.puts, puts);
    EXPECT_EQ(s.dropped_reset, 0u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    EXPECT_EQ(t.resets.load(), puts) << "destroy must not call obj_reset";
    t.expect_all_released();
}

/* obj_reset runs in the thread that puts, also when another thread got it. */
TEST(PoolHooks, ResetRunsInThePuttingThread)
{
    Tracker t;
    tlp_pool *pool = make_pool(t.config(true));
    ASSERT_NE(pool, nullptr);
    std::vector<Obj *> objs;
    for (int i = 0; i < 10; i++)
        objs.push_back(static_cast<Obj *>(tlp_get(pool)));
    std::thread::id putter;
    std::thread th([&] {
        putter = std::this_thread::get_id();
        for (Obj *o : objs)
            tlp_put(pool, o);
    });
    th.join();
    EXPECT_EQ(t.resets.load(), 10u);
    /* The exited thread's cache went back to the pool: take the same ten
     * objects again and read the id the hook stored in each. */
    std::unordered_set<Obj *> mine(objs.begin(), objs.end());
    std::vector<Obj *> again;
    for (int i = 0; i < 10; i++) {
        again.push_back(static_cast<Obj *>(tlp_get(pool)));
        ASSERT_EQ(mine.count(again.back()), 1u) << "not one of the ten";
        EXPECT_EQ(again.back()->reset_by, putter);
    }
    EXPECT_EQ(t.made.load(), 10u);
    for (Obj *o : again)
        tlp_put(pool, o);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* obj_reset returning false: the object is released at once (inside
 * tlp_put), counted as dropped_reset, and never handed out again. */
TEST(PoolHooks, ResetFalseDropsTheObjectAtOnce)
{
    Tracker t;
    tlp_pool *pool = make_pool(t.config(true));
    ASSERT_NE(pool, nullptr);

    void *a = tlp_get(pool);
    void *b = tlp_get(pool);
    t.reset_result = false;
    tlp_put(pool, a);
    EXPECT_EQ(t.freed.load(), 1u) << "obj_free must run inside tlp_put";
    EXPECT_FALSE(t.is_live(a));
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.dropped_reset, 1u);
    EXPECT_EQ(s.released, 1u);
    EXPECT_EQ(s.idle, 0u);
    EXPECT_EQ(s.out, 1u);
    expect_quiescent_identities(s);

    t.reset_result = true;
    tlp_put(pool, b);
    EXPECT_EQ(t.freed.load(), 1u);
    EXPECT_EQ(tlp_get(pool), b); /* kept, and the dropped one is not there */
    EXPECT_EQ(t.made.load(), 2u);
    void *c = tlp_get(pool);   /* nothing idle: a new object */
    EXPECT_EQ(t.made.load(), 3u);
    EXPECT_TRUE(t.is_live(c));
    tlp_put(pool, b);
    tlp_put(pool, c);

    /* Selective drops over many puts and paths: odd serials are dropped. */
    t.drop_odd = true;
    std::vector<void *> held;
    for (int i = 0; i < 200; i++)
        held.push_back(tlp_get(pool));
    uint64_t odd = 0;
    for (void *p : held)
        odd += static_cast<Obj *>(p)->serial & 1;
    uint64_t freed_before = t.freed.load();
    for (void *p : held)
        tlp_put(pool, p);
    EXPECT_EQ(t.freed.load() - freed_before, odd);
    s = stats_of(pool);
    EXPECT_EQ(s.dropped_reset, 1 + odd);
    EXPECT_EQ(s.idle, 200 - odd);
    expect_quiescent_identities(s);
    const uint64_t made_before = t.made.load();
    for (int i = 0; i < 200; i++) { /* every object still idle is an even one */
        auto *o = static_cast<Obj *>(tlp_get(pool));
        ASSERT_NE(o, nullptr);
        ASSERT_TRUE(t.is_live(o));
        if (o->serial < made_before) {
            EXPECT_EQ(o->serial & 1, 0u) << "a dropped object came back";
        }
        held[size_t(i)] = o;
    }
    EXPECT_EQ(t.made.load() - made_before, odd) << "the kept ones are served first";
    t.drop_odd = false;
    for (void *p : held)
        tlp_put(pool, p);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* Each pool's hooks get that pool's ctx, and only its objects. The Tracker
 * counts an error when obj_free sees an object it did not make. */
TEST(PoolHooks, HooksGetTheirPoolsCtx)
{
    Tracker t1, t2;
    tlp_config c1 = t1.config(true), c2 = t2.config(true);
    c1.thread_cache = c2.thread_cache = 4;
    tlp_pool *p1 = make_pool(c1);
    tlp_pool *p2 = make_pool(c2);
    ASSERT_NE(p1, nullptr);
    ASSERT_NE(p2, nullptr);
    std::vector<void *> h1, h2;
    for (int i = 0; i < 50; i++) {
        h1.push_back(tlp_get(p1));
        h2.push_back(tlp_get(p2));
        ASSERT_TRUE(t1.is_live(h1.back()));
        ASSERT_TRUE(t2.is_live(h2.back()));
    }
    t1.reset_result = false; /* p1 drops everything: obj_free with ctx t1 */
    for (size_t i = 0; i < h1.size(); i++) {
        tlp_put(p1, h1[i]);
        tlp_put(p2, h2[i]);
    }
    EXPECT_EQ(t1.freed.load(), 50u);
    EXPECT_EQ(t2.freed.load(), 0u);
    EXPECT_EQ(t1.resets.load(), 50u);
    EXPECT_EQ(t2.resets.load(), 50u);
    tlp_drain(p2);
    tlp_drain(p2);
    EXPECT_EQ(t2.freed.load(), 50u);
    tlp_pool_destroy(p1);
    tlp_pool_destroy(p2);
    t1.expect_all_released();
    t2.expect_all_released();
}

/*
 * Hooks that use another pool: pool A's objects each carry an object of pool
 * B (taken in obj_new, returned in obj_free); obj_reset borrows a scratch
 * object of B; obj_free also drains B. Every path that runs hooks is
 * exercised (get, put, drop, spill, drains, release_idle, thread exit,
 * destroy) from several threads: a lock held around a hook would deadlock.
 */
namespace {

struct Nested {
    Tracker a;      /* counts A's objects */
    tlp_pool *b = nullptr;
    std::atomic<uint64_t> b_taken{0}, b_returned{0};
};

void *nested_new(void *ctx)
{
    auto *n = static_cast<Nested *>(ctx);
    auto *o = static_cast<Obj *>(Tracker::hook_new(&n->a));
    if (!o)
        return nullptr;
    o->aux = tlp_get(n->b);
    if (!o->aux) {
        Tracker::hook_free(o, &n->a);
        return nullptr;
    }
    n->b_taken++;
    return o;
}

void nested_free(void *obj, void *ctx)
{
    auto *n = static_cast<Nested *>(ctx);
    auto *o = static_cast<Obj *>(obj);
    tlp_put(n->b, o->aux);
    n->b_returned++;
    tlp_drain(n->b);
    Tracker::hook_free(o, &n->a);
}

bool nested_reset(void *obj, void *ctx)
{
    auto *n = static_cast<Nested *>(ctx);
    void *scratch = tlp_get(n->b);
    tlp_put(n->b, scratch);
    return Tracker::hook_reset(obj, &n->a);
}

} // namespace

TEST(PoolHooks, HooksMayUseAnotherPool)
{
    Watchdog wd("HooksMayUseAnotherPool");
    Nested n;
    tlp_config cb;
    std::memset(&cb, 0, sizeof cb);
    cb.obj_size = 32;
    cb.thread_cache = 4;
    cb.name = "B";
    n.b = make_pool(cb);
    ASSERT_NE(n.b, nullptr);

    tlp_config ca = n.a.config(true);
    ca.obj_new = nested_new;
    ca.obj_free = nested_free;
    ca.obj_reset = nested_reset;
    ca.ctx = &n;
    ca.thread_cache = 4;
    ca.max_idle = 8; /* releases at put time too */
    ca.name = "A";
    tlp_pool *a = make_pool(ca);
    ASSERT_NE(a, nullptr);

    n.a.drop_odd = true; /* some puts drop */
    const long iters = scaled(2000);
    std::vector<std::thread> ths;
    for (int k = 0; k < 3; k++) {
        ths.emplace_back([&, k] {
            std::vector<void *> held;
            for (long i = 0; i < iters; i++) {
                for (int j = 0; j < 1 + (i + k) % 9; j++) {
                    void *p = tlp_get(a);
                    if (p)
                        held.push_back(p);
                }
                for (void *p : held)
                    tlp_put(a, p);
                held.clear();
                if (i % 97 == 0)
                    tlp_drain(a);
                if (i % 389 == 0)
                    tlp_release_idle(a);
            }
        });
    }
    for (auto &th : ths)
        th.join(); /* thread exits push their caches back (may release) */
    tlp_drain(a);
    tlp_release_idle_all();
    tlp_pool_destroy(a);

    n.a.expect_all_released();
    EXPECT_EQ(n.b_taken.load(), n.b_returned.load());
    tlp_stats sb = stats_of(n.b);
    EXPECT_EQ(sb.out, 0u) << "every B object taken by A's hooks came back";
    expect_quiescent_identities(sb);
    tlp_pool_destroy(n.b);
}

namespace {
struct Grower {
    Tracker t;
    std::vector<tlp_pool *> made; /* pools the hook made, each used once */
    bool same_pool = false;       /* the hook also takes and puts one of its own pool's objects */
    tlp_pool *self = nullptr;
    int depth = 0;
};

bool growing_reset(void *obj, void *ctx)
{
    auto *g = static_cast<Grower *>(ctx);
    g->t.resets++;
    if (g->depth > 0)
        return true;
    g->depth++;
    /* New pools with higher slots than any this thread used: its record
     * grows and moves while the inline tlp_put that called this hook is
     * between its two attempts. */
    for (int i = 0; i < 40; i++) {
        tlp_config c;
        std::memset(&c, 0, sizeof c);
        c.obj_size = 16;
        tlp_pool *p = nullptr;
        if (tlp_pool_create(&c, &p) != 0)
            break;
        tlp_put(p, tlp_get(p));
        g->made.push_back(p);
    }
    if (g->same_pool) {
        void *other = tlp_get(g->self); /* the same pool, from inside its hook */
        if (other)
            tlp_put(g->self, other); /* runs this hook again (depth 1) */
    }
    g->depth--;
    (void)obj;
    return true;
}
} // namespace

/* The inline tlp_put calls obj_reset between its two attempts at the fast
 * path: a hook that grows the thread's record (so it moves) and uses the
 * same pool must not make the push that follows write through a stale
 * record or magazine. Every object is accounted for. */
TEST(PoolHooks, ResetHookThatMovesTheRecordAndUsesItsPool)
{
    for (bool same : {false, true}) {
        Grower g;
        g.same_pool = same;
        tlp_config c = g.t.config(true);
        c.obj_reset = growing_reset;
        c.ctx = &g;
        c.thread_cache = 8;
        tlp_pool *pool = make_pool(c);
        ASSERT_NE(pool, nullptr);
        g.self = pool;
        std::vector<void *> held;
        for (int i = 0; i < 12; i++)
            held.push_back(tlp_get(pool));
        uint64_t puts = 0;
        for (void *p : held) {
            tlp_put(pool, p);
            puts += same ? 2 : 1;
            ASSERT_EQ(g.t.resets.load(), puts);
        }
        /* All twelve are idle and distinct: taking them back gives each once. */
        std::unordered_set<void *> back;
        for (int i = 0; i < 12; i++)
            back.insert(tlp_get(pool));
        EXPECT_EQ(back.size(), 12u);
        for (void *p : held)
            EXPECT_EQ(back.count(p), 1u);
        for (void *p : back)
            tlp_put(pool, p);
        tlp_stats s = stats_of(pool);
        EXPECT_EQ(s.puts, puts + 12 * (same ? 2 : 1));
        EXPECT_EQ(s.out, 0u);
        expect_quiescent_identities(s);
        for (tlp_pool *p : g.made)
            tlp_pool_destroy(p);
        tlp_pool_destroy(pool);
        g.t.expect_all_released();
    }
}
