/* SPDX-License-Identifier: MIT */
/*
 * The core pool on one thread: creation and every EINVAL case, defaults,
 * alignment, LIFO reuse, NULL put, names, obj_new failure, the statistics
 * identities and destroy releasing every object.
 */
#include "tlp_test_util.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <vector>

using namespace tlpt;

namespace {

tlp_config plain_config(size_t size = 64)
{
    tlp_config c;
    std::memset(&c, 0, sizeof c);
    c.obj_size = size;
    return c;
}

void *dummy_new(void *) { return std::malloc(16); }
void dummy_free(void *p, void *) { std::free(p); }

} // namespace

TEST(PoolBasic, VersionMatchesHeader)
{
    EXPECT_EQ(tlp_version(), unsigned(TLP_VERSION_HEX));
}

TEST(PoolBasic, CreateGetPutDestroy)
{
    tlp_config c = plain_config(48);
    tlp_pool *pool = nullptr;
    ASSERT_EQ(tlp_pool_create(&c, &pool), 0);
    ASSERT_NE(pool, nullptr);
    void *a = tlp_get(pool);
    ASSERT_NE(a, nullptr);
    std::memset(a, 0x5a, 48); /* the whole object is writable (ASan checks) */
    tlp_put(pool, a);
    tlp_pool_destroy(pool);
}

TEST(PoolBasic, DestroyNullIsNoop)
{
    tlp_pool_destroy(nullptr);
}

/* Every invalid configuration: EINVAL, and *out keeps its old value. */
TEST(PoolBasic, InvalidConfigsReturnEinvalAndLeaveOutUntouched)
{
    struct Case {
        const char *what;
        std::function<void(tlp_config &)> edit;
    };
    const std::vector<Case> cases = {
        {"obj_size 0", [](tlp_config &c) { c.obj_size = 0; }},
        {"obj_align 3", [](tlp_config &c) { c.obj_align = 3; }},
        {"obj_align 24", [](tlp_config &c) { c.obj_align = 24; }},
        {"obj_align 4097", [](tlp_config &c) { c.obj_align = TLP_MAX_ALIGN + 1; }},
        {"obj_align 2*max", [](tlp_config &c) { c.obj_align = 2 * size_t(TLP_MAX_ALIGN); }},
        {"obj_align SIZE_MAX", [](tlp_config &c) { c.obj_align = SIZE_MAX; }},
        {"obj_new without obj_free", [](tlp_config &c) { c.obj_new = dummy_new; }},
        {"obj_free without obj_new", [](tlp_config &c) { c.obj_free = dummy_free; }},
        {"thread_cache max+1", [](tlp_config &c) { c.thread_cache = TLP_MAX_THREAD_CACHE + 1; }},
        {"thread_cache UINT_MAX", [](tlp_config &c) { c.thread_cache = UINT_MAX; }},
        {"shards max+1", [](tlp_config &c) { c.shards = TLP_MAX_SHARDS + 1; }},
        {"shards UINT_MAX", [](tlp_config &c) { c.shards = UINT_MAX; }},
    };
    int marker;
    tlp_pool *const sentinel = reinterpret_cast<tlp_pool *>(&marker);
    for (const Case &k : cases) {
        tlp_config c = plain_config();
        k.edit(c);
        tlp_pool *out = sentinel;
        EXPECT_EQ(tlp_pool_create(&c, &out), EINVAL) << k.what;
        EXPECT_EQ(out, sentinel) << k.what << ": *out was written";
    }

    tlp_pool *out = sentinel;
    EXPECT_EQ(tlp_pool_create(nullptr, &out), EINVAL) << "cfg NULL";
    EXPECT_EQ(out, sentinel);

    tlp_config c = plain_config();
    EXPECT_EQ(tlp_pool_create(&c, nullptr), EINVAL) << "out NULL";
}

