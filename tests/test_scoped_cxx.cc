/* SPDX-License-Identifier: MIT */
/*
 * TLP_SCOPED / TLP_TAKE from C++: the same macro as in test_scoped.c, used in
 * functions with early returns, loops, lambdas and exceptions, and a scope
 * in C (scoped_c_unwind.c, built with -fexceptions) unwound by a C++
 * exception.
 */
#include "scoped_c_unwind.h"
#include "tlp_test_util.h"

#include <stdexcept>

using namespace tlpt;

namespace {

class ScopedCxx : public ::testing::Test {
protected:
    void SetUp() override
    {
        pool = make_pool(t.config(true));
        ASSERT_NE(pool, nullptr);
    }
    void TearDown() override
    {
        EXPECT_EQ(stats_of(pool).out, 0u);
        tlp_pool_destroy(pool);
        t.expect_all_released();
    }
    uint64_t puts() { return stats_of(pool).puts; }

    Tracker t;
    tlp_pool *pool = nullptr;
};

int early_return(tlp_pool *pool, bool early)
{
    TLP_SCOPED(Obj *, o, pool);
    if (!o)
        return -1;
    if (early)
        return 1;
    o->user = 7;
    return 0;
}

} // namespace

TEST_F(ScopedCxx, FallOffTheEnd)
{
    {
        TLP_SCOPED(Obj *, o, pool);
        ASSERT_NE(o, nullptr);
        EXPECT_TRUE(t.is_live(o));
        EXPECT_EQ(puts(), 0u);
        EXPECT_EQ(stats_of(pool).out, 1u);
    }
    EXPECT_EQ(puts(), 1u);
    EXPECT_EQ(t.resets.load(), 1u);
}

TEST_F(ScopedCxx, EarlyReturn)
{
    EXPECT_EQ(early_return(pool, true), 1);
    EXPECT_EQ(puts(), 1u);
    EXPECT_EQ(early_return(pool, false), 0);
    EXPECT_EQ(puts(), 2u);
    EXPECT_EQ(t.resets.load(), 2u);
}

TEST_F(ScopedCxx, LambdaReturnAndLoops)
{
    auto f = [&](int k) -> int {
        TLP_SCOPED(Obj *, o, pool);
        if (k > 2)
            return k;
        return 0;
    };
    for (int k = 0; k < 5; k++)
        f(k);
    EXPECT_EQ(puts(), 5u);
    for (int i = 0; i < 10; i++) {
        TLP_SCOPED(Obj *, o, pool);
        if (i == 1)
            continue;
        if (i == 4)
            break;
    }
    EXPECT_EQ(puts(), 10u);
}

TEST_F(ScopedCxx, TakeHandsOwnershipOut)
{
    Obj *mine = nullptr;
    {
        TLP_SCOPED(Obj *, o, pool);
        ASSERT_NE(o, nullptr);
        mine = TLP_TAKE(o);
        EXPECT_EQ(o, nullptr);
    }
    EXPECT_EQ(puts(), 0u);
    EXPECT_EQ(stats_of(pool).out, 1u);
    EXPECT_TRUE(t.is_live(mine));
    Obj *kept = nullptr;
    {
        TLP_SCOPED(Obj *, o, pool);
        kept = o;
        o = nullptr; /* by hand */
    }
    EXPECT_EQ(puts(), 0u);
    EXPECT_EQ(stats_of(pool).out, 2u);
    EXPECT_EQ(t.resets.load(), 0u);
    tlp_put(pool, mine);
    tlp_put(pool, kept);
    EXPECT_EQ(puts(), 2u);
}

TEST_F(ScopedCxx, PoolExpressionEvaluatedOnce)
{
    int evals = 0;
    auto pick = [&]() {
        evals++;
        return pool;
    };
    {
        TLP_SCOPED(Obj *, o, pick());
        EXPECT_NE(o, nullptr);
    }
    EXPECT_EQ(evals, 1);
    EXPECT_EQ(puts(), 1u);
}

/* An exception leaving the scope puts the object too (cleanup runs during
 * unwinding: C++ is compiled with exceptions on). */
