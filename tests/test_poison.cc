/* SPDX-License-Identifier: MIT */
// Idle objects are poisoned in TLP_POISON builds: a write after put is
// reported on the spot as a use-after-poison (ASan). Skips in other builds.
#include <gtest/gtest.h>
#include <tlpool.h>

#if defined(__SANITIZE_ADDRESS__)
#define TLP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLP_TEST_ASAN 1
#endif
#endif

TEST(PoisonDeathTest, WriteAfterPutIsReported) {
#ifndef TLP_TEST_ASAN
    GTEST_SKIP() << "needs an ASan build";
#else
    if (!(tlp_build_features() & TLP_FEATURE_POISON)) GTEST_SKIP() << "library not built with TLP_POISON";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH({
        tlp_config cfg{};
        cfg.obj_size = 64;
        cfg.name = "poisoned";
        tlp_pool *p;
        tlp_pool_create(&cfg, &p);
        char *o = static_cast<char *>(tlp_get(p));
        tlp_put(p, o);
        o[3] = 1;  // use after put
    }, "use-after-poison");
#endif
}

TEST(Poison, RecycledObjectIsAccessibleAgain) {
    tlp_config cfg{};
    cfg.obj_size = 64;
    tlp_pool *p;
    ASSERT_EQ(tlp_pool_create(&cfg, &p), 0);
    char *o = static_cast<char *>(tlp_get(p));
    o[0] = 'a';
    tlp_put(p, o);
    char *again = static_cast<char *>(tlp_get(p));
    ASSERT_EQ(again, o);  // LIFO
    again[63] = 'z';      // must not be reported
    EXPECT_EQ(again[0], 'a');  // the pool does not touch object bytes
    tlp_put(p, again);
    tlp_drain(p);
    tlp_drain(p);
    tlp_pool_destroy(p);
}
