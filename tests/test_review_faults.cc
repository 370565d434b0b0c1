// SPDX-License-Identifier: MIT
// Regression tests for the faults of the adversarial review: signal handlers,
// fork with references held, hooks that destroy pools, the drainer joining
// itself, cancellation inside destroy, the PSI watcher's error codes. Each
// scenario that used to hang runs in a death-test child under alarm(), so a
// regression fails the test instead of hanging the suite.
#include <gtest/gtest.h>
#include <tlpool.h>

#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "tlp_test_util.h"

namespace {

std::atomic<long> made{0}, freed{0};
void *obj_new(void *) { made++; return malloc(64); }
void obj_free(void *o, void *) { freed++; free(o); }

tlp_config counted(const char *name, unsigned drain_ms = 0) {
    tlp_config c{};
    c.obj_size = 64;
    c.obj_new = obj_new;
    c.obj_free = obj_free;
    c.drain_ms = drain_ms;
    c.name = name;
    return c;
}

}  // namespace

/* ---- 1. signal handlers ------------------------------------------------ */

namespace {
tlp_pool *handler_pool;
void handler_uses_pool(int) {
    void *o = tlp_get(handler_pool);
    tlp_put(handler_pool, o);
}
}  // namespace

/* tlpool, like malloc, is not async-signal-safe. A handler that re-enters it
 * while the interrupted code is inside a tlpool call (here: a slow path that
 * holds the thread's lock, or the handshake of a reset-hook put) used to
 * corrupt the cache or deadlock; now it stops the program with a message
 * that says what happened. */
TEST(ReviewFaults, SignalHandlerReenteringThePoolIsCaughtLoudly) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            alarm(20);
            tlp_config a{};
            a.obj_size = 64;
            a.thread_cache = 1;  // every operation takes a slow path
            a.obj_reset = [](void *, void *) { return true; };
            a.name = "interrupted";
            tlp_pool *pa;
            if (tlp_pool_create(&a, &pa) != 0) _exit(3);
            tlp_config b{};
            b.obj_size = 32;
            b.thread_cache = 1;
            b.leak_sample = 1;  // leak-tracked: its gets and puts leave the inline path
            b.name = "in-handler";
            if (tlp_pool_create(&b, &handler_pool) != 0) _exit(3);
            struct sigaction sa{};
            sa.sa_handler = handler_uses_pool;
            sigaction(SIGPROF, &sa, nullptr);
            struct itimerval it{};
            it.it_interval.tv_usec = 50;
            it.it_value.tv_usec = 50;
            setitimer(ITIMER_PROF, &it, nullptr);
            for (long i = 0; i < 200000000; i++) {
                void *o[4];
                for (auto &x : o) x = tlp_get(pa);
                for (auto x : o) tlp_put(pa, x);
            }
            _exit(0);  // never caught: the test fails
        },
        // (TSan may stop the child first: it reports the same misuse.)
        "signal handler|signal-unsafe call inside of a signal");
}

/* ---- 3. fork while another thread holds pool references ---------------- */

/* A parent thread loops tlp_release_idle_all (which holds a reference on the
 * pool it is releasing) while the main thread forks; the child's destroy used
 * to wait for that reference for ever. */
TEST(ReviewFaults, ForkWhileReleaseIdleAllRunsChildCanDestroy) {
#ifdef __SANITIZE_THREAD__
    GTEST_SKIP() << "TSan does not support threads after a multi-threaded fork";
#endif
    tlp_config c = counted("forked-refs");
    c.obj_free = [](void *o, void *) { freed++; usleep(20); free(o); };
    tlp_pool *pool;
    ASSERT_EQ(tlp_pool_create(&c, &pool), 0);
    std::atomic<bool> stop{false};
    std::thread releaser([&] {
        while (!stop) {
            void *o[8];
            for (auto &x : o) x = tlp_get(pool);
            for (auto x : o) tlp_put(pool, x);
            tlp_release_idle_all();
        }
    });
    int hung = 0;
    for (int round = 0; round < 30; round++) {
        usleep(1000);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            alarm(3);
            tlp_pool_destroy(pool);
            _exit(0);
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) hung++;
    }
    stop = true;
    releaser.join();
    tlp_pool_destroy(pool);
    EXPECT_EQ(hung, 0) << "children whose destroy hung or crashed";
}

/* ---- 5. a hook that destroys another pool under release_idle_all ------- */

namespace {
struct Owner {
    tlp_pool *sub;
};
void *owner_new(void *) {
    auto *o = static_cast<Owner *>(malloc(sizeof(Owner)));
    tlp_config c{};
    c.obj_size = 16;
    c.name = "sub";
    if (tlp_pool_create(&c, &o->sub) != 0) abort();
    tlp_put(o->sub, tlp_get(o->sub));
    return o;
}
void owner_free(void *p, void *) {
    auto *o = static_cast<Owner *>(p);
    tlp_pool_destroy(o->sub);
    free(o);
}
}  // namespace