/* The limits themselves are valid. */
TEST(PoolBasic, BoundaryConfigsAreValid)
{
    std::vector<std::function<void(tlp_config &)>> edits = {
        [](tlp_config &c) { c.obj_align = TLP_MAX_ALIGN; },
        [](tlp_config &c) { c.obj_align = 1; },
        [](tlp_config &c) { c.thread_cache = TLP_MAX_THREAD_CACHE; },
        [](tlp_config &c) { c.shards = TLP_MAX_SHARDS; },
        [](tlp_config &c) { c.shards = 1; },
        [](tlp_config &c) { c.obj_size = 1; },
        [](tlp_config &c) {
            c.obj_new = dummy_new;
            c.obj_free = dummy_free;
            c.obj_size = 16;
        },
    };
    for (size_t i = 0; i < edits.size(); i++) {
        tlp_config c = plain_config();
        edits[i](c);
        tlp_pool *pool = nullptr;
        ASSERT_EQ(tlp_pool_create(&c, &pool), 0) << "case " << i;
        std::vector<void *> held;
        for (int k = 0; k < 10; k++) {
            held.push_back(tlp_get(pool));
            ASSERT_NE(held.back(), nullptr);
        }
        for (void *p : held)
            tlp_put(pool, p);
        tlp_pool_destroy(pool);
    }
}

/* A zero-initialised config with only obj_size set is valid and usable. */
TEST(PoolBasic, ZeroConfigWithOnlyObjSize)
{
    tlp_config c;
    std::memset(&c, 0, sizeof c);
    c.obj_size = 40;
    tlp_pool *pool = nullptr;
    ASSERT_EQ(tlp_pool_create(&c, &pool), 0);
    EXPECT_STREQ(tlp_pool_name(pool), "");
    std::vector<void *> held;
    for (int i = 0; i < 300; i++) { /* more than the default cache (128) */
        void *p = tlp_get(pool);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(max_align_t), 0u);
        std::memset(p, i, 40);
        held.push_back(p);
    }
    for (void *p : held)
        tlp_put(pool, p);
    tlp_stats s = stats_of(pool);
    EXPECT_STREQ(s.name, "");
    EXPECT_EQ(s.made, 300u);
    EXPECT_EQ(s.idle, 300u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
}

/* Small thread caches (down to one object) still keep and hand back objects. */
TEST(PoolBasic, TinyThreadCaches)
{
    for (unsigned tc : {1u, 2u, 3u, 5u}) {
        Tracker t;
        tlp_config c = t.config();
        c.thread_cache = tc;
        tlp_pool *pool = make_pool(c);
        ASSERT_NE(pool, nullptr);
        for (int round = 0; round < 3; round++) {
            std::vector<void *> held;
            for (int i = 0; i < 20; i++) {
                held.push_back(tlp_get(pool));
                ASSERT_NE(held.back(), nullptr);
                ASSERT_TRUE(t.is_live(held.back()));
            }
            for (void *p : held)
                tlp_put(pool, p);
        }
        tlp_stats s = stats_of(pool);
        expect_quiescent_identities(s);
        EXPECT_EQ(s.out, 0u) << "thread_cache " << tc;
        EXPECT_EQ(s.made, t.made.load());
        tlp_pool_destroy(pool);
        t.expect_all_released();
    }
}

/* thread_cache is what one thread keeps: after many puts, the calling
 * thread's cache holds at most that many objects, the rest is shared. */
TEST(PoolBasic, ThreadCacheHoldsAtMostThreadCache)
{
    for (unsigned tc : {1u, 2u, 3u, 5u, 16u, 33u, 128u}) {
        Tracker t;
        tlp_config c = t.config();
        c.thread_cache = tc;
        tlp_pool *pool = make_pool(c);
        ASSERT_NE(pool, nullptr);
        std::vector<void *> held;
        for (int i = 0; i < 300; i++)
            held.push_back(tlp_get(pool));
        for (void *p : held)
            tlp_put(pool, p);
        tlp_stats s = stats_of(pool);
        EXPECT_LE(s.idle_thread, tc) << "thread_cache " << tc;
        EXPECT_GT(s.idle_thread, 0u) << "thread_cache " << tc;
        EXPECT_EQ(s.idle, 300u);
        for (void *&p : held)
            p = tlp_get(pool);
        for (void *p : held)
            tlp_put(pool, p);
        EXPECT_LE(stats_of(pool).idle_thread, tc) << "thread_cache " << tc << ", second round";
        tlp_pool_destroy(pool);
        t.expect_all_released();
    }
}

