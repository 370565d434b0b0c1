/*
 * The heavy side of the asymmetric handshake: membarrier(2) with
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED makes every running thread of this process
 * execute a full memory barrier before it returns (and threads that are not
 * running get one from the context switch). See docs/DESIGN.md.
 *
 * Set TLP_NO_MEMBARRIER=1 in the environment to test the fallback: without a
 * heavy barrier, drains leave other threads' caches alone (their objects are
 * still released at thread exit, destroy and by the owner's own drains).
 */
#include "internal.h"

#include <linux/membarrier.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool available;

static long membarrier(int cmd, unsigned flags)
{
    return syscall(__NR_membarrier, cmd, flags, 0);
}

static void probe(void)
{
    const char *off = getenv("TLP_NO_MEMBARRIER");
    if (off && *off && *off != '0')
        return;
    long cmds = membarrier(MEMBARRIER_CMD_QUERY, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return;
    /* Registration is per process and must precede the first use. */
    available = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
}

bool tlp__heavy_barrier_available(void)
{
    pthread_once(&once, probe);
    return available;
}

void tlp__heavy_barrier(void)
{
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) != 0)
        abort(); /* cannot fail once registered (EINVAL/EPERM only before) */
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
