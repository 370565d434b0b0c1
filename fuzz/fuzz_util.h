/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets: reading an input as a stream of small
 * integers, and failing loudly.
 *
 * Reads past the end of the input return zeroes, so every byte string is a
 * valid program: the fuzzer never wastes executions on a parse error, and a
 * truncated input still does something sensible.
 */
#ifndef TLP_FUZZ_UTIL_H
#define TLP_FUZZ_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz_input {
    const uint8_t *p;
    size_t n;
} fz_input;

static inline bool fz_more(const fz_input *in)
{
    return in->n != 0;
}

static inline uint8_t fz_u8(fz_input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Little-endian, so dictionary tokens read as the numbers they spell. */
static inline uint64_t fz_bytes(fz_input *in, unsigned nbytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < nbytes; i++)
        v |= (uint64_t)fz_u8(in) << (8 * i);
    return v;
}

static inline uint16_t fz_u16(fz_input *in)
{
    return (uint16_t)fz_bytes(in, 2);
}

static inline uint32_t fz_u32(fz_input *in)
{
    return (uint32_t)fz_bytes(in, 4);
}

static inline uint64_t fz_u64(fz_input *in)
{
    return fz_bytes(in, 8);
}

/*
 * The index of the first byte of p[0..n) that is not `want`, or n. Compares
 * against a filled block with memcmp: a byte loop here would be compiled
 * with libFuzzer's comparison tracing and dominate the run time.
 */
static inline size_t fz_first_not(const void *p, size_t n, unsigned char want)
{
    unsigned char block[4096];
    memset(block, want, sizeof block);
    const unsigned char *b = p;
    for (size_t off = 0; off < n; off += sizeof block) {
        size_t len = n - off < sizeof block ? n - off : sizeof block;
        if (memcmp(b + off, block, len) != 0)
            for (size_t i = off; i < off + len; i++)
                if (b[i] != want)
                    return i;
    }
    return n;
}

/*
 * A failed model check is a finding: print where and why, then abort() so
 * libFuzzer saves the input as a crash-* file (and a replay run exits
 * non-zero).
 */
__attribute__((noreturn, format(printf, 4, 5))) static inline void
fz_fail(const char *file, int line, const char *cond, const char *fmt, ...);

static inline void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\n%s:%d: model check failed: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

#define FZ_CHECK(cond, ...)                                       \
    do {                                                          \
        if (!(cond))                                              \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);      \
    } while (0)

#endif /* TLP_FUZZ_UTIL_H */
