// SPDX-License-Identifier: MIT
// The signal fallback of the heavy barrier (kernels without membarrier,
// forced here with TLP_NO_MEMBARRIER=1 before the first pool) and threads
// that block every signal, as server workers often do.
#include <gtest/gtest.h>
#include <tlpool.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tlp_test_util.h"

namespace {

const int force_fallback = setenv("TLP_NO_MEMBARRIER", "1", 1);

/* Signals queued for this user (first number of SigQ): real-time signals
 * that pile up show here. */
long queued_signals()
{
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("SigQ:", 0) == 0)
            return std::strtol(line.c_str() + 5, nullptr, 10);
    return -1;
}

/* n threads that block every signal, each holding `cached` idle objects of
 * pool in its cache, sleeping until told to do one more get/put. */
struct BlockedWorkers {
    std::mutex mu;
    std::condition_variable cv;
    int phase = 0, ready = 0;
    std::vector<std::thread> threads;

    BlockedWorkers(tlp_pool *pool, int n, int cached)
    {
        for (int i = 0; i < n; i++)
            threads.emplace_back([this, pool, cached] {
                sigset_t all;
                sigfillset(&all);
                pthread_sigmask(SIG_BLOCK, &all, nullptr);
                std::vector<void *> o(cached);
                for (auto &x : o) x = tlp_get(pool);
                for (auto x : o) tlp_put(pool, x);
                std::unique_lock<std::mutex> g(mu);
                ready++;
                cv.notify_all();
                cv.wait(g, [this] { return phase >= 1; });
                g.unlock();
                tlp_put(pool, tlp_get(pool));  // the owner's next operation
                g.lock();
                ready++;
                cv.notify_all();
                cv.wait(g, [this] { return phase >= 2; });
            });
        std::unique_lock<std::mutex> g(mu);
        cv.wait(g, [&] { return ready == n; });
    }
    void step(int to)
    {
        std::unique_lock<std::mutex> g(mu);
        phase = to;
        cv.notify_all();
        if (to == 1)
            cv.wait(g, [&] { return ready == 2 * (int)threads.size(); });
    }
    ~BlockedWorkers()
    {
        step(2);
        for (auto &t : threads) t.join();
    }
};

}  // namespace

TEST(SignalFallback, ThreadsBlockingTheSignalGetNoPileOfQueuedSignals)
{
    ASSERT_EQ(force_fallback, 0);
    tlp_config c{};
    c.obj_size = 64;
    c.name = "blocked";
    tlp_pool *p;
    ASSERT_EQ(tlp_pool_create(&c, &p), 0);
    const int n = 6;
    {
        BlockedWorkers w(p, n, 8);
        long before = queued_signals();
        ASSERT_GE(before, 0);
        for (int i = 0; i < 8; i++) tlp_drain(p);
        long after = queued_signals();
        EXPECT_LE(after - before, n) << "each drain queued another real-time signal on threads that block it";
        w.step(1);
    }
    tlp_pool_destroy(p);
}

/* A thread the barrier cannot reach keeps its magazines through the drain,
 * but hands them over itself at its next operation. */
TEST(SignalFallback, UnreachableThreadsHandOverTheirCacheAtTheirNextOperation)
{
    tlp_config c{};
    c.obj_size = 64;
    c.thread_cache = 64;
    c.name = "handover";
    tlp_pool *p;
    ASSERT_EQ(tlp_pool_create(&c, &p), 0);
    const int n = 4, cached = 20;
    // Only the relaxed handshake needs the barrier; a fenced or checked
    // library reaches every thread's cache without it.
    const unsigned f = tlp_build_features();
    const bool fallback = (f & TLP_FEATURE_FASTPATH) && !(f & TLP_FEATURE_FENCED);
    {
        BlockedWorkers w(p, n, cached);
        tlp_drain(p);
        tlp_stats s;
        tlp_stats_get(p, &s);
        if (fallback)
            EXPECT_GE(s.idle_thread, (uint64_t)(n * cached)) << "an unreachable cache was taken";
        else
            EXPECT_EQ(s.idle_thread, 0u);
        w.step(1);  // each worker does one get/put
        tlp_stats_get(p, &s);
        EXPECT_LE(s.idle_thread, (uint64_t)n) << "the owners kept their drained caches";
        tlp_drain(p);
        tlp_drain(p);
        tlp_stats_get(p, &s);
        EXPECT_LE(s.idle, (uint64_t)n) << "handed-over objects are released by later drains";
    }
    tlp_pool_destroy(p);
}

