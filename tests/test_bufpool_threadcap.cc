/* SPDX-License-Identifier: MIT */
// The per-thread cap on a buffer pool's idle bytes (thread_idle_bytes,
// src/threadcap.c): a thread's caches keep at most the cap across all
// classes, the excess goes to the shared tiers (counted in
// cap_spilled_bytes), no buffer is lost on the way, and bad values are
// EINVAL. The default pool's TLPOOL_CONF key is tested by conf_probe.
#include "bufpool_test_util.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <chrono>
#include <thread>
#include <vector>

namespace {

constexpr size_t KiB = 1024;

// Every class: made == released + idle + out, and gets == what was asked.
void expect_accounted(const tlp_bufpool_stats &s)
{
    for (unsigned i = 0; i < s.nclasses; i++) {
        const tlp_bufclass_stats &c = s.classes[i];
        EXPECT_EQ(c.made, c.released + c.idle + c.out) << "class " << c.size;
        EXPECT_EQ(c.idle_bytes, c.idle * c.size) << "class " << c.size;
    }
}

uint64_t total_gets(const tlp_bufpool_stats &s)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < s.nclasses; i++)
        n += s.classes[i].gets;
    return n;
}

// Runs fn on a thread of its own, then lets the caller look at the pool
// while that thread is still alive (its caches are thread caches until it
// exits), then lets it exit.
template <class F, class G> void on_live_thread(F fn, G look)
{
    std::atomic<int> phase{0};
    std::thread t([&] {
        fn();
        phase.store(1);
        while (phase.load() != 2)
            std::this_thread::yield();
    });
    while (phase.load() != 1)
        std::this_thread::yield();
    look();
    phase.store(2);
    t.join();
}

// Every class size of bp: a thread freeing buffers of all of them holds
// more than the cap in its caches unless the cap moves some out (each
// class's own thread cache is at most cap / 32, at least one buffer).
std::vector<size_t> class_sizes(tlp_bufpool *bp)
{
    tlp_bufpool_stats s = stats_of(bp);
    std::vector<size_t> v;
    for (unsigned i = 0; i < s.nclasses; i++)
        v.push_back(s.classes[i].size);
    return v;
}

// Takes `per_class` buffers of every class, then frees them all.
void take_and_free_all(tlp_bufpool *bp, int per_class)
{
    std::vector<void *> v;
    for (size_t size : class_sizes(bp))
        for (int i = 0; i < per_class; i++)
            v.push_back(tlp_bufpool_alloc(bp, size));
    for (void *p : v)
        tlp_bufpool_free(bp, p);
}

// A reusable barrier (C++17 has none).
class Barrier {
public:
    explicit Barrier(int n) : n_(n) {}
    void wait()
    {
        int gen = gen_.load();
        if (count_.fetch_add(1) + 1 == n_) {
            count_.store(0);
            gen_.fetch_add(1);
            return;
        }
        while (gen_.load() == gen)
            std::this_thread::yield();
    }

private:
    const int n_;
    std::atomic<int> count_{0}, gen_{0};
};

}  // namespace

// The case: one thread frees many buffers of several classes. With
// the default cap (256 KiB) its caches keep at most that; the rest is in the
// shared tiers or released by the budget, and every buffer is accounted.
TEST(BufThreadCap, ThreadKeepsAtMostTheCap)
{
    BufPool bp;
    const size_t cap = 256 * KiB;
    EXPECT_EQ(stats_of(bp).thread_idle_cap, cap);
    const int per_class = 200;
    on_live_thread([&] { take_and_free_all(bp, per_class); },
        [&] {
            tlp_bufpool_stats s = stats_of(bp);
            EXPECT_LE(s.idle_thread_bytes, cap);
            EXPECT_GT(s.idle_thread_bytes, 0u);
            EXPECT_GT(s.cap_spilled_bytes, 0u);
            EXPECT_EQ(total_out(s), 0u);
            EXPECT_EQ(total_gets(s), (uint64_t)per_class * s.nclasses);
            expect_accounted(s);
        });
    expect_accounted(stats_of(bp));
}

