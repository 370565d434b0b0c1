/* SPDX-License-Identifier: MIT */
/*
 * The life of an object: what a new object holds (zero_new, obj_new), that
 * recycled objects come back as the last put left them, puts from C++
 * destructors while an exception unwinds the stack, and what a hook that
 * throws does (std::terminate from TLP_SCOPED's noexcept cleanup).
 */
#include "tlp_test_util.h"

#include <stdexcept>
#include <vector>

using namespace tlpt;

namespace {

/* A reset hook that keeps the bytes as they are, or drops the object. */
struct Keeper {
    std::atomic<bool> drop{false};
    std::atomic<uint64_t> resets{0};
    static bool reset(void *, void *ctx)
    {
        auto *k = static_cast<Keeper *>(ctx);
        k->resets.fetch_add(1);
        return !k->drop.load();
    }
};

bool all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *b = static_cast<const unsigned char *>(p);
    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return false;
    return true;
}

class ZeroNew : public ::testing::TestWithParam<size_t> {};

} // namespace

/*
 * zero_new: every object the pool makes is all zero bytes, also when the
 * memory it comes from was just used and dirtied (objects filled, then
 * dropped by the reset hook, so the pool must make new ones, which malloc
 * serves from the chunks just freed). Recycled objects are left alone: they
 * come back as the last put left them. Parameter: obj_align (0 = the
 * malloc/calloc path, 4096 = posix_memalign + memset).
 */
TEST_P(ZeroNew, NewObjectsAreZeroedRecycledOnesUntouched)
{
    constexpr size_t kSize = 200;
    constexpr int kN = 64;
    Keeper k;
    tlp_config c{};
    c.obj_size = kSize;
    c.obj_align = GetParam();
    c.obj_reset = Keeper::reset;
    c.ctx = &k;
    c.zero_new = true;
    c.name = "zero-new";
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);

    for (int round = 0; round < 3; round++) {
        std::vector<void *> objs;
        const uint64_t made_before = stats_of(pool).made;
        for (int i = 0; i < kN; i++) {
            void *o = tlp_get(pool);
            ASSERT_NE(o, nullptr);
            if (GetParam()) {
                EXPECT_EQ(reinterpret_cast<uintptr_t>(o) % GetParam(), 0u);
            }
            EXPECT_TRUE(all_bytes(o, kSize, 0)) << "round " << round << " object " << i << " not zero";
            std::memset(o, 0xab, kSize);
            objs.push_back(o);
        }
        EXPECT_EQ(stats_of(pool).made - made_before, uint64_t(kN)) << "all new: the last round dropped all";
        k.drop = true; /* the pool must let every one go and make new ones */
        for (void *o : objs)
            tlp_put(pool, o);
        k.drop = false;
        tlp_stats s = stats_of(pool);
        EXPECT_EQ(s.idle, 0u);
        expect_quiescent_identities(s);
    }

    /* Kept objects are not touched by the pool: the bytes survive the round trip. */
    std::vector<void *> objs;
    for (int i = 0; i < 8; i++) {
        objs.push_back(tlp_get(pool));
        std::memset(objs.back(), 0x5c, kSize);
    }
    for (void *o : objs)
        tlp_put(pool, o);
    const uint64_t made_before = stats_of(pool).made;
    for (int i = 0; i < 8; i++) {
        void *o = tlp_get(pool);
        EXPECT_TRUE(all_bytes(o, kSize, 0x5c)) << "a recycled object was changed";
        objs[size_t(i)] = o;
    }
    EXPECT_EQ(stats_of(pool).made, made_before) << "recycled, not new";
    for (void *o : objs)
        tlp_put(pool, o);
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.dropped_reset, 3u * kN);
    EXPECT_EQ(s.out, 0u);
    expect_quiescent_identities(s);
    tlp_pool_destroy(pool);
}

INSTANTIATE_TEST_SUITE_P(Align, ZeroNew, ::testing::Values(size_t(0), size_t(4096)));

