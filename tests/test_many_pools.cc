// SPDX-License-Identifier: MIT
// Many pools and many threads: far more than the old 1024-pool limit alive
// at once and used by several threads, slot reuse across thousands of
// create/destroy cycles with threads alive (no object of a destroyed pool is
// ever handed out by a new one), and thousands of short-lived threads using
// a few of many pools while drains run, every object accounted for.
#include "tlp_test_util.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

using namespace tlpt;

namespace {

/* Objects carry the id of the pool that made them. */
struct Tagged {
    uint64_t pool_id;
    uint64_t pad[3];
};
std::atomic<long> made{0}, freed{0}, wrong_pool{0};

struct PoolCtx {
    uint64_t id;
};
void *tagged_new(void *ctx)
{
    auto *o = static_cast<Tagged *>(malloc(sizeof(Tagged)));
    if (o) {
        o->pool_id = static_cast<PoolCtx *>(ctx)->id;
        made++;
    }
    return o;
}
void tagged_free(void *o, void *ctx)
{
    if (static_cast<Tagged *>(o)->pool_id != static_cast<PoolCtx *>(ctx)->id)
        wrong_pool++;
    freed++;
    free(o);
}

struct Pools {
    std::vector<tlp_pool *> pools;
    std::vector<PoolCtx> ctx;
    explicit Pools(size_t n) : pools(n, nullptr), ctx(n) {}
    int make(size_t i, uint64_t id)
    {
        ctx[i].id = id;
        tlp_config c{};
        c.obj_size = sizeof(Tagged);
        c.obj_new = tagged_new;
        c.obj_free = tagged_free;
        c.ctx = &ctx[i];
        c.thread_cache = 4;
        c.shards = 1;
        return tlp_pool_create(&c, &pools[i]);
    }
};

bool use(tlp_pool *p, uint64_t id)
{
    auto *o = static_cast<Tagged *>(tlp_get(p));
    if (!o)
        return false;
    bool ok = o->pool_id == id;
    tlp_put(p, o);
    return ok;
}

}  // namespace

TEST(ManyPools, FarMoreThan1024AliveUsedDrainedAndDestroyedInRandomOrder)
{
    Watchdog wd("FarMoreThan1024Alive");
    made = freed = wrong_pool = 0;
    const size_t n = TLP_TEST_SANITIZED ? 5000 : 70000;
    Pools ps(n);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(ps.make(i, i), 0) << "pool " << i;
    std::atomic<long> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++)
        threads.emplace_back([&, t] {
            std::mt19937 rng(t);
            for (int k = 0; k < 20000; k++) {
                size_t i = rng() % n;
                if (!use(ps.pools[i], i))
                    bad++;
            }
            for (size_t i = static_cast<size_t>(t); i < n; i += 97)  // some high slots too
                if (!use(ps.pools[i], i))
                    bad++;
        });
    for (auto &th : threads)
        th.join();
    EXPECT_EQ(bad.load(), 0);
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        if (k % 3 == 0)
            tlp_drain(ps.pools[i]);
        tlp_pool_destroy(ps.pools[i]);
    }
    EXPECT_EQ(made.load(), freed.load());
    EXPECT_EQ(wrong_pool.load(), 0);
}

/* Pools come and go for thousands of cycles while threads use whichever are
 * alive: a reused slot never hands out an object of the pool that had it. */
TEST(ManyPools, SlotReuseAcrossThousandsOfCyclesWithThreadsAlive)
{
    Watchdog wd("SlotReuse");
    made = freed = wrong_pool = 0;
    const size_t live = 64;
    const long cycles = scaled(20000);
    Pools ps(live);
    std::vector<std::atomic<int>> busy(live);
    std::atomic<uint64_t> next_id{1};
    for (size_t i = 0; i < live; i++)
        ASSERT_EQ(ps.make(i, next_id++), 0);
    std::atomic<bool> stop{false};
    std::atomic<long> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; t++)
        threads.emplace_back([&, t] {
            std::mt19937 rng(100 + t);
            while (!stop) {
                size_t i = rng() % live;
                int expect = 0;
                if (!busy[i].compare_exchange_strong(expect, 1))
                    continue;  // being replaced or used
                if (!use(ps.pools[i], ps.ctx[i].id))
                    bad++;
                busy[i] = 0;
            }
        });
    std::mt19937 rng(1);
    for (long c = 0; c < cycles; c++) {
        size_t i = rng() % live;
        int expect = 0;
        while (!busy[i].compare_exchange_weak(expect, 2))
            expect = 0;
        tlp_pool_destroy(ps.pools[i]);
        ASSERT_EQ(ps.make(i, next_id++), 0);
        busy[i] = 0;
    }
    stop = true;
    for (auto &th : threads)
        th.join();
    for (auto p : ps.pools)
        tlp_pool_destroy(p);
    EXPECT_EQ(bad.load(), 0) << "an object of a destroyed pool came out of a new one";
    EXPECT_EQ(made.load(), freed.load());
    EXPECT_EQ(wrong_pool.load(), 0);
}

/* Thousands of short-lived threads, each using a few of many pools, while a
 * thread drains them; at the end every object made has been released. */
TEST(ManyPools, ThousandsOfShortLivedThreadsWithDrainsRunning)
{
    Watchdog wd("ShortLivedThreads");
    made = freed = wrong_pool = 0;
    const size_t n = 2000;
    Pools ps(n);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(ps.make(i, i), 0);
    std::atomic<bool> stop{false};
    std::thread drainer([&] {
        std::mt19937 rng(5);
        while (!stop)
            tlp_drain(ps.pools[rng() % n]);
    });
    std::atomic<long> bad{0};
    const int waves = static_cast<int>(scaled(200));
    for (int w = 0; w < waves; w++) {
        std::vector<std::thread> threads;
        for (int t = 0; t < 10; t++)
            threads.emplace_back([&, w, t] {
                std::mt19937 rng(w * 10 + t);
                for (int k = 0; k < 4; k++) {
                    size_t i = rng() % n;
                    void *o[6];
                    for (auto &x : o) x = tlp_get(ps.pools[i]);
                    for (auto x : o) {
                        if (static_cast<Tagged *>(x)->pool_id != i) bad++;
                        tlp_put(ps.pools[i], x);
                    }
                }
            });
        for (auto &th : threads)
            th.join();
    }
    stop = true;
    drainer.join();
    uint64_t idle = 0, out = 0;
    for (auto p : ps.pools) {
        tlp_stats s = stats_of(p);
        expect_quiescent_identities(s);
        idle += s.idle;
        out += s.out;
        EXPECT_EQ(s.idle_thread, 0u) << "exited threads left objects in their caches";
    }
    EXPECT_EQ(out, 0u);
    EXPECT_EQ(static_cast<uint64_t>(made - freed), idle);
    for (auto p : ps.pools)
        tlp_pool_destroy(p);
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(made.load(), freed.load());
}
