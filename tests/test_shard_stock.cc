/* SPDX-License-Identifier: MIT */
// The shards' stocks of empty magazines: the slow paths exchange magazines
// with the running CPU's shard and reuse the empty ones, so a steady
// workload past the thread cache allocates no magazine after its first
// rounds, whether one thread takes and gives back batches or one thread
// only takes and another only gives (the empties travel back to the
// giver's shard, or the giver's slow path finds them in the other stocks).
// Magazines are made with aligned_alloc, which this program counts (not
// under sanitizers, which own the allocator: there only the behaviour and
// the statistics are checked).
#include <gtest/gtest.h>
#include <tlpool.h>

#include "tlp_test_util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#if !TLP_TEST_SANITIZED
static std::atomic<long> aligned_allocs{0};
extern "C" void *__libc_memalign(size_t align, size_t size);
extern "C" void *aligned_alloc(size_t align, size_t size)
{
    aligned_allocs.fetch_add(1, std::memory_order_relaxed);
    return __libc_memalign(align, size);
}
static long allocs_now() { return aligned_allocs.load(); }
#else
static long allocs_now() { return 0; }
#endif

namespace {

tlp_pool *make_pool(unsigned shards) {
    tlp_config c{};
    c.obj_size = 64;
    c.thread_cache = 16;  // magazines of 8: a batch of 256 is 32 magazines
    c.shards = shards;
    c.name = "stock";
    tlp_pool *p = nullptr;
    EXPECT_EQ(tlp_pool_create(&c, &p), 0);
    return p;
}

void pin(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort
}

}  // namespace

// Past 8 magazines (the stocks' old bound) a batch overflowed the stock on
// the get side; now every round reuses the same magazines.
TEST(ShardStock, BatchesPastTheThreadCacheMakeNoMagazineAfterWarmUp) {
    tlp_pool *p = make_pool(0);
    ASSERT_NE(p, nullptr);
    std::vector<void *> v(256);
    auto round = [&] {
        for (auto &o : v) {
            o = tlp_get(p);
            ASSERT_NE(o, nullptr);
        }
        for (void *o : v) tlp_put(p, o);
    };
    for (int r = 0; r < 20; r++) round();
    long before = allocs_now();
    tlp_stats s0;
    tlp_stats_get(p, &s0);
    for (int r = 0; r < 500; r++) round();
    tlp_stats s1;
    tlp_stats_get(p, &s1);
    EXPECT_EQ(allocs_now(), before) << "magazines made in the steady state";
    EXPECT_EQ(s1.made, s0.made) << "objects made in the steady state";
    // 30 of the 32 magazines of each round come from the shared tier (one
    // get each counts as served by it; the magazine's others are inline).
    EXPECT_GE(s1.hits_shared - s0.hits_shared, 500u * 28);
    EXPECT_EQ(s1.out, 0u);
    EXPECT_EQ(s1.gets, s1.puts);
    tlp_pool_destroy(p);
}

// One thread only takes, another only gives back, on two shards (and on two
// CPUs where the machine has them): the taker's empty magazines must reach
// the giver, whose slow path would otherwise make a new one per exchange.
TEST(ShardStock, TakerAndGiverOnTwoShardsMakeNoMagazineAfterWarmUp) {
    tlp_pool *p = make_pool(2);
    ASSERT_NE(p, nullptr);
    const int batches = 3000, warm = 200, n = 64;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::vector<void *>> q;
    bool done = false;
    std::atomic<long> allocs_at_warm{-1};

    std::thread giver([&] {
        pin(1);
        for (;;) {
            std::vector<void *> b;
            {
                std::unique_lock<std::mutex> g(mu);
                cv.wait(g, [&] { return !q.empty() || done; });
                if (q.empty()) return;
                b = std::move(q.front());
                q.pop_front();
            }
            cv.notify_all();
            for (void *o : b) tlp_put(p, o);
        }
    });
    std::thread taker([&] {
        pin(0);
        for (int i = 0; i < batches; i++) {
            if (i == warm) allocs_at_warm = allocs_now();
            std::vector<void *> b(n);
            for (auto &o : b) {
                o = tlp_get(p);
                ASSERT_NE(o, nullptr);
            }
            std::unique_lock<std::mutex> g(mu);
            cv.wait(g, [&] { return q.size() < 4; });  // at most 4 batches in flight
            q.push_back(std::move(b));
            cv.notify_all();
        }
        std::lock_guard<std::mutex> g(mu);
        done = true;
        cv.notify_all();
    });
    taker.join();
    giver.join();
    long grown = allocs_now() - allocs_at_warm.load();
    // The objects in flight are bounded (4 batches), so are the magazines:
    // a few more may be made while the flow settles, not one per exchange
    // (2,800 batches of 64 are 22,400 exchanges of magazines of 8).
    EXPECT_LE(grown, 16) << "magazines made in the steady state";
    tlp_stats s;
    tlp_stats_get(p, &s);
    EXPECT_EQ(s.out, 0u);
    EXPECT_EQ(s.gets, s.puts);
    EXPECT_EQ(s.gets, (uint64_t)batches * n);
    tlp_pool_destroy(p);
}

// Eight threads on one shard, magazines of one object: every get and put
// past the thread cache trades with the same shard, so its lock is taken
// contended (the spin, then the futex sleep of src/lock.c). Each object
// is tagged by its holder while held: an object handed to two threads at
// once shows the other's tag.
TEST(ShardStock, EightThreadsTradingWithOneShardLoseNothing) {
    tlp_config c{};
    c.obj_size = 64;
    c.thread_cache = 2;  // magazines of 1
    c.shards = 1;
    c.name = "one-shard";
    tlp_pool *p = nullptr;
    ASSERT_EQ(tlp_pool_create(&c, &p), 0);
    const int nthreads = 8, rounds = 3000, k = 6;
    std::atomic<long> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < nthreads; t++) {
        ts.emplace_back([&, t] {
            void *held[k];
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < k; i++) {
                    held[i] = tlp_get(p);
                    if (!held[i]) {
                        bad++;
                        return;
                    }
                    static_cast<std::atomic<int> *>(held[i])->store(t + 1, std::memory_order_relaxed);
                }
                std::this_thread::yield();
                for (int i = k; i-- > 0;) {
                    if (static_cast<std::atomic<int> *>(held[i])->load(std::memory_order_relaxed) != t + 1)
                        bad++;
                    tlp_put(p, held[i]);
                }
            }
        });
    }
    for (auto &th : ts) th.join();
    EXPECT_EQ(bad.load(), 0) << "objects handed to two threads at once, or NULL";
    tlp_stats s;
    tlp_stats_get(p, &s);
    EXPECT_EQ(s.out, 0u);
    EXPECT_EQ(s.gets, (uint64_t)nthreads * rounds * k);
    EXPECT_EQ(s.gets, s.puts);
    EXPECT_EQ(s.made, s.idle + s.released);
    tlp_pool_destroy(p);
}
