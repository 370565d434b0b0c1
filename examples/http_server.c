/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP/1.1 keep-alive server on libuv, to run tlpool's buffer pools
 * under a real client (scripts/loadtest.sh drives it with wrk).
 *
 *   http_server [--alloc=pool|malloc] [--port=N] [--host=ADDR] [--threads=N]
 *               [--body-size=N]
 *
 * Every allocation of the request path goes through one allocator, chosen by
 * --alloc: the read buffers (tlp_uv_alloc or malloc), the per-connection
 * state, the request buffer the reads are appended to, each response and its
 * write request. With --alloc=pool they are tlp_buf_* on the default buffer
 * pool; with --alloc=malloc, the C library's malloc.
 *
 * Each request head is parsed (request line and header fields); the answer is
 * a fixed body. A malformed or oversized request gets 400 and the connection
 * is closed. --port=0 picks a free port; the server prints
 * "listening on HOST:PORT" on stdout once it accepts. --threads=N runs N event
 * loops, each with its own SO_REUSEPORT listener. SIGINT/SIGTERM stop it.
 *
 * GET /stats answers with tlp_stats_print's JSON: every pool and buffer pool
 * of the process, with their counters (scripts/loadtest.sh checks that it
 * parses). Any other target gets the fixed body.
 */
#include "http_parse.h"

#include <tlpool.h>
#include <tlpool_uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_HEAD 8192u             /* longest request head accepted */
#define MAX_BODY ((uint64_t)1 << 20) /* longest request body accepted (discarded) */
#define MAX_THREADS 64

/* ---- the allocator under test ------------------------------------------- */

typedef struct allocator {
    const char *name;
    void *(*alloc)(size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    uv_alloc_cb read_alloc;
    void (*read_release)(const uv_buf_t *);
} allocator;

static void malloc_read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void malloc_read_release(const uv_buf_t *buf)
{
    free(buf->base);
}

static const allocator pool_allocator = {
    "pool", tlp_buf_alloc, tlp_buf_realloc, tlp_buf_free, tlp_uv_alloc, tlp_uv_buf_release,
};
static const allocator malloc_allocator = {
    "malloc", malloc, realloc, free, malloc_read_alloc, malloc_read_release,
};
static const allocator *mem = &pool_allocator;

/* ---- responses ---------------------------------------------------------- */

static char *resp_keep, *resp_close; /* complete responses, made at start */
static size_t resp_keep_len, resp_close_len;
static const char resp_400[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 12\r\n"
                               "Connection: close\r\n"
                               "\r\n"
                               "Bad Request\n";

static char *make_response(const char *connection, size_t body_size, size_t *len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\n"
                     "Server: tlpool-example\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: %s\r\n"
                     "\r\n",
                     body_size, connection);
    char *r = malloc((size_t)n + body_size);
    if (!r)
        return NULL;
    memcpy(r, head, (size_t)n);
    static const char hello[] = "Hello, world!\n";
    for (size_t i = 0; i < body_size; i++)
        r[(size_t)n + i] = hello[i % (sizeof(hello) - 1)];
    if (body_size)
        r[(size_t)n + body_size - 1] = '\n';
    *len = (size_t)n + body_size;
    return r;
}

/* ---- workers and connections -------------------------------------------- */

typedef struct worker {
    uv_loop_t loop;
    uv_tcp_t server;
    uv_async_t stop;
    pthread_t thread;
    uint64_t requests, bad_requests, connections;
} worker;

typedef struct conn {
    uv_tcp_t tcp;
    worker *w;
    char *req;          /* received bytes not yet consumed (allocator under test) */
    size_t len, cap;
    uint64_t body_left; /* body bytes of the current request still to discard */
    unsigned writes;    /* writes in flight */
    bool closing;       /* close once the writes in flight are done */
} conn;

typedef struct write_req {
    uv_write_t req;
    conn *c;
    char data[];        /* the response bytes */
} write_req;

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    mem->free(c->req);
    mem->free(c);
}

static void conn_close(conn *c)
{
    c->closing = true;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
    write_req *wr = (write_req *)req;
    conn *c = wr->c;
    mem->free(wr);
    c->writes--;
    if (status < 0 || (c->closing && c->writes == 0))
        conn_close(c);
}

static int send_bytes(conn *c, const char *bytes, size_t n)
{
    write_req *wr = mem->alloc(sizeof(*wr) + n);
    if (!wr)
        return UV_ENOMEM;
    wr->c = c;
    memcpy(wr->data, bytes, n);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
    int err = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (err) {
        mem->free(wr);
        return err;
    }
    c->writes++;
    return 0;
}

