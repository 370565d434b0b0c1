/* SPDX-License-Identifier: MIT */
// The default buffer pool's first use, in processes of their own: this test
// process never makes the default pool itself, so every trial (a forked
// child) starts with it not made yet.
//  - fork() while another thread is making the default pool: the child's
//    tlp_buf_* must not hang on the creation lock (issue 10, item 4).
//  - no pool slot left when the default pool is first used: the drop-ins
//    fall back to plain malloc, at once and for good (no retry per call).
#include <gtest/gtest.h>
#include <tlpool.h>

#include "tlp_test_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

// Runs fn in a child process with an alarm; returns its exit status, or 100
// + the signal that ended it (SIGALRM: a hang).
template <class F> int in_child(F fn, unsigned seconds)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        alarm(seconds);
        _exit(fn());
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

}  // namespace

TEST(BufDefault, ForkWhileAnotherThreadMakesTheDefaultPool) {
#if TLP_TEST_SANITIZED
    // The sanitizers' own allocators are not fork-safe here: a child forked
    // while the other thread allocates hangs in ASan's calloc (seen under
    // gdb), before reaching tlpool. The release build runs the test.
    GTEST_SKIP() << "the sanitizer runtime's allocator hangs after a multi-threaded fork";
#endif
    int hung = 0, failed = 0;
    for (int trial = 0; trial < 60; trial++) {
        int rc = in_child([trial] {
            std::atomic<bool> go{false};
            std::thread maker([&] {
                go.store(true);
                void *p = tlp_buf_alloc(100);  // the process's first use: makes the pool
                tlp_buf_free(p);
            });
            while (!go.load()) {
            }
            for (volatile int spin = 0; spin < trial * 200; spin = spin + 1) {
            }
            // The grandchild has only this thread: the maker may have held
            // the creation lock at the fork.
            int g = in_child([] {
                void *p = tlp_buf_alloc(64);
                if (!p)
                    return 3;
                tlp_buf_free(p);
                void *q = tlp_buf_calloc(2, 10);
                tlp_buf_free(q);
                return 0;
            }, 10);
            maker.join();
            return g;
        }, 30);
        if (rc == 100 + SIGALRM)
            hung++;
        else if (rc != 0)
            failed++;
    }
    EXPECT_EQ(hung, 0) << "children hung in tlp_buf_*";
    EXPECT_EQ(failed, 0);
}

#if !TLP_TEST_SANITIZED
/* Pool creation fails while this is set: pools are made with aligned_alloc,
 * which this test program replaces (the fallback's large buffers use
 * posix_memalign, which it does not). Not under sanitizers, which own the
 * allocator. There is no pool-count limit to run into any more. */
static bool fail_aligned_alloc;
extern "C" void *__libc_memalign(size_t align, size_t size);
extern "C" void *aligned_alloc(size_t align, size_t size)
{
    if (fail_aligned_alloc) {
        errno = ENOMEM;
        return nullptr;
    }
    return __libc_memalign(align, size);
}
#endif

TEST(BufDefault, NoPoolCanBeMadeFallsBackToMalloc) {
#if TLP_TEST_SANITIZED
    GTEST_SKIP() << "replaces aligned_alloc; sanitizers own the allocator";
#else
    int rc = in_child([] {
        // The default pool cannot be made: no memory for its class pools.
        fail_aligned_alloc = true;
        // The drop-ins still work: plain malloc underneath.
        void *a = tlp_buf_alloc(100);
        if (!a)
            return 3;
        memset(a, 1, 100);
        if (tlp_buf_size(a) < 100)
            return 4;
        void *b = tlp_buf_calloc(3, 7);
        if (!b || ((char *)b)[20] != 0)
            return 5;
        b = tlp_buf_realloc(b, 5000);
        if (!b || tlp_buf_size(b) < 5000)
            return 6;
        void *z = tlp_buf_alloc(0);
        if (!z)
            return 7;
        tlp_buf_free(z);
        tlp_buf_free(b);
        tlp_buf_free(a);
        for (int i = 0; i < 20000; i++) {
            void *p = tlp_buf_alloc(64);
            if (!p)
                return 8;
            tlp_buf_free(p);
        }
        // For good: with memory back the pool is not made any more (no
        // attempt per call, each of which made and destroyed dozens of
        // pools), and the drop-ins keep using malloc.
        fail_aligned_alloc = false;
        void *c = tlp_buf_alloc(64);
        if (!c)
            return 9;
        tlp_buf_free(c);
        if (tlp_bufpool_default() != nullptr)
            return 10;
        return 0;
    }, 60);
    EXPECT_EQ(rc, 0);
#endif
}
