/* SPDX-License-Identifier: MIT */
/*
 * The libuv adapter: a uv_alloc_cb over the default buffer pool.
 */
#include "tlpool_uv.h"

void tlp_uv_alloc(uv_handle_t *handle, size_t suggested_size, uv_buf_t *buf)
{
    (void)handle;
    size_t n = suggested_size ? suggested_size : 1;
    char *p = tlp_buf_alloc(n);
    /* Hand libuv the size it asked for, not the class size: libuv and the
     * kernel then read no more than the caller expects. */
    buf->base = p;
    buf->len = p ? n : 0;
}

void tlp_uv_buf_release(const uv_buf_t *buf)
{
    if (buf)
        tlp_buf_free(buf->base);
}
