/* SPDX-License-Identifier: MIT */
// Fault injection and churn: obj_new failing at chosen points, and threads,
// pools and drains churning for a bounded time with every object accounted.
#include <gtest/gtest.h>
#include <tlpool.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace {

// A ledger of live objects: obj_free of something not live is a failure.
struct Ledger {
    std::mutex mu;
    std::set<void *> live;
    long made = 0, freed = 0, bad_free = 0;
    long fail_every = 0;  // obj_new fails on every fail_every-th call (0: never)
    long calls = 0;
};

void *ledger_new(void *ctx) {
    auto *l = static_cast<Ledger *>(ctx);
    std::lock_guard<std::mutex> g(l->mu);
    if (l->fail_every && ++l->calls % l->fail_every == 0) return nullptr;
    void *o = malloc(32);
    if (o) { l->live.insert(o); l->made++; }
    return o;
}

void ledger_free(void *o, void *ctx) {
    auto *l = static_cast<Ledger *>(ctx);
    std::lock_guard<std::mutex> g(l->mu);
    if (!l->live.erase(o)) l->bad_free++;
    l->freed++;
    free(o);
}

tlp_config ledger_cfg(Ledger *l, const char *name) {
    tlp_config c{};
    c.obj_size = 32;
    c.obj_new = ledger_new;
    c.obj_free = ledger_free;
    c.ctx = l;
    c.thread_cache = 16;
    c.name = name;
    return c;
}

}  // namespace

TEST(Faults, NewFailingAtChosenPointsLeavesThePoolUsable) {
    Ledger l;
    l.fail_every = 3;
    tlp_config c = ledger_cfg(&l, "faulty");
    tlp_pool *p;
    ASSERT_EQ(tlp_pool_create(&c, &p), 0);
    std::vector<void *> got;
    int nulls = 0;
    for (int i = 0; i < 300; i++) {
        errno = 0;
        void *o = tlp_get(p);
        if (!o) {
            EXPECT_EQ(errno, ENOMEM);
            nulls++;
        } else {
            got.push_back(o);
        }
    }
    EXPECT_EQ(nulls, 100);
    tlp_stats st;
    tlp_stats_get(p, &st);
    EXPECT_EQ(st.new_failed, 100u);
    EXPECT_EQ(st.out, 200u);
    EXPECT_EQ(st.gets, 200u);
    for (auto o : got) tlp_put(p, o);
    // Usable after failures: recycled objects come back without obj_new.
    l.fail_every = 1;  // every new object now fails
    for (int i = 0; i < 100; i++) {
        void *o = tlp_get(p);
        ASSERT_NE(o, nullptr) << "idle objects must be served without obj_new";
        tlp_put(p, o);
    }
    tlp_pool_destroy(p);
    EXPECT_EQ(l.made, l.freed);
    EXPECT_EQ(l.bad_free, 0);
    EXPECT_TRUE(l.live.empty());
}

TEST(Faults, ThreadAndPoolChurnWithDrainsAccountsForEverything) {
    Ledger l;
    constexpr int kPools = 3;
    std::mutex pools_mu;  // guards pools[] replacement against users
    tlp_pool *pools[kPools];
    for (auto &p : pools) {
        tlp_config c = ledger_cfg(&l, "churn");
        ASSERT_EQ(tlp_pool_create(&c, &p), 0);
    }
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    const auto budget = std::chrono::milliseconds(700);
#else
    const auto budget = std::chrono::milliseconds(1500);
#endif
    const auto end = std::chrono::steady_clock::now() + budget;
    std::atomic<bool> stop{false};
    std::atomic<long> rounds{0}, threads_run{0};

    // Drainer: drains every pool in a loop.
    std::thread drainer([&] {
        while (!stop.load()) {
            std::lock_guard<std::mutex> g(pools_mu);
            for (auto p : pools) tlp_drain(p);
        }
    });
    // Spawner: short-lived threads, each using all pools, some exiting with
    // objects still cached.
    std::thread spawner([&] {
        std::mt19937 rng(42);
        while (std::chrono::steady_clock::now() < end) {
            std::vector<std::thread> batch;
            for (int t = 0; t < 3; t++)
                batch.emplace_back([&, seed = rng()] {
                    std::mt19937 r(seed);
                    std::lock_guard<std::mutex> g(pools_mu);  // pools stable while used
                    void *held[24];
                    for (int k = 0; k < 20; k++) {
                        tlp_pool *p = pools[r() % kPools];
                        int n = 1 + r() % 24;
                        for (int i = 0; i < n; i++) held[i] = tlp_get(p);
                        for (int i = 0; i < n; i++) tlp_put(p, held[i]);
                    }
                    threads_run++;
                });
            for (auto &t : batch) t.join();
            rounds++;
        }
    });
    // Recycler: destroys and re-creates a pool now and then.
    std::thread recycler([&] {
        int i = 0;
        while (std::chrono::steady_clock::now() < end) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            std::lock_guard<std::mutex> g(pools_mu);
            tlp_pool_destroy(pools[i % kPools]);
            tlp_config c = ledger_cfg(&l, "churn");
            ASSERT_EQ(tlp_pool_create(&c, &pools[i % kPools]), 0);
            i++;
        }
    });
    spawner.join();
    recycler.join();
    stop = true;
    drainer.join();
    for (auto p : pools) tlp_pool_destroy(p);
    EXPECT_GT(threads_run.load(), 0);
    EXPECT_EQ(l.bad_free, 0) << "an object was freed twice or never made";
    EXPECT_EQ(l.made, l.freed) << "objects leaked";
    EXPECT_TRUE(l.live.empty());
}