TEST_F(ScopedCxx, ExceptionUnwindsTheScope)
{
    auto leave = [&] {
        TLP_SCOPED(Obj *, o, pool);
        if (o)
            throw std::runtime_error("leave");
    };
    EXPECT_THROW(leave(), std::runtime_error);
    EXPECT_EQ(puts(), 1u);
    EXPECT_EQ(stats_of(pool).out, 0u);
}

namespace {

struct Thrown {
    void *obj;
};

/* Called from C inside the scope: throws through the C frames. */
extern "C" void throw_obj(void *obj, void *)
{
    throw Thrown{obj};
}

} // namespace

/* Several scopes, one nested in a loop, unwound at once: each puts its own
 * object exactly once (obj_reset once each), the stats identities hold. */
TEST_F(ScopedCxx, ExceptionUnwindsNestedScopes)
{
    Obj *seen[3] = {};
    auto leave = [&] {
        TLP_SCOPED(Obj *, a, pool);
        seen[0] = a;
        {
            TLP_SCOPED(Obj *, b, pool);
            seen[1] = b;
            for (int i = 0; i < 3; i++) {
                TLP_SCOPED(Obj *, c, pool);
                seen[2] = c;
                if (i == 1)
                    throw std::runtime_error("deep");
            }
        }
    };
    EXPECT_THROW(leave(), std::runtime_error);
    EXPECT_EQ(puts(), 4u); /* a, b, and c on rounds 0 and 1 */
    EXPECT_EQ(t.resets.load(), 4u);
    EXPECT_NE(seen[0], seen[1]);
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.out, 0u);
    expect_quiescent_identities(s);
}

/* Ownership taken before the throw: the unwinding cleanup puts nothing. */
TEST_F(ScopedCxx, ExceptionAfterTakePutsNothing)
{
    Obj *mine = nullptr;
    auto leave = [&] {
        TLP_SCOPED(Obj *, o, pool);
        mine = TLP_TAKE(o);
        throw std::runtime_error("after take");
    };
    EXPECT_THROW(leave(), std::runtime_error);
    EXPECT_EQ(puts(), 0u);
    EXPECT_EQ(t.resets.load(), 0u);
    EXPECT_EQ(stats_of(pool).out, 1u);
    EXPECT_TRUE(t.is_live(mine));
    tlp_put(pool, mine);
    expect_quiescent_identities(stats_of(pool));
}

/* The scope is in C (compiled with -fexceptions), the throw in C++. */
TEST_F(ScopedCxx, ExceptionUnwindsACScope)
{
    void *seen = nullptr;
    void *thrown = nullptr;
    try {
        tlpt_c_scope_call(pool, throw_obj, nullptr, &seen);
        ADD_FAILURE() << "the callback did not throw";
    } catch (const Thrown &e) {
        thrown = e.obj;
    }
    ASSERT_NE(seen, nullptr);
    EXPECT_EQ(thrown, seen);
    EXPECT_EQ(puts(), 1u);
    EXPECT_EQ(t.resets.load(), 1u);
    EXPECT_EQ(stats_of(pool).out, 0u);
    EXPECT_EQ(tlp_get(pool), seen); /* back on top of this thread's cache */
    tlp_put(pool, seen);

    void *taken = nullptr;
    EXPECT_THROW(tlpt_c_scope_take_call(pool, throw_obj, nullptr, &taken), Thrown);
    EXPECT_EQ(puts(), 2u) << "a taken object must not be put by the unwinding cleanup";
    EXPECT_EQ(stats_of(pool).out, 1u);
    tlp_put(pool, taken);
    expect_quiescent_identities(stats_of(pool));
}

/* A pool without hooks: the cleanup's put takes the inline path, also while
 * unwinding. */
TEST(ScopedCxxPlain, ExceptionUnwindsTheInlinePut)
{
    tlp_config c{};
    c.obj_size = 64;
    c.name = "scoped-plain";
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);
    void *first = nullptr;
    for (int i = 0; i < 300; i++) {
        try {
            tlpt_c_scope_call(pool, throw_obj, nullptr, &first);
        } catch (const Thrown &) {
        }
        auto leave = [&] {
            TLP_SCOPED(char *, o, pool);
            throw std::runtime_error("x");
        };
        EXPECT_THROW(leave(), std::runtime_error);
    }
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.puts, 600u);
    EXPECT_EQ(s.out, 0u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
}