/* The largest thread cache: a magazine's count is 16 bits wide and shares
 * a word with its count of inline puts (tlp__mag_word), so a full magazine
 * of TLP_MAX_THREAD_CACHE / 2 objects must not carry into the puts, and the
 * puts must not disturb the count. Every get and put is accounted. */
TEST(PoolBasic, LargestThreadCacheCountsExactly)
{
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = TLP_MAX_THREAD_CACHE;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);
    const size_t n = TLP_MAX_THREAD_CACHE + 1000;
    std::vector<void *> held(n);
    for (int round = 1; round <= 3; round++) {
        for (void *&p : held)
            ASSERT_NE(p = tlp_get(pool), nullptr);
        std::sort(held.begin(), held.end());
        ASSERT_EQ(std::adjacent_find(held.begin(), held.end()), held.end()) << "an object handed out twice";
        for (void *p : held)
            tlp_put(pool, p);
        tlp_stats s = stats_of(pool);
        EXPECT_EQ(s.puts, n * round);
        EXPECT_EQ(s.gets, n * round);
        EXPECT_EQ(s.out, 0u);
        EXPECT_EQ(s.idle, n);
        EXPECT_LE(s.idle_thread, (uint64_t)TLP_MAX_THREAD_CACHE);
        EXPECT_GE(s.idle_thread, (uint64_t)TLP_MAX_THREAD_CACHE / 2);
    }
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* Objects honour obj_align (own allocation path), for sizes below, equal to
 * and above the alignment. */
TEST(PoolBasic, ObjectsAreAligned)
{
    for (size_t align : {size_t(0), size_t(1), size_t(2), size_t(8), size_t(16), size_t(32),
                         size_t(64), size_t(128), size_t(256), size_t(1024), size_t(TLP_MAX_ALIGN)}) {
        for (size_t size : {size_t(1), size_t(24), size_t(100), size_t(5000)}) {
            tlp_config c = plain_config(size);
            c.obj_align = align;
            tlp_pool *pool = nullptr;
            ASSERT_EQ(tlp_pool_create(&c, &pool), 0) << "align " << align << " size " << size;
            size_t want = align ? align : alignof(max_align_t);
            std::vector<void *> held;
            for (int i = 0; i < 20; i++) {
                void *p = tlp_get(pool);
                ASSERT_NE(p, nullptr);
                EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % want, 0u)
                    << "align " << align << " size " << size << " ptr " << p;
                std::memset(p, 0xcd, size);
                held.push_back(p);
            }
            for (void *p : held)
                tlp_put(pool, p);
            /* Reused objects are the same aligned ones. */
            void *p = tlp_get(pool);
            EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % want, 0u);
            tlp_put(pool, p);
            tlp_pool_destroy(pool);
        }
    }
}

/* LIFO on one thread: the last object put is the first one got. Once on a
 * pool served by the inline fast path, once on a pool whose puts take the
 * slow path (reset hook). */
TEST(PoolBasic, LifoReuseOnOneThread)
{
    for (bool with_reset : {false, true}) {
        Tracker t;
        tlp_pool *pool = make_pool(t.config(with_reset));
        ASSERT_NE(pool, nullptr);
        void *a = tlp_get(pool);
        void *b = tlp_get(pool);
        ASSERT_NE(a, nullptr);
        ASSERT_NE(b, nullptr);
        ASSERT_NE(a, b);
        tlp_put(pool, a);
        tlp_put(pool, b);
        EXPECT_EQ(tlp_get(pool), b) << "reset hook: " << with_reset;
        EXPECT_EQ(tlp_get(pool), a) << "reset hook: " << with_reset;
        EXPECT_EQ(t.made.load(), 2u);
        tlp_put(pool, a);
        tlp_put(pool, b);

        /* Deeper: 50 objects come back in reverse order. */
        std::vector<void *> held;
        for (int i = 0; i < 50; i++)
            held.push_back(tlp_get(pool));
        for (void *p : held)
            tlp_put(pool, p);
        for (int i = 49; i >= 0; i--)
            EXPECT_EQ(tlp_get(pool), held[size_t(i)]) << "index " << i;
        for (void *p : held)
            tlp_put(pool, p);
        EXPECT_EQ(t.made.load(), 50u);
        tlp_pool_destroy(pool);
        t.expect_all_released();
    }
}

