/* SPDX-License-Identifier: MIT */
/*
 * The pool across threads: batches moving between threads, many threads on
 * one pool with an ownership check, thread exit with a full cache, destroy
 * while other threads hold cached objects, create/destroy cycles with threads
 * alive. (Many pools at once: test_many_pools.cc.)
 */
#include "tlp_test_util.h"

#include <malloc.h>
#include <pthread.h>

#include <deque>
#include <thread>
#include <mutex>
#include <condition_variable>
#include <vector>

using namespace tlpt;

/* Thread A puts many objects and parks; thread B gets them: all but what A's
 * own cache keeps come to B through the shared tier, as the same pointers. */
TEST(PoolThreads, BatchesMoveFromThreadAToThreadB)
{
    Watchdog wd("BatchesMoveFromThreadAToThreadB");
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 16;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    constexpr int N = 1000;
    std::vector<void *> from_a;
    Gate parked, done;
    std::thread a([&] {
        for (int i = 0; i < N; i++)
            from_a.push_back(tlp_get(pool));
        for (void *p : from_a)
            tlp_put(pool, p);
        parked.wait(); /* keep A (and its cache) alive while B runs */
        done.wait();
    });
    parked.wait_arrivals(1);
    ASSERT_EQ(t.made.load(), uint64_t(N));

    std::unordered_set<void *> a_set(from_a.begin(), from_a.end());
    ASSERT_EQ(a_set.size(), size_t(N));
    std::vector<void *> from_b;
    size_t shared = 0;
    std::thread b([&] {
        for (int i = 0; i < N; i++) {
            void *p = tlp_get(pool);
            from_b.push_back(p);
            shared += a_set.count(p);
        }
    });
    b.join();
    parked.open();
    EXPECT_GE(shared, size_t(N - 16)) << "A's overflow must reach B";
    EXPECT_EQ(t.made.load() - N, N - shared) << "B made only what it could not find";
    tlp_stats s = stats_of(pool);
    EXPECT_GT(s.hits_shared, 0u);
    EXPECT_EQ(s.out, uint64_t(N));

    for (void *p : from_b)
        tlp_put(pool, p);
    done.open();
    a.join();
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* A thread exits with its cache full: another thread gets the very same
 * objects, without making any. */
TEST(PoolThreads, ExitedThreadsCacheIsReusedByOthers)
{
    Tracker t;
    tlp_pool *pool = make_pool(t.config());
    ASSERT_NE(pool, nullptr);
    std::vector<void *> from_a;
    std::thread([&] {
        for (int i = 0; i < 100; i++) /* fits the default cache (128) */
            from_a.push_back(tlp_get(pool));
        for (void *p : from_a)
            tlp_put(pool, p);
    }).join();
    EXPECT_EQ(stats_of(pool).idle, 100u);

    std::unordered_set<void *> a_set(from_a.begin(), from_a.end());
    std::vector<void *> from_b;
    std::thread([&] {
        for (int i = 0; i < 100; i++)
            from_b.push_back(tlp_get(pool));
    }).join();
    for (void *p : from_b)
        EXPECT_EQ(a_set.count(p), 1u);
    EXPECT_EQ(t.made.load(), 100u);
    for (void *p : from_b)
        tlp_put(pool, p);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/*
 * Many threads on one pool, each object carrying an ownership flag: set on
 * get (it must have been clear), checked while held, cleared before put.
 * Some objects are handed to other threads through a queue and put there.
 */
TEST(PoolThreads, ManyThreadsNoObjectHandedToTwoHolders)
{
    Watchdog wd("ManyThreadsNoObjectHandedToTwoHolders");
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 32;
    c.shards = 2;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    constexpr int T = 6;
    const long iters = scaled(40000);
    std::mutex qmu;
    /* Objects in transit keep their owner flag, with the tag written in them. */
    std::deque<std::pair<Obj *, uint64_t>> handoff;
    std::atomic<uint64_t> bad{0}, gets{0}, puts{0};

    auto put_owned = [&](Obj *o, uint64_t tag) {
        if (o->user != tag)
            bad++; /* someone wrote to it while we held it */
        release(o);
        tlp_put(pool, o);
        puts++;
    };
    std::vector<std::thread> ths;
    for (int k = 0; k < T; k++) {
        ths.emplace_back([&, k] {
            Obj *held[8];
            for (long i = 0; i < iters; i++) {
                int n = 1 + int((i * 7 + k) % 8);
                for (int j = 0; j < n; j++) {
                    held[j] = static_cast<Obj *>(tlp_get(pool));
                    gets++;
                    if (!held[j] || !acquire(held[j])) {
                        bad++;
                        held[j] = nullptr;
                        continue;
                    }
                    held[j]->user = uint64_t(k) << 32 | uint64_t(j);
                }
                for (int j = 0; j < n; j++) {
                    Obj *o = held[j];
                    if (!o)
                        continue;
                    if (o->user != (uint64_t(k) << 32 | uint64_t(j)))
                        bad++;
                    if ((i + j) % 5 == 0) { /* hand it over, tagged */
                        uint64_t tag = uint64_t(k) << 32 | uint64_t(i & 0xffff) << 8 | 0xff;
                        o->user = tag;
                        std::lock_guard<std::mutex> g(qmu);
                        handoff.emplace_back(o, tag);
                    } else {
                        release(o);
                        tlp_put(pool, o);
                        puts++;
                    }
                }
                /* Put someone else's object (or our own). */
                for (int j = 0; j < 2; j++) {
                    std::pair<Obj *, uint64_t> h{nullptr, 0};
                    {
                        std::lock_guard<std::mutex> g(qmu);
                        if (!handoff.empty()) {
                            h = handoff.front();
                            handoff.pop_front();
                        }
                    }
                    if (h.first)
                        put_owned(h.first, h.second);
                }
            }
        });
    }
    for (auto &th : ths)
        th.join();
    for (auto &h : handoff)
        put_owned(h.first, h.second);
    handoff.clear();

    EXPECT_EQ(bad.load(), 0u);
    EXPECT_EQ(t.errors.load(), 0u) << t.first_error();
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.gets, gets.load());
    EXPECT_EQ(s.puts, puts.load());
    EXPECT_EQ(s.out, 0u);
    EXPECT_EQ(s.made, t.made.load());
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* Threads exit with full caches: their objects go back to the pool (none
 * lost, none released twice), and destroy releases them all. */
TEST(PoolThreads, ThreadExitWithFullCacheReturnsObjects)
{
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 64;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);
    constexpr int T = 8;
    std::vector<std::thread> ths;
    for (int k = 0; k < T; k++) {
        ths.emplace_back([&] {
            std::vector<void *> held;
            for (int i = 0; i < 64; i++)
                held.push_back(tlp_get(pool));
            for (void *p : held)
                tlp_put(pool, p);
        });
    }
    for (auto &th : ths)
        th.join();
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.made, t.made.load());
    EXPECT_EQ(s.idle, s.made) << "every object is idle in the pool";
    EXPECT_EQ(s.idle_thread, 0u) << "no thread is left holding a cache";
    EXPECT_EQ(s.threads, 0u);
    EXPECT_EQ(t.freed.load(), 0u) << "exits keep the objects (no max_idle)";
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/*
 * Destroy while other live threads hold cached objects of the pool (they are
 * parked, so nobody uses it concurrently). Then the threads use a new pool,
 * which may reuse the old pool's slot: they must get objects of the new pool
 * only, and exit cleanly.
 */
TEST(PoolThreads, DestroyWithObjectsInOtherLiveThreadsCaches)
{
    Watchdog wd("DestroyWithObjectsInOtherLiveThreadsCaches");
    Tracker t1, t2;
    tlp_pool *p1 = make_pool(t1.config());
    ASSERT_NE(p1, nullptr);
    std::atomic<tlp_pool *> p2{nullptr};
    constexpr int T = 4;
    Gate parked, resume;
    std::atomic<uint64_t> bad{0};
    std::vector<std::thread> ths;
    for (int k = 0; k < T; k++) {
        ths.emplace_back([&] {
            std::vector<void *> held;
            for (int i = 0; i < 50; i++)
                held.push_back(tlp_get(p1));
            for (void *p : held)
                tlp_put(p1, p);
            parked.wait();
            resume.wait();
            tlp_pool *p = p2.load();
            held.clear();
            for (int i = 0; i < 60; i++) {
                void *o = tlp_get(p);
                if (!o || !t2.is_live(o))
                    bad++; /* a stale object of the destroyed pool */
                held.push_back(o);
            }
            for (void *o : held)
                tlp_put(p, o);
        });
    }
    parked.wait_arrivals(T);
    tlp_stats s = stats_of(p1);
    EXPECT_EQ(s.made, 200u);
    EXPECT_EQ(s.idle_thread, 200u);
    EXPECT_EQ(s.threads, uint64_t(T));
    tlp_pool_destroy(p1);
    EXPECT_EQ(t1.freed.load(), 200u) << "destroy reaches the parked threads' caches";
    t1.expect_all_released();

    p2 = make_pool(t2.config());
    ASSERT_NE(p2.load(), nullptr);
    parked.open();
    resume.open();
    for (auto &th : ths)
        th.join();
    EXPECT_EQ(bad.load(), 0u);
    s = stats_of(p2);
    EXPECT_EQ(s.made, t2.made.load());
    EXPECT_EQ(s.out, 0u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(p2);
    t2.expect_all_released();
    t1.expect_all_released(); /* thread exits released nothing of p1 again */
}

/*
 * Thousands of create/destroy cycles while threads stay alive and use every
 * new pool: all objects accounted for, and per-thread memory does not grow
 * with the number of pools ever created. The heap is measured over cycles in
 * which the four threads use each pool (phase A) and over cycles in which
 * they do not (phase B): what A adds per cycle beyond B is per-thread memory.
 * (Per-pool costs, such as checked builds keeping destroyed pools for
 * use-after-destroy reports, are in both phases and cancel out.)
 */
TEST(PoolThreads, CreateDestroyCyclesWithThreadsAlive)
{
    Watchdog wd("CreateDestroyCyclesWithThreadsAlive", 120);
    Tracker t;
    constexpr int T = 4;
    const long warm = scaled(500), phase_a = scaled(4500), phase_b = scaled(2000);
    pthread_barrier_t bar;
    ASSERT_EQ(pthread_barrier_init(&bar, nullptr, T + 1), 0);
    std::atomic<tlp_pool *> cur{nullptr};
    std::atomic<bool> stop{false}, use{true};
    std::atomic<uint64_t> bad{0};

    std::vector<std::thread> ths;
    for (int k = 0; k < T; k++) {
        ths.emplace_back([&, k] {
            for (;;) {
                pthread_barrier_wait(&bar); /* a new pool is published */
                if (stop.load())
                    return;
                tlp_pool *p = cur.load();
                void *held[5];
                int n = use.load() ? 1 + k : 0;
                for (int i = 0; i < n; i++) {
                    held[i] = tlp_get(p);
                    if (!held[i] || !acquire(static_cast<Obj *>(held[i])))
                        bad++;
                }
                for (int i = 0; i < n; i++) {
                    if (held[i])
                        release(static_cast<Obj *>(held[i]));
                    tlp_put(p, held[i]);
                }
                pthread_barrier_wait(&bar); /* done with it */
            }
        });
    }

    long done = 0;
    auto run = [&](long cycles) {
        for (long i = 0; i < cycles; i++, done++) {
            tlp_config c = t.config();
            c.thread_cache = 8 + unsigned(done % 5) * 8;
            tlp_pool *p = make_pool(c);
            ASSERT_NE(p, nullptr) << "cycle " << done;
            cur = p;
            pthread_barrier_wait(&bar);
            pthread_barrier_wait(&bar);
            void *o = tlp_get(p); /* the main thread uses every pool */
            tlp_put(p, o);
            tlp_pool_destroy(p);
        }
    };
    run(warm);
    /* Checked builds keep the last 4096 destroyed pools as tombstones
     * (src/pool.c): fill that graveyard first, so both phases measure a
     * full one (each destroy then frees the oldest tombstone). */
    if (tlp_build_features() & TLP_FEATURE_CHECKED)
        run(4096);
    const size_t h0 = mallinfo2().uordblks;
    run(phase_a);
    const size_t h1 = mallinfo2().uordblks;
    use = false;
    run(phase_b);
    const size_t h2 = mallinfo2().uordblks;
    stop = true;
    pthread_barrier_wait(&bar);
    for (auto &th : ths)
        th.join();
    pthread_barrier_destroy(&bar);

    EXPECT_EQ(done, warm + phase_a + phase_b +
                        ((tlp_build_features() & TLP_FEATURE_CHECKED) ? 4096 : 0));
    EXPECT_EQ(bad.load(), 0u);
    t.expect_all_released();
    EXPECT_GT(t.made.load(), uint64_t(done));
#if !TLP_TEST_SANITIZED
    /* Sanitizers replace malloc: mallinfo2 sees nothing of it. One magazine
     * per pool per thread left behind would add >= 4 * 48 bytes a cycle. */
    const double per_cycle_a = (double(h1) - double(h0)) / double(phase_a);
    const double per_cycle_b = (double(h2) - double(h1)) / double(phase_b);
    EXPECT_LT(per_cycle_a - per_cycle_b, 32.0)
        << "heap per cycle with " << T << " threads using each pool: " << per_cycle_a
        << " bytes; without: " << per_cycle_b << " bytes";
#else
    (void)h0;
    (void)h1;
    (void)h2;
#endif
}

/* One thread only takes, the other only gives back: every magazine B fills
 * goes through the shared tier to A, and A's emptied magazines pile up in
 * the stock of A's shard. The stocks are bounded and overflow to the pool's
 * spare list, where B finds them: after warm-up the heap must not grow with
 * the number of rounds (a lost or unbounded stock would add a magazine per
 * exchange: 64 per round here). */
TEST(PoolThreads, OneWayTrafficKeepsTheHeapBounded)
{
    Watchdog wd("OneWayTrafficKeepsTheHeapBounded");
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 8; /* magazines of 4: many exchanges per round */
    c.shards = 2;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    constexpr int N = 256, warm = 50, rounds = TLP_TEST_SANITIZED ? 200 : 2000;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<void *> batch;
    bool full = false, quit = false;
    uint64_t bad = 0;
    std::thread giver([&] {
        for (;;) {
            std::vector<void *> mine;
            {
                std::unique_lock<std::mutex> l(mu);
                cv.wait(l, [&] { return full || quit; });
                if (!full && quit)
                    return;
                mine.swap(batch);
                full = false;
            }
            cv.notify_all();
            for (void *o : mine)
                tlp_put(pool, o);
        }
    });
    auto round = [&] {
        std::vector<void *> got;
        for (int i = 0; i < N; i++) {
            void *o = tlp_get(pool);
            if (!o)
                bad++;
            else
                got.push_back(o);
        }
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return !full; });
        batch.swap(got);
        full = true;
        cv.notify_all();
    };
    for (int r = 0; r < warm; r++)
        round();
    const size_t h0 = mallinfo2().uordblks;
    for (int r = 0; r < rounds; r++)
        round();
    {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return !full; });
        quit = true;
        cv.notify_all();
    }
    giver.join();
    const size_t h1 = mallinfo2().uordblks;

    EXPECT_EQ(bad, 0u);
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.out, 0u);
    EXPECT_GT(s.hits_shared, uint64_t(rounds)) << "the objects must travel through the shared tier";
#if !TLP_TEST_SANITIZED
    /* A magazine of 4 is 64 bytes + malloc's header; 64 per round leaked
     * would be > 4 KiB a round, 8 MiB over the run. Allow 256 KiB of noise. */
    EXPECT_LT(double(h1) - double(h0), 256.0 * 1024)
        << "heap grew by " << (double(h1) - double(h0)) / rounds << " bytes a round";
#else
    (void)h0;
    (void)h1;
#endif
    tlp_pool_destroy(pool);
    t.expect_all_released();
}
