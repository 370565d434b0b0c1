/* SPDX-License-Identifier: MIT */
/* A pooled buffer never freed must be reported by valgrind as definitely
 * lost (TLP_POISON + TLP_VALGRIND builds); a reachable one must not.
 * Run by scripts/buf_leak_check.sh. */
#include <tlpool.h>
#include <string.h>
void *keep;
int main(void) {
    void *leaked = tlp_buf_alloc(100);
    memset(leaked, 1, 100);
    keep = tlp_buf_alloc(200);          /* reachable */
    void *p = tlp_buf_alloc(300);
    tlp_buf_free(p);
    leaked = 0;
    return 0;
}