/* Stop reading, and close after what is queued has been written. */
static void finish(conn *c)
{
    c->closing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->writes == 0)
        conn_close(c);
}

static void reject(conn *c)
{
    c->w->bad_requests++;
    if (send_bytes(c, resp_400, sizeof(resp_400) - 1) != 0)
        conn_close(c);
    else
        finish(c);
}

/* GET /stats: the library's statistics as JSON (tlp_stats_print). */
static int send_stats(conn *c, bool keep_alive)
{
    char *json = NULL;
    size_t json_len = 0;
    FILE *f = open_memstream(&json, &json_len);
    if (!f)
        return UV_ENOMEM;
    int err = tlp_stats_print(f, "json");
    fclose(f);
    if (err) {
        free(json);
        return UV_EINVAL;
    }
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\n"
                     "Server: tlpool-example\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: %s\r\n"
                     "\r\n",
                     json_len, keep_alive ? "keep-alive" : "close");
    char *resp = malloc((size_t)n + json_len);
    if (!resp) {
        free(json);
        return UV_ENOMEM;
    }
    memcpy(resp, head, (size_t)n);
    memcpy(resp + n, json, json_len);
    free(json);
    err = send_bytes(c, resp, (size_t)n + json_len);
    free(resp);
    return err;
}

static bool is_stats(const http_request *r)
{
    return r->method_len == 3 && memcmp(r->method, "GET", 3) == 0 && r->target_len == 6 &&
           memcmp(r->target, "/stats", 6) == 0;
}

/* Consumes every complete request in c->req; keeps an incomplete tail. */
static void serve(conn *c)
{
    size_t off = 0;
    while (!c->closing && off < c->len) {
        if (c->body_left) {
            size_t n = c->len - off < c->body_left ? c->len - off : (size_t)c->body_left;
            off += n;
            c->body_left -= n;
            continue;
        }
        http_request r;
        http_result res = http_parse_request(c->req + off, c->len - off, MAX_HEAD, &r);
        if (res == HTTP_INCOMPLETE)
            break;
        if (res == HTTP_BAD || r.content_length > MAX_BODY) {
            reject(c);
            return;
        }
        off += r.head_len;
        c->body_left = r.content_length;
        c->w->requests++;
        int err = is_stats(&r)   ? send_stats(c, r.keep_alive)
                  : r.keep_alive ? send_bytes(c, resp_keep, resp_keep_len)
                                 : send_bytes(c, resp_close, resp_close_len);
        if (err) {
            conn_close(c);
            return;
        }
        if (!r.keep_alive)
            finish(c);
    }
    /* Drop what was consumed; an emptied buffer goes back to the allocator,
     * so each request on a keep-alive connection takes a fresh one. */
    if (off == c->len) {
        mem->free(c->req);
        c->req = NULL;
        c->len = c->cap = 0;
    } else if (off) {
        memmove(c->req, c->req + off, c->len - off);
        c->len -= off;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (nread > 0 && !c->closing) {
        size_t need = c->len + (size_t)nread;
        if (need > c->cap) {
            size_t cap = c->cap ? c->cap : 1024;
            while (cap < need)
                cap *= 2;
            char *p = mem->realloc(c->req, cap);
            if (!p) {
                mem->read_release(buf);
                conn_close(c);
                return;
            }
            c->req = p;
            c->cap = cap;
        }
        memcpy(c->req + c->len, buf->base, (size_t)nread);
        c->len = need;
        serve(c);
        if (!c->closing && c->len > MAX_HEAD)
            reject(c); /* an incomplete head longer than the limit */
    }
    mem->read_release(buf);
    if (nread < 0)
        conn_close(c); /* EOF, reset, or ENOBUFS */
}

static void on_connection(uv_stream_t *server, int status)
{
    worker *w = server->data;
    if (status < 0)
        return;
    conn *c = mem->alloc(sizeof(*c));
    if (!c)
        return;
    memset(c, 0, sizeof(*c));
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    w->connections++;
    if (uv_read_start((uv_stream_t *)&c->tcp, mem->read_alloc, on_read) != 0)
        conn_close(c);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h))
        return;
    /* Connections carry their conn in data; the listener and async do not. */
    if (h->type == UV_TCP && h->data && h->data != arg)
        uv_close(h, on_conn_closed);
    else
        uv_close(h, NULL);
}