// The bound holds at every moment a thread is outside the library, not just
// at the end: a random mix of sizes and lifetimes over every class, checked
// from the thread itself every few operations.
TEST(BufThreadCap, BoundHoldsThroughoutARandomMix)
{
    tlp_bufpool_config cfg = {};
    cfg.thread_idle_bytes = 128 * KiB;
    BufPool bp(cfg);
    uint64_t worst = 0, checks = 0;
    std::thread t([&] {
        std::mt19937 rng(42);
        std::vector<void *> live(400, nullptr);
        for (int op = 0; op < 60000; op++) {
            void *&slot = live[rng() % live.size()];
            tlp_bufpool_free(bp, slot);
            // Mostly small, a tail up to the largest class.
            size_t size = (rng() % 8) ? 1 + rng() % 2048 : 1 + rng() % 65536;
            slot = tlp_bufpool_alloc(bp, size);
            ASSERT_NE(slot, nullptr);
            if (op % 97 == 0) {
                tlp_bufpool_stats s = stats_of(bp);
                worst = std::max(worst, s.idle_thread_bytes);
                checks++;
            }
            // Free a burst now and then: many puts in a row.
            if (op % 5000 == 4999)
                for (void *&p : live) {
                    tlp_bufpool_free(bp, p);
                    p = nullptr;
                }
        }
        for (void *p : live)
            tlp_bufpool_free(bp, p);
        tlp_bufpool_stats s = stats_of(bp);
        worst = std::max(worst, s.idle_thread_bytes);
    });
    t.join();
    EXPECT_GT(checks, 600u);
    EXPECT_LE(worst, 128 * KiB);
    EXPECT_GT(stats_of(bp).cap_spilled_bytes, 0u);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
    expect_accounted(s);
}

// A configured cap, smaller than the default: honoured, shown in the stats;
// each class's thread cache shrinks so that its two magazines fit.
TEST(BufThreadCap, ConfiguredCap)
{
    tlp_bufpool_config cfg = {};
    cfg.max_class = 16 * KiB;
    cfg.thread_idle_bytes = 40 * KiB;
    BufPool bp(cfg);
    EXPECT_EQ(stats_of(bp).thread_idle_cap, 40 * KiB);
    on_live_thread([&] { take_and_free_all(bp, 100); },
        [&] {
            tlp_bufpool_stats s = stats_of(bp);
            EXPECT_LE(s.idle_thread_bytes, 40 * KiB);
            EXPECT_GT(s.cap_spilled_bytes, 0u);
            expect_accounted(s);
        });
}

// SIZE_MAX: no cap (the 0.3 behaviour): the same frees keep more than
// 256 KiB in the thread's caches, and nothing is counted as spilled.
TEST(BufThreadCap, NoCap)
{
    tlp_bufpool_config cfg = {};
    cfg.thread_idle_bytes = SIZE_MAX;
    BufPool bp(cfg);
    EXPECT_EQ(stats_of(bp).thread_idle_cap, UINT64_MAX);
    on_live_thread([&] { take_and_free_all(bp, 200); },
        [&] {
            tlp_bufpool_stats s = stats_of(bp);
            EXPECT_GT(s.idle_thread_bytes, 256 * KiB);
            EXPECT_EQ(s.cap_spilled_bytes, 0u);
        });
}

TEST(BufThreadCap, BadValuesAreEinval)
{
    tlp_bufpool *bp = nullptr;
    tlp_bufpool_config cfg = {};
    // Below one buffer of the largest class (64 KiB by default).
    for (size_t v : {(size_t)1, (size_t)1000, 64 * KiB - 1}) {
        cfg.thread_idle_bytes = v;
        EXPECT_EQ(tlp_bufpool_create(&cfg, &bp), EINVAL) << v;
    }
    EXPECT_EQ(tlp_buf_default_config(&cfg), EINVAL);
    // The smallest accepted: one buffer of the largest class.
    cfg.thread_idle_bytes = 64 * KiB;
    ASSERT_EQ(tlp_bufpool_create(&cfg, &bp), 0);
    EXPECT_EQ(stats_of(bp).thread_idle_cap, 64 * KiB);
    // It works: one 64 KiB buffer fits, two do not.
    on_live_thread(
        [&] {
            void *a = tlp_bufpool_alloc(bp, 65536), *b = tlp_bufpool_alloc(bp, 65536);
            void *c = tlp_bufpool_alloc(bp, 1000);
            tlp_bufpool_free(bp, a);
            tlp_bufpool_free(bp, b);
            tlp_bufpool_free(bp, c);
        },
        [&] { EXPECT_LE(stats_of(bp).idle_thread_bytes, 64 * KiB); });
    tlp_bufpool_destroy(bp);
    // The cap follows max_class: compared with the class in use (rounded up).
    cfg = {};
    cfg.max_class = 1000;  // class 1024
    cfg.thread_idle_bytes = 1000;
    EXPECT_EQ(tlp_bufpool_create(&cfg, &bp), EINVAL);
    cfg.thread_idle_bytes = 1024;
    ASSERT_EQ(tlp_bufpool_create(&cfg, &bp), 0);
    tlp_bufpool_destroy(bp);
}

