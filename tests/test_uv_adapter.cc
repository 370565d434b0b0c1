/* SPDX-License-Identifier: MIT */
// The libuv adapter (tlpool::uv): tlp_uv_alloc hands out pooled buffers from
// the default buffer pool, tlp_uv_buf_release returns them, and a real libuv
// read loop over a socketpair works through it.
// Built with tlpool::uv by tests/extra.cmake when libuv is found (TLP_HAVE_UV);
// otherwise this file is one skipped test.
#include <gtest/gtest.h>

#ifdef TLP_HAVE_UV

#include <tlpool_uv.h>

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace {

uint64_t default_out()
{
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(tlp_bufpool_default(), &s);
    uint64_t n = s.large_out;
    for (unsigned i = 0; i < s.nclasses; i++)
        n += s.classes[i].out;
    return n;
}

TEST(UvAdapter, AllocAndRelease)
{
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    uv_idle_t idle;  // any handle: the adapter ignores it
    uv_idle_init(&loop, &idle);
    uint64_t out0 = default_out();

    const size_t sizes[] = {0, 1, 100, 4096, 65536, 65537, 1 << 20};
    for (size_t n : sizes) {
        uv_buf_t b;
        tlp_uv_alloc(reinterpret_cast<uv_handle_t *>(&idle), n, &b);
        ASSERT_NE(b.base, nullptr) << n;
        EXPECT_EQ(b.len, n ? n : 1u);
        EXPECT_GE(tlp_buf_size(b.base), b.len) << "a buffer of the default pool";
        EXPECT_EQ(reinterpret_cast<uintptr_t>(b.base) % alignof(max_align_t), 0u);
        memset(b.base, 0x7f, b.len);
        EXPECT_EQ(default_out(), out0 + 1);
        tlp_uv_buf_release(&b);
        EXPECT_EQ(default_out(), out0);
    }

    uv_buf_t none = uv_buf_init(nullptr, 0);  // what libuv passes after UV_ENOBUFS
    tlp_uv_buf_release(&none);
    EXPECT_EQ(default_out(), out0);

    uv_close(reinterpret_cast<uv_handle_t *>(&idle), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop), 0);
}

// A writer pipe sends `payload`, then closes; the reader pipe reads with
// tlp_uv_alloc until EOF.
struct Transfer {
    uv_pipe_t reader, writer;
    uv_write_t wreq;
    std::string payload, received;
    int reads = 0;
    int bad_buffers = 0;
    uint64_t max_out_during_read = 0;
    bool eof = false;
};

void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    auto *t = static_cast<Transfer *>(s->data);
    if (nread > 0) {
        t->reads++;
        // The buffer is a live pooled buffer of at least len bytes.
        if (!buf->base || tlp_buf_size(buf->base) < buf->len || static_cast<size_t>(nread) > buf->len)
            t->bad_buffers++;
        uint64_t out = default_out();
        if (out > t->max_out_during_read)
            t->max_out_during_read = out;
        t->received.append(buf->base, static_cast<size_t>(nread));
    }
    tlp_uv_buf_release(buf);  // on every call, whatever nread is
    if (nread < 0) {
        t->eof = nread == UV_EOF;
        uv_close(reinterpret_cast<uv_handle_t *>(s), nullptr);
    }
}

void on_written(uv_write_t *req, int status)
{
    EXPECT_EQ(status, 0);
    uv_close(reinterpret_cast<uv_handle_t *>(req->handle), nullptr);
}

TEST(UvAdapter, ReadLoopThroughPooledBuffers)
{
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    Transfer t;
    t.payload.resize(300000);  // several 64 KiB reads
    for (size_t i = 0; i < t.payload.size(); i++)
        t.payload[i] = static_cast<char>('a' + i * 31 % 26);
    uint64_t out0 = default_out();

    ASSERT_EQ(uv_pipe_init(&loop, &t.reader, 0), 0);
    ASSERT_EQ(uv_pipe_open(&t.reader, fds[0]), 0);
    ASSERT_EQ(uv_pipe_init(&loop, &t.writer, 0), 0);
    ASSERT_EQ(uv_pipe_open(&t.writer, fds[1]), 0);
    t.reader.data = &t;
    ASSERT_EQ(uv_read_start(reinterpret_cast<uv_stream_t *>(&t.reader), tlp_uv_alloc, on_read), 0);
    uv_buf_t wb = uv_buf_init(&t.payload[0], static_cast<unsigned>(t.payload.size()));
    ASSERT_EQ(uv_write(&t.wreq, reinterpret_cast<uv_stream_t *>(&t.writer), &wb, 1, on_written), 0);

    // Bounded: the loop ends when both pipes are closed (EOF after the write).
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    EXPECT_EQ(uv_loop_close(&loop), 0);

    EXPECT_TRUE(t.eof);
    EXPECT_EQ(t.received, t.payload);
    EXPECT_GE(t.reads, 2);
    EXPECT_EQ(t.bad_buffers, 0);
    EXPECT_EQ(t.max_out_during_read, out0 + 1) << "one pooled buffer per read callback";
    EXPECT_EQ(default_out(), out0) << "every read buffer was released";
}

}  // namespace

#else

TEST(UvAdapter, Skipped)
{
    GTEST_SKIP() << "libuv not found: tlpool::uv is not built";
}

#endif
