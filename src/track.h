/* SPDX-License-Identifier: MIT */
/*
 * The one seam for memory checkers: idle objects are "inaccessible" while
 * the pool holds them. With TLP_POISON (requires the out-of-line paths, see
 * TLP_FASTPATH) they are poisoned for ASan, or marked for valgrind memcheck
 * when built with TLP_VALGRIND; otherwise these are no-ops.
 *
 * tlp__track_alloc/free: a pooled buffer handed out / taken back, for
 * valgrind a heap block of its own (VALGRIND_MALLOCLIKE_BLOCK /
 * FREELIKE_BLOCK), so a buffer never freed is reported as a leak although it
 * lives in a span; ASan has no such request (the poisoning above covers use
 * after free), so there they are no-ops.
 */
#ifndef TLP_TRACK_H
#define TLP_TRACK_H

#include <stddef.h>

#if defined(TLP_POISON) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLP_TRACK_ASAN 1
#endif
#endif
#if defined(TLP_POISON) && defined(__SANITIZE_ADDRESS__)
#define TLP_TRACK_ASAN 1
#endif

#if defined(TLP_TRACK_ASAN)
#include <sanitizer/asan_interface.h>
static inline void tlp__track_poison(void *p, size_t n) { ASAN_POISON_MEMORY_REGION(p, n); }
static inline void tlp__track_unpoison(void *p, size_t n) { ASAN_UNPOISON_MEMORY_REGION(p, n); }
#elif defined(TLP_POISON) && defined(TLP_VALGRIND)
#include <valgrind/memcheck.h>
static inline void tlp__track_poison(void *p, size_t n) { VALGRIND_MAKE_MEM_NOACCESS(p, n); }
static inline void tlp__track_unpoison(void *p, size_t n) { VALGRIND_MAKE_MEM_DEFINED(p, n); }
#define TLP_TRACK_VALGRIND 1
#else
static inline void tlp__track_poison(void *p, size_t n) { (void)p; (void)n; }
static inline void tlp__track_unpoison(void *p, size_t n) { (void)p; (void)n; }
#endif

#ifdef TLP_TRACK_VALGRIND
static inline void tlp__track_alloc(void *p, size_t n, int zeroed)
{
    VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
}
static inline void tlp__track_free(void *p) { VALGRIND_FREELIKE_BLOCK(p, 0); }
#else
static inline void tlp__track_alloc(void *p, size_t n, int zeroed)
{
    (void)p;
    (void)n;
    (void)zeroed;
}
static inline void tlp__track_free(void *p) { (void)p; }
#endif

#endif
