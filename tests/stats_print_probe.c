/* SPDX-License-Identifier: MIT */
/*
 * tlp_stats_print's JSON, checked by a real JSON parser: prints the document
 * on stdout and, on stderr, what tlp_stats_get / tlp_bufpool_stats_get say
 * once everything is quiescent ("pool INDEX FIELD VALUE", "buf INDEX CLASS
 * FIELD VALUE" lines, in tlp_pool_foreach / tlp_bufpool_foreach order);
 * tests/check_stats_json.py compares the two. Exit 1 if the text format or
 * the EINVAL cases misbehave.
 */
#include <tlpool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Left out on purpose; reachable at exit for LeakSanitizer. */
void *left_out[2];

static int pool_line(tlp_pool *p, void *arg)
{
    int *i = arg;
    tlp_stats s;
    tlp_stats_get(p, &s);
#define F(f) fprintf(stderr, "pool %d " #f " %llu\n", *i, (unsigned long long)s.f);
    F(gets) F(puts) F(hits_thread) F(hits_shared) F(hits_victim) F(made) F(made_on_get)
    F(new_failed) F(released) F(dropped_reset) F(released_by_drain) F(released_by_cap)
    F(drains) F(idle) F(idle_thread) F(idle_shared) F(idle_victim) F(out) F(threads)
#undef F
    (*i)++;
    return 0;
}

static int buf_line(tlp_bufpool *bp, void *arg)
{
    int *i = arg;
    tlp_bufpool_stats s;
    tlp_bufpool_stats_get(bp, &s);
    fprintf(stderr, "bufpool %d idle_bytes %llu\n", *i, (unsigned long long)s.idle_bytes);
    fprintf(stderr, "bufpool %d large_allocs %llu\n", *i, (unsigned long long)s.large_allocs);
    for (unsigned c = 0; c < s.nclasses; c++) {
        const tlp_bufclass_stats *k = &s.classes[c];
#define F(f) fprintf(stderr, "class %d %u " #f " %llu\n", *i, c, (unsigned long long)k->f);
        F(size) F(gets) F(hits_thread) F(hits_shared) F(hits_victim) F(made) F(released) F(idle)
        F(idle_bytes) F(out)
#undef F
    }
    (*i)++;
    return 0;
}

static int stop_at_second(tlp_pool *p, void *arg)
{
    (void)p;
    return ++*(int *)arg == 2 ? 42 : 0;
}

int main(void)
{
    tlp_pool *a, *b;
    tlp_config ca = { .obj_size = 32, .name = "requests" };
    tlp_config cb = { .obj_size = 100, .name = "we\"ird\\na\nme\t" };
    if (tlp_pool_create(&ca, &a) || tlp_pool_create(&cb, &b))
        return 2;
    void *v[300];
    for (int i = 0; i < 300; i++)
        v[i] = tlp_get(a);
    for (int i = 0; i < 300; i++)
        tlp_put(a, v[i]);
    tlp_drain(a);
    for (int i = 0; i < 10; i++)
        v[i] = tlp_get(a);
    for (int i = 0; i < 5; i++)
        tlp_put(a, v[i]); /* five stay out */
    left_out[0] = tlp_get(b);

    tlp_bufpool *bp;
    tlp_bufpool_config bc = { .max_class = 4096, .name = "bufs" };
    if (tlp_bufpool_create(&bc, &bp))
        return 2;
    static void *bufs[50];
    for (int i = 0; i < 50; i++)
        bufs[i] = tlp_bufpool_alloc(bp, (size_t)(i * 37 % 5000));
    for (int i = 0; i < 40; i++)
        tlp_bufpool_free(bp, bufs[i]);
    left_out[1] = tlp_buf_alloc(64);

    int failed = 0;
    if (tlp_stats_print(stdout, "xml") != EINVAL || tlp_stats_print(NULL, "json") != EINVAL ||
        tlp_stats_print(stdout, NULL) != EINVAL) {
        fprintf(stderr, "stats_print_probe: EINVAL expected\n");
        failed = 1;
    }
    FILE *t = tmpfile();
    if (tlp_stats_print(t, "text") != 0)
        failed = 1;
    char text[16384];
    rewind(t);
    text[fread(text, 1, sizeof text - 1, t)] = '\0';
    fclose(t);
    if (!strstr(text, "requests") || !strstr(text, "buffer pool 'bufs'") ||
        !strstr(text, "buffer pool 'tlp_buf'")) {
        fprintf(stderr, "stats_print_probe: text format lacks a pool:\n%s", text);
        failed = 1;
    }
    int seen = 0;
    if (tlp_pool_foreach(stop_at_second, &seen) != 42 || seen != 2) {
        fprintf(stderr, "stats_print_probe: tlp_pool_foreach did not stop at 42\n");
        failed = 1;
    }

    if (tlp_stats_print(stdout, "json") != 0)
        failed = 1;
    int i = 0;
    tlp_pool_foreach(pool_line, &i);
    i = 0;
    tlp_bufpool_foreach(buf_line, &i);
    return failed;
}
