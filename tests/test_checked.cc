/* SPDX-License-Identifier: MIT */
// Misuse caught by checked builds (-DTLP_CHECKED=ON): each stops the program
// with a message naming the pool. In other builds these tests skip.
#include <gtest/gtest.h>
#include <tlpool.h>

#include <thread>

namespace {

bool checked() { return tlp_build_features() & TLP_FEATURE_CHECKED; }

tlp_pool *make(const char *name) {
    tlp_config cfg{};
    cfg.obj_size = 48;
    cfg.name = name;
    tlp_pool *p = nullptr;
    if (tlp_pool_create(&cfg, &p) != 0) abort();
    return p;
}

}  // namespace

TEST(CheckedDeathTest, DoublePutNamesThePool) {
    if (!checked()) GTEST_SKIP() << "library not built with TLP_CHECKED";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH({
        tlp_pool *p = make("orders");
        void *o = tlp_get(p);
        tlp_put(p, o);
        tlp_put(p, o);
    }, "pool 'orders'.*not out of this pool \\(double put");
}

TEST(CheckedDeathTest, ForeignPointer) {
    if (!checked()) GTEST_SKIP() << "library not built with TLP_CHECKED";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH({
        tlp_pool *p = make("sessions");
        static char not_from_pool[64];
        tlp_put(p, not_from_pool);
    }, "pool 'sessions'.*never handed out");
}

TEST(CheckedDeathTest, WrongPool) {
    if (!checked()) GTEST_SKIP() << "library not built with TLP_CHECKED";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH({
        tlp_pool *a = make("alpha");
        tlp_pool *b = make("beta");
        void *o = tlp_get(a);
        tlp_put(b, o);
    }, "pool 'beta'.*taken from pool 'alpha'");
}

TEST(CheckedDeathTest, ObjectsOutAtDestroy) {
    if (!checked()) GTEST_SKIP() << "library not built with TLP_CHECKED";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH({
        tlp_pool *p = make("leaky");
        (void)tlp_get(p);
        (void)tlp_get(p);
        tlp_pool_destroy(p);
    }, "pool 'leaky'.*destroy with 2 object\\(s\\) still out");
}

TEST(CheckedDeathTest, UseAfterDestroy) {
    if (!checked()) GTEST_SKIP() << "library not built with TLP_CHECKED";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH({
        tlp_pool *p = make("gone");
        tlp_pool_destroy(p);
        (void)tlp_get(p);
    }, "pool 'gone'.*tlp_get: the pool was destroyed");
}

TEST(Checked, CorrectUseAcrossThreadsIsAccepted) {
    // The checked bookkeeping must not flag legal patterns: put on another
    // thread, drains in between, reuse after rescue.
    tlp_pool *p = make("legal");
    void *objs[100];
    for (auto &o : objs) o = tlp_get(p);
    std::thread t([&] { for (auto o : objs) tlp_put(p, o); });
    t.join();
    tlp_drain(p);
    for (auto &o : objs) o = tlp_get(p);
    for (auto o : objs) tlp_put(p, o);
    tlp_stats st;
    tlp_stats_get(p, &st);
    EXPECT_EQ(st.out, 0u);
    EXPECT_EQ(st.gets, 200u);
    EXPECT_EQ(st.puts, 200u);
    tlp_pool_destroy(p);
}
