/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the googletest suites: a counting/checking object
 * tracker that plugs into the pool hooks, ownership flags, a gate to park
 * threads, a watchdog that turns a deadlock into a clear failure, and
 * iteration scaling for sanitizer builds.
 *
 * C++17 only (the C test of the scoped macro has its own tiny helpers).
 */
#ifndef TLP_TEST_UTIL_H
#define TLP_TEST_UTIL_H

#include <tlpool.h>

#include <gtest/gtest.h>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

/* Sanitized builds run 5-20x slower: loops scale their counts down. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TLP_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TLP_TEST_SANITIZED 1
#endif
#endif
#ifndef TLP_TEST_SANITIZED
#define TLP_TEST_SANITIZED 0
#endif

namespace tlpt {

/* n in a plain build, n / 10 (at least 1) under a sanitizer. */
constexpr long scaled(long n)
{
    return TLP_TEST_SANITIZED ? (n / 10 > 0 ? n / 10 : 1) : n;
}

/* Generous bound for "eventually" polls (liveness, not speed). */
inline std::chrono::milliseconds poll_limit(long ms)
{
    return std::chrono::milliseconds(TLP_TEST_SANITIZED ? ms * 3 : ms);
}

inline tlp_stats stats_of(tlp_pool *pool)
{
    tlp_stats s;
    std::memset(&s, 0xa5, sizeof s); /* garbage, so unfilled fields show */
    tlp_stats_get(pool, &s);
    return s;
}

/* The identities the header promises for a quiescent pool. */
inline void expect_quiescent_identities(const tlp_stats &s)
{
    EXPECT_EQ(s.gets, s.hits_thread + s.hits_shared + s.hits_victim + s.made_on_get)
        << "gets=" << s.gets << " hits_thread=" << s.hits_thread << " hits_shared=" << s.hits_shared
        << " hits_victim=" << s.hits_victim << " made_on_get=" << s.made_on_get;
    EXPECT_EQ(s.made_on_get, s.made);
    EXPECT_EQ(s.out, s.gets - s.puts) << "gets=" << s.gets << " puts=" << s.puts;
    EXPECT_EQ(s.made, s.released + s.idle + s.out)
        << "made=" << s.made << " released=" << s.released << " idle=" << s.idle << " out=" << s.out;
    EXPECT_EQ(s.idle, s.idle_thread + s.idle_shared + s.idle_victim)
        << "idle_thread=" << s.idle_thread << " idle_shared=" << s.idle_shared
        << " idle_victim=" << s.idle_victim;
}

/* Threads of this process (entries of /proc/self/task). Take a baseline
 * with thread_baseline(): sanitizers start helper threads of their own on
 * the first pthread_create. */
inline int thread_count()
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    while (struct dirent *e = readdir(d))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The thread count once exited threads are gone from /proc/self/task: a
 * joined thread's entry can outlive pthread_join briefly (longer under
 * valgrind). Polls until two reads 20 ms apart agree, for at most 5 s. */
inline int settled_thread_count()
{
    int last = thread_count();
    for (int i = 0; i < 250; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        int now = thread_count();
        if (now == last)
            return now;
        last = now;
    }
    return last;
}

inline int thread_baseline()
{
    std::thread([] {}).join();
    return settled_thread_count();
}

/* Polls for at most 5 s until the thread count is `want` (an exited thread
 * may linger in /proc for a moment); returns the last count seen, so a
 * thread really left behind still fails the caller's check. */
