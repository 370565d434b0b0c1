/* SPDX-License-Identifier: MIT */
/*
 * Drains: the two-generation rule, rescue from the victim generation, drains
 * reaching blocked threads' caches, a drain-vs-get/put stress test, the
 * background drainer, release_idle, max_idle, per-generation statistics and
 * the PSI watcher's start/stop.
 */
#include "tlp_test_util.h"

#include <vector>

using namespace tlpt;

/* An object left idle survives the first drain and is released by the
 * second, wherever it was idle (thread cache or shared tier). */
TEST(Drain, TwoDrainRuleOnOneThread)
{
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 8;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    tlp_put(pool, tlp_get(pool));
    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), 0u) << "the first drain must not release";
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.idle_victim, 1u);
    EXPECT_EQ(s.idle, 1u);
    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), 1u) << "the second drain releases";
    s = stats_of(pool);
    EXPECT_EQ(s.idle, 0u);
    EXPECT_EQ(s.released_by_drain, 1u);
    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), 1u);

    /* 100 objects: most in the shared tier, some in the thread cache. */
    std::vector<void *> held;
    for (int i = 0; i < 100; i++)
        held.push_back(tlp_get(pool));
    for (void *p : held)
        tlp_put(pool, p);
    uint64_t base = t.freed.load();
    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), base);
    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), base + 100);
    s = stats_of(pool);
    EXPECT_EQ(s.idle, 0u);
    EXPECT_EQ(s.drains, 5u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* A get between drains rescues one object from the victim generation: the
 * others stay there (and keep their age), the rescued one starts over. */
TEST(Drain, GetBetweenDrainsRescuesOneObject)
{
    Tracker t;
    tlp_pool *pool = make_pool(t.config());
    ASSERT_NE(pool, nullptr);
    std::vector<void *> held;
    for (int i = 0; i < 10; i++)
        held.push_back(tlp_get(pool));
    std::unordered_set<void *> ten(held.begin(), held.end());
    for (void *p : held)
        tlp_put(pool, p);
    tlp_drain(pool);
    ASSERT_EQ(stats_of(pool).idle_victim, 10u);

    void *r = tlp_get(pool);
    EXPECT_EQ(ten.count(r), 1u);
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.hits_victim, 1u);
    EXPECT_EQ(s.idle_victim, 9u) << "only the object handed out leaves the victim generation";
    EXPECT_EQ(s.made, 10u);
    expect_quiescent_identities(s);

    tlp_put(pool, r); /* idle again: a first-generation object */
    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), 9u) << "the nine old ones go, the rescued one survives";
    EXPECT_TRUE(t.is_live(r));
    s = stats_of(pool);
    EXPECT_EQ(s.idle_victim, 1u);
    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), 10u);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* Rescue takes precedence over making: all of the victim generation is
 * handed out before obj_new runs. */
