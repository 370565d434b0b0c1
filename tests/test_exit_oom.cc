// SPDX-License-Identifier: MIT
// Thread exit when malloc fails: the flush of the exiting thread's cache must
// not need memory to be correct. This file replaces malloc with one that can
// be told to fail in the calling thread (not under sanitizers, which own
// malloc themselves).
#include <gtest/gtest.h>
#include <tlpool.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "tlp_test_util.h"

#if !TLP_TEST_SANITIZED
extern "C" void *__libc_malloc(size_t);
static __thread bool fail_malloc;  // this thread's malloc returns NULL
extern "C" void *malloc(size_t n)
{
    if (fail_malloc) {
        errno = ENOMEM;
        return nullptr;
    }
    return __libc_malloc(n);
}

namespace {
std::mutex mu;
std::set<void *> live;
void *rec_new(void *)
{
    void *o = __libc_malloc(64);
    std::lock_guard<std::mutex> g(mu);
    live.insert(o);
    return o;
}
void rec_free(void *o, void *)
{
    {
        std::lock_guard<std::mutex> g(mu);
        if (!live.erase(o)) abort();  // not an object the pool made
    }
    free(o);
}

/* Leaves the calling thread with a full loaded magazine and an empty
 * previous one, then makes its malloc fail for the rest of its life. */
void cache_then_fail(tlp_pool *p)
{
    void *o[33];
    for (auto &x : o) x = tlp_get(p);
    for (auto x : o) tlp_put(p, x);
    void *a = tlp_get(p), *b = tlp_get(p);
    (void)a;
    (void)b;  // held for ever: out, never idle
    fail_malloc = true;
}
}  // namespace

TEST(ExitOom, FlushWithoutMemoryLosesNothingAndHandsOutNoGarbage)
{
    tlp_config c{};
    c.obj_size = 64;
    c.obj_new = rec_new;
    c.obj_free = rec_free;
    c.thread_cache = 64;
    c.name = "exit-oom";
    tlp_pool *p;
    ASSERT_EQ(tlp_pool_create(&c, &p), 0);
    std::thread(cache_then_fail, p).join();
    for (int i = 0; i < 100; i++) {
        void *o = tlp_get(p);
        ASSERT_NE(o, nullptr);
        std::lock_guard<std::mutex> g(mu);
        ASSERT_TRUE(live.count(o)) << "tlp_get returned " << o << ", not an object of the pool";
    }
    tlp_stats s;
    tlp_stats_get(p, &s);
    EXPECT_EQ(s.made, s.released + s.idle + s.out);
}

namespace {
tlp_pool *other;
void free_using_other(void *o, void *)
{
    tlp_put(other, tlp_get(other));
    free(o);
}
void *plain_new(void *) { return __libc_malloc(64); }
}  // namespace

/* The same with max_idle: the exiting thread's objects over the cap are
 * released through a hook that uses another pool (it used to run under the
 * registry and thread locks, and deadlock). */
TEST(ExitOom, FlushReleasingThroughAHookThatUsesAPool)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            alarm(20);
            tlp_config o{};
            o.obj_size = 16;
            o.name = "other";
            if (tlp_pool_create(&o, &other) != 0) _exit(3);
            tlp_config c{};
            c.obj_size = 64;
            c.obj_new = plain_new;
            c.obj_free = free_using_other;
            c.max_idle = 1;
            c.thread_cache = 64;
            c.name = "capped";
            tlp_pool *p;
            if (tlp_pool_create(&c, &p) != 0) _exit(3);
            std::thread(cache_then_fail, p).join();
            tlp_stats s;
            tlp_stats_get(p, &s);
            _exit(s.made == s.released + s.idle + s.out ? 0 : 4);
        },
        ::testing::ExitedWithCode(0), "");
}
#else
TEST(ExitOom, SkippedUnderSanitizers)
{
    GTEST_SKIP() << "replaces malloc; sanitizers own it";
}
#endif
