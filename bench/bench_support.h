/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by every benchmark source: waiting politely on a shared
 * machine, a bounded single-producer/single-consumer ring, a spin barrier,
 * a cheap random generator, the cross-thread round-trip probe, and the
 * per-run bookkeeping (ops per iteration, peak RSS, what the pool holds).
 *
 * Every executable (one per allocator) compiles the same helpers, so the
 * scaffolding costs the same for every contender and cancels in the ratios.
 */
#ifndef TLPB_BENCH_SUPPORT_H
#define TLPB_BENCH_SUPPORT_H

#include <benchmark/benchmark.h>

#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tlpb {

/* Makes p and everything it points to observable (a compiler barrier that
 * reads p). Used instead of benchmark::DoNotOptimize(p) on a pointer kept
 * across a loop: GCC 12 dropped the store of such a pointer to the stack
 * slot that DoNotOptimize's "+m,r" operand names and later reloaded
 * garbage from it (BM_overflow crashed after unrelated inline changes;
 * GCC bug 92597 is the same "+m" trouble). */
inline void escape(const void *p)
{
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/*
 * Spin a little, then yield. The two vCPUs are shared with other work: a
 * waiter that only spins could keep the CPU its partner needs to make the
 * progress it waits for.
 */
class Backoff {
public:
    void pause()
    {
        if (++spins_ < 128)
            cpu_relax();
        else
            sched_yield();
    }
    void reset() { spins_ = 0; }

private:
    unsigned spins_ = 0;
};

/* xorshift64*: deterministic per thread, a few instructions per draw. */
class Rng {
public:
    explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull | 1) {}
    uint64_t next()
    {
        s_ ^= s_ >> 12;
        s_ ^= s_ << 25;
        s_ ^= s_ >> 27;
        return s_ * 0x2545F4914F6CDD1Dull;
    }
    /* uniform in [0, n) for n << 2^32 (multiply-shift, no division) */
    uint32_t below(uint32_t n) { return (uint32_t)(((next() >> 32) * n) >> 32); }

private:
    uint64_t s_;
};

/*
 * A bounded SPSC ring (Lamport's queue with cached indices): one release
 * store per push and per pop, and the other side's index is re-read only
 * when the cached copy says full/empty. It is the "queue" of the
 * cross-thread scenarios; every contender pays the same for it.
 */
template <class T>
class SpscRing {
public:
    explicit SpscRing(size_t capacity_pow2)
        : mask_(capacity_pow2 - 1), slots_(new T[capacity_pow2]) {}

    bool push(const T &v)
    {
        const size_t t = tail_.load(std::memory_order_relaxed);
        if (t - head_cache_ > mask_) {
            head_cache_ = head_.load(std::memory_order_acquire); /* pairs with pop's release */
            if (t - head_cache_ > mask_)
                return false;
        }
        slots_[t & mask_] = v;
        tail_.store(t + 1, std::memory_order_release); /* publishes the slot */
        return true;
    }

    bool pop(T *out)
    {
        const size_t h = head_.load(std::memory_order_relaxed);
        if (h == tail_cache_) {
            tail_cache_ = tail_.load(std::memory_order_acquire); /* pairs with push's release */
            if (h == tail_cache_)
                return false;
        }
        *out = slots_[h & mask_];
        head_.store(h + 1, std::memory_order_release); /* the slot may be reused */
        return true;
    }

private:
    const size_t mask_;
    std::unique_ptr<T[]> slots_;
    alignas(128) std::atomic<size_t> tail_{0}; /* producer's line */
    size_t head_cache_ = 0;
    alignas(128) std::atomic<size_t> head_{0}; /* consumer's line */
    size_t tail_cache_ = 0;
};

/* A reusable barrier for a fixed number of threads (spin, then yield). */
class SpinBarrier {
public:
    explicit SpinBarrier(int n) : n_(n) {}
    void wait()
    {
        const unsigned gen = gen_.load(std::memory_order_acquire);
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
            arrived_.store(0, std::memory_order_relaxed);
            gen_.fetch_add(1, std::memory_order_acq_rel);
            return;
        }
        Backoff b;
        while (gen_.load(std::memory_order_acquire) == gen)
            b.pause();
    }

private:
    const int n_;
    std::atomic<int> arrived_{0};
    std::atomic<unsigned> gen_{0};
};

/*
 * The cross-thread round trip: a fresh thread and this one bounce a cache
 * line `rounds` times; returns ns per round trip. Cross-thread results on
 * a 2-vCPU guest swing 3-5x with where the host puts the vCPUs, so every
 * cross-thread scenario measures this first and reports it beside its
 * result ("pingpong_ns").
 */
double pingpong_round_trip_ns(int rounds = 2000);

/* Peak RSS starts over from the current RSS (Linux clear_refs "5"). */
void reset_peak_rss();
/* Peak RSS of the process in KiB (getrusage ru_maxrss). */
long peak_rss_kib();

/*
 * Per-run bookkeeping, called by every benchmark: begin_run before the
 * timed loop, end_run after it. ops is the number of get/put pairs (or
 * malloc/free pairs) one iteration does; the report divides the time per
 * iteration by it. Thread 0 also records peak RSS and, for tlpool, what
 * the pools hold when the run ends.
 */
void begin_run(benchmark::State &st);
void end_run(benchmark::State &st, double ops);

} // namespace tlpb

#endif
