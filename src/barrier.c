/* SPDX-License-Identifier: MIT */
/*
 * The heavy side of the asymmetric handshake (see src/handshake.c and
 * docs/DESIGN.md): something that puts a full memory barrier into the
 * instruction stream of every thread that may be in a fast path.
 *
 * 1. membarrier(2) with MEMBARRIER_CMD_PRIVATE_EXPEDITED (Linux >= 4.14):
 *    every running thread of the process executes a full barrier before the
 *    call returns; threads that are not running get one from the context
 *    switch. One system call for all threads.
 * 2. Fallback, where membarrier is unavailable (or TLP_NO_MEMBARRIER=1): a
 *    signal to each pending thread whose handler runs a seq_cst fence and
 *    acknowledges (liburcu's "signal" flavour does the same). The signal is
 *    SIGRTMIN+7, or TLP_BARRIER_SIGNAL=N; it is installed only if its
 *    disposition is the default. Installed with SA_RESTART, but calls that
 *    the kernel never restarts (epoll_wait, poll, nanosleep, ...) may return
 *    EINTR in threads that hold cached objects when a drain runs.
 *    A thread that blocks the signal (its SigBlk in /proc) is not signalled,
 *    nor one that has it pending already (no pile of queued real-time
 *    signals); the drain waits for the others in parallel, 100 ms at most
 *    in all, without the registry lock. A thread not reached keeps its
 *    cache, unloaded: its owner hands it to the victim generation at its
 *    next operation.
 * 3. Neither: drains do not take magazines from other threads.
 */
#include "internal.h"

#include <linux/membarrier.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { NONE, MEMBARRIER, SIGNAL };
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int mode = NONE;
static int barrier_signal;

static long membarrier(int cmd, unsigned flags)
{
    return syscall(__NR_membarrier, cmd, flags, 0);
}

static void on_barrier_signal(int sig)
{
    (void)sig;
    int saved = errno;
    /* The fence is the point of the handler: it orders the interrupted
     * code's earlier stores (busy = 1) before its later loads (loaded[]),
     * as seen from the drainer, which waits for the acknowledgement. */
    atomic_thread_fence(memory_order_seq_cst);
    tlp_thread_rec *r = tlp__self_rec;
    if (r)
        atomic_fetch_add_explicit(&r->acks, 1, memory_order_release);
    errno = saved;
}

static bool install_signal(void)
{
    const char *env = getenv("TLP_BARRIER_SIGNAL");
    int sig = env && *env ? atoi(env) : SIGRTMIN + 7;
    if (sig <= 0 || sig > SIGRTMAX)
        return false;
    struct sigaction old, sa = { 0 };
    if (sigaction(sig, NULL, &old) != 0 || old.sa_handler != SIG_DFL)
        return false;
    sa.sa_handler = on_barrier_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0)
        return false;
    barrier_signal = sig;
    return true;
}

static void probe(void)
{
    const char *off = getenv("TLP_NO_MEMBARRIER");
    if (!(off && *off && *off != '0')) {
        long cmds = membarrier(MEMBARRIER_CMD_QUERY, 0);
        /* Registration is per process and must precede the first use. */
        if (cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
            membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0) {
            mode = MEMBARRIER;
            return;
        }
    }
    if (install_signal())
        mode = SIGNAL;
}

bool tlp__heavy_barrier_available(void)
{
    pthread_once(&once, probe);
    return mode != NONE;
}

bool tlp__heavy_barrier_uses_signal(void)
{
    pthread_once(&once, probe);
    return mode == SIGNAL;
}

/* Is sig blocked by, or already pending on, the thread? From its SigBlk and
 * SigPnd lines in /proc (a few microseconds; only in signal mode). A thread
 * that blocks the signal cannot be reached; one that has it pending will
 * run the handler when it unblocks, so another signal would only pile up
 * in the real-time queue (a per-user limit other processes share). */
static void signal_state(int ktid, int sig, bool *blocked, bool *pending)
{
    char path[64], buf[2048];
    *blocked = *pending = false;
    snprintf(path, sizeof path, "/proc/self/task/%d/status", ktid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    uint64_t bit = 1ull << (sig - 1);
    const char *p = strstr(buf, "SigPnd:");
    if (p && (strtoull(p + 7, NULL, 16) & bit))
        *pending = true;
    p = strstr(buf, "SigBlk:");
    if (p && (strtoull(p + 7, NULL, 16) & bit))
        *blocked = true;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tlp__heavy_barrier(tlp_thread_rec *pending)
{
    if (mode == MEMBARRIER) {
        if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0)
            return;
        /* EPERM: a fork()ed child has a new mm, not registered yet. */
        if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) != 0 ||
            membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0)
            abort(); /* registered: the command cannot fail */
        return;
    }
    /* Signal mode. Our own stores (the unloads) must be visible before any
     * handler's fence: a seq_cst fence here pairs with the handler's. */
    atomic_thread_fence(memory_order_seq_cst);
    tlp_thread_rec *self = tlp__self_rec;
    for (tlp_thread_rec *r = pending; r; r = r->pending) {
        r->reached = false;
        if (r == self) {
            r->ack_goal = 0; /* we are not in a fast path: nothing to wait for */
            r->reached = true;
            continue;
        }
        bool blocked, queued;
        signal_state(r->ktid, barrier_signal, &blocked, &queued);
        if (blocked) {
            r->ack_goal = UINT64_MAX; /* cannot be reached: do not queue more */
            continue;
        }
        /* Any acknowledgement from now on comes from a handler that ran
         * after our stores: a signal already pending counts. */
        r->ack_goal = atomic_load_explicit(&r->acks, memory_order_relaxed) + 1;
        if (!queued && pthread_kill(r->tid, barrier_signal) != 0)
            r->ack_goal = UINT64_MAX;
    }
    /* One deadline for all of them, waited in parallel. */
    int64_t deadline = mono_ns() + 100000000;
    for (;;) {
        bool waiting = false;
        for (tlp_thread_rec *r = pending; r; r = r->pending) {
            if (r->reached || r->ack_goal == UINT64_MAX)
                continue;
            /* Acquire pairs with the handler's release: its fence happened-before. */
            if (atomic_load_explicit(&r->acks, memory_order_acquire) >= r->ack_goal)
                r->reached = true;
            else
                waiting = true;
        }
        if (!waiting || mono_ns() > deadline)
            return;
        sched_yield();
    }
}

bool tlp__remote_drain_ok(void)
{
#if defined(TLP_FENCED) || !TLP_FASTPATH
    /* Seq-cst handshake (or no fast path at all): no heavy barrier needed. */
    return true;
#else
    return tlp__heavy_barrier_available();
#endif
}
