/* SPDX-License-Identifier: MIT */
/*
 * TLPOOL_CONF, key by key: tests/extra.cmake runs this program once per case
 * with the variable set (ctest ENVIRONMENT) and a mode saying what the
 * setting must change. Exit status 0: the behaviour matched.
 *
 *   conf_probe thread_cache N        pools leaving thread_cache 0 keep <= N per thread
 *   conf_probe drain_ms              pools leaving drain_ms 0 are drained in the background
 *   conf_probe leaks off|all|N       pools leaving leak_sample 0 are tracked so
 *   conf_probe buf_max_idle_bytes    the default buffer pool has fewer classes (small budget)
 *   conf_probe buf_zero_on_free      freed buffers come back zeroed
 *   conf_probe buf_thread_idle_bytes N [config]
 *                                    the default pool's per-thread cap is N (or none): a thread
 *                                    freeing many buffers keeps at most N (config: set
 *                                    192 KiB with tlp_buf_default_config first)
 *   conf_probe buf_drain_ms          the default buffer pool is drained in the background
 *   conf_probe default_config [env]  tlp_buf_default_config (env: TLPOOL_CONF overrides it)
 *   conf_probe warnings TEXT...      stderr at first use holds each TEXT once, nothing else
 *   conf_probe stats_exit            uses pools and exits (the stats print at exit)
 */
#include <tlpool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "conf_probe: FAILED %s: ", #cond);           \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
            failures++;                                                  \
        }                                                                \
    } while (0)