TEST(PoolBasic, PutNullIsNoop)
{
    for (bool with_reset : {false, true}) {
        Tracker t;
        tlp_pool *pool = make_pool(t.config(with_reset));
        ASSERT_NE(pool, nullptr);
        tlp_put(pool, nullptr);
        void *a = tlp_get(pool);
        tlp_put(pool, nullptr);
        tlp_put(pool, a);
        tlp_put(pool, nullptr);
        tlp_stats s = stats_of(pool);
        EXPECT_EQ(s.puts, 1u);
        EXPECT_EQ(s.gets, 1u);
        EXPECT_EQ(s.idle, 1u);
        EXPECT_EQ(t.resets.load(), with_reset ? 1u : 0u);
        expect_quiescent_identities(s);
        EXPECT_EQ(tlp_get(pool), a); /* the NULLs did not enter the cache */
        tlp_put(pool, a);
        tlp_pool_destroy(pool);
        t.expect_all_released();
    }
}

TEST(PoolBasic, NameIsCopiedAndReported)
{
    char name[32];
    std::strcpy(name, "connections");
    tlp_config c = plain_config();
    c.name = name;
    tlp_pool *pool = nullptr;
    ASSERT_EQ(tlp_pool_create(&c, &pool), 0);
    std::strcpy(name, "overwritten"); /* the pool keeps its own copy */
    EXPECT_STREQ(tlp_pool_name(pool), "connections");
    tlp_stats s = stats_of(pool);
    EXPECT_STREQ(s.name, "connections");
    tlp_pool_destroy(pool);

    c.name = nullptr;
    ASSERT_EQ(tlp_pool_create(&c, &pool), 0);
    EXPECT_STREQ(tlp_pool_name(pool), "");
    EXPECT_STREQ(stats_of(pool).name, "");
    tlp_pool_destroy(pool);
}

/* obj_new failing: NULL with errno ENOMEM, counted, and the pool keeps
 * working (cached objects are still served, and new ones once obj_new
 * recovers). */