/* With obj_new, zero_new does not apply: the new object is what obj_new made. */
TEST(ZeroNewHook, ObjNewDecides)
{
    struct Maker {
        static void *make(void *) { return std::memset(std::malloc(48), 0x5a, 48); }
        static void release(void *obj, void *) { std::free(obj); }
    };
    tlp_config c{};
    c.obj_size = 48;
    c.obj_new = Maker::make;
    c.obj_free = Maker::release;
    c.zero_new = true;
    tlp_pool *pool = make_pool(c);
    ASSERT_NE(pool, nullptr);
    void *o = tlp_get(pool);
    ASSERT_NE(o, nullptr);
    EXPECT_TRUE(all_bytes(o, 48, 0x5a));
    tlp_put(pool, o);
    expect_quiescent_identities(stats_of(pool));
    tlp_pool_destroy(pool);
}

/* ---- puts from destructors while an exception unwinds ------------------- */

namespace {

/* An RAII lease: the destructor puts the object back. */
class Lease {
public:
    explicit Lease(tlp_pool *p) : pool_(p), obj_(tlp_get(p)) {}
    ~Lease() { tlp_put(pool_, obj_); }
    Lease(const Lease &) = delete;
    Lease &operator=(const Lease &) = delete;
    void *get() const { return obj_; }

private:
    tlp_pool *pool_;
    void *obj_;
};

/* Takes `depth` leases, one per frame, and throws from the deepest. */
void lease_and_throw(tlp_pool *pool, int depth, std::vector<void *> &seen)
{
    Lease l(pool);
    seen.push_back(l.get());
    if (depth == 0)
        throw std::runtime_error("unwind");
    lease_and_throw(pool, depth - 1, seen);
}

void expect_unwound_puts(tlp_pool *pool, int rounds, int depth)
{
    for (int r = 0; r < rounds; r++) {
        std::vector<void *> seen;
        EXPECT_THROW(lease_and_throw(pool, depth, seen), std::runtime_error);
        ASSERT_EQ(seen.size(), size_t(depth + 1));
    }
    tlp_stats s = stats_of(pool);
    EXPECT_EQ(s.puts, uint64_t(rounds) * uint64_t(depth + 1));
    EXPECT_EQ(s.out, 0u);
    expect_quiescent_identities(s);
}

} // namespace

/* A pool with a reset hook (every put runs it) and one without (the inline
 * put); depth 300 is past the thread cache, so the spill path runs too. */
TEST(Unwinding, DestructorPutsWhileAnExceptionUnwinds)
{
    Tracker t;
    tlp_pool *hooked = make_pool(t.config(true));
    ASSERT_NE(hooked, nullptr);
    expect_unwound_puts(hooked, 5, 300);
    EXPECT_EQ(t.resets.load(), 5u * 301u);
    tlp_pool_destroy(hooked);
    t.expect_all_released();

    tlp_config c{};
    c.obj_size = 64;
    tlp_pool *plain = make_pool(c);
    ASSERT_NE(plain, nullptr);
    expect_unwound_puts(plain, 5, 300);
    tlp_pool_destroy(plain);
}

/* ---- hooks that throw --------------------------------------------------- */

namespace {

bool throwing_reset(void *, void *)
{
    throw std::runtime_error("hook threw");
}

void scoped_with_throwing_hook()
{
    tlp_config c{};
    c.obj_size = 32;
    c.obj_reset = throwing_reset;
    tlp_pool *pool = nullptr;
    if (tlp_pool_create(&c, &pool) != 0)
        std::exit(0); /* not the death the test expects */
    {
        TLP_SCOPED(char *, o, pool);
        (void)o;
    } /* the cleanup's put runs the hook, which throws: noexcept -> terminate */
    std::exit(0);
}

} // namespace

/* The header's promise: an exception escaping a hook during TLP_SCOPED's
 * cleanup calls std::terminate (it cannot leave the pool half updated and
 * carry on). */
TEST(LifecycleDeathTest, HookThrowingInScopedCleanupTerminates)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(scoped_with_throwing_hook(), "");
}