TEST(ReviewFaults, HookDestroyingAPoolUnderReleaseIdleAll) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            alarm(20);
            tlp_config c{};
            c.obj_size = sizeof(Owner);
            c.obj_new = owner_new;
            c.obj_free = owner_free;
            c.name = "owners";
            tlp_pool *owners;
            if (tlp_pool_create(&c, &owners) != 0) _exit(3);
            for (int round = 0; round < 20; round++) {
                void *o[6];
                for (auto &x : o) x = tlp_get(owners);
                for (auto x : o) tlp_put(owners, x);
                tlp_release_idle_all();  // obj_free destroys each sub-pool
            }
            tlp_stats s;
            tlp_stats_get(owners, &s);
            if (s.made != s.released) _exit(4);
            tlp_pool_destroy(owners);
            _exit(0);
        },
        ::testing::ExitedWithCode(0), "");
}

/* ---- 6. the drainer must never join itself ----------------------------- */

namespace {
std::atomic<tlp_pool *> last_drained_pool{nullptr};
std::atomic<bool> destroy_started{false};
void free_destroying_other(void *o, void *) {
    tlp_pool *b = last_drained_pool.exchange(nullptr);
    if (b) {
        while (!destroy_started) usleep(100);
        usleep(50000);  // the destroy of the hook's own pool is waiting now
        tlp_pool_destroy(b);  // the last pool with drain_ms: stops the drainer
    }
    free(o);
}
void *plain_new(void *) { return malloc(64); }
}  // namespace

/* Pool A's obj_free, running in a background drain of A, destroys B, the
 * last other pool with drain_ms, while the main thread destroys A. The
 * drainer used to join itself and free its own state (use-after-free under
 * ASan). */
TEST(ReviewFaults, HookInBackgroundDrainDestroysTheLastDrainedPool) {
    tlp_config a{};
    a.obj_size = 64;
    a.obj_new = plain_new;
    a.obj_free = free_destroying_other;
    a.drain_ms = 1;
    a.name = "A";
    tlp_config b = counted("B", 1000);
    tlp_pool *pa, *pb;
    ASSERT_EQ(tlp_pool_create(&a, &pa), 0);
    ASSERT_EQ(tlp_pool_create(&b, &pb), 0);
    last_drained_pool = pb;
    tlp_put(pa, tlp_get(pa));
    // Two background drains release the object: obj_free runs in the drainer.
    std::thread waiter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        destroy_started = true;
    });
    // Keep A busy until the drainer has started the hook, then destroy A.
    while (last_drained_pool.load() != nullptr) usleep(100);
    tlp_pool_destroy(pa);
    waiter.join();
    // The drainer is gone or stopping; a new pool with drain_ms starts a new one.
    tlp_pool *pc;
    tlp_config c = counted("C", 1);
    ASSERT_EQ(tlp_pool_create(&c, &pc), 0);
    tlp_put(pc, tlp_get(pc));
    tlp_stats s{};
    for (int i = 0; i < 2000 && s.drains < 3; i++) {
        usleep(1000);
        tlp_stats_get(pc, &s);
    }
    EXPECT_GE(s.drains, 3u) << "a new background drainer runs";
    tlp_pool_destroy(pc);
}

/* ---- 10. cancellation inside tlp_pool_destroy -------------------------- */

namespace {
std::atomic<bool> in_slow_free{false};
void slow_free(void *o, void *) {
    in_slow_free = true;
    usleep(200000);
    free(o);
}
}  // namespace

TEST(ReviewFaults, CancelledDestroyLeavesNoLockHeld) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            alarm(20);
            tlp_config c{};
            c.obj_size = 64;
            c.obj_new = plain_new;
            c.obj_free = slow_free;
            c.name = "cancelled";
            tlp_pool *p;
            if (tlp_pool_create(&c, &p) != 0) _exit(3);
            tlp_put(p, tlp_get(p));
            // A thread holds a reference on p while its slow hook runs...
            std::thread rel([] { tlp_release_idle_all(); });
            while (!in_slow_free) usleep(100);
            // ...so destroy waits; cancel it there.
            pthread_t d;
            pthread_create(&d, nullptr, [](void *arg) -> void * {
                tlp_pool_destroy(static_cast<tlp_pool *>(arg));
                return nullptr;
            }, p);
            usleep(20000);
            pthread_cancel(d);
            pthread_join(d, nullptr);
            rel.join();
            // Every later call still works.
            tlp_pool *q;
            tlp_config c2{};
            c2.obj_size = 8;
            if (tlp_pool_create(&c2, &q) != 0) _exit(4);
            tlp_put(q, tlp_get(q));
            tlp_pool_destroy(q);
            _exit(0);
        },
        ::testing::ExitedWithCode(0), "");
}

/* ---- PSI watcher: ENOTSUP, not EINVAL, where the kernel refuses ------- */

TEST(ReviewFaults, PressureWatchReportsUnsupportedNotInvalid) {
    // Arguments outside the kernel's documented range are the caller's error.
    EXPECT_EQ(tlp_pressure_watch_start(0, 2000000), EINVAL);
    EXPECT_EQ(tlp_pressure_watch_start(3000000, 2000000), EINVAL);
    EXPECT_EQ(tlp_pressure_watch_start(1000, 100000), EINVAL);
    // In range: the kernel either accepts it or cannot do it (this one takes
    // only windows that are a multiple of 2 s from an unprivileged process).
    int rc = tlp_pressure_watch_start(150000, 1000000);
    EXPECT_TRUE(rc == 0 || rc == ENOTSUP) << std::strerror(rc);
    if (rc == 0) tlp_pressure_watch_stop();
}