static void on_stop(uv_async_t *a)
{
    worker *w = a->data;
    uv_walk(&w->loop, close_any, w);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* A listening socket with SO_REUSEPORT, so every worker can have one. */
static int listen_socket(const char *host, int port, int *bound_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "http_server: bad --host %s (IPv4 address expected)\n", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "http_server: bind %s:%d: %s\n", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *bound_port = ntohs(sa.sin_port);
    return fd;
}

static int start_worker(worker *w, int fd)
{
    memset(w, 0, sizeof(*w));
    int err = uv_loop_init(&w->loop);
    if (!err)
        err = uv_tcp_init(&w->loop, &w->server);
    if (!err) {
        w->server.data = w;
        err = uv_tcp_open(&w->server, fd);
    }
    if (!err)
        err = uv_listen((uv_stream_t *)&w->server, 1024, on_connection);
    if (!err) {
        err = uv_async_init(&w->loop, &w->stop, on_stop);
        w->stop.data = w;
    }
    if (err) {
        fprintf(stderr, "http_server: %s\n", uv_strerror(err));
        return -1;
    }
    return pthread_create(&w->thread, NULL, worker_main, w) ? -1 : 0;
}

/* ---- main ------------------------------------------------------------------ */

static worker workers[MAX_THREADS];
static int nworkers;
static uv_signal_t sigint_h, sigterm_h;

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    for (int i = 0; i < nworkers; i++)
        uv_async_send(&workers[i].stop);
    uv_close((uv_handle_t *)&sigint_h, NULL);
    uv_close((uv_handle_t *)&sigterm_h, NULL);
}

static void usage(void)
{
    fprintf(stderr, "usage: http_server [--alloc=pool|malloc] [--port=N] [--host=ADDR] "
                    "[--threads=N] [--body-size=N]\n");
    exit(2);
}

/* "--name=value" or "--name value" */
static const char *opt(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0') {
        if (*i + 1 >= argc)
            usage();
        return argv[++*i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 8080, threads = 1;
    long body = 14;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = opt(argc, argv, &i, "--alloc"))) {
            if (strcmp(v, "pool") == 0)
                mem = &pool_allocator;
            else if (strcmp(v, "malloc") == 0)
                mem = &malloc_allocator;
            else
                usage();
        } else if ((v = opt(argc, argv, &i, "--port"))) {
            port = atoi(v);
        } else if ((v = opt(argc, argv, &i, "--host"))) {
            host = v;
        } else if ((v = opt(argc, argv, &i, "--threads"))) {
            threads = atoi(v);
        } else if ((v = opt(argc, argv, &i, "--body-size"))) {
            body = atol(v);
        } else {
            usage();
        }
    }
    if (port < 0 || port > 65535 || threads < 1 || threads > MAX_THREADS || body < 0 ||
        body > (1L << 24))
        usage();
    signal(SIGPIPE, SIG_IGN);

    resp_keep = make_response("keep-alive", (size_t)body, &resp_keep_len);
    resp_close = make_response("close", (size_t)body, &resp_close_len);
    if (!resp_keep || !resp_close)
        return 1;

    int bound = port;
    for (nworkers = 0; nworkers < threads; nworkers++) {
        int fd = listen_socket(host, bound, &bound);
        if (fd < 0 || start_worker(&workers[nworkers], fd) != 0)
            return 1;
    }
    printf("listening on %s:%d (alloc=%s, threads=%d)\n", host, bound, mem->name, threads);
    fflush(stdout);

    uv_loop_t *main_loop = uv_default_loop();
    uv_signal_init(main_loop, &sigint_h);
    uv_signal_init(main_loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    uv_run(main_loop, UV_RUN_DEFAULT);

    uint64_t requests = 0, bad = 0, conns = 0;
    for (int i = 0; i < nworkers; i++) {
        pthread_join(workers[i].thread, NULL);
        uv_loop_close(&workers[i].loop);
        requests += workers[i].requests;
        bad += workers[i].bad_requests;
        conns += workers[i].connections;
    }
    uv_loop_close(main_loop);
    fprintf(stderr, "http_server: %llu requests, %llu rejected, %llu connections\n",
            (unsigned long long)requests, (unsigned long long)bad, (unsigned long long)conns);
    if (mem == &pool_allocator) {
        tlp_bufpool_stats s;
        tlp_bufpool_stats_get(tlp_bufpool_default(), &s);
        fprintf(stderr, "http_server: buffer pool: %llu bytes idle, %llu large allocations\n",
                (unsigned long long)s.idle_bytes, (unsigned long long)s.large_allocs);
    }
    free(resp_keep);
    free(resp_close);
    return 0;
}
