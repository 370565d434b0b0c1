/* SPDX-License-Identifier: MIT */
// The C++17 layer (include/tlpool.hpp): construction and destruction of T,
// reset() detection, errors as exceptions, handles, buffers.
#include <tlpool.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct counted {
    static inline int ctors = 0, dtors = 0;
    std::string text = "fresh";
    counted() { ctors++; }
    ~counted() { dtors++; }
};

struct void_reset {
    static inline int resets = 0;
    int value = 0;
    void reset() { value = 0; resets++; }
};

struct bool_reset {
    static inline int dtors = 0;
    bool keep = true;
    ~bool_reset() { dtors++; }
    bool reset() { return keep; }
};

struct throwing_ctor {
    static inline bool fail = false;
    throwing_ctor()
    {
        if (fail)
            throw std::runtime_error("ctor failed");
    }
};

struct throwing_reset {
    static inline int dtors = 0;
    ~throwing_reset() { dtors++; }
    void reset() { throw std::runtime_error("reset failed"); }
};

struct alignas(256) aligned_obj {
    char bytes[300];
};

static_assert(tlp::detail::has_reset<void_reset>::value, "void reset() is detected");
static_assert(tlp::detail::has_reset<bool_reset>::value, "bool reset() is detected");
static_assert(!tlp::detail::has_reset<counted>::value, "no reset()");
static_assert(std::is_same<tlp::pool<counted>::handle,
                           std::unique_ptr<counted, tlp::pool<counted>::deleter>>::value,
              "get() returns a unique_ptr");

TEST(CxxPool, ConstructsOnceDestroysOnRelease)
{
    counted::ctors = counted::dtors = 0;
    {
        tlp::pool<counted> p({0, 0, 0, 0, "counted"});
        counted *first;
        {
            auto h = p.get();
            ASSERT_TRUE(h);
            EXPECT_EQ(h->text, "fresh");
            h->text = "kept";
            first = h.get();
        } // put back
        {
            auto h = p.get();
            EXPECT_EQ(h.get(), first) << "the same object comes back from the thread cache";
            EXPECT_EQ(h->text, "kept") << "no reset(): state is kept, T not rebuilt";
        }
        EXPECT_EQ(counted::ctors, 1);
        EXPECT_EQ(counted::dtors, 0);
        tlp_stats st = p.stats();
        EXPECT_EQ(st.gets, 2u);
        EXPECT_EQ(st.puts, 2u);
        EXPECT_STREQ(st.name, "counted");
        p.release_idle();
        EXPECT_EQ(counted::dtors, 1) << "release_idle destroys the idle T";
        auto a = p.get();
        auto b = p.get();
        EXPECT_EQ(counted::ctors, 3);
    }
    EXPECT_EQ(counted::dtors, 3) << "the pool's destructor destroys every idle T";
}

TEST(CxxPool, VoidResetRunsOnEveryPut)
{
    void_reset::resets = 0;
    tlp::pool<void_reset> p;
    for (int i = 0; i < 5; i++) {
        auto h = p.get();
        EXPECT_EQ(h->value, 0);
        h->value = 42;
    }
    EXPECT_EQ(void_reset::resets, 5);
    EXPECT_EQ(p.stats().dropped_reset, 0u);
}

TEST(CxxPool, BoolResetFalseDropsTheObject)
{
    bool_reset::dtors = 0;
    tlp::pool<bool_reset> p;
    {
        auto h = p.get();
        h->keep = false;
    }
    EXPECT_EQ(bool_reset::dtors, 1) << "reset() returned false: the object is destroyed";
    EXPECT_EQ(p.stats().dropped_reset, 1u);
    {
        auto h = p.get();
        EXPECT_TRUE(h->keep);
    }
    EXPECT_EQ(bool_reset::dtors, 1) << "reset() returned true: kept";
    EXPECT_EQ(p.stats().idle, 1u);
}

TEST(CxxPool, ThrowingResetDropsTheObject)
{
    throwing_reset::dtors = 0;
    tlp::pool<throwing_reset> p;
    EXPECT_NO_THROW(p.get()) << "the exception stays inside the put";
    EXPECT_EQ(throwing_reset::dtors, 1) << "the object was dropped, not kept";
    EXPECT_EQ(p.stats().dropped_reset, 1u);
    EXPECT_EQ(p.stats().idle, 0u);
}

