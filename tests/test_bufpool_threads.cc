/* SPDX-License-Identifier: MIT */
// Buffer pools across threads: buffers freed by another thread, or after the
// allocating thread exited; multi-threaded churn with random sizes (bounded
// by operation counts, never by time); drains and stats running alongside.
#include "bufpool_test_util.h"
#include <gtest/gtest.h>

#include <tlpool.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 4;


// A buffer stamped with its owner's tag: the first 8 bytes, 8 in the middle
// and the last 8 hold values derived from the tag and the offset, so an
// overlap between two live buffers, or a lost copy, is seen.
struct Buf {
    unsigned char *p = nullptr;
    size_t n = 0;
    uint64_t tag = 0;
};

unsigned char stamp_byte(uint64_t tag, size_t off)
{
    uint64_t h = tag * 0x9E3779B97F4A7C15ull;
    return static_cast<unsigned char>((h >> (off % 8 * 8)) ^ off);
}

template <class F>
void for_stamp_offsets(size_t n, F f)
{
    for (size_t i = 0; i < 8 && i < n; i++)
        f(i);
    for (size_t i = n / 2; i < n / 2 + 8 && i < n; i++)
        f(i);
    for (size_t i = n >= 8 ? n - 8 : 0; i < n; i++)
        f(i);
}

void stamp(const Buf &b)
{
    for_stamp_offsets(b.n, [&](size_t i) { b.p[i] = stamp_byte(b.tag, i); });
}

bool stamped(const Buf &b)
{
    bool ok = true;
    for_stamp_offsets(b.n, [&](size_t i) { ok = ok && b.p[i] == stamp_byte(b.tag, i); });
    return ok;
}

// Sizes weighted like a server: mostly small, some pages, a few read
// buffers, now and then one above the largest class.
size_t random_size(std::mt19937_64 &rng)
{
    unsigned r = static_cast<unsigned>(rng() % 100);
    if (r < 50)
        return rng() % 257;
    if (r < 80)
        return rng() % 4097;
    if (r < 97)
        return rng() % 65537;
    return 65537 + rng() % 200000;
}

TEST(BufPoolThreads, FreedOnAnotherThread)
{
    BufPool bp;
    std::vector<Buf> bufs;
    std::thread producer([&] {
        std::mt19937_64 rng(1);
        for (uint64_t i = 0; i < 2000; i++) {
            Buf b;
            b.n = random_size(rng);
            b.p = static_cast<unsigned char *>(tlp_bufpool_alloc(bp, b.n));
            ASSERT_NE(b.p, nullptr);
            b.tag = 0x1000 + i;
            stamp(b);
            bufs.push_back(b);
        }
    });
    producer.join();
    EXPECT_EQ(total_out(stats_of(bp)), 2000u);
    std::thread consumer([&] {
        for (const Buf &b : bufs) {
            EXPECT_TRUE(stamped(b));
            EXPECT_GE(tlp_bufpool_size(bp, b.p), b.n);
            tlp_bufpool_free(bp, b.p);
        }
    });
    consumer.join();
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
    EXPECT_EQ(s.large_out, 0u);
    EXPECT_GT(s.idle_bytes, 0u) << "freed pooled buffers are kept (within the budget)";

    // The consumer thread has exited: buffers it cached are still reusable
    // or releasable from here.
    tlp_bufpool_release_idle(bp);
    EXPECT_EQ(stats_of(bp).idle_bytes, 0u);
}

TEST(BufPoolThreads, DefaultPoolIsCreatedOnce)
{
    std::vector<tlp_bufpool *> seen(kThreads);
    std::vector<std::thread> ts;
    std::atomic<int> ready{0};
    for (int t = 0; t < kThreads; t++)
        ts.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < kThreads)
                std::this_thread::yield();
            seen[static_cast<size_t>(t)] = tlp_bufpool_default();
            void *p = tlp_buf_alloc(100);
            tlp_buf_free(p);
        });
    for (auto &th : ts)
        th.join();
    for (tlp_bufpool *p : seen) {
        EXPECT_NE(p, nullptr);
        EXPECT_EQ(p, seen[0]);
    }
}

// Each thread keeps up to 64 live buffers and, at random, allocates, checks
// and frees, reallocs (checking the kept prefix), or hands a buffer to the
// shared exchange and frees one another thread put there.
struct Churn {
    tlp_bufpool *bp;  // nullptr: the tlp_buf_* drop-ins
    std::mutex xlock;
    std::vector<Buf> exchange;
    std::atomic<uint64_t> bad{0};

