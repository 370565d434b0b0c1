/* SPDX-License-Identifier: MIT */
// Buffers carved from spans: a span goes back when all its buffers are idle
// and a drain or release_idle releases them, whoever holds buffers of other
// spans; frees from other threads, from threads that have exited; what an
// adversarial free pattern can pin; pointers whose span lookup fails.
#include <gtest/gtest.h>
#include <tlpool.h>

#include <string.h>

#include <algorithm>
#include <atomic>

#include <thread>
#include <vector>

namespace {

constexpr size_t kSpan = 64 << 10;  // the span of every class up to 8 KiB

struct Pool {
    tlp_bufpool *bp = nullptr;
    explicit Pool(const char *name, bool zero = false)
    {
        tlp_bufpool_config cfg = {};
        cfg.name = name;
        cfg.zero_on_free = zero;
        EXPECT_EQ(tlp_bufpool_create(&cfg, &bp), 0);
    }
    ~Pool() { tlp_bufpool_destroy(bp); }
    tlp_bufpool_stats stats() const
    {
        tlp_bufpool_stats s;
        tlp_bufpool_stats_get(bp, &s);
        return s;
    }
    uint64_t out() const
    {
        tlp_bufpool_stats s = stats();
        uint64_t n = 0;
        for (unsigned i = 0; i < s.nclasses; i++)
            n += s.classes[i].out;
        return n;
    }
};

}  // namespace

TEST(BufSpans, BuffersOfAClassShareSpansWithoutHeaders)
{
    Pool p("share");
    // 4096 buffers of 16 B fill exactly one 64 KiB span, back to back.
    std::vector<char *> v;
    for (int i = 0; i < 4096; i++)
        v.push_back(static_cast<char *>(tlp_bufpool_alloc(p.bp, 16)));
    EXPECT_EQ(p.stats().span_bytes, kSpan);
    std::vector<char *> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 1; i < sorted.size(); i++)
        ASSERT_EQ(sorted[i] - sorted[i - 1], 16) << "buffers are 16 bytes apart: no header";
    EXPECT_EQ((uintptr_t)sorted[0] % kSpan, 0u) << "spans are 64 KiB-aligned";
    void *more = tlp_bufpool_alloc(p.bp, 16);
    EXPECT_EQ(p.stats().span_bytes, 2 * kSpan);
    tlp_bufpool_free(p.bp, more);
    for (char *b : v)
        tlp_bufpool_free(p.bp, b);
    tlp_bufpool_release_idle(p.bp);
    EXPECT_EQ(p.stats().span_bytes, 0u) << "every span went back";
}

TEST(BufSpans, SpanGivenBackWhileOtherThreadsHoldBuffersOfOtherSpans)
{
    Pool p("spans");
    // Three spans of 64-byte buffers (1024 each), carved in order.
    std::vector<char *> v;
    for (int i = 0; i < 3 * 1024; i++)
        v.push_back(static_cast<char *>(tlp_bufpool_alloc(p.bp, 64)));
    ASSERT_EQ(p.stats().span_bytes, 3 * kSpan);
    std::sort(v.begin(), v.end());
    std::vector<char *> first(v.begin(), v.begin() + 1024), rest(v.begin() + 1024, v.end());
    ASSERT_EQ(first.back() - first.front(), 1023 * 64) << "the first span's buffers";

    // Another thread takes the buffers of the other two spans and keeps
    // using them while the first span is emptied and given back.
    std::atomic<int> phase{0};
    std::thread holder([&] {
        for (char *b : rest)
            memset(b, 0x77, 64);
        phase = 1;
        while (phase.load() != 2)
            std::this_thread::yield();
        for (char *b : rest) {
            for (int k = 0; k < 64; k++)
                if ((unsigned char)b[k] != 0x77)
                    ADD_FAILURE() << "a held buffer changed";
            memset(b, 0x33, 64);
        }
        for (char *b : rest)  // freed by this thread, which did not allocate them
            tlp_bufpool_free(p.bp, b);
    });
    while (phase.load() != 1)
        std::this_thread::yield();
    for (char *b : first)
        tlp_bufpool_free(p.bp, b);
    tlp_bufpool_release_idle(p.bp);
    EXPECT_EQ(p.stats().span_bytes, 2 * kSpan) << "only the emptied span went back";
    // New buffers reuse the span's range (zeroes now: its pages went back).
    char *n = static_cast<char *>(tlp_bufpool_alloc(p.bp, 64));
    EXPECT_EQ(p.stats().span_bytes, 3 * kSpan);
    phase = 2;
    holder.join();
    tlp_bufpool_free(p.bp, n);
    tlp_bufpool_release_idle(p.bp);
    EXPECT_EQ(p.stats().span_bytes, 0u);
    EXPECT_EQ(p.out(), 0u);
}

TEST(BufSpans, FreesFromThreadsThatHaveExited)
{
    Pool p("exited");
    std::vector<void *> mine, theirs;
    // Threads allocate and exit (their caches are flushed at exit); the
    // buffers they made are freed here, and they freed some of ours.
    for (int t = 0; t < 4; t++)
        mine.push_back(tlp_bufpool_alloc(p.bp, 300));
    for (int t = 0; t < 4; t++) {
        std::thread([&, t] {
            for (int i = 0; i < 500; i++)
                theirs.push_back(tlp_bufpool_alloc(p.bp, (size_t)16 << (i % 10)));
            tlp_bufpool_free(p.bp, mine[t]);
        }).join();
    }
    for (void *b : theirs)
        tlp_bufpool_free(p.bp, b);
    EXPECT_EQ(p.out(), 0u);
    EXPECT_GT(p.stats().span_bytes, 0u);
    tlp_bufpool_release_idle(p.bp);
    EXPECT_EQ(p.stats().span_bytes, 0u) << "nothing pinned by the dead threads";
}

