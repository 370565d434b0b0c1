/* SPDX-License-Identifier: MIT */
/*
 * Re-entry from signal handlers. tlpool, like malloc, is not async-signal-
 * safe: its slow paths take locks and its fast path has one `busy` flag per
 * thread. A handler that calls into tlpool while the code it interrupted is
 * inside tlpool would deadlock on a lock its own thread holds, or clear
 * `busy` under the interrupted fast path and let a drain take a magazine in
 * use. Where the library can see it (every slow path, and in checked builds
 * every call), it stops the program with this message instead.
 */
#include "internal.h"

#include <stdlib.h>

__thread const tlp_pool *tlp__inside __attribute__((tls_model("initial-exec")));

_Noreturn void tlp__reentered(const tlp_pool *pool, const char *what)
{
    const tlp_pool *in = tlp__inside;
    fprintf(stderr,
            "tlpool: pool '%s': %s called from a signal handler that interrupted a tlpool call%s%s%s "
            "(tlpool is not async-signal-safe, like malloc)\n",
            pool && pool->name ? pool->name : "?", what, in ? " on pool '" : "",
            in && in->name ? in->name : "", in ? "'" : " (an inline get/put)");
    fflush(stderr);
    abort();
}
