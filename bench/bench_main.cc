/* SPDX-License-Identifier: MIT */
/*
 * main() of every benchmark executable: checks that the malloc this
 * executable calls is the one its contender stands for (so a link-order
 * accident can never report glibc's figures under jemalloc's name), puts
 * the contender and the malloc's library into the JSON context, runs the
 * benchmarks and destroys the pools.
 */
#include "contender.h"

#include <benchmark/benchmark.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <string>

#ifdef TLPB_TLPOOL
#include <tlpool.h>
#endif

#ifndef TLPB_CONTENDER
#error "TLPB_CONTENDER (the contender's name) must be defined by the build"
#endif
#ifndef TLPB_MALLOC_EXPECT
#error "TLPB_MALLOC_EXPECT (a substring of the malloc library's path) must be defined by the build"
#endif

/* Sanitizer runtimes replace malloc themselves: nothing to check there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TLPB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define TLPB_SANITIZED 1
#endif
#endif
#ifndef TLPB_SANITIZED
#define TLPB_SANITIZED 0
#endif

namespace {

/* The file of the shared object whose `sym` the program calls: the first
 * definition in the global lookup scope, which is what interposition picks. */
std::string provider_of(const char *sym)
{
    void *addr = dlsym(RTLD_DEFAULT, sym);
    Dl_info info;
    if (addr && dladdr(addr, &info) && info.dli_fname)
        return info.dli_fname;
    return "?";
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;

    const std::string malloc_lib = provider_of("malloc");
    const std::string free_lib = provider_of("free");
    if (!TLPB_SANITIZED &&
        (malloc_lib.find(TLPB_MALLOC_EXPECT) == std::string::npos || malloc_lib != free_lib)) {
        std::fprintf(stderr,
                     "bench (%s): malloc comes from %s and free from %s, expected %s: "
                     "the allocator does not replace malloc in this build\n",
                     TLPB_CONTENDER, malloc_lib.c_str(), free_lib.c_str(), TLPB_MALLOC_EXPECT);
        return 3;
    }
    benchmark::AddCustomContext("contender", TLPB_CONTENDER);
    benchmark::AddCustomContext("malloc_library", malloc_lib);
#ifdef TLPB_TLPOOL
    char v[64];
    unsigned hex = tlp_version();
    std::snprintf(v, sizeof v, "%u.%u.%u features=0x%x%s", hex >> 16, (hex >> 8) & 0xff, hex & 0xff,
                  tlp_build_features(),
#ifdef TLP_NO_INLINE
                  " out-of-line"
#else
                  " inline"
#endif
    );
    benchmark::AddCustomContext("tlpool", v);
#endif

    benchmark::RunSpecifiedBenchmarks();
    tlpb::destroy_pools();
    benchmark::Shutdown();
    return 0;
}
