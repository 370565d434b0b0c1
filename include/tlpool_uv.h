/* SPDX-License-Identifier: MIT */
/*
 * tlpool_uv — pooled read buffers for libuv (target tlpool::uv).
 *
 *     uv_read_start(stream, tlp_uv_alloc, on_read);
 *
 *     static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
 *     {
 *         ... use buf->base[0 .. nread) when nread > 0 ...
 *         tlp_uv_buf_release(buf);   // every call, whatever nread is
 *     }
 *
 * tlp_uv_alloc takes its buffers from the default buffer pool
 * (tlp_bufpool_default(), see tlpool.h), so a buffer may also be kept past the
 * callback and released later with tlp_uv_buf_release or tlp_buf_free.
 */
#ifndef TLPOOL_UV_H
#define TLPOOL_UV_H

#include <uv.h>

#include "tlpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A uv_alloc_cb: sets buf to a pooled buffer of suggested_size bytes
 * (suggested_size 0 counts as 1). When no memory can be had it sets
 * buf->base = NULL and buf->len = 0, which libuv reports to the read
 * callback as UV_ENOBUFS.
 */
TLP_API void tlp_uv_alloc(uv_handle_t *handle, size_t suggested_size, uv_buf_t *buf);

/*
 * Releases a buffer set by tlp_uv_alloc (buf->base NULL: no-op). Call it from
 * the read callback for every buffer, including when nread is 0 or negative.
 * buf itself is not modified (libuv passes it as const).
 */
TLP_API void tlp_uv_buf_release(const uv_buf_t *buf);

#ifdef __cplusplus
}
#endif

#endif /* TLPOOL_UV_H */
