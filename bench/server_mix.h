/* SPDX-License-Identifier: MIT */
/*
 * The server-like mix, shared by the object-pool and buffer-pool scenario
 * sets. In the spirit of the larson benchmark (Larson & Krishnan, 1998):
 * each thread keeps a live set of kMixSlots objects; one operation retires
 * the object in a random slot and puts a freshly taken one there (and
 * writes its first 8 bytes, as a server fills a header), so lifetimes are
 * geometric with a mean of kMixSlots operations. Sizes follow a
 * request/response server: mostly small records and strings, some 1-4 KiB
 * buffers, a few 16 KiB bodies. One retired object in eight is handed to
 * the other thread through a ring and given back there: the share a
 * server frees on another thread (a response written by an I/O thread).
 *
 * Ops is a policy: `static Item take(Rng &, unsigned cls)` and
 * `static void give(const Item &)`; one operation = one take + one give.
 */
#ifndef TLPB_SERVER_MIX_H
#define TLPB_SERVER_MIX_H

#include "bench_support.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace tlpb {

struct MixItem {
    void *obj;
    uint32_t cls;  /* index into kMixClasses */
    uint32_t size; /* bytes asked for */
};

struct MixClass {
    uint32_t size;
    uint32_t percent;
};

/* The size distribution (percent of takes). */
inline constexpr MixClass kMixClasses[] = {
    {16, 15}, {32, 15}, {64, 18}, {128, 15}, {256, 15},
    {512, 8}, {1024, 7}, {4096, 6}, {16384, 1},
};
inline constexpr unsigned kMixNumClasses = sizeof kMixClasses / sizeof kMixClasses[0];
inline constexpr uint32_t kMixSlots = 1000; /* live objects per thread */

/* The class of a take, drawn from the distribution through a 100-entry table. */
class MixPicker {
public:
    MixPicker()
    {
        unsigned k = 0;
        for (unsigned c = 0; c < kMixNumClasses; c++)
            for (unsigned i = 0; i < kMixClasses[c].percent; i++)
                table_[k++] = (uint8_t)c;
    }
    unsigned pick(Rng &rng) const { return table_[rng.below(100)]; }

private:
    uint8_t table_[100];
};

/* State shared by the threads of one run: made by Setup, freed by Teardown. */
struct MixShared {
    explicit MixShared(int threads) : barrier(threads)
    {
        for (int i = 0; i < threads; i++)
            rings.emplace_back(new SpscRing<MixItem>(256));
    }
    std::vector<std::unique_ptr<SpscRing<MixItem>>> rings; /* rings[t]: from thread t to t+1 */
    SpinBarrier barrier;
};

template <class Ops>
struct ServerMix {
    static inline std::unique_ptr<MixShared> shared;
    static inline double rt_ns; /* the round trip measured by setup */

    /* Before the run's threads exist, so that nothing else of this
     * process competes with the probe for the two vCPUs. */
    static void setup(const benchmark::State &st)
    {
        shared.reset(new MixShared(st.threads()));
        rt_ns = st.threads() > 1 ? pingpong_round_trip_ns() : 0;
    }
    static void teardown(const benchmark::State &) { shared.reset(); }

    static void run(benchmark::State &st)
    {
        MixShared &sh = *shared;
        const int me = st.thread_index();
        const int nt = st.threads();
        begin_run(st);

        Rng rng((uint64_t)me + 1);
        MixPicker picker;
        std::vector<MixItem> slots(kMixSlots);
        for (auto &s : slots)
            s = Ops::take(rng, picker.pick(rng));
        SpscRing<MixItem> &out = *sh.rings[me];
        SpscRing<MixItem> &in = *sh.rings[(me + nt - 1) % nt];

        for (auto _ : st) {
            const uint32_t i = rng.below(kMixSlots);
            const MixItem old = slots[i];
            if (!(nt > 1 && (rng.next() & 7) == 0 && out.push(old)))
                Ops::give(old);
            MixItem fresh = Ops::take(rng, picker.pick(rng));
            if (fresh.obj)
                *(volatile uint64_t *)fresh.obj = i; /* fill a "header" */
            slots[i] = fresh;
            MixItem remote;
            if (nt > 1 && in.pop(&remote)) /* pushes are 1 in 8: one pop keeps up */
                Ops::give(remote);
        }

        sh.barrier.wait(); /* nobody pushes any more */
        MixItem remote;
        while (nt > 1 && in.pop(&remote))
            Ops::give(remote);
        for (auto &s : slots)
            Ops::give(s);
        sh.barrier.wait(); /* everything is back before the counters are read */
        end_run(st, 1);
        if (me == 0 && nt > 1)
            st.counters["pingpong_ns"] = rt_ns;
    }
};

} // namespace tlpb

#endif
