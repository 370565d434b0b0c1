/* SPDX-License-Identifier: MIT */
/* A user program: one pool, a few gets and puts, a scoped use. */
#include <tlpool.h>
#include <stdio.h>

int main(void)
{
    tlp_config cfg = { .obj_size = 64, .name = "consumer" };
    tlp_pool *pool;
    if (tlp_pool_create(&cfg, &pool) != 0)
        return 1;
    void *a = tlp_get(pool);
    tlp_put(pool, a);
    void *b = tlp_get(pool);
    int ok = (a == b); /* LIFO on one thread */
    tlp_put(pool, b);
    {
        TLP_SCOPED(char *, buf, pool);
        if (!buf)
            return 1;
        buf[0] = 'x';
    }
    tlp_stats st;
    tlp_stats_get(pool, &st);
    ok = ok && st.out == 0 && st.puts == 3 && tlp_version() == TLP_VERSION_HEX;
    tlp_pool_destroy(pool);
    printf("consumer: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