/* The same for a buffer class whose thread cache is one buffer (a class
 * above cap / 16 under the per-thread cap: it trades single buffers with
 * its shared tier without the general slow path). The unreachable thread's
 * next request for the class finds a buffer in the shared tier; it must
 * still hand its own cached buffer over, not keep it past the drain. */
TEST(SignalFallback, UnreachableThreadsHandOverASingleBufferClass)
{
    const unsigned f = tlp_build_features();
    if (!(f & TLP_FEATURE_FASTPATH) || (f & TLP_FEATURE_FENCED))
        GTEST_SKIP() << "every cache is reachable without the barrier in this build";
    tlp_bufpool_config cfg{};
    cfg.thread_idle_bytes = 256 * 1024; // classes above 8 KiB cache one buffer
    tlp_bufpool *bp;
    ASSERT_EQ(tlp_bufpool_create(&cfg, &bp), 0);
    const size_t big = 16384;
    std::mutex mu;
    std::condition_variable cv;
    int phase = 0;
    void *kept = nullptr;
    std::thread worker([&] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        tlp_bufpool_free(bp, tlp_bufpool_alloc(bp, big)); // one cached buffer
        std::unique_lock<std::mutex> g(mu);
        phase = 1;
        cv.notify_all();
        cv.wait(g, [&] { return phase == 2; });
        kept = tlp_bufpool_alloc(bp, big); // the next request, after the drain
        phase = 3;
        cv.notify_all();
        cv.wait(g, [&] { return phase == 4; });
    });
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return phase == 1; });
    tlp_bufpool_drain(bp); // cannot reach the worker
    // One buffer of the class in this thread's cache, one in the shared tier.
    void *x = tlp_bufpool_alloc(bp, big), *y = tlp_bufpool_alloc(bp, big);
    tlp_bufpool_free(bp, x);
    tlp_bufpool_free(bp, y);
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(bp, &s);
    ASSERT_EQ(s.idle_thread_bytes, 2 * big) << "the worker's and this thread's cached buffer";
    phase = 2;
    cv.notify_all();
    cv.wait(g, [&] { return phase == 3; });
    ASSERT_NE(kept, nullptr);
    tlp_bufpool_stats_get(bp, &s);
    EXPECT_EQ(s.idle_thread_bytes, big) << "the worker kept its cached buffer past the drain";
    tlp_bufpool_free(bp, kept);
    phase = 4;
    cv.notify_all();
    g.unlock();
    worker.join();
    tlp_bufpool_destroy(bp);
}

/* A missed cache that another class's rebalance (the per-thread cap's walk,
 * largest class first) empties before the class's own next operation: its
 * buffer must go where the drain would have put it, the victim generation,
 * so that the next drain releases it. Pushed to the shared tier instead, it
 * would survive that drain too (moved to the victim generation by it). */