inline int thread_count_becomes(int want)
{
    int n = thread_count();
    for (int i = 0; i < 500 && n != want; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        n = thread_count();
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Objects and the tracker                                                   */
/* ------------------------------------------------------------------------ */

constexpr uint64_t kLive = 0x4c4956454f424a31ull; /* "LIVEOBJ1" */
constexpr uint64_t kDead = 0x444541444f424a31ull;

/* What every tracked pool hands out. `magic` is first: glibc's free()
 * overwrites the first bytes of a freed chunk, and obj_free clears it too, so
 * a freed object handed out again is seen (ASan sees it first). */
struct Obj {
    uint64_t magic;
    std::atomic<uint32_t> owner; /* 1 while a user holds it */
    uint32_t pad_;
    uint64_t serial;             /* order of making */
    uint64_t user;               /* free for tests (payload, links) */
    std::thread::id reset_by;    /* thread that ran the last obj_reset */
    void *aux;                   /* free for tests (e.g. an object of another pool) */
};

/* Marks obj held by the caller. False (and an error) when someone else holds
 * it already, or it is not a live object: handed to two holders at once. */
inline bool acquire(Obj *o)
{
    if (o->magic != kLive)
        return false;
    return o->owner.exchange(1, std::memory_order_acq_rel) == 0;
}

inline void release(Obj *o)
{
    o->owner.store(0, std::memory_order_release);
}

/*
 * Counting hooks with checks. Every object made is recorded in a set; obj_free
 * must find it there (else: double free or foreign pointer), not held by a user
 * (else: freed while in use), with the right ctx. Violations are counted and
 * the first one is kept as text for the failure message.
 */
class Tracker {
public:
    std::atomic<uint64_t> made{0}, freed{0}, resets{0}, new_calls{0};
    std::atomic<uint64_t> errors{0};
    std::atomic<int> fail_new{0};        /* > 0: that many obj_new calls fail */
    std::atomic<bool> fail_all_new{false};
    std::atomic<bool> reset_result{true};
    /* Optional: obj_reset returns false for objects whose serial is odd. */
    std::atomic<bool> drop_odd{false};

    tlp_config config(bool with_reset = false) const
    {
        tlp_config c;
        std::memset(&c, 0, sizeof c);
        c.obj_size = sizeof(Obj);
        c.obj_align = alignof(Obj);
        c.obj_new = &Tracker::hook_new;
        c.obj_free = &Tracker::hook_free;
        c.obj_reset = with_reset ? &Tracker::hook_reset : nullptr;
        c.ctx = const_cast<Tracker *>(this);
        return c;
    }

    bool is_live(const void *p)
    {
        std::lock_guard<std::mutex> g(mu_);
        return live_.count(p) != 0;
    }
    size_t live_count()
    {
        std::lock_guard<std::mutex> g(mu_);
        return live_.size();
    }
    std::string first_error()
    {
        std::lock_guard<std::mutex> g(mu_);
        return first_error_;
    }
    void error(const std::string &what)
    {
        errors.fetch_add(1);
        std::lock_guard<std::mutex> g(mu_);
        if (first_error_.empty())
            first_error_ = what;
    }

    /* After destroy: every object made was freed exactly once. */
    void expect_all_released()
    {
        EXPECT_EQ(errors.load(), 0u) << first_error();
        EXPECT_EQ(made.load(), freed.load());
        EXPECT_EQ(live_count(), 0u);
    }

    ~Tracker()
    {
        /* Objects a failed test left behind. */
        for (const void *p : live_)
            delete static_cast<const Obj *>(p);
    }

    static void *hook_new(void *ctx)
    {
        auto *t = static_cast<Tracker *>(ctx);
        t->new_calls.fetch_add(1);
        if (t->fail_all_new.load())
            return nullptr;
        int f = t->fail_new.load();
        while (f > 0 && !t->fail_new.compare_exchange_weak(f, f - 1)) {
        }
        if (f > 0)
            return nullptr;
        Obj *o = new Obj();
        o->magic = kLive;
        o->serial = t->made.fetch_add(1);
        std::lock_guard<std::mutex> g(t->mu_);
        t->live_.insert(o);
        return o;
    }

    static void hook_free(void *obj, void *ctx)
    {
        auto *t = static_cast<Tracker *>(ctx);
        auto *o = static_cast<Obj *>(obj);
        {
            std::lock_guard<std::mutex> g(t->mu_);
            if (t->live_.erase(obj) == 0) {
                t->errors.fetch_add(1);
                if (t->first_error_.empty())
                    t->first_error_ = "obj_free of an object not live (double free or foreign pointer)";
                return; /* do not touch it */
            }
        }
        if (o->owner.load(std::memory_order_acquire) != 0)
            t->error("obj_free of an object a user holds");
        if (o->magic != kLive)
            t->error("obj_free of an object whose magic is gone");
        o->magic = kDead;
        t->freed.fetch_add(1);
        delete o;
    }

    static bool hook_reset(void *obj, void *ctx)
    {
        auto *t = static_cast<Tracker *>(ctx);
        auto *o = static_cast<Obj *>(obj);
        t->resets.fetch_add(1);
        if (o->magic != kLive)
            t->error("obj_reset of an object that is not live");
        o->reset_by = std::this_thread::get_id();
        if (t->drop_odd.load() && (o->serial & 1))
            return false;
        return t->reset_result.load();
    }

private:
    std::mutex mu_;
    std::unordered_set<const void *> live_;
    std::string first_error_;
};

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

/* A one-shot gate: threads wait() until open(). Also counts arrivals, so the
 * main thread can wait until n threads are parked. */
class Gate {
public:
    void wait()
    {
        std::unique_lock<std::mutex> l(mu_);
        arrived_++;
        cv_.notify_all();
        cv_.wait(l, [&] { return open_; });
    }
    void wait_arrivals(int n)
    {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return arrived_ >= n; });
    }
    void open()
    {
        std::lock_guard<std::mutex> l(mu_);
        open_ = true;
        cv_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int arrived_ = 0;
    bool open_ = false;
};

/* Aborts the test binary with a message if not disarmed (destroyed) in time:
 * a deadlock becomes a named failure instead of a ctest timeout. */
class Watchdog {
public:
    explicit Watchdog(const char *what, int seconds = 60)
        : what_(what), th_([this, seconds] {
              std::unique_lock<std::mutex> l(mu_);
              int limit = TLP_TEST_SANITIZED ? seconds * 4 : seconds;
              if (!cv_.wait_for(l, std::chrono::seconds(limit), [&] { return done_; })) {
                  std::fprintf(stderr, "watchdog: '%s' still running after %d s (deadlock?)\n",
                               what_, limit);
                  std::abort();
              }
          })
    {
    }
    ~Watchdog()
    {
        {
            std::lock_guard<std::mutex> l(mu_);
            done_ = true;
        }
        cv_.notify_all();
        th_.join();
    }

private:
    const char *what_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread th_;
};

/* A pool created from cfg that must succeed (fails the test otherwise). */
inline tlp_pool *make_pool(const tlp_config &cfg)
{
    tlp_pool *p = nullptr;
    int rc = tlp_pool_create(&cfg, &p);
    EXPECT_EQ(rc, 0) << std::strerror(rc);
    return p;
}

} // namespace tlpt

#endif /* TLP_TEST_UTIL_H */