TEST(PoolBasic, ObjNewFailureGivesEnomemAndPoolStaysUsable)
{
    Tracker t;
    tlp_pool *pool = make_pool(t.config());
    ASSERT_NE(pool, nullptr);

    t.fail_new = 1;
    errno = 0;
    EXPECT_EQ(tlp_get(pool), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.new_failed, 1u);
    EXPECT_EQ(s.gets, 0u) << "a failed get is not a get";
    EXPECT_EQ(s.made, 0u);
    expect_quiescent_identities(s);

    void *a = tlp_get(pool); /* obj_new works again */
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(t.is_live(a));
    tlp_put(pool, a);

    /* While obj_new fails, a cached object is still handed out ... */
    t.fail_all_new = true;
    EXPECT_EQ(tlp_get(pool), a);
    /* ... and only when none is left does get fail. */
    errno = 0;
    EXPECT_EQ(tlp_get(pool), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    tlp_put(pool, a);
    t.fail_all_new = false;

    void *b = tlp_get(pool);
    void *c = tlp_get(pool);
    ASSERT_NE(b, nullptr);
    ASSERT_NE(c, nullptr);
    tlp_put(pool, b);
    tlp_put(pool, c);
    s = stats_of(pool);
    EXPECT_EQ(s.new_failed, 2u);
    EXPECT_EQ(s.made, 2u);
    EXPECT_EQ(s.out, 0u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* The identities of the tlp_stats comment, after a mix of operations that
 * uses every tier, with exact counts where the sequence fixes them. */
TEST(PoolBasic, StatsIdentitiesAtQuiescence)
{
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 16;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    uint64_t gets = 0, puts = 0;
    std::vector<void *> held;
    auto get_n = [&](int n) {
        for (int i = 0; i < n; i++) {
            void *p = tlp_get(pool);
            ASSERT_NE(p, nullptr);
            held.push_back(p);
            gets++;
        }
    };
    auto put_n = [&](int n) {
        for (int i = 0; i < n && !held.empty(); i++) {
            tlp_put(pool, held.back());
            held.pop_back();
            puts++;
        }
    };

    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.gets, 0u);
    EXPECT_EQ(s.made, 0u);
    EXPECT_EQ(s.idle, 0u);
    expect_quiescent_identities(s);

    get_n(100); /* all made */
    put_n(100); /* thread cache full, the rest in the shared tier */
    s = stats_of(pool);
    EXPECT_EQ(s.made, 100u);
    EXPECT_EQ(s.idle, 100u);
    EXPECT_LE(s.idle_thread, 16u);
    EXPECT_GE(s.idle_shared, 100u - 16u);
    expect_quiescent_identities(s);

    get_n(60); /* thread cache, then batches from the shared tier */
    s = stats_of(pool);
    EXPECT_EQ(s.made, 100u);
    EXPECT_GT(s.hits_thread, 0u);
    EXPECT_GT(s.hits_shared, 0u);
    EXPECT_EQ(s.out, 60u);
    expect_quiescent_identities(s);

    tlp_drain(pool); /* idle ones -> victim */
    get_n(5);        /* rescued */
    s = stats_of(pool);
    EXPECT_EQ(s.hits_victim, 5u);
    EXPECT_EQ(s.made, 100u);
    expect_quiescent_identities(s);

    tlp_drain(pool); /* victim released */
    get_n(10);       /* made again */
    put_n(40);
    s = stats_of(pool);
    EXPECT_EQ(s.gets, gets);
    EXPECT_EQ(s.puts, puts);
    EXPECT_EQ(s.out, held.size());
    EXPECT_EQ(s.made, t.made.load());
    EXPECT_EQ(s.released, t.freed.load());
    EXPECT_EQ(s.drains, 2u);
    EXPECT_GT(s.released_by_drain, 0u);
    expect_quiescent_identities(s);

    /* And with a second thread that has come and gone. */
    std::thread([&] {
        std::vector<void *> mine;
        for (int i = 0; i < 30; i++)
            mine.push_back(tlp_get(pool));
        for (void *p : mine)
            tlp_put(pool, p);
    }).join();
    gets += 30;
    puts += 30;
    put_n(int(held.size()));
    s = stats_of(pool);
    EXPECT_EQ(s.gets, gets);
    EXPECT_EQ(s.puts, puts);
    EXPECT_EQ(s.out, 0u);
    EXPECT_EQ(s.made, t.made.load());
    EXPECT_EQ(s.released, t.freed.load());
    EXPECT_EQ(s.idle, t.made.load() - t.freed.load());
    expect_quiescent_identities(s);

    tlp_pool_destroy(pool);
    t.expect_all_released();
}

/* Destroy releases every object exactly once, wherever it sits: thread
 * cache, shared tier, victim generation. */
TEST(PoolBasic, DestroyReleasesEveryObjectOnce)
{
    Tracker t;
    tlp_config c = t.config();
    c.thread_cache = 8;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    std::vector<void *> held;
    for (int i = 0; i < 200; i++)
        held.push_back(tlp_get(pool));
    for (int i = 0; i < 100; i++) {
        tlp_put(pool, held.back());
        held.pop_back();
    }
    tlp_drain(pool); /* 100 in the victim generation */
    for (void *p : held)
        tlp_put(pool, p); /* 100 in the thread cache and shared tier */
    held.clear();

    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.made, 200u);
    EXPECT_EQ(s.idle, 200u);
    EXPECT_EQ(s.idle_victim, 100u);
    EXPECT_GT(s.idle_shared, 0u);
    EXPECT_GT(s.idle_thread, 0u);
    EXPECT_EQ(t.freed.load(), 0u);

    tlp_pool_destroy(pool);
    EXPECT_EQ(t.made.load(), 200u);
    t.expect_all_released();
}
