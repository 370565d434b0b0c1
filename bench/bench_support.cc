/* SPDX-License-Identifier: MIT */
/*
 * Out-of-line helpers of bench_support.h: the cross-thread round-trip
 * probe, peak-RSS bookkeeping and the per-run counters.
 */
#include "bench_support.h"

#include "contender.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace tlpb {

double pingpong_round_trip_ns(int rounds)
{
    /* One cache line, bounced: this thread writes odd values, the partner
     * answers with the next even one. */
    struct alignas(128) Line {
        std::atomic<uint64_t> v{0};
    };
    Line line;
    const int warmup = rounds / 10 + 1;
    const int total = warmup + rounds;
    std::thread partner([&] {
        Backoff b;
        for (int i = 0; i < total; i++) {
            const uint64_t want = 2u * (uint64_t)i + 1;
            while (line.v.load(std::memory_order_acquire) != want)
                b.pause();
            b.reset();
            line.v.store(want + 1, std::memory_order_release);
        }
    });
    Backoff b;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < total; i++) {
        if (i == warmup)
            t0 = std::chrono::steady_clock::now();
        const uint64_t sent = 2u * (uint64_t)i + 1;
        line.v.store(sent, std::memory_order_release);
        while (line.v.load(std::memory_order_acquire) != sent + 1)
            b.pause();
        b.reset();
    }
    const auto t1 = std::chrono::steady_clock::now();
    partner.join();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / rounds;
}

void reset_peak_rss()
{
    /* "5" resets the peak RSS (VmHWM, which ru_maxrss reports) to the
     * current RSS; Linux >= 4.0. Without it the figure is the process
     * peak so far, which the runner avoids anyway by running each
     * benchmark in its own process. */
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = write(fd, "5", 1);
        (void)n;
        close(fd);
    }
}

long peak_rss_kib()
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

void begin_run(benchmark::State &st)
{
    if (st.thread_index() == 0)
        reset_peak_rss();
}

void end_run(benchmark::State &st, double ops)
{
    /* Averaged over threads: every thread sets the same value. */
    st.counters["ops_per_iter"] = benchmark::Counter(ops, benchmark::Counter::kAvgThreads);
    if (st.thread_index() == 0) {
        st.counters["peak_rss_kib"] = (double)peak_rss_kib();
        pool_counters(st);
    }
}

} // namespace tlpb