TEST(Drain, VictimIsEmptiedBeforeMaking)
{
    Tracker t;
    tlp_pool *pool = make_pool(t.config());
    ASSERT_NE(pool, nullptr);
    std::vector<void *> held;
    for (int i = 0; i < 40; i++)
        held.push_back(tlp_get(pool));
    for (void *p : held)
        tlp_put(pool, p);
    tlp_drain(pool);
    for (int i = 0; i < 40; i++)
        held[size_t(i)] = tlp_get(pool);
    EXPECT_EQ(t.made.load(), 40u);
    EXPECT_EQ(stats_of(pool).hits_victim, 40u);
    held.push_back(tlp_get(pool));
    EXPECT_EQ(t.made.load(), 41u);
    for (void *p : held)
        tlp_put(pool, p);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/*
 * The issue-3 test: thread T caches 1000 objects and blocks on a condition
 * variable; two drains from the main thread release all 1000 while T is
 * still blocked; T then wakes and gets a valid object.
 */
TEST(Drain, TwoDrainsReleaseABlockedThreadsCache)
{
    Watchdog wd("TwoDrainsReleaseABlockedThreadsCache");
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 4096;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    Gate blocked;
    std::atomic<bool> got_valid{false};
    std::thread th([&] {
        std::vector<void *> held;
        for (int i = 0; i < 1000; i++)
            held.push_back(tlp_get(pool));
        for (void *p : held)
            tlp_put(pool, p);
        blocked.wait();
        auto *o = static_cast<Obj *>(tlp_get(pool));
        got_valid = o && t.is_live(o) && acquire(o);
        if (o) {
            release(o);
            tlp_put(pool, o);
        }
    });
    blocked.wait_arrivals(1);
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.idle_thread, 1000u);
    EXPECT_EQ(s.made, 1000u);

    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), 0u);
    s = stats_of(pool);
    EXPECT_EQ(s.idle_thread, 0u) << "the drain moved T's cache to the victim generation";
    EXPECT_EQ(s.idle_victim, 1000u);
    tlp_drain(pool);
    EXPECT_EQ(t.freed.load(), 1000u) << "two drains release all of T's cache while T is blocked";
    s = stats_of(pool);
    EXPECT_EQ(s.idle, 0u);
    EXPECT_EQ(s.released_by_drain, 1000u);

    blocked.open();
    th.join();
    EXPECT_TRUE(got_valid.load());
    s = stats_of(pool);
    EXPECT_EQ(s.made, 1001u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/*
 * Stress: workers run get/put loops flat out while another thread drains in a
 * loop (and now and then releases everything). The ownership flag catches an
 * object handed to two holders; the Tracker catches an object released while
 * held, released twice, or (via its magic) handed out after release; destroy
 * at the end must release every object made exactly once (none lost).
 */
namespace {

void drain_stress(bool with_reset, std::chrono::milliseconds budget)
{
    Tracker t;
    tlp_config c = t.config(with_reset);
    c.thread_cache = 16;
    c.shards = 2;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    constexpr int W = 4;
    const long max_iters = scaled(2000000);
    const auto deadline = std::chrono::steady_clock::now() + budget;
    const auto hard_deadline = deadline + std::chrono::seconds(120);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bad{0}, drains{0};
    std::vector<std::thread> ths;
    for (int k = 0; k < W; k++) {
        ths.emplace_back([&, k] {
            Obj *held[16];
            for (long i = 0;; i++) {
                /* The budget and max_iters end the run only once it has
                 * overlapped some drains: under valgrind (one thread runs at
                 * a time) the workers could otherwise finish before the
                 * drainer ran at all. The hard deadline keeps a broken
                 * drainer from hanging the test (it then fails below). */
                if ((i & 63) == 0) {
                    const auto now = std::chrono::steady_clock::now();
                    const bool overlapped = drains.load(std::memory_order_relaxed) >= 8;
                    if (stop.load(std::memory_order_relaxed) || now > hard_deadline ||
                        (overlapped && (now > deadline || i >= max_iters)))
                        break;
                }
                int n = 1 + int((i * 5 + k) % 16);
                for (int j = 0; j < n; j++) {
                    held[j] = static_cast<Obj *>(tlp_get(pool));
                    if (!held[j] || !acquire(held[j])) {
                        bad++;
                        held[j] = nullptr;
                        continue;
                    }
                    held[j]->user = uint64_t(k) << 32 | uint64_t(i);
                }
                for (int j = 0; j < n; j++) {
                    if (!held[j])
                        continue;
                    if (held[j]->user != (uint64_t(k) << 32 | uint64_t(i)))
                        bad++;
                    release(held[j]);
                    tlp_put(pool, held[j]);
                }
            }
        });
    }
    std::thread drainer([&] {
        for (long i = 0; !stop.load(); i++) {
            if (i % 50 == 49)
                tlp_release_idle(pool);
            else
                tlp_drain(pool);
            drains++;
            if (i % 8 == 7)
                std::this_thread::yield();
        }
    });
    for (auto &th : ths)
        th.join();
    stop = true;
    drainer.join();

    EXPECT_EQ(bad.load(), 0u) << "an object was handed to two holders (or was not live)";
    EXPECT_EQ(t.errors.load(), 0u) << t.first_error();
    EXPECT_GT(drains.load(), 0u);
    tlp_stats s = stats_of(pool);
    /* For the record (--gtest_output=xml): how much the run exercised. */
    ::testing::Test::RecordProperty("gets", std::to_string(s.gets));
    ::testing::Test::RecordProperty("drains", std::to_string(drains.load()));
    ::testing::Test::RecordProperty("hits_victim", std::to_string(s.hits_victim));
    ::testing::Test::RecordProperty("released_by_drain", std::to_string(s.released_by_drain));
    EXPECT_EQ(s.out, 0u);
    EXPECT_EQ(s.made, t.made.load());
    EXPECT_EQ(s.released, t.freed.load());
    EXPECT_GT(s.released_by_drain, 0u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

} // namespace

TEST(Drain, StressDrainsAgainstFastPath)
{
    Watchdog wd("StressDrainsAgainstFastPath");
    drain_stress(false, std::chrono::milliseconds(1000));
}

TEST(Drain, StressDrainsAgainstSlowPath)
{
    Watchdog wd("StressDrainsAgainstSlowPath");
    drain_stress(true, std::chrono::milliseconds(1000));
}

/* drain_ms = 20: the background drainer empties the pool (the main thread's
 * cache, the shared tier and a blocked thread's cache) with no call from the
 * application, and its thread is gone once the pool is destroyed. */
TEST(Drain, BackgroundDrainerEmptiesThePool)
{
    const int threads_before = thread_baseline();
    Tracker t;
    tlp_config c = t.config();
    c.drain_ms = 20;
    c.thread_cache = 64;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    Gate blocked;
    std::thread th([&] {
        std::vector<void *> held;
        for (int i = 0; i < 50; i++)
            held.push_back(tlp_get(pool));
        for (void *p : held)
            tlp_put(pool, p);
        blocked.wait();
    });
    blocked.wait_arrivals(1);
    std::vector<void *> held;
    for (int i = 0; i < 500; i++)
        held.push_back(tlp_get(pool));
    for (void *p : held)
        tlp_put(pool, p);

    /* Poll until every object made was freed and the stats agree. (Stats
     * alone are not enough: a snapshot taken while the drainer has unlinked
     * the idle lists but not yet swapped them into the victim generation
     * reads idle == 0 with the objects still in flight.) */
    const auto limit = std::chrono::steady_clock::now() + poll_limit(2000);
    tlp_stats s = stats_of(pool);
    while ((s.idle != 0 || t.freed.load() != t.made.load()) &&
           std::chrono::steady_clock::now() < limit) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        s = stats_of(pool);
    }
    EXPECT_EQ(s.idle, 0u) << "idle_thread=" << s.idle_thread << " idle_shared=" << s.idle_shared
                          << " idle_victim=" << s.idle_victim << " drains=" << s.drains;
    EXPECT_GE(s.drains, 2u);
    EXPECT_EQ(t.freed.load(), t.made.load());
    EXPECT_EQ(s.released_by_drain, t.made.load());

    blocked.open();
    th.join();
    tlp_pool_destroy(pool);
    t.expect_all_released();
    EXPECT_EQ(thread_count_becomes(threads_before), threads_before) << "the drainer thread must be joined with the last pool";
}

/* Destroying pools while the background drainer runs (and starting and
 * stopping it over and over) loses nothing and frees nothing twice. */
TEST(Drain, DestroyWhileBackgroundDrainerRuns)
{
    Watchdog wd("DestroyWhileBackgroundDrainerRuns");
    const int threads_before = thread_baseline();
    Tracker t;
    const long cycles = scaled(300);
    for (int phase = 0; phase < 2; phase++) {
        tlp_pool *keeper = nullptr;
        if (phase == 1) { /* keeps the drainer alive across cycles */
            tlp_config kc = t.config();
            kc.drain_ms = 1;
            keeper = make_pool(kc);
        }
        for (long i = 0; i < cycles; i++) {
            tlp_config c = t.config();
            c.drain_ms = 1;
            c.thread_cache = 8;
            tlp_pool *p = make_pool(c);
            ASSERT_NE(p, nullptr);
            std::vector<void *> held;
            for (int k = 0; k < 40; k++)
                held.push_back(tlp_get(p));
            for (void *o : held)
                tlp_put(p, o);
            if (i % 4 == 0)
                std::this_thread::sleep_for(std::chrono::microseconds(500 + 300 * (i % 7)));
            tlp_pool_destroy(p);
        }
        tlp_pool_destroy(keeper);
    }
    t.expect_all_released();
    /* threads_before was taken with the watchdog already running. */
    EXPECT_EQ(thread_count_becomes(threads_before), threads_before) << "no drainer thread left behind";
}

/* tlp_release_idle: every idle object of the pool now (both generations,
 * every thread), and nothing that is out. */
TEST(Drain, ReleaseIdleFreesEverythingIdleAtOnce)
{
    Watchdog wd("ReleaseIdleFreesEverythingIdleAtOnce");
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 16;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    Gate blocked;
    std::thread th([&] {
        std::vector<void *> h;
        for (int i = 0; i < 10; i++)
            h.push_back(tlp_get(pool));
        for (void *p : h)
            tlp_put(pool, p);
        blocked.wait();
    });
    blocked.wait_arrivals(1);

    std::vector<void *> held;
    for (int i = 0; i < 100; i++)
        held.push_back(tlp_get(pool));
    for (int i = 0; i < 60; i++) {
        tlp_put(pool, held.back());
        held.pop_back();
    }
    tlp_drain(pool); /* some in the victim generation */
    for (int i = 0; i < 35; i++) {
        tlp_put(pool, held.back());
        held.pop_back();
    }
    ASSERT_EQ(held.size(), 5u); /* these stay out, and held */
    for (void *p : held)
        ASSERT_TRUE(acquire(static_cast<Obj *>(p)));

    tlp_stats s = stats_of(pool);
    EXPECT_GT(s.idle_victim, 0u);
    EXPECT_GT(s.idle_shared + s.idle_thread, 0u);
    tlp_release_idle(pool);
    s = stats_of(pool);
    EXPECT_EQ(s.idle, 0u) << "idle_thread=" << s.idle_thread << " idle_shared=" << s.idle_shared
                          << " idle_victim=" << s.idle_victim;
    EXPECT_EQ(t.freed.load(), t.made.load() - 5);
    EXPECT_EQ(s.out, 5u);
    for (void *p : held)
        EXPECT_TRUE(t.is_live(p));
    expect_quiescent_identities(s);

    for (void *p : held) {
        release(static_cast<Obj *>(p));
        tlp_put(pool, p);
    }
    EXPECT_EQ(stats_of(pool).idle, 5u);
    blocked.open();
    th.join();
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

TEST(Drain, ReleaseIdleAllReachesEveryPool)
{
    Tracker t1, t2;
    tlp_pool *p1 = make_pool(t1.config());
    tlp_config c2 = t2.config(true);
    c2.thread_cache = 4;
    tlp_pool *p2 = make_pool(c2);
    tlp_config c3;
    std::memset(&c3, 0, sizeof c3);
    c3.obj_size = 100;
    tlp_pool *p3 = make_pool(c3); /* the pool's own allocation */
    ASSERT_TRUE(p1 && p2 && p3);
    for (tlp_pool *p : {p1, p2, p3}) {
        std::vector<void *> h;
        for (int i = 0; i < 30; i++)
            h.push_back(tlp_get(p));
        for (void *o : h)
            tlp_put(p, o);
        tlp_drain(p);
        for (int i = 0; i < 10; i++)
            h[size_t(i)] = tlp_get(p);
        for (int i = 0; i < 10; i++)
            tlp_put(p, h[size_t(i)]);
        EXPECT_EQ(stats_of(p).idle, 30u);
    }
    tlp_release_idle_all();
    for (tlp_pool *p : {p1, p2, p3}) {
        tlp_stats s = stats_of(p);
        EXPECT_EQ(s.idle, 0u) << s.name;
        EXPECT_EQ(s.released, 30u);
        expect_quiescent_identities(s);
    }
    EXPECT_EQ(t1.freed.load(), 30u);
    EXPECT_EQ(t2.freed.load(), 30u);
    tlp_pool_destroy(p1);
    tlp_pool_destroy(p2);
    tlp_pool_destroy(p3);
    t1.expect_all_released();
    t2.expect_all_released();
}

/* max_idle caps the shared tier: the excess is released at put time, batch-
 * wise, so the shared tier never holds more than max_idle plus one batch (a
 * batch is at most a thread cache's worth). */
TEST(Drain, MaxIdleCapsTheSharedTier)
{
    Watchdog wd("MaxIdleCapsTheSharedTier");
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 16;
    c.max_idle = 32;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);
    const uint64_t bound = c.max_idle + c.thread_cache;

    std::vector<void *> held;
    for (int i = 0; i < 500; i++)
        held.push_back(tlp_get(pool));
    uint64_t peak = 0;
    for (void *p : held) {
        tlp_put(pool, p);
        peak = std::max(peak, stats_of(pool).idle_shared);
    }
    EXPECT_LE(peak, bound);
    tlp_stats s = stats_of(pool);
    EXPECT_GT(s.released_by_cap, 0u);
    EXPECT_EQ(s.released_by_cap, t.freed.load());
    EXPECT_LE(s.idle, bound + c.thread_cache);
    expect_quiescent_identities(s);

    /* Several threads spilling at once. */
    std::atomic<uint64_t> peak_mt{0};
    std::vector<std::thread> ths;
    for (int k = 0; k < 3; k++) {
        ths.emplace_back([&] {
            std::vector<void *> h;
            for (int r = 0; r < 20; r++) {
                for (int i = 0; i < 100; i++)
                    h.push_back(tlp_get(pool));
                for (void *p : h)
                    tlp_put(pool, p);
                h.clear();
                uint64_t v = stats_of(pool).idle_shared, cur = peak_mt.load();
                while (v > cur && !peak_mt.compare_exchange_weak(cur, v)) {
                }
            }
        });
    }
    for (auto &th : ths)
        th.join();
    EXPECT_LE(peak_mt.load(), bound);
    s = stats_of(pool);
    EXPECT_LE(s.idle_shared, bound);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* Idle objects per generation, drains done and objects released by drains. */
TEST(Drain, StatsPerGeneration)
{
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 16;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);
    std::vector<void *> held;
    for (int i = 0; i < 100; i++)
        held.push_back(tlp_get(pool));
    for (void *p : held)
        tlp_put(pool, p);

    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.idle, 100u);
    EXPECT_GT(s.idle_thread, 0u);
    EXPECT_LE(s.idle_thread, 16u);
    EXPECT_EQ(s.idle_shared, 100u - s.idle_thread);
    EXPECT_EQ(s.idle_victim, 0u);
    EXPECT_EQ(s.drains, 0u);
    EXPECT_EQ(s.threads, 1u);

    tlp_drain(pool);
    s = stats_of(pool);
    EXPECT_EQ(s.idle_thread, 0u);
    EXPECT_EQ(s.idle_shared, 0u);
    EXPECT_EQ(s.idle_victim, 100u);
    EXPECT_EQ(s.drains, 1u);
    EXPECT_EQ(s.released_by_drain, 0u);

    tlp_drain(pool);
    s = stats_of(pool);
    EXPECT_EQ(s.idle, 0u);
    EXPECT_EQ(s.drains, 2u);
    EXPECT_EQ(s.released_by_drain, 100u);
    EXPECT_EQ(s.released, 100u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* The PSI watcher: 0 or ENOTSUP (no PSI here); EALREADY while running; stop
 * joins its thread; it can start again after a stop. */
TEST(Drain, PressureWatchStartsOrIsUnsupportedAndStopsCleanly)
{
    const int threads_before = thread_baseline();
    /* Unprivileged PSI triggers need a window that is a multiple of 2 s. */
    int rc = tlp_pressure_watch_start(150000, 2000000);
    if (rc == ENOTSUP)
        GTEST_SKIP() << "PSI not available on this kernel";
    ASSERT_EQ(rc, 0) << std::strerror(rc);
    EXPECT_EQ(tlp_pressure_watch_start(150000, 2000000), EALREADY);
    tlp_pressure_watch_stop();
    EXPECT_EQ(thread_count_becomes(threads_before), threads_before) << "stop must join the watcher";
    ASSERT_EQ(tlp_pressure_watch_start(150000, 2000000), 0) << "restart after stop";
    tlp_pressure_watch_stop();
    EXPECT_EQ(thread_count_becomes(threads_before), threads_before);
}