TEST(SignalFallback, RebalanceHandsAMissedCacheToTheVictimGeneration)
{
    const unsigned f = tlp_build_features();
    if (!(f & TLP_FEATURE_FASTPATH) || (f & TLP_FEATURE_FENCED))
        GTEST_SKIP() << "every cache is reachable without the barrier in this build";
    tlp_bufpool_config cfg{};
    cfg.thread_idle_bytes = 128 * 1024; // classes above 4 KiB cache one buffer
    tlp_bufpool *bp;
    ASSERT_EQ(tlp_bufpool_create(&cfg, &bp), 0);
    const size_t big = 16384;
    auto class_of = [&](const tlp_bufpool_stats &s) -> const tlp_bufclass_stats & {
        for (unsigned i = 0; i < s.nclasses; i++)
            if (s.classes[i].size == big)
                return s.classes[i];
        return s.classes[0];
    };
    std::mutex mu;
    std::condition_variable cv;
    int phase = 0;
    std::thread worker([&] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        tlp_bufpool_free(bp, tlp_bufpool_alloc(bp, big)); // one cached buffer
        std::unique_lock<std::mutex> g(mu);
        phase = 1;
        cv.notify_all();
        cv.wait(g, [&] { return phase == 2; });
        // Smaller classes only, until the cap's walk runs: it visits the
        // largest class first, the missed one.
        // One buffer of each class between 4 KiB and the missed one, then
        // the smaller classes' magazines: together past the cap, so that
        // a slow path walks the caches, largest class first.
        std::vector<void *> v;
        tlp_bufpool_stats cs;
        tlp_bufpool_stats_get(bp, &cs);
        for (unsigned c = 0; c < cs.nclasses; c++)
            if (cs.classes[c].size > 4096 && cs.classes[c].size < big)
                tlp_bufpool_free(bp, tlp_bufpool_alloc(bp, cs.classes[c].size));
        for (unsigned c = 0; c < cs.nclasses; c++) {
            const size_t size = cs.classes[c].size;
            if (size <= 4096)
                for (size_t i = 0; i < 16384 / size; i++)
                    v.push_back(tlp_bufpool_alloc(bp, size));
        }
        for (void *p : v)
            tlp_bufpool_free(bp, p);
        phase = 3;
        cv.notify_all();
        cv.wait(g, [&] { return phase == 4; });
    });
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return phase == 1; });
    tlp_bufpool_drain(bp); // cannot reach the worker
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(bp, &s);
    EXPECT_EQ(class_of(s).idle, 1u);
    const uint64_t spilled = s.cap_spilled_bytes;
    phase = 2;
    cv.notify_all();
    cv.wait(g, [&] { return phase == 3; });
    tlp_bufpool_stats_get(bp, &s);
    EXPECT_GT(s.cap_spilled_bytes, spilled) << "the cap's walk did not run";
    EXPECT_EQ(class_of(s).idle, 1u);
    tlp_bufpool_drain(bp); // the second drain since the buffer was idle
    tlp_bufpool_stats_get(bp, &s);
    EXPECT_EQ(class_of(s).idle, 0u) << "a missed cache's buffer outlived two drains";
    phase = 4;
    cv.notify_all();
    g.unlock();
    worker.join();
    tlp_bufpool_destroy(bp);
}

/* A thread the drain could not reach exits before its next operation: its
 * cache goes where the drain would have put it, the victim generation, not
 * to the shared tier (where it would outlive the next drain). */
TEST(SignalFallback, UnreachableThreadsExitingHandTheirCacheToTheVictimGeneration)
{
    const unsigned f = tlp_build_features();
    if (!(f & TLP_FEATURE_FASTPATH) || (f & TLP_FEATURE_FENCED))
        GTEST_SKIP() << "every cache is reachable without the barrier in this build";
    tlp_config c{};
    c.obj_size = 64;
    c.thread_cache = 64;
    c.name = "exit-missed";
    tlp_pool *p;
    ASSERT_EQ(tlp_pool_create(&c, &p), 0);
    const int cached = 20;
    std::mutex mu;
    std::condition_variable cv;
    int phase = 0;
    std::thread worker([&] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        std::vector<void *> o(cached);
        for (auto &x : o) x = tlp_get(p);
        for (auto x : o) tlp_put(p, x);
        std::unique_lock<std::mutex> g(mu);
        phase = 1;
        cv.notify_all();
        cv.wait(g, [&] { return phase == 2; });
    });
    {
        std::unique_lock<std::mutex> g(mu);
        cv.wait(g, [&] { return phase == 1; });
        tlp_drain(p); // cannot reach the worker
        phase = 2;
        cv.notify_all();
    }
    worker.join();
    tlp_stats s;
    tlp_stats_get(p, &s);
    EXPECT_EQ(s.idle_thread, 0u);
    EXPECT_EQ(s.idle_shared, 0u) << "the missed cache went to the shared tier";
    EXPECT_EQ(s.idle_victim, (uint64_t)cached);
    tlp_drain(p);
    tlp_stats_get(p, &s);
    EXPECT_EQ(s.idle, 0u) << "the missed cache outlived the next drain";
    tlp_pool_destroy(p);
}