    void *alloc(size_t n) { return bp ? tlp_bufpool_alloc(bp, n) : tlp_buf_alloc(n); }
    void *realloc_(void *p, size_t n) { return bp ? tlp_bufpool_realloc(bp, p, n) : tlp_buf_realloc(p, n); }
    void free_(void *p) { bp ? tlp_bufpool_free(bp, p) : tlp_buf_free(p); }
    size_t size(const void *p) { return bp ? tlp_bufpool_size(bp, p) : tlp_buf_size(p); }

    void check_and_free(const Buf &b)
    {
        if (!stamped(b) || size(b.p) < b.n)
            bad.fetch_add(1);
        free_(b.p);
    }

    void run(int id, int ops)
    {
        std::mt19937_64 rng(static_cast<uint64_t>(id) * 7919 + 17);
        std::vector<Buf> live(64);
        uint64_t serial = 0;
        auto next_tag = [&] { return (static_cast<uint64_t>(id + 1) << 40) | ++serial; };
        for (int i = 0; i < ops; i++) {
            Buf &b = live[rng() % live.size()];
            if (!b.p) {
                b.n = random_size(rng);
                b.p = static_cast<unsigned char *>(alloc(b.n));
                if (!b.p) {
                    bad.fetch_add(1);
                    continue;
                }
                b.tag = next_tag();
                stamp(b);
                continue;
            }
            unsigned what = static_cast<unsigned>(rng() % 10);
            if (what < 5) {
                check_and_free(b);
                b = Buf{};
            } else if (what < 8) {
                // realloc keeps min(old, new) bytes: check the first 8 (or fewer)
                size_t keep = b.n < 8 ? b.n : 8;
                unsigned char head[8];
                memcpy(head, b.p, keep);
                size_t n = random_size(rng) + 1;  // 0 would free
                auto *q = static_cast<unsigned char *>(realloc_(b.p, n));
                if (!q) {
                    bad.fetch_add(1);
                    continue;
                }
                size_t kept = keep < n ? keep : n;
                if (memcmp(q, head, kept) != 0)
                    bad.fetch_add(1);
                b.p = q;
                b.n = n;
                b.tag = next_tag();
                stamp(b);
            } else {
                Buf other;
                {
                    std::lock_guard<std::mutex> g(xlock);
                    exchange.push_back(b);
                    if (exchange.size() > 8) {
                        other = exchange.front();
                        exchange.erase(exchange.begin());
                    }
                }
                b = Buf{};
                if (other.p)
                    check_and_free(other);
            }
        }
        for (Buf &b : live)
            if (b.p)
                check_and_free(b);
    }

    void finish()
    {
        for (Buf &b : exchange)
            check_and_free(b);
        exchange.clear();
    }
};

void churn(tlp_bufpool *bp, int ops, bool with_drains)
{
    Churn c;
    c.bp = bp;
    std::atomic<bool> done{false};
    std::thread drainer;
    if (with_drains)
        drainer = std::thread([&] {
            // Bounded: stops when the workers are done, at most 100000 rounds.
            for (int i = 0; i < 100000 && !done.load(); i++) {
                tlp_bufpool_stats s;
                tlp_bufpool_stats_get(bp ? bp : tlp_bufpool_default(), &s);
                if (i % 4 == 0)
                    tlp_bufpool_drain(bp ? bp : tlp_bufpool_default());
                if (i % 64 == 0)
                    tlp_bufpool_release_idle(bp ? bp : tlp_bufpool_default());
                std::this_thread::yield();
            }
        });
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++)
        ts.emplace_back([&c, t, ops] { c.run(t, ops); });
    for (auto &th : ts)
        th.join();
    done.store(true);
    if (drainer.joinable())
        drainer.join();
    c.finish();
    EXPECT_EQ(c.bad.load(), 0u) << "corrupted, overlapping or failed buffers";
}

TEST(BufPoolThreads, ChurnRandomSizes)
{
    BufPool bp;
    churn(bp, 200000, false);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
    EXPECT_EQ(s.large_out, 0u);
    EXPECT_GT(s.large_allocs, 0u);
}

TEST(BufPoolThreads, ChurnWithDrainsAndZeroing)
{
    tlp_bufpool_config cfg = {};
    cfg.zero_on_free = true;
    cfg.max_idle_bytes = 4 << 20;  // small: the budget's release path runs too
    BufPool bp(cfg);
    churn(bp, 50000, true);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
    tlp_bufpool_release_idle(bp);
    EXPECT_EQ(stats_of(bp).idle_bytes, 0u);
}

TEST(BufPoolThreads, ChurnOnTheDefaultPool)
{
    tlp_bufpool *d = tlp_bufpool_default();
    uint64_t out0 = total_out(stats_of(d));
    churn(nullptr, 50000, true);
    EXPECT_EQ(total_out(stats_of(d)), out0);
}

}  // namespace