TEST(BufSpans, CrossThreadFreesThenEverySpanGoesBack)
{
    Pool p("pipe");
    std::vector<void *> batch(20000);
    for (int round = 0; round < 3; round++) {
        for (auto &b : batch)
            b = tlp_bufpool_alloc(p.bp, 64);
        std::thread([&] {
            for (void *b : batch)
                tlp_bufpool_free(p.bp, b);
        }).join();
    }
    EXPECT_EQ(p.out(), 0u);
    tlp_bufpool_release_idle(p.bp);
    EXPECT_EQ(p.stats().span_bytes, 0u);
}

TEST(BufSpans, OneLiveBufferPinsItsSpanAndNoMore)
{
    // The adversarial pattern: keep one buffer of every span, free the rest.
    Pool p("pin");
    std::vector<char *> v;
    for (int i = 0; i < 8 * 1024; i++)
        v.push_back(static_cast<char *>(tlp_bufpool_alloc(p.bp, 64)));
    std::sort(v.begin(), v.end());
    std::vector<char *> kept;
    for (size_t i = 0; i < v.size(); i++) {
        if (i % 1024 == 0)
            kept.push_back(v[i]);
        else
            tlp_bufpool_free(p.bp, v[i]);
    }
    tlp_bufpool_release_idle(p.bp);
    EXPECT_EQ(p.stats().span_bytes, 8 * kSpan) << "each kept buffer pins its span";
    // The pinned spans' free buffers are what the class hands out next: no
    // new span while they have room.
    std::vector<void *> again;
    for (int i = 0; i < 8 * 1023; i++)
        again.push_back(tlp_bufpool_alloc(p.bp, 64));
    EXPECT_EQ(p.stats().span_bytes, 8 * kSpan);
    for (void *b : again)
        tlp_bufpool_free(p.bp, b);
    for (char *b : kept)
        tlp_bufpool_free(p.bp, b);
    tlp_bufpool_release_idle(p.bp);
    EXPECT_EQ(p.stats().span_bytes, 0u);
}

TEST(BufSpans, DrainGivesSpansBackAfterTwoDrains)
{
    Pool p("drain");
    std::vector<void *> v;
    for (int i = 0; i < 5000; i++)
        v.push_back(tlp_bufpool_alloc(p.bp, 1000));
    for (void *b : v)
        tlp_bufpool_free(p.bp, b);
    uint64_t before = p.stats().span_bytes;
    EXPECT_GT(before, 0u);
    tlp_bufpool_drain(p.bp);  // idle buffers become the victim generation
    tlp_bufpool_drain(p.bp);  // ...and are released: their spans go back
    EXPECT_EQ(p.stats().span_bytes, 0u);
}

TEST(BufSpans, ZeroOnFreeBuffersAreZeroAcrossSpanReuse)
{
    Pool p("zero", true);
    for (int round = 0; round < 3; round++) {
        std::vector<unsigned char *> v;
        for (int i = 0; i < 3000; i++) {
            auto *b = static_cast<unsigned char *>(tlp_bufpool_alloc(p.bp, 200));
            for (int k = 0; k < 200; k++)
                ASSERT_EQ(b[k], 0) << "round " << round;
            memset(b, 0xee, tlp_bufpool_size(p.bp, b));
            v.push_back(b);
        }
        for (auto *b : v)
            tlp_bufpool_free(p.bp, b);
        if (round == 1)
            tlp_bufpool_release_idle(p.bp);  // the spans go back and are reused
    }
}

TEST(BufSpans, LargestClassSpansHoldEightBuffers)
{
    Pool p("big");
    void *b = tlp_bufpool_alloc(p.bp, 65536);
    EXPECT_EQ(p.stats().span_bytes, 8 * kSpan);
    tlp_bufpool_free(p.bp, b);
    tlp_bufpool_release_idle(p.bp);
    EXPECT_EQ(p.stats().span_bytes, 0u);
}

TEST(BufSpansDeath, PointersWhoseSpanLookupFails)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    Pool p("lookup");
    int on_stack = 0;
    EXPECT_DEATH(tlp_bufpool_free(p.bp, &on_stack), "buffer pool 'lookup'.*not a buffer of this buffer pool");
    // Above the 48-bit map: rejected before any map read (not dereferenced).
    void *high = reinterpret_cast<void *>(uintptr_t{0xffff800000001000});
    EXPECT_DEATH(tlp_bufpool_free(p.bp, high), "buffer pool 'lookup'.*not a buffer of this buffer pool");
    EXPECT_DEATH(tlp_bufpool_size(p.bp, high), "buffer pool 'lookup'.*tlp_bufpool_size");
    // A pointer just past a span's last buffer (the unused tail of a 5120 B
    // class's span: 12 buffers in 64 KiB).
    char *b = static_cast<char *>(tlp_bufpool_alloc(p.bp, 5000));
    ASSERT_EQ((uintptr_t)b % kSpan, 0u) << "the class's first buffer starts its span";
    EXPECT_DEATH(tlp_bufpool_size(p.bp, b + 12 * 5120),
                 "not at the start of a buffer");
    tlp_bufpool_free(p.bp, b);
}
