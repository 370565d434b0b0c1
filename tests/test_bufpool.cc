/* SPDX-License-Identifier: MIT */
// Buffer pools (issue 4): every call, class boundaries, realloc, zeroing,
// statistics, the idle-bytes budget and bad input.
#include "bufpool_test_util.h"
#include <gtest/gtest.h>

#include <tlpool.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

namespace {

constexpr size_t kAlign = alignof(max_align_t);

// The sizes the default configuration (16 B .. 64 KiB) must offer: multiples
// of 16 up to 128, then four steps per power of two.
std::vector<size_t> expected_default_classes()
{
    std::vector<size_t> v;
    for (size_t s = 16; s <= 128; s += 16)
        v.push_back(s);
    for (size_t p = 128; p < 65536; p *= 2)
        for (size_t j = 1; j <= 4; j++)
            v.push_back(p + j * p / 4);
    return v;
}


void fill(void *p, size_t n, unsigned seed)
{
    auto *b = static_cast<unsigned char *>(p);
    for (size_t i = 0; i < n; i++)
        b[i] = static_cast<unsigned char>(seed + i * 7);
}

// Index of the first byte that differs from fill(p, n, seed), or n.
size_t check_fill(const void *p, size_t n, unsigned seed)
{
    const auto *b = static_cast<const unsigned char *>(p);
    for (size_t i = 0; i < n; i++)
        if (b[i] != static_cast<unsigned char>(seed + i * 7))
            return i;
    return n;
}

bool all_zero(const void *p, size_t n)
{
    const auto *b = static_cast<const unsigned char *>(p);
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

bool aligned(const void *p) { return reinterpret_cast<uintptr_t>(p) % kAlign == 0; }

// ---- create / destroy ------------------------------------------------------

TEST(BufPoolCreate, RejectsBadArguments)
{
    tlp_bufpool *const sentinel = reinterpret_cast<tlp_bufpool *>(uintptr_t{0x1234});
    tlp_bufpool *bp = sentinel;
    tlp_bufpool_config cfg = {};
    EXPECT_EQ(tlp_bufpool_create(nullptr, &bp), EINVAL);
    EXPECT_EQ(tlp_bufpool_create(&cfg, nullptr), EINVAL);

    cfg = {};
    cfg.min_class = 4096;
    cfg.max_class = 1024;
    EXPECT_EQ(tlp_bufpool_create(&cfg, &bp), EINVAL);

    cfg = {};
    cfg.thread_cache = TLP_MAX_THREAD_CACHE + 1;
    EXPECT_EQ(tlp_bufpool_create(&cfg, &bp), EINVAL);

    cfg = {};  // 16 B .. 1 GiB: 8 + 23 * 4 classes, more than stats can hold (64)
    cfg.max_class = size_t{1} << 30;
    cfg.max_idle_bytes = SIZE_MAX;
    EXPECT_EQ(tlp_bufpool_create(&cfg, &bp), EINVAL);

    cfg = {};  // a budget that cannot hold one buffer of the smallest class
    cfg.max_idle_bytes = 8;
    EXPECT_EQ(tlp_bufpool_create(&cfg, &bp), EINVAL);

    EXPECT_EQ(bp, sentinel) << "*out must be untouched on error";
    tlp_bufpool_destroy(nullptr);  // no-op
}

TEST(BufPoolCreate, DefaultClasses)
{
    BufPool bp;
    tlp_bufpool_stats s = stats_of(bp);
    std::vector<size_t> want = expected_default_classes();
    ASSERT_EQ(s.nclasses, want.size());
    for (unsigned i = 0; i < s.nclasses; i++) {
        EXPECT_EQ(s.classes[i].size, want[i]) << "class " << i;
        EXPECT_EQ(s.classes[i].idle, 0u);
        EXPECT_EQ(s.classes[i].out, 0u);
    }
    EXPECT_EQ(s.idle_bytes, 0u);
    EXPECT_EQ(s.large_allocs, 0u);
    EXPECT_EQ(s.large_out, 0u);
}

TEST(BufPoolCreate, CustomRangeIsRoundedUpToTheGrid)
{
    tlp_bufpool_config cfg = {};
    cfg.min_class = 100;   // -> 112
    cfg.max_class = 1000;  // -> 1024
    BufPool bp(cfg);
    tlp_bufpool_stats s = stats_of(bp);
    ASSERT_EQ(s.nclasses, 2u + 12u);  // 112, 128, then 160 .. 1024
    EXPECT_EQ(s.classes[0].size, 112u);
    EXPECT_EQ(s.classes[1].size, 128u);
    EXPECT_EQ(s.classes[2].size, 160u);
    EXPECT_EQ(s.classes[s.nclasses - 1].size, 1024u);
    void *p = tlp_bufpool_alloc(bp, 1);
    EXPECT_EQ(tlp_bufpool_size(bp, p), 112u);
    void *q = tlp_bufpool_alloc(bp, 1025);  // above the largest class: large
    EXPECT_EQ(tlp_bufpool_size(bp, q), 1025u);
    EXPECT_EQ(stats_of(bp).large_out, 1u);
    tlp_bufpool_free(bp, p);
    tlp_bufpool_free(bp, q);
}

TEST(BufPoolCreate, SixtyFourClassesFit)
{
    tlp_bufpool_config cfg = {};  // 16 B .. 2 MiB: 8 + 14 * 4 = 64 classes
    cfg.max_class = size_t{2} << 20;
    cfg.max_idle_bytes = SIZE_MAX;
    BufPool bp(cfg);
    EXPECT_EQ(stats_of(bp).nclasses, 64u);
    cfg.max_class = (size_t{2} << 20) + 1;  // one more class
    tlp_bufpool *other = nullptr;
    EXPECT_EQ(tlp_bufpool_create(&cfg, &other), EINVAL);
}

// ---- alloc / size / free at the class boundaries ----------------------------

TEST(BufPoolAlloc, ClassBoundaries)
{
    BufPool bp;
    std::vector<size_t> classes = expected_default_classes();
    std::vector<size_t> sizes = {0, 1};
    for (size_t c : classes) {
        sizes.push_back(c);
        sizes.push_back(c + 1);
    }
    for (size_t n : sizes) {
        void *p = tlp_bufpool_alloc(bp, n);
        ASSERT_NE(p, nullptr) << n;
        EXPECT_TRUE(aligned(p)) << n;
        size_t usable = tlp_bufpool_size(bp, p);
        size_t want = n;  // large requests: exactly what was asked
        for (size_t c : classes)
            if (c >= n) {
                want = c;
                break;
            }
        EXPECT_EQ(usable, want) << "request " << n;
        fill(p, usable, static_cast<unsigned>(n));  // every usable byte is writable
        EXPECT_EQ(check_fill(p, usable, static_cast<unsigned>(n)), usable);
        tlp_bufpool_free(bp, p);
    }
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
    EXPECT_EQ(s.large_allocs, 1u) << "only 64 KiB + 1 is above the largest class";
}

TEST(BufPoolAlloc, LargestClassAndOnePast)
{
    BufPool bp;
    void *p = tlp_bufpool_alloc(bp, 65536);
    void *q = tlp_bufpool_alloc(bp, 65537);
    ASSERT_NE(p, nullptr);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(aligned(q));
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(s.classes[s.nclasses - 1].out, 1u);
    EXPECT_EQ(s.large_allocs, 1u);
    EXPECT_EQ(s.large_out, 1u);
    EXPECT_EQ(tlp_bufpool_size(bp, q), 65537u);
    tlp_bufpool_free(bp, p);
    tlp_bufpool_free(bp, q);
    s = stats_of(bp);
    EXPECT_EQ(s.large_out, 0u);
    EXPECT_EQ(s.classes[s.nclasses - 1].idle, 1u) << "the pooled buffer is kept";
    EXPECT_EQ(s.idle_bytes, 65536u) << "the large buffer is never kept";
}

TEST(BufPoolAlloc, ZeroGivesDistinctMinimalBuffers)
{
    BufPool bp;
    void *a = tlp_bufpool_alloc(bp, 0);
    void *b = tlp_bufpool_alloc(bp, 0);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_NE(a, b);
    EXPECT_EQ(tlp_bufpool_size(bp, a), 16u);
    tlp_bufpool_free(bp, a);
    tlp_bufpool_free(bp, b);
}

TEST(BufPoolAlloc, OverflowGivesEnomem)
{
    BufPool bp;
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 64, static_cast<size_t>(PTRDIFF_MAX)};
    for (size_t n : huge) {
        errno = 0;
        EXPECT_EQ(tlp_bufpool_alloc(bp, n), nullptr) << n;
        EXPECT_EQ(errno, ENOMEM) << n;
    }
    errno = 0;
    EXPECT_EQ(tlp_bufpool_calloc(bp, SIZE_MAX, 2), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(tlp_bufpool_calloc(bp, 2, SIZE_MAX / 2 + 1), nullptr);  // product wraps to 0
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(tlp_bufpool_calloc(bp, size_t{1} << 32, size_t{1} << 32), nullptr);
    EXPECT_EQ(errno, ENOMEM);

    void *p = tlp_bufpool_alloc(bp, 100);
    fill(p, 100, 3);
    errno = 0;
    EXPECT_EQ(tlp_bufpool_realloc(bp, p, SIZE_MAX), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(check_fill(p, 100, 3), 100u) << "a failed realloc leaves the buffer alone";
    tlp_bufpool_free(bp, p);

    void *l = tlp_bufpool_alloc(bp, 100000);  // large -> larger, failing
    errno = 0;
    EXPECT_EQ(tlp_bufpool_realloc(bp, l, SIZE_MAX - 1), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(tlp_bufpool_size(bp, l), 100000u);
    tlp_bufpool_free(bp, l);
    EXPECT_EQ(total_out(stats_of(bp)), 0u);
    EXPECT_EQ(stats_of(bp).large_allocs, 1u) << "refused requests are not counted";
}

TEST(BufPoolAlloc, NullIsANoOp)
{
    BufPool bp;
    tlp_bufpool_free(bp, nullptr);
    EXPECT_EQ(tlp_bufpool_size(bp, nullptr), 0u);
}

TEST(BufPoolAlloc, FreedBufferIsReused)
{
    BufPool bp;
    std::set<void *> freed;
    std::vector<void *> v;
    for (int i = 0; i < 8; i++)
        v.push_back(tlp_bufpool_alloc(bp, 3000));
    for (void *p : v) {
        freed.insert(p);
        tlp_bufpool_free(bp, p);
    }
    for (int i = 0; i < 8; i++) {
        void *p = tlp_bufpool_alloc(bp, 2900);  // same class (3072)
        EXPECT_EQ(freed.count(p), 1u);
        v[static_cast<size_t>(i)] = p;
    }
    for (void *p : v)
        tlp_bufpool_free(bp, p);
}

// ---- calloc -----------------------------------------------------------------

TEST(BufPoolCalloc, ZeroesRecycledAndLargeBuffers)
{
    BufPool bp;
    const size_t sizes[] = {1, 16, 17, 1000, 65536, 65537, 300000};
    for (size_t n : sizes) {
        // Dirty a few buffers of the class so calloc gets a used one back.
        std::vector<void *> v;
        for (int i = 0; i < 4; i++) {
            void *p = tlp_bufpool_alloc(bp, n);
            memset(p, 0xa5, tlp_bufpool_size(bp, p));
            v.push_back(p);
        }
        for (void *p : v)
            tlp_bufpool_free(bp, p);
        void *z = tlp_bufpool_calloc(bp, 1, n);
        ASSERT_NE(z, nullptr) << n;
        EXPECT_TRUE(all_zero(z, n)) << n;
        tlp_bufpool_free(bp, z);
        z = tlp_bufpool_calloc(bp, n, 1);
        EXPECT_TRUE(all_zero(z, n)) << n;
        tlp_bufpool_free(bp, z);
    }
    void *z = tlp_bufpool_calloc(bp, 0, 100);
    EXPECT_NE(z, nullptr);
    tlp_bufpool_free(bp, z);
    z = tlp_bufpool_calloc(bp, 7, 9);  // 63 bytes: class 64
    EXPECT_EQ(tlp_bufpool_size(bp, z), 64u);
    tlp_bufpool_free(bp, z);
    EXPECT_EQ(total_out(stats_of(bp)), 0u);
}

// ---- realloc ----------------------------------------------------------------

TEST(BufPoolRealloc, NullAndZero)
{
    BufPool bp;
    void *p = tlp_bufpool_realloc(bp, nullptr, 40);  // = alloc
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(tlp_bufpool_size(bp, p), 48u);
    EXPECT_EQ(total_out(stats_of(bp)), 1u);
    EXPECT_EQ(tlp_bufpool_realloc(bp, p, 0), nullptr);  // = free
    EXPECT_EQ(total_out(stats_of(bp)), 0u);
    void *l = tlp_bufpool_alloc(bp, 1 << 20);
    EXPECT_EQ(tlp_bufpool_realloc(bp, l, 0), nullptr);
    EXPECT_EQ(stats_of(bp).large_out, 0u);
}

TEST(BufPoolRealloc, StaysInPlaceWithinTheClass)
{
    BufPool bp;
    void *p = tlp_bufpool_alloc(bp, 1025);  // class 1280
    fill(p, 1280, 9);
    EXPECT_EQ(tlp_bufpool_realloc(bp, p, 1280), p);
    EXPECT_EQ(tlp_bufpool_realloc(bp, p, 1100), p);
    EXPECT_EQ(tlp_bufpool_realloc(bp, p, 700), p) << "less than half unused: no move";
    EXPECT_EQ(check_fill(p, 1280, 9), 1280u);
    void *q = tlp_bufpool_realloc(bp, p, 100);  // most of it unused: moves down
    ASSERT_NE(q, nullptr);
    EXPECT_NE(q, p);
    EXPECT_EQ(tlp_bufpool_size(bp, q), 112u);
    EXPECT_EQ(check_fill(q, 100, 9), 100u);
    tlp_bufpool_free(bp, q);
    EXPECT_EQ(total_out(stats_of(bp)), 0u);
}

TEST(BufPoolRealloc, GrowsThroughEveryClassKeepingContents)
{
    BufPool bp;
    std::vector<size_t> classes = expected_default_classes();
    size_t n = 1;
    void *p = tlp_bufpool_alloc(bp, n);
    fill(p, n, 1);
    for (size_t c : classes) {
        p = tlp_bufpool_realloc(bp, p, c + 1);  // one past: next class or large
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(check_fill(p, n, 1), n) << "growing to " << c + 1;
        fill(p, c + 1, 1);
        n = c + 1;
        EXPECT_GE(tlp_bufpool_size(bp, p), n);
    }
    // large -> larger large
    p = tlp_bufpool_realloc(bp, p, 1 << 20);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(check_fill(p, n, 1), n);
    EXPECT_EQ(tlp_bufpool_size(bp, p), size_t{1} << 20);
    tlp_bufpool_free(bp, p);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
    // large to larger large: a new 64 KiB-aligned block and a copy (the
    // system realloc would not keep the alignment the span map needs)
    EXPECT_EQ(s.large_allocs, 2u);
}

TEST(BufPoolRealloc, ShrinksThroughEveryClassKeepingContents)
{
    BufPool bp;
    std::vector<size_t> classes = expected_default_classes();
    size_t n = 200000;
    void *p = tlp_bufpool_alloc(bp, n);
    fill(p, n, 5);
    p = tlp_bufpool_realloc(bp, p, 70000);  // large -> smaller large
    n = 70000;
    ASSERT_EQ(check_fill(p, n, 5), n);
    for (size_t i = classes.size(); i-- > 0;) {
        size_t c = classes[i];
        p = tlp_bufpool_realloc(bp, p, c);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(check_fill(p, c, 5), c) << "shrinking to " << c;
        ASSERT_GE(tlp_bufpool_size(bp, p), c);
        ASSERT_LT(tlp_bufpool_size(bp, p), 2 * c + 16) << "a shrink gives memory back";
        n = c;
    }
    EXPECT_EQ(tlp_bufpool_size(bp, p), 16u);
    tlp_bufpool_free(bp, p);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(total_out(s), 0u);
}

TEST(BufPoolRealloc, PooledToLargeAndBack)
{
    BufPool bp;
    void *p = tlp_bufpool_alloc(bp, 4096);
    fill(p, 4096, 77);
    p = tlp_bufpool_realloc(bp, p, 1 << 20);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(check_fill(p, 4096, 77), 4096u);
    EXPECT_EQ(stats_of(bp).large_out, 1u);
    p = tlp_bufpool_realloc(bp, p, 3000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(check_fill(p, 3000, 77), 3000u);
    EXPECT_EQ(tlp_bufpool_size(bp, p), 3072u);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(s.large_out, 0u);
    EXPECT_EQ(total_out(s), 1u);
    tlp_bufpool_free(bp, p);
}

// ---- zero_on_free -----------------------------------------------------------

// Fills k buffers of `size`, frees them, takes k again. Returns how many of
// the new ones were recycled, and whether each recycled one was all zero.
struct Recycled {
    int recycled = 0;
    int zero = 0;
};

Recycled recycle(tlp_bufpool *bp, size_t size, int k)
{
    std::set<void *> old;
    std::vector<void *> v;
    for (int i = 0; i < k; i++) {
        void *p = tlp_bufpool_alloc(bp, size);
        memset(p, 0x5a, tlp_bufpool_size(bp, p));
        v.push_back(p);
        old.insert(p);
    }
    for (void *p : v)
        tlp_bufpool_free(bp, p);
    Recycled r;
    for (int i = 0; i < k; i++) {
        void *p = tlp_bufpool_alloc(bp, size);
        if (old.count(p)) {
            r.recycled++;
            r.zero += all_zero(p, tlp_bufpool_size(bp, p));
        }
        v[static_cast<size_t>(i)] = p;
    }
    for (void *p : v)
        tlp_bufpool_free(bp, p);
    return r;
}

TEST(BufPoolZeroOnFree, RecycledBuffersAreZero)
{
    tlp_bufpool_config cfg = {};
    cfg.zero_on_free = true;
    BufPool bp(cfg);
    for (size_t size : {size_t{1}, size_t{100}, size_t{4000}, size_t{65536}}) {
        Recycled r = recycle(bp, size, 4);
        EXPECT_GT(r.recycled, 0) << size;
        EXPECT_EQ(r.zero, r.recycled) << size;
    }
    // calloc relies on it: fresh and recycled buffers are zero without a memset.
    void *p = tlp_bufpool_calloc(bp, 10, 100);
    EXPECT_TRUE(all_zero(p, tlp_bufpool_size(bp, p)));
    tlp_bufpool_free(bp, p);

    // Large buffers: realloc cannot use the system realloc (it would release
    // the old block unzeroed), so check that its own path keeps the contents.
    void *l = tlp_bufpool_alloc(bp, 100000);
    fill(l, 100000, 4);
    l = tlp_bufpool_realloc(bp, l, 300000);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(check_fill(l, 100000, 4), 100000u);
    l = tlp_bufpool_realloc(bp, l, 70000);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(check_fill(l, 70000, 4), 70000u);
    EXPECT_EQ(tlp_bufpool_size(bp, l), 70000u);
    tlp_bufpool_free(bp, l);
    EXPECT_EQ(stats_of(bp).large_out, 0u);
}

TEST(BufPoolZeroOnFree, OffByDefaultDataSurvives)
{
    // The control for the test above: without the option the old bytes are
    // still there, so "all zero" there is the option's doing.
    BufPool bp;
    Recycled r = recycle(bp, 100, 4);
    EXPECT_GT(r.recycled, 0);
    EXPECT_EQ(r.zero, 0);
}

// ---- statistics, drain, release ---------------------------------------------

TEST(BufPoolStats, CountsPerClass)
{
    tlp_bufpool_config cfg = {};
    cfg.max_idle_bytes = SIZE_MAX;
    BufPool bp(cfg);
    std::vector<void *> v;
    for (int i = 0; i < 3; i++)
        v.push_back(tlp_bufpool_alloc(bp, 16));
    for (int i = 0; i < 5; i++)
        v.push_back(tlp_bufpool_alloc(bp, 5000));  // class 5120
    for (int i = 0; i < 2; i++)
        v.push_back(tlp_bufpool_alloc(bp, 100000));
    tlp_bufpool_stats s = stats_of(bp);
    std::vector<size_t> classes = expected_default_classes();
    const unsigned c16 = 0, c5120 = 8 + 5 * 4 + 0;  // 4096 is index 27; 5120 follows
    ASSERT_EQ(s.classes[c5120].size, 5120u);
    EXPECT_EQ(s.classes[c16].out, 3u);
    EXPECT_EQ(s.classes[c5120].out, 5u);
    EXPECT_EQ(s.large_allocs, 2u);
    EXPECT_EQ(s.large_out, 2u);
    EXPECT_EQ(total_out(s), 10u);
    EXPECT_EQ(s.idle_bytes, 0u);

    for (void *p : v)
        tlp_bufpool_free(bp, p);
    s = stats_of(bp);
    EXPECT_EQ(s.classes[c16].idle, 3u);
    EXPECT_EQ(s.classes[c16].idle_bytes, 3u * 16);
    EXPECT_EQ(s.classes[c5120].idle, 5u);
    EXPECT_EQ(s.classes[c5120].idle_bytes, 5u * 5120);
    EXPECT_EQ(s.idle_bytes, 3u * 16 + 5u * 5120);
    EXPECT_EQ(s.large_out, 0u);
    EXPECT_EQ(s.large_allocs, 2u);
    uint64_t sum = 0;
    for (unsigned i = 0; i < s.nclasses; i++) {
        EXPECT_EQ(s.classes[i].idle_bytes, s.classes[i].idle * s.classes[i].size);
        sum += s.classes[i].idle_bytes;
    }
    EXPECT_EQ(sum, s.idle_bytes);

    tlp_bufpool_release_idle(bp);
    s = stats_of(bp);
    EXPECT_EQ(s.idle_bytes, 0u);
    EXPECT_EQ(s.classes[c5120].idle, 0u);
}

TEST(BufPoolStats, IdleBufferSurvivesOneDrainNotTwo)
{
    BufPool bp;
    tlp_bufpool_free(bp, tlp_bufpool_alloc(bp, 300));
    EXPECT_EQ(stats_of(bp).idle_bytes, 320u);
    tlp_bufpool_drain(bp);
    EXPECT_EQ(stats_of(bp).idle_bytes, 320u) << "moved to the victim generation";
    tlp_bufpool_drain(bp);
    EXPECT_EQ(stats_of(bp).idle_bytes, 0u) << "released by the second drain";
}

// ---- the idle-bytes budget --------------------------------------------------

TEST(BufPoolBudget, SharedTiersStayWithinTheBudget)
{
    tlp_bufpool_config cfg = {};
    cfg.min_class = 1024;
    cfg.max_class = 4096;  // 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096
    cfg.thread_cache = 4;
    cfg.max_idle_bytes = 9 * 16384;  // 16 KiB per class
    BufPool bp(cfg);
    tlp_bufpool_stats s = stats_of(bp);
    ASSERT_EQ(s.nclasses, 9u);
    // Free far more than the budget holds, in every class.
    std::vector<void *> v;
    for (unsigned c = 0; c < s.nclasses; c++)
        for (int i = 0; i < 100; i++)
            v.push_back(tlp_bufpool_alloc(bp, s.classes[c].size));
    for (void *p : v)
        tlp_bufpool_free(bp, p);
    s = stats_of(bp);
    uint64_t cache_bytes = 0;
    for (unsigned c = 0; c < s.nclasses; c++) {
        // this thread's cache (thread_cache buffers) + the class's share
        uint64_t bound = 4 * s.classes[c].size + 16384;
        EXPECT_LE(s.classes[c].idle_bytes, bound) << "class " << s.classes[c].size;
        EXPECT_GT(s.classes[c].idle, 0u);
        cache_bytes += 4 * s.classes[c].size;
    }
    EXPECT_LE(s.idle_bytes, cfg.max_idle_bytes + cache_bytes);
    EXPECT_LT(s.idle_bytes, 900u * 1024) << "most of what was freed was released";
}

TEST(BufPoolBudget, ClassesThatCannotHoldOneBufferBecomeLarge)
{
    tlp_bufpool_config cfg = {};
    cfg.max_idle_bytes = 1 << 20;  // 44 default classes: ~23 KiB each at most
    BufPool bp(cfg);
    tlp_bufpool_stats s = stats_of(bp);
    ASSERT_LT(s.nclasses, 44u);
    ASSERT_GT(s.nclasses, 30u);
    size_t top = s.classes[s.nclasses - 1].size;
    EXPECT_LE(top * s.nclasses, size_t{1} << 20) << "every class's share holds one buffer";
    void *p = tlp_bufpool_alloc(bp, top + 1);
    EXPECT_EQ(stats_of(bp).large_out, 1u);
    tlp_bufpool_free(bp, p);
    EXPECT_EQ(stats_of(bp).idle_bytes, 0u);
}

TEST(BufPoolBudget, UnlimitedKeepsEverything)
{
    tlp_bufpool_config cfg = {};
    cfg.max_idle_bytes = SIZE_MAX;
    BufPool bp(cfg);
    std::vector<void *> v;
    for (int i = 0; i < 1000; i++)
        v.push_back(tlp_bufpool_alloc(bp, 65536));
    for (void *p : v)
        tlp_bufpool_free(bp, p);
    tlp_bufpool_stats s = stats_of(bp);
    EXPECT_EQ(s.classes[s.nclasses - 1].idle, 1000u);
    EXPECT_EQ(s.idle_bytes, 1000u * 65536);
    tlp_bufpool_release_idle(bp);
    EXPECT_EQ(stats_of(bp).idle_bytes, 0u);
}

// ---- bad input ----------------------------------------------------------------

class BufPoolDeath : public ::testing::Test {
protected:
    void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(BufPoolDeath, ForeignPointer)
{
    BufPool bp;
    // Inside an ordinary array, so reading the "header" is defined memory.
    alignas(16) static unsigned char arena[256];
    memset(arena, 0x11, sizeof(arena));
    void *foreign = arena + 64;
    EXPECT_DEATH(tlp_bufpool_free(bp, foreign), "buffer pool.*not a buffer of this buffer pool");
    EXPECT_DEATH(tlp_bufpool_size(bp, foreign), "buffer pool.*tlp_bufpool_size");
    EXPECT_DEATH(tlp_bufpool_realloc(bp, foreign, 10), "buffer pool.*tlp_bufpool_realloc");
    EXPECT_DEATH(tlp_buf_free(foreign), "buffer pool 'tlp_buf'.*tlp_buf_free");
}

TEST_F(BufPoolDeath, BufferOfAnotherPool)
{
    tlp_bufpool_config ca = {};
    ca.name = "alpha";
    tlp_bufpool_config cb = {};
    cb.name = "beta";
    BufPool a(ca), b(cb);
    void *p = tlp_bufpool_alloc(a, 100);
    void *l = tlp_bufpool_alloc(a, 100000);
    // Load a magazine with room for p's class in b and in the default pool on
    // this thread, so the frees below reach the inline fast path: only its
    // owner check can stop p from being pushed into the wrong pool.
    tlp_bufpool_free(b, tlp_bufpool_alloc(b, 100));
    tlp_buf_free(tlp_buf_alloc(100));
    EXPECT_DEATH(tlp_bufpool_free(b, p), "buffer pool 'beta'.*belongs to another buffer pool");
    EXPECT_DEATH(tlp_bufpool_free(b, l), "buffer pool 'beta'.*belongs to another buffer pool");
    EXPECT_DEATH(tlp_buf_free(p), "buffer pool 'tlp_buf'.*belongs to another buffer pool");
    tlp_bufpool_free(a, p);
    tlp_bufpool_free(a, l);
}

TEST_F(BufPoolDeath, InteriorPointer)
{
    BufPool bp;
#ifdef TLP_CHECKED
    // Release builds let the inline free push it (they check the span and the
    // owner, not the offset); checked builds check every free.
    EXPECT_DEATH(
        {
            unsigned char *p = static_cast<unsigned char *>(tlp_bufpool_alloc(bp, 100));
            tlp_bufpool_free(bp, p + 16);  // inside the span, not at a buffer's start
        },
        "buffer pool.*not at the start of a buffer");
#endif
    EXPECT_DEATH(
        {
            unsigned char *p = static_cast<unsigned char *>(tlp_bufpool_alloc(bp, 100000));
            tlp_bufpool_free(bp, p + 16);  // a large buffer's first chunk
        },
        "buffer pool.*not a buffer of this buffer pool");
}

TEST_F(BufPoolDeath, FreeAfterTheSpanWentBack)
{
    tlp_bufpool_config cfg = {};
    cfg.name = "gone";
    BufPool bp(cfg);
    void *p = tlp_bufpool_alloc(bp, 100);
    tlp_bufpool_free(bp, p);
    tlp_bufpool_release_idle(bp);  // the span's buffers are all back: the span goes
    EXPECT_DEATH(tlp_bufpool_free(bp, p), "buffer pool 'gone'.*not a buffer of this buffer pool");
}

TEST_F(BufPoolDeath, DoubleFree)
{
#ifndef TLP_CHECKED
    GTEST_SKIP() << "double free is caught in checked builds (TLP_CHECKED=ON)";
#else
    tlp_bufpool_config cfg = {};
    cfg.name = "dbl";
    BufPool bp(cfg);
    EXPECT_DEATH(
        {
            void *p = tlp_bufpool_alloc(bp, 100);
            tlp_bufpool_free(bp, p);
            tlp_bufpool_free(bp, p);
        },
        "buffer pool 'dbl': tlp_bufpool_free\\(0x[0-9a-f]+\\): double free");
    EXPECT_DEATH(
        {
            void *p = tlp_buf_alloc(100);
            tlp_buf_free(p);
            tlp_buf_free(p);
        },
        "buffer pool 'tlp_buf': tlp_buf_free\\(0x[0-9a-f]+\\): double free");
#endif
}

TEST_F(BufPoolDeath, DestroyWithBuffersOut)
{
#ifndef TLP_CHECKED
    GTEST_SKIP() << "checked builds only (TLP_CHECKED=ON)";
#else
    tlp_bufpool_config cfg = {};
    cfg.name = "leaky";
    EXPECT_DEATH(
        {
            tlp_bufpool *bp = nullptr;
            tlp_bufpool_create(&cfg, &bp);
            (void)tlp_bufpool_alloc(bp, 100000);
            tlp_bufpool_destroy(bp);
        },
        "buffer pool 'leaky': tlp_bufpool_destroy with 1 large buffer\\(s\\) still out");
    EXPECT_DEATH(
        {
            tlp_bufpool *bp = nullptr;
            tlp_bufpool_create(&cfg, &bp);
            (void)tlp_bufpool_alloc(bp, 100);
            tlp_bufpool_destroy(bp);
        },
        "pool 'leaky/112': tlp_pool_destroy with 1 object\\(s\\) still out");
#endif
}

// ---- the default pool and the drop-ins --------------------------------------

TEST(BufDefault, IsOnePool)
{
    tlp_bufpool *d = tlp_bufpool_default();
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(tlp_bufpool_default(), d);
    tlp_bufpool_stats s = stats_of(d);
    EXPECT_EQ(s.nclasses, expected_default_classes().size());
}

TEST(BufDefault, DropIns)
{
    tlp_bufpool *d = tlp_bufpool_default();
    uint64_t out0 = total_out(stats_of(d));

    EXPECT_EQ(tlp_buf_size(nullptr), 0u);
    tlp_buf_free(nullptr);

    char *p = static_cast<char *>(tlp_buf_alloc(10));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned(p));
    EXPECT_EQ(tlp_buf_size(p), 16u);
    EXPECT_EQ(tlp_bufpool_size(d, p), 16u) << "the drop-ins use the default pool";
    memcpy(p, "0123456789", 10);

    p = static_cast<char *>(tlp_buf_realloc(p, 5000));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(memcmp(p, "0123456789", 10), 0);
    EXPECT_EQ(tlp_buf_size(p), 5120u);

    p = static_cast<char *>(tlp_buf_realloc(p, 200000));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(memcmp(p, "0123456789", 10), 0);
    EXPECT_EQ(tlp_buf_size(p), 200000u);
    EXPECT_EQ(tlp_buf_realloc(p, 0), nullptr);

    void *z = tlp_buf_calloc(100, 10);
    ASSERT_NE(z, nullptr);
    EXPECT_TRUE(all_zero(z, 1000));
    tlp_buf_free(z);

    void *n = tlp_buf_realloc(nullptr, 64);
    EXPECT_EQ(tlp_buf_size(n), 64u);
    tlp_bufpool_free(d, n);  // the explicit call on the default pool frees it too

    errno = 0;
    EXPECT_EQ(tlp_buf_alloc(SIZE_MAX), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(tlp_buf_calloc(SIZE_MAX / 3, 4), nullptr);
    EXPECT_EQ(errno, ENOMEM);

    void *big = tlp_buf_alloc(65537);
    EXPECT_EQ(tlp_buf_size(big), 65537u);
    tlp_buf_free(big);

    EXPECT_EQ(total_out(stats_of(d)), out0);
}

// tlp_buf_alloc(n) / tlp_buf_free(p) are inline (function-like macros);
// without the parentheses they name the exported functions, which must
// behave the same and mix freely with the inline calls.
TEST(BufDefault, ExportedFunctionsMatchTheInlineCalls)
{
    void *(*alloc_fn)(size_t) = tlp_buf_alloc;
    void (*free_fn)(void *) = tlp_buf_free;
    tlp_bufpool *d = tlp_bufpool_default();
    uint64_t out0 = total_out(stats_of(d));

    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{4097}, size_t{65536},
                     size_t{65537}}) {
        void *a = alloc_fn(n);   // exported
        void *b = tlp_buf_alloc(n);  // inline
        ASSERT_NE(a, nullptr);
        ASSERT_NE(b, nullptr);
        EXPECT_EQ(tlp_buf_size(a), tlp_buf_size(b)) << n;
        EXPECT_GE(tlp_buf_size(a), n);
        EXPECT_TRUE(aligned(a));
        tlp_buf_free(a);  // inline frees what the exported call made
        free_fn(b);       // and the other way round
    }
    // The LIFO cache on this thread: the exported free's buffer comes back
    // from the inline alloc of the same class.
    void *p = alloc_fn(200);
    free_fn(p);
    void *q = tlp_buf_alloc(200);
    EXPECT_EQ(q, p);
    (tlp_buf_free)(q);  // parenthesised name: the exported function

    errno = 0;
    EXPECT_EQ(alloc_fn(SIZE_MAX), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    free_fn(nullptr);
    EXPECT_EQ(total_out(stats_of(d)), out0);
}

}  // namespace
