/* SPDX-License-Identifier: MIT */
/*
 * The contended halves of the slow paths' futex lock (lock.h).
 */
#include "lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

__attribute__((noinline)) void tlp__lock_wait(tlp__lock *l)
{
    /* A short spin first: a holder that is running lets go within a few
     * dozen instructions. */
    for (int i = 0; i < 100; i++) {
        cpu_relax();
        uint32_t expect = 0;
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->state, &expect, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    /* Then sleep: 2 says a waiter may be asleep, so that the holder's
     * drop wakes one. A taker that gets the lock this way leaves it at 2
     * (it cannot know whether others still wait): one spare wake at most. */
    while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
        syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

__attribute__((noinline)) void tlp__lock_wake(tlp__lock *l)
{
    syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
