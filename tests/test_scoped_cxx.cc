/* SPDX-License-Identifier: MIT */
/*
 * TLP_SCOPED / TLP_TAKE from C++: the same macro as in test_scoped.c, used in
 * functions with early returns, loops, lambdas and exceptions.
 */
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