TEST(CxxPool, ConstructorExceptionReachesGet)
{
    tlp::pool<throwing_ctor> p;
    throwing_ctor::fail = true;
    EXPECT_THROW(p.get(), std::runtime_error);
    EXPECT_FALSE(p.try_get()) << "try_get: empty handle, no exception";
    EXPECT_EQ(p.stats().new_failed, 2u);
    throwing_ctor::fail = false;
    auto h = p.get();
    EXPECT_TRUE(h) << "the pool stays usable";
    throwing_ctor::fail = true;
    h.reset();
    EXPECT_NO_THROW(p.get()) << "an idle object needs no constructor";
    throwing_ctor::fail = false;
}

TEST(CxxPool, BadOptionsThrowSystemError)
{
    try {
        tlp::pool<counted> p({TLP_MAX_THREAD_CACHE + 1});
        FAIL() << "no exception";
    } catch (const std::system_error &e) {
        EXPECT_EQ(e.code(), std::errc::invalid_argument);
    }
}

TEST(CxxPool, OverAlignedType)
{
    tlp::pool<aligned_obj> p;
    std::vector<tlp::pool<aligned_obj>::handle> hs;
    for (int i = 0; i < 10; i++) {
        hs.push_back(p.get());
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(hs.back().get()) % 256, 0u);
    }
}

TEST(CxxPool, HandlePutBackByAnotherThread)
{
    tlp::pool<counted> p;
    auto h = p.get();
    std::thread([h = std::move(h)]() mutable { h.reset(); }).join();
    tlp_stats st = p.stats();
    EXPECT_EQ(st.out, 0u);
    EXPECT_EQ(st.puts, 1u);
}

TEST(CxxPool, MovedPoolKeepsHandlesValid)
{
    tlp::pool<counted> a;
    auto h = a.get();
    tlp::pool<counted> b(std::move(a));
    EXPECT_EQ(a.native(), nullptr);
    h.reset();
    EXPECT_EQ(b.stats().puts, 1u);
}

TEST(CxxBuffer, DefaultPoolAllocResizeFree)
{
    tlp::buffer b(100);
    ASSERT_TRUE(b);
    EXPECT_EQ(b.size(), 100u);
    EXPECT_GE(b.capacity(), 100u);
    std::memset(b.data(), 'x', b.size());
    b.resize(5000);
    EXPECT_EQ(b.size(), 5000u);
    EXPECT_EQ(b[99], 'x') << "resize keeps the bytes";
    tlp::buffer c = std::move(b);
    EXPECT_FALSE(b);
    EXPECT_EQ(c.size(), 5000u);
    char *raw = c.release();
    EXPECT_FALSE(c);
    tlp_buf_free(raw);
}

TEST(CxxBuffer, OwnPoolCountsOut)
{
    tlp::buffer_pool bp({0, 4096, 0, 0, 0, false, "cxx"});
    {
        tlp::buffer b1(bp, 64), b2(bp, 1000), big(bp, 100000);
        tlp_bufpool_stats st = bp.stats();
        uint64_t out = 0;
        for (unsigned i = 0; i < st.nclasses; i++)
            out += st.classes[i].out;
        EXPECT_EQ(out, 2u);
        EXPECT_EQ(st.large_out, 1u);
    }
    tlp_bufpool_stats st = bp.stats();
    uint64_t out = 0;
    for (unsigned i = 0; i < st.nclasses; i++)
        out += st.classes[i].out;
    EXPECT_EQ(out, 0u);
    EXPECT_EQ(st.large_out, 0u);
}

TEST(CxxBuffer, BadPoolOptionsThrow)
{
    EXPECT_THROW(tlp::buffer_pool({4096, 16}), std::system_error) << "min_class > max_class";
}

} // namespace

/* pool_options.leak_sample reaches the C pool: an object taken and not yet
 * put back is in the leak report, and is gone from it once put back. */
TEST(CxxPool, LeakSampleTracksObjects)
{
    tlp::pool_options o;
    o.leak_sample = 1;
    o.name = "cxx-tracked";
    tlp::pool<int> p(o);
    auto h = p.get();
    FILE *f = tmpfile();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(tlp_leaks_print(f, 0), 1u);
    h.reset();
    EXPECT_EQ(tlp_leaks_print(f, 0), 0u);
    fclose(f);
}
