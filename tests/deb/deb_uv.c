/* SPDX-License-Identifier: MIT */
/* Built against the installed libtlpool-uv-dev (scripts/deb_test.sh), once
 * with pkg-config and once with find_package(tlpool) + tlpool::uv. A real
 * libuv loop reads 100,000 bytes from a socket pair through tlp_uv_alloc
 * (uv_read_start's alloc callback) and tlp_uv_buf_release. Exits 0 when every
 * byte arrived in order, every read buffer was a pooled buffer of at least
 * the size libuv asked for, exactly one buffer was out during each read
 * callback and none after, and the loop closed cleanly. */
#include <tlpool_uv.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PAYLOAD 100000 /* more than one 64 KiB read */

static char sent[PAYLOAD], got[PAYLOAD];
static size_t ngot;
static int reads, bad;
static uint64_t out0;
static uv_pipe_t rd, wr;
static uv_write_t wreq;

/* Buffers of the default pool out now (allocated, not yet freed). */
static uint64_t default_out(void)
{
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(tlp_bufpool_default(), &s);
    uint64_t n = s.large_out;
    for (unsigned i = 0; i < s.nclasses; i++)
        n += s.classes[i].out;
    return n;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        reads++;
        if (buf->base == NULL || (size_t)nread > buf->len || tlp_buf_size(buf->base) < buf->len ||
            ngot + (size_t)nread > PAYLOAD)
            bad++;
        else
            memcpy(got + ngot, buf->base, (size_t)nread);
        ngot += (size_t)nread;
        if (default_out() != out0 + 1)
            bad++;
    }
    tlp_uv_buf_release(buf); /* every call, whatever nread is */
    if (nread < 0 || ngot >= PAYLOAD) {
        if (nread < 0 && nread != UV_EOF)
            bad++;
        uv_read_stop(stream);
        uv_close((uv_handle_t *)stream, NULL);
    }
}

static void on_written(uv_write_t *req, int status)
{
    if (status != 0)
        bad++;
    uv_close((uv_handle_t *)req->handle, NULL);
}

int main(int argc, char **argv)
{
    const char *name = argc > 0 ? argv[0] : "deb_uv";
    uv_loop_t *loop = uv_default_loop();
    uv_os_sock_t fds[2];
    if (uv_socketpair(SOCK_STREAM, 0, fds, 0, 0) != 0 || uv_pipe_init(loop, &rd, 0) != 0 ||
        uv_pipe_init(loop, &wr, 0) != 0 || uv_pipe_open(&rd, fds[0]) != 0 ||
        uv_pipe_open(&wr, fds[1]) != 0) {
        printf("%s: libuv setup failed\n", name);
        return 1;
    }
    for (size_t i = 0; i < PAYLOAD; i++)
        sent[i] = (char)('a' + i % 26);
    out0 = default_out();

    uv_buf_t b = uv_buf_init(sent, PAYLOAD);
    int ok = uv_read_start((uv_stream_t *)&rd, tlp_uv_alloc, on_read) == 0 &&
             uv_write(&wreq, (uv_stream_t *)&wr, &b, 1, on_written) == 0;
    ok = ok && uv_run(loop, UV_RUN_DEFAULT) == 0;
    ok = ok && uv_loop_close(loop) == 0;
    ok = ok && bad == 0 && ngot == PAYLOAD && memcmp(sent, got, PAYLOAD) == 0 && reads >= 2;
    ok = ok && default_out() == out0;
    printf("%s (C, libuv adapter): %s, %zu bytes in %d pooled reads\n", name, ok ? "ok" : "FAILED",
           ngot, reads);
    return ok ? 0 : 1;
}
