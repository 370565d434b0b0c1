/* SPDX-License-Identifier: MIT */
// Helpers shared by the buffer-pool tests.
#pragma once

#include <gtest/gtest.h>
#include <tlpool.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

// A buffer pool that lives for one test.
struct BufPool {
    tlp_bufpool *bp = nullptr;
    explicit BufPool(tlp_bufpool_config cfg = {})
    {
        int err = tlp_bufpool_create(&cfg, &bp);
        if (err != 0 || bp == nullptr)
            ADD_FAILURE() << "tlp_bufpool_create: " << err;
    }
    ~BufPool() { tlp_bufpool_destroy(bp); }
    BufPool(const BufPool &) = delete;
    BufPool &operator=(const BufPool &) = delete;
    operator tlp_bufpool *() const { return bp; }
};

inline tlp_bufpool_stats stats_of(tlp_bufpool *bp)
{
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(bp, &s);
    return s;
}

// Buffers taken and not yet freed, over every class and the large ones.
inline uint64_t total_out(const tlp_bufpool_stats &s)
{
    uint64_t n = s.large_out;
    for (unsigned i = 0; i < s.nclasses; i++)
        n += s.classes[i].out;
    return n;
}

// TLPOOL_CONF turns leak tracking on for every pool (CI reruns the suite
// so): tracked classes take the locked slow paths, not the lean ones.
inline bool leaks_on_by_env()
{
    const char *conf = getenv("TLPOOL_CONF");
    return conf && strstr(conf, "leaks:") && !strstr(conf, "leaks:off");
}
