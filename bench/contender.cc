/* SPDX-License-Identifier: MIT */
/*
 * The tlpool contender's pools: one per object size, made on first use and
 * kept for the life of the process (a warm pool is what a server has), plus
 * the with-reset scenario's pool. Malloc contenders have none.
 */
#include "contender.h"

#include <cstdio>
#include <map>
#include <mutex>

namespace tlpb {

#ifdef TLPB_TLPOOL

namespace {

std::mutex pools_mu;
std::map<size_t, tlp_pool *> pools; /* by object size */
tlp_pool *reset_pool;

tlp_pool *make_pool(const tlp_config &cfg)
{
    tlp_pool *p = nullptr;
    int err = tlp_pool_create(&cfg, &p);
    if (err != 0) {
        std::fprintf(stderr, "bench: tlp_pool_create(%zu bytes) failed: %d\n", cfg.obj_size, err);
        std::abort();
    }
    return p;
}

/* The reset hook of the with-reset scenario: clear the whole 64 bytes. */
bool clear64(void *obj, void *)
{
    std::memset(obj, 0, 64);
    return true;
}

} // namespace

Pool *pool_for(size_t size)
{
    std::lock_guard<std::mutex> lock(pools_mu);
    tlp_pool *&p = pools[size];
    if (!p) {
        tlp_config cfg{};
        cfg.obj_size = size;
        cfg.name = "bench";
        p = make_pool(cfg);
    }
    return p;
}

Pool *reset_pool_64()
{
    std::lock_guard<std::mutex> lock(pools_mu);
    if (!reset_pool) {
        tlp_config cfg{};
        cfg.obj_size = 64;
        cfg.obj_reset = clear64;
        cfg.name = "bench-reset";
        reset_pool = make_pool(cfg);
    }
    return reset_pool;
}

void pool_counters(benchmark::State &st)
{
    std::lock_guard<std::mutex> lock(pools_mu);
    if (pools.empty() && !reset_pool)
        return; /* a scenario without object pools (the buffer-pool set) */
    uint64_t idle = 0;
    for (auto &kv : pools) {
        tlp_stats s;
        tlp_stats_get(kv.second, &s);
        idle += s.idle;
    }
    if (reset_pool) {
        tlp_stats s;
        tlp_stats_get(reset_pool, &s);
        idle += s.idle;
    }
    st.counters["idle_objects"] = (double)idle;
}

void destroy_pools()
{
    std::lock_guard<std::mutex> lock(pools_mu);
    for (auto &kv : pools)
        tlp_pool_destroy(kv.second);
    pools.clear();
    tlp_pool_destroy(reset_pool);
    reset_pool = nullptr;
}

#else /* malloc contenders */

Pool *pool_for(size_t) { return nullptr; }
Pool *reset_pool_64() { return nullptr; }
void pool_counters(benchmark::State &) {}
void destroy_pools() {}

#endif

} // namespace tlpb