// The default for pools with larger classes: 4 x the largest class.
TEST(BufThreadCap, DefaultFollowsTheLargestClass)
{
    tlp_bufpool_config cfg = {};
    cfg.max_class = 1024 * KiB;
    cfg.max_idle_bytes = SIZE_MAX;
    BufPool big(cfg);
    EXPECT_EQ(stats_of(big).thread_idle_cap, 4096 * KiB);
    cfg.max_class = 4 * KiB;
    BufPool small(cfg);
    EXPECT_EQ(stats_of(small).thread_idle_cap, 256 * KiB);
}

// Several threads, buffers freed by other threads than their takers: every
// buffer is accounted for, and after the threads exit their caches are in
// the shared tiers.
TEST(BufThreadCap, CrossThreadFreesLoseNothing)
{
    tlp_bufpool_config cfg = {};
    cfg.thread_idle_bytes = 96 * KiB;
    BufPool bp(cfg);
    const int threads = 4, rounds = 30, per_round = 64;
    std::vector<std::vector<void *>> handoff(threads);
    std::vector<std::thread> ts;
    Barrier barrier(threads);
    std::atomic<uint64_t> worst{0};
    for (int t = 0; t < threads; t++)
        ts.emplace_back([&, t] {
            std::mt19937 rng((unsigned)t);
            for (int r = 0; r < rounds; r++) {
                std::vector<void *> mine;
                for (int i = 0; i < per_round; i++)
                    mine.push_back(tlp_bufpool_alloc(bp, 1 + rng() % 40000));
                handoff[t] = mine;
                barrier.wait();  // everyone has published: free the next thread's
                for (void *p : handoff[(t + 1) % threads])
                    tlp_bufpool_free(bp, p);
                // Read while every thread waits outside the library: a
                // snapshot taken while they run adds up classes read at
                // different moments, which may count a buffer twice.
                barrier.wait();
                if (t == 0)
                    worst = std::max(worst.load(), stats_of(bp).idle_thread_bytes);
                barrier.wait();  // before handoff[t] is written again
            }
        });
    for (auto &t : ts)
        t.join();
    // All threads' caches together.
    EXPECT_LE(worst.load(), threads * 96 * KiB);
    EXPECT_GT(worst.load(), 0u);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
    EXPECT_EQ(total_gets(s), (uint64_t)threads * rounds * per_round);
    EXPECT_EQ(s.idle_thread_bytes, 0u);  // the threads have exited
    expect_accounted(s);
}

// A drain empties the caches behind the records' back: the next slow paths
// find the records overstated and recompute them; nothing is lost and the
// cap still holds after it.
TEST(BufThreadCap, DrainsAndTheCap)
{
    BufPool bp;
    on_live_thread(
        [&] {
            for (int round = 0; round < 4; round++) {
                take_and_free_all(bp, 50);
                tlp_bufpool_drain(bp);
                if (round == 2)
                    tlp_bufpool_release_idle(bp);
            }
            take_and_free_all(bp, 200);
        },
        [&] {
            tlp_bufpool_stats s = stats_of(bp);
            EXPECT_LE(s.idle_thread_bytes, 256 * KiB);
            EXPECT_GT(s.idle_thread_bytes, 0u);
            EXPECT_EQ(total_out(s), 0u);
            expect_accounted(s);
        });
}

