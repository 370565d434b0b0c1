/* SPDX-License-Identifier: MIT */
/*
 * What "take an object" and "give it back" mean for the contender this
 * executable is built for. Every scenario is written once against take()
 * and give(); CMake builds the same sources once per allocator:
 *
 *  - malloc contenders (bench_glibc, bench_jemalloc, bench_mimalloc,
 *    bench_tcmalloc: whichever malloc the executable is linked with):
 *    take = malloc(size), give = free(obj); there are no pools.
 *  - tlpool (bench_tlpool, -DTLPB_TLPOOL): one tlp_pool per object size
 *    (obj_size = size, every other field at its default), take = tlp_get,
 *    give = tlp_put, over the shared libtlpool with the header's inline
 *    fast path (or the out-of-line calls with -DTLP_NO_INLINE). The pools
 *    make their objects with the process's malloc, glibc's.
 */
#ifndef TLPB_CONTENDER_H
#define TLPB_CONTENDER_H

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#ifdef TLPB_TLPOOL
#include <tlpool.h>
#endif

namespace tlpb {

#ifdef TLPB_TLPOOL
using Pool = tlp_pool;
#else
struct Pool; /* never defined: malloc contenders have no pools */
#endif

/* The pool of objects of `size` bytes, made on first use (thread-safe; call
 * it before the timed loop). nullptr for malloc contenders. */
Pool *pool_for(size_t size);

/* The with-reset scenario's pool: 64-byte objects whose obj_reset hook
 * clears all 64 bytes on every put. nullptr for malloc contenders. */
Pool *reset_pool_64();

#ifdef TLPB_TLPOOL
inline void *take(Pool *p, size_t) { return tlp_get(p); }
inline void give(Pool *p, size_t, void *obj) { tlp_put(p, obj); }
/* The hook clears the object inside tlp_put. */
inline void *take_reset(Pool *p) { return tlp_get(p); }
inline void give_reset(Pool *p, void *obj) { tlp_put(p, obj); }
#else
inline void *take(Pool *, size_t size) { return std::malloc(size); }
inline void give(Pool *, size_t, void *obj) { std::free(obj); }
/* The same clearing a reset hook does, then free. DoNotOptimize keeps the
 * compiler from deleting the memset as a dead store before free. */
inline void *take_reset(Pool *) { return std::malloc(64); }
inline void give_reset(Pool *, void *obj)
{
    std::memset(obj, 0, 64);
    benchmark::DoNotOptimize(obj);
    std::free(obj);
}
#endif

/* tlpool: adds "idle_objects" (idle objects in every pool this process
 * made, from tlp_stats) to the run's counters. Malloc contenders: nothing. */
void pool_counters(benchmark::State &st);

/* Destroys every pool (at exit; all objects have been given back). */
void destroy_pools();

} // namespace tlpb

#endif
