/* SPDX-License-Identifier: MIT */
/*
 * The lock of the slow paths (a shard's, a thread's): a futex mutex
 * (Drepper's "Futexes are tricky", mutex 2). Uncontended, taking it is one
 * compare-and-swap and dropping it one exchange, inline, where a pthread
 * mutex costs two calls through the PLT and its type checks (about 55
 * instructions per pair, callgrind); every magazine exchange takes two.
 * Contended, a waiter spins briefly (the holder is usually inside a few
 * dozen instructions) and then sleeps in the kernel, as a pthread mutex
 * does: a preempted holder, or a drain holding a thread's lock across its
 * barrier, costs no spinning core. Not recursive, no owner checks, no
 * cancellation point (like the pthread mutexes it replaces).
 */
#ifndef TLP_LOCK_H
#define TLP_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct tlp__lock {
    _Atomic uint32_t state; /* 0 free, 1 held, 2 held and maybe waited for */
} tlp__lock;

/* lock.c: the contended halves */
void tlp__lock_wait(tlp__lock *l);
void tlp__lock_wake(tlp__lock *l);

static inline void tlp__lock_init(tlp__lock *l)
{
    atomic_init(&l->state, 0);
}

static inline void tlp__lock_take(tlp__lock *l)
{
    uint32_t expect = 0;
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(
                             &l->state, &expect, 1, memory_order_acquire, memory_order_relaxed),
                         0))
        tlp__lock_wait(l);
}

static inline void tlp__lock_drop(tlp__lock *l)
{
    if (__builtin_expect(atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2, 0))
        tlp__lock_wake(l);
}

#endif /* TLP_LOCK_H */