static tlp_pool *make(const char *name, unsigned thread_cache)
{
    tlp_config cfg = { .obj_size = 64, .name = name, .thread_cache = thread_cache };
    tlp_pool *p = NULL;
    if (tlp_pool_create(&cfg, &p) != 0) {
        fprintf(stderr, "conf_probe: tlp_pool_create failed\n");
        exit(2);
    }
    return p;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Takes n objects, puts them all back; returns the pool's stats. */
static tlp_stats cycle(tlp_pool *p, unsigned n)
{
    void **v = malloc(n * sizeof *v);
    for (unsigned i = 0; i < n; i++)
        v[i] = tlp_get(p);
    for (unsigned i = 0; i < n; i++)
        tlp_put(p, v[i]);
    free(v);
    tlp_stats st;
    tlp_stats_get(p, &st);
    return st;
}

static void thread_cache(unsigned n)
{
    tlp_pool *dflt = make("conf-default", 0), *own = make("conf-own", 128);
    tlp_stats a = cycle(dflt, 100), b = cycle(own, 100);
    CHECK(a.idle_thread <= n && a.idle_thread > 0, "idle_thread %llu, thread_cache:%u",
          (unsigned long long)a.idle_thread, n);
    CHECK(a.idle == 100, "idle %llu", (unsigned long long)a.idle);
    /* A pool that sets its own thread_cache keeps it. */
    CHECK(b.idle_thread == 100, "explicit thread_cache: idle_thread %llu",
          (unsigned long long)b.idle_thread);
    tlp_pool_destroy(dflt);
    tlp_pool_destroy(own);
}

static void drain_ms(void)
{
    tlp_pool *p = make("conf-drained", 0);
    cycle(p, 10);
    tlp_stats st;
    for (int i = 0; i < 100; i++) { /* up to 5 s: drains at 20 ms */
        sleep_ms(50);
        tlp_stats_get(p, &st);
        if (st.drains >= 2 && st.idle == 0)
            break;
    }
    CHECK(st.drains >= 2, "drains %llu", (unsigned long long)st.drains);
    CHECK(st.idle == 0, "idle %llu after two drains", (unsigned long long)st.idle);
    tlp_pool_destroy(p);
}

__attribute__((noinline)) static void leak_objs(tlp_pool *p, void **v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        v[i] = tlp_get(p);
}

/* Buffers taken through the exported calls (the names in parentheses are
 * not the inline macros): the report must name this function, not the
 * library's. Exported (ENABLE_EXPORTS) so that dladdr can name it. */
void *leak_exported(void **second);
__attribute__((noinline)) void *leak_exported(void **second)
{
    void *a = (tlp_buf_alloc)(200);
    *second = (tlp_buf_calloc)(1, 300);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays */
    return a;
}

/* The report's count of objects taken at fn+0x... */
static size_t count_at(const char *rep, const char *fn)
{
    size_t total = 0, n = strlen(fn);
    for (const char *p = rep; (p = strstr(p, " taken at ")) != NULL; p++) {
        if (strncmp(p + 10, fn, n) == 0 && p[10 + n] == '+') {
            const char *line = p;
            while (line > rep && line[-1] != '\n')
                line--;
            total += strtoul(line, NULL, 10);
        }
    }
    return total;
}

static void leaks(const char *level)
{
    enum { N = 1600 };
    static void *v[N];
    tlp_pool *p = make("conf-leaky", 0);
    leak_objs(p, v, N);
    void *buf = tlp_buf_alloc(100);
    FILE *null = fopen("/dev/null", "w");
    size_t n = tlp_leaks_print(null, 0);
    fclose(null);
    if (strcmp(level, "off") == 0) {
        CHECK(n == 0, "leaks:off reported %zu", n);
    } else if (strcmp(level, "all") == 0) {
        CHECK(n == N + 1, "leaks:all reported %zu of %d objects + 1 buffer", n, N);
        void *second;
        void *first = leak_exported(&second);
        FILE *rep = tmpfile();
        static char text[1 << 16];
        n = tlp_leaks_print(rep, 0);
        rewind(rep);
        text[fread(text, 1, sizeof text - 1, rep)] = '\0';
        fclose(rep);
        CHECK(n == N + 3, "%zu reported", n);
        CHECK(count_at(text, "leak_exported") == 2, "exported calls' site:\n%s",
              strstr(text, "tlp_buf") ? strstr(text, "tlp_buf") : text);
        tlp_buf_free(first);
        tlp_buf_free(second);
    } else {
        /* leaks:16 -> Binomial(1601, 1/16): mean 100, sd 9.7 */
        unsigned k = (unsigned)atoi(level);
        double mean = (double)(N + 1) / k;
        CHECK(n >= mean * 0.5 && n <= mean * 1.6, "leaks:%u reported %zu (expected about %.0f)", k,
              n, mean);
    }
    for (unsigned i = 0; i < N; i++)
        tlp_put(p, v[i]);
    tlp_buf_free(buf);
    null = fopen("/dev/null", "w");
    n = tlp_leaks_print(null, 0);
    fclose(null);
    CHECK(n == 0, "%zu reported after every object came back", n);
    tlp_pool_destroy(p);
}

static void buf_max_idle_bytes(void)
{
    tlp_bufpool_stats st, ref;
    tlp_bufpool_stats_get(tlp_bufpool_default(), &st);
    tlp_bufpool_config cfg = { .name = "reference" };
    tlp_bufpool *bp;
    if (tlp_bufpool_create(&cfg, &bp) != 0)
        exit(2);
    tlp_bufpool_stats_get(bp, &ref);
    tlp_bufpool_destroy(bp);
    /* A small budget cannot hold a buffer of every class: the top classes
     * are dropped (the default budget keeps them all). */
    CHECK(st.nclasses < ref.nclasses && st.nclasses > 0, "nclasses %u (default %u)", st.nclasses,
          ref.nclasses);
}

static void buf_thread_idle_bytes(unsigned long long want, bool config)
{
    if (config) {
        tlp_bufpool_config cfg = { .thread_idle_bytes = 192 << 10 };
        CHECK(tlp_buf_default_config(&cfg) == 0, "config refused");
    }
    /* 100 buffers of every class, then all freed: more than the cap. */
    tlp_bufpool_stats st;
    tlp_bufpool_stats_get(tlp_bufpool_default(), &st);
    enum { PER = 100 };
    static void *v[PER * 64];
    unsigned n = 0;
    for (unsigned c = 0; c < st.nclasses; c++)
        for (unsigned i = 0; i < PER; i++)
            v[n++] = tlp_buf_alloc(st.classes[c].size);
    for (unsigned i = 0; i < n; i++)
        tlp_buf_free(v[i]);
    tlp_bufpool_stats_get(tlp_bufpool_default(), &st);
    CHECK(st.thread_idle_cap == want, "thread_idle_cap %llu, want %llu",
          (unsigned long long)st.thread_idle_cap, want);
    if (want == UINT64_MAX) {
        /* none: the caches are bounded by each class's thread_cache only */
        CHECK(st.idle_thread_bytes > (256u << 10), "this thread keeps only %llu idle bytes",
              (unsigned long long)st.idle_thread_bytes);
        CHECK(st.cap_spilled_bytes == 0, "%llu bytes spilled",
              (unsigned long long)st.cap_spilled_bytes);
        return;
    }
    CHECK(st.idle_thread_bytes <= want && st.idle_thread_bytes > 0,
          "this thread keeps %llu idle bytes (cap %llu)", (unsigned long long)st.idle_thread_bytes,
          want);
    CHECK(st.cap_spilled_bytes > 0, "nothing spilled");
}

static void buf_zero_on_free(void)
{
    unsigned char *a = tlp_buf_alloc(100);
    memset(a, 0xab, 100);
    tlp_buf_free(a);
    unsigned char *b = tlp_buf_alloc(100);
    CHECK(a == b, "the freed buffer is the next one handed out (LIFO)");
    int nonzero = 0;
    for (int i = 0; i < 100; i++)
        nonzero += b[i] != 0;
    CHECK(nonzero == 0, "%d bytes not zeroed", nonzero);
    tlp_buf_free(b);
}

static void buf_drain_ms(void)
{
    void *v[10];
    for (int i = 0; i < 10; i++)
        v[i] = tlp_buf_alloc(64);
    for (int i = 0; i < 10; i++)
        tlp_buf_free(v[i]);
    tlp_bufpool_stats st;
    tlp_bufpool_stats_get(tlp_bufpool_default(), &st);
    CHECK(st.idle_bytes > 0, "idle bytes right after the frees");
    for (int i = 0; i < 100 && st.idle_bytes; i++) {
        sleep_ms(50);
        tlp_bufpool_stats_get(tlp_bufpool_default(), &st);
    }
    CHECK(st.idle_bytes == 0, "idle bytes %llu: no background drain",
          (unsigned long long)st.idle_bytes);
}

static void default_config(bool env)
{
    tlp_bufpool_config bad = { .min_class = 4096, .max_class = 1024 };
    CHECK(tlp_buf_default_config(&bad) == EINVAL, "bad config accepted");
    CHECK(tlp_buf_default_config(NULL) == EINVAL, "NULL accepted");
    tlp_bufpool_config cfg = { .max_class = 1024, .zero_on_free = false, .name = "my-buffers" };
    CHECK(tlp_buf_default_config(&cfg) == 0, "good config refused");
    void *p = tlp_buf_alloc(10);
    tlp_bufpool *bp = tlp_bufpool_default();
    CHECK(strcmp(tlp_bufpool_name(bp), "my-buffers") == 0, "name '%s'", tlp_bufpool_name(bp));
    tlp_bufpool_stats st;
    tlp_bufpool_stats_get(bp, &st);
    CHECK(st.nclasses > 0 && st.classes[st.nclasses - 1].size == 1024, "largest class %zu",
          st.nclasses ? st.classes[st.nclasses - 1].size : 0);
    CHECK(tlp_buf_default_config(&cfg) == EBUSY, "configured after first use");
    /* With TLPOOL_CONF=buf_zero_on_free:1 the variable wins over the config. */
    unsigned char *a = tlp_buf_alloc(100);
    memset(a, 0xab, 100);
    tlp_buf_free(a);
    unsigned char *b = tlp_buf_alloc(100);
    CHECK(a == b, "LIFO reuse");
    CHECK((b[0] == 0) == env, "buf_zero_on_free from TLPOOL_CONF %s", env ? "ignored" : "applied");
    tlp_buf_free(b);
    tlp_buf_free(p);
}

static void warnings(int n, char **want)
{
    fflush(stderr);
    FILE *cap = tmpfile();
    int saved = dup(2);
    dup2(fileno(cap), 2);
    tlp_pool_destroy(make("conf-first-use", 0)); /* reads TLPOOL_CONF */
    tlp_pool_destroy(make("conf-second-use", 0)); /* must not read it again */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[4096] = "";
    rewind(cap);
    size_t len = fread(text, 1, sizeof text - 1, cap);
    text[len] = '\0';
    fclose(cap);
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK(lines == n, "%d warning line(s), expected %d:\n%s", lines, n, text);
    for (int i = 0; i < n; i++) {
        char *at = strstr(text, want[i]);
        CHECK(at && !strstr(at + 1, want[i]), "'%s' not exactly once in:\n%s", want[i], text);
    }
}

/* Out at exit on purpose; reachable for LeakSanitizer. */
void *kept;

static void stats_exit(void)
{
    tlp_pool *p = make("at-exit", 0);
    cycle(p, 20);
    kept = tlp_get(p);
    void *b = tlp_buf_alloc(300);
    tlp_buf_free(b);
    /* not destroyed: live at exit, when TLPOOL_CONF=stats:json prints */
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *m = argv[1];
    if (strcmp(m, "thread_cache") == 0 && argc == 3)
        thread_cache((unsigned)atoi(argv[2]));
    else if (strcmp(m, "drain_ms") == 0)
        drain_ms();
    else if (strcmp(m, "leaks") == 0 && argc == 3)
        leaks(argv[2]);
    else if (strcmp(m, "buf_max_idle_bytes") == 0)
        buf_max_idle_bytes();
    else if (strcmp(m, "buf_thread_idle_bytes") == 0 && argc >= 3)
        buf_thread_idle_bytes(strcmp(argv[2], "none") == 0 ? UINT64_MAX : strtoull(argv[2], NULL, 10),
                              argc == 4 && strcmp(argv[3], "config") == 0);
    else if (strcmp(m, "buf_zero_on_free") == 0)
        buf_zero_on_free();
    else if (strcmp(m, "buf_drain_ms") == 0)
        buf_drain_ms();
    else if (strcmp(m, "default_config") == 0)
        default_config(argc == 3 && strcmp(argv[2], "env") == 0);
    else if (strcmp(m, "warnings") == 0)
        warnings(argc - 2, argv + 2);
    else if (strcmp(m, "stats_exit") == 0)
        stats_exit();
    else
        return 2;
    return failures ? 1 : 0;
}