// Two threads run a capped mix while a third drains the pool over and
// over: the drains move magazines out of the caches under the threads'
// feet (the records the cap keeps then overstate, and the walk corrects
// them), and still neither thread's caches pass the cap and no buffer is
// lost. The workers stop together at each checkpoint so that the stats
// read (one class after another) sees both caches at one moment: with a
// worker running during the read, a buffer that moved from a class read
// early to one read late would be counted twice. The drainer runs during
// the read; it only ever lowers what the caches hold.
TEST(BufThreadCap, DrainsRacingACappedMix)
{
    tlp_bufpool_config cfg = {};
    cfg.thread_idle_bytes = 128 * KiB;
    BufPool bp(cfg);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> worst{0};
    std::atomic<unsigned> arrived{0};
    constexpr int kOps = 40000, kEvery = 1000;
    // The two workers meet twice per checkpoint: once before the read (the
    // first to arrive waits for the other), once after it.
    auto meet = [&](unsigned round) {
        arrived.fetch_add(1);
        while (arrived.load() < 2 * round)
            std::this_thread::yield();
    };
    auto worker = [&](unsigned seed, bool reader) {
        std::mt19937 rng(seed);
        std::vector<void *> live(300, nullptr);
        unsigned round = 0;
        for (int op = 0; op < kOps; op++) {
            void *&slot = live[rng() % live.size()];
            tlp_bufpool_free(bp, slot);
            size_t size = (rng() % 8) ? 1 + rng() % 2048 : 1 + rng() % 65536;
            slot = tlp_bufpool_alloc(bp, size);
            EXPECT_NE(slot, nullptr); // (not ASSERT: the other worker waits)
            if (op % kEvery == kEvery - 1) {
                meet(++round);
                if (reader) {
                    uint64_t w = stats_of(bp).idle_thread_bytes;
                    if (w > worst.load())
                        worst.store(w);
                }
                meet(++round);
            }
        }
        for (void *p : live)
            tlp_bufpool_free(bp, p);
    };
    std::thread drainer([&] {
        while (!stop.load()) {
            tlp_bufpool_drain(bp);
            // A pause, so that the caches fill up between drains: a drainer
            // that never stops keeps them low at the checkpoints, where an
            // overshoot of the cap then rarely shows (a cap_after that
            // allowed a quarter more failed 2 of 6 leaks:all runs with
            // yield() here, 7 of 8 with this pause).
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    std::thread a(worker, 1, true), b(worker, 2, false);
    a.join();
    b.join();
    stop.store(true);
    drainer.join();
    // Two threads' caches, each within the cap.
    EXPECT_LE(worst.load(), 2 * 128 * KiB);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
    expect_accounted(s);
}

// The class of bp whose buffers have exactly `size` bytes.
const tlp_bufclass_stats &class_of(const tlp_bufpool_stats &s, size_t size)
{
    for (unsigned i = 0; i < s.nclasses; i++)
        if (s.classes[i].size == size)
            return s.classes[i];
    ADD_FAILURE() << "no class of " << size << " bytes";
    return s.classes[0];
}

// A thread whose caches of the smaller classes fill its cap frees a large
// buffer (a class whose share of the cap is one buffer): the buffer goes
// to the shared tier by itself. It does not push the thread's other
// caches out to make room for itself (they serve most requests; a large
// buffer is one of few), and the next allocation of its class finds it
// there.
TEST(BufThreadCap, LargeBufferDoesNotPushOutSmallerCaches)
{
    if (leaks_on_by_env())
        GTEST_SKIP() << "leak-tracked classes put through the locked path (its walk)";
    if (!(tlp_build_features() & TLP_FEATURE_FASTPATH))
        GTEST_SKIP() << "no inline path (checked or poison build): every put takes the locked path";
    BufPool bp;
    on_live_thread(
        [&] {
            // One buffer of each class from 8 KiB to 56 KiB (one-buffer
            // caches), freed smallest first: 308 KiB, so the last ones
            // already find no room.
            std::vector<void *> v;
            for (size_t size : class_sizes(bp))
                if (size >= 8 * KiB && size < 64 * KiB)
                    v.push_back(tlp_bufpool_alloc(bp, size));
            void *big = tlp_bufpool_alloc(bp, 64 * KiB);
            ASSERT_NE(big, nullptr);
            for (void *p : v)
                tlp_bufpool_free(bp, p);
            const tlp_bufpool_stats s0 = stats_of(bp);
            // Full enough that a 64 KiB buffer does not fit beside them.
            ASSERT_GT(s0.idle_thread_bytes + 64 * KiB, 256 * KiB);

            tlp_bufpool_free(bp, big);
            const tlp_bufpool_stats s1 = stats_of(bp);
            EXPECT_EQ(s1.idle_thread_bytes, s0.idle_thread_bytes);
            EXPECT_EQ(s1.cap_spilled_bytes, s0.cap_spilled_bytes + 64 * KiB);

            void *again = tlp_bufpool_alloc(bp, 64 * KiB);
            EXPECT_EQ(again, big);
            const tlp_bufpool_stats s2 = stats_of(bp);
            EXPECT_EQ(class_of(s2, 64 * KiB).hits_shared, class_of(s1, 64 * KiB).hits_shared + 1);
            EXPECT_EQ(s2.idle_thread_bytes, s0.idle_thread_bytes);
            tlp_bufpool_free(bp, again);
        },
        [&] {
            tlp_bufpool_stats s = stats_of(bp);
            EXPECT_LE(s.idle_thread_bytes, 256 * KiB);
            EXPECT_EQ(total_out(s), 0u);
            expect_accounted(s);
        });
}

// The large classes' single trades with the shared tier under a small
// shared budget: buffers beyond the budget go back to the system (the
// shared tier's stock of empty magazines runs out on the way, so some
// puts bring their own), another thread finds the kept ones there, and
// every buffer is accounted for.
TEST(BufThreadCap, LargeClassesTradeSingleBuffersWithTheSharedTier)
{
    tlp_bufpool_config cfg = {};
    cfg.max_class = 64 * KiB;
    cfg.max_idle_bytes = 44 * 4 * 64 * KiB; // 44 classes: each one's share is 4 x 64 KiB
    BufPool bp(cfg);
    std::vector<void *> v;
    for (int i = 0; i < 40; i++)
        v.push_back(tlp_bufpool_alloc(bp, 64 * KiB));
    std::thread t([&] {
        for (void *p : v)
            tlp_bufpool_free(bp, p);
    });
    t.join();
    tlp_bufpool_stats s = stats_of(bp);
    const tlp_bufclass_stats &c = class_of(s, 64 * KiB);
    EXPECT_GT(c.released, 0u);
    EXPECT_GE(c.idle, 2u);
    // The class's share of the budget bounds its shared tier (the thread
    // that freed them has exited: its cache went there too).
    EXPECT_LE(c.idle_bytes, cfg.max_idle_bytes / s.nclasses);
    EXPECT_EQ(c.out, 0u);
    expect_accounted(s);
    const uint64_t idle = c.idle;

    std::thread u([&] {
        for (uint64_t i = 0; i < idle; i++)
            v[i] = tlp_bufpool_alloc(bp, 64 * KiB);
        for (uint64_t i = 0; i < idle; i++)
            tlp_bufpool_free(bp, v[i]);
    });
    u.join();
    s = stats_of(bp);
    const tlp_bufclass_stats &d = class_of(s, 64 * KiB);
    EXPECT_GE(d.hits_shared, idle);
    EXPECT_EQ(d.made, c.made);
    expect_accounted(s);
}

// A class whose shared share is one buffer (max_idle 1) and whose thread
// cache is one buffer: the second of two frees goes to the shared tier
// alone while the shard has no empty magazine in stock yet. It must be
// kept there (the budget has room for it), and found by the next
// allocation but one. (The shard once reserved the room, found no
// magazine, and then reserved again for the magazine it brought: over
// the budget, so the buffer was released, and every later one too.)
TEST(BufThreadCap, ASharedShareOfOneBufferIsKept)
{
    tlp_bufpool_config cfg = {};
    cfg.min_class = 64 * KiB;
    cfg.max_class = 64 * KiB;
    cfg.max_idle_bytes = 64 * KiB; // one buffer in the shared tier
    BufPool bp(cfg);
    std::thread t([&] {
        for (int round = 0; round < 4; round++) {
            void *a = tlp_bufpool_alloc(bp, 64 * KiB);
            void *b = tlp_bufpool_alloc(bp, 64 * KiB);
            ASSERT_NE(a, nullptr);
            ASSERT_NE(b, nullptr);
            tlp_bufpool_free(bp, a);
            tlp_bufpool_free(bp, b);
            tlp_bufpool_stats s = stats_of(bp);
            // One in the thread's cache, one in the shared tier.
            EXPECT_EQ(s.classes[0].idle, 2u) << "round " << round;
            EXPECT_EQ(s.classes[0].made, 2u) << "round " << round;
        }
    });
    t.join();
    expect_accounted(stats_of(bp));
}
