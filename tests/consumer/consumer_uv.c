/* SPDX-License-Identifier: MIT */
/* A libuv user of the installed tlpool::uv: one pooled read buffer, taken
 * the way uv_read_start's alloc callback takes it, then released. */
#include <tlpool_uv.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    uv_tcp_t tcp;
    if (uv_tcp_init(uv_default_loop(), &tcp) != 0)
        return 1;
    uv_buf_t buf;
    tlp_uv_alloc((uv_handle_t *)&tcp, 65536, &buf);
    int ok = buf.base != NULL && buf.len >= 65536 && tlp_buf_size(buf.base) >= 65536;
    if (ok)
        memset(buf.base, 'x', buf.len);
    tlp_uv_buf_release(&buf);
    uv_close((uv_handle_t *)&tcp, NULL);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    ok = ok && uv_loop_close(uv_default_loop()) == 0;
    printf("consumer_uv: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
