/* SPDX-License-Identifier: MIT */
/* A program using the inline fast path: what tests/variant_link.cmake links
 * against the library built in this tree, in its mode and in the other. */
#include <tlpool.h>

int main(void)
{
    tlp_config cfg = {.obj_size = 16};
    tlp_pool *p;
    if (tlp_pool_create(&cfg, &p))
        return 1;
    tlp_put(p, tlp_get(p));
    tlp_pool_destroy(p);
    return 0;
}
