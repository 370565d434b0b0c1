/* SPDX-License-Identifier: MIT */
/*
 * Issue 3's memory figure: two threads each take and return 100k 4-KiB
 * objects, then stay alive but idle (blocked). The pool has drain_ms set, so
 * the background drainer alone must give the memory back: we print the
 * process RSS before, at peak, and after two drain periods (after
 * malloc_trim(0), so glibc returns freed pages to the system).
 *   scripts/memory_figure.sh [drain_ms]
 */
#include <tlpool.h>

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 100000
#define SIZE 4096

static tlp_pool *pool;
static pthread_barrier_t done, release;

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0)
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

static void *worker(void *arg)
{
    void **objs = malloc(N * sizeof *objs);
    for (int i = 0; i < N; i++) {
        objs[i] = tlp_get(pool);
        memset(objs[i], 0xab, SIZE); /* touch: make it resident */
    }
    for (int i = 0; i < N; i++)
        tlp_put(pool, objs[i]);
    free(objs);
    pthread_barrier_wait(&done);
    pthread_barrier_wait(&release); /* idle, alive, cache untouched */
    return arg;
}

int main(int argc, char **argv)
{
    unsigned drain_ms = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
    tlp_config cfg = { .obj_size = SIZE, .drain_ms = drain_ms, .name = "memfigure" };
    if (tlp_pool_create(&cfg, &pool) != 0)
        return 1;
    pthread_barrier_init(&done, NULL, 3);
    pthread_barrier_init(&release, NULL, 3);
    long before = status_kb("VmRSS:");
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    pthread_barrier_wait(&done);
    long after_burst = status_kb("VmRSS:");
    tlp_stats s0;
    tlp_stats_get(pool, &s0);

    /* Two drain periods, plus one for the phase of the timer. */
    usleep(3 * drain_ms * 1000);
    malloc_trim(0);
    long after = status_kb("VmRSS:");
    long peak = status_kb("VmHWM:");
    tlp_stats s1;
    tlp_stats_get(pool, &s1);

    printf("drain_ms=%u objects=2x%d size=%d\n", drain_ms, N, SIZE);
    printf("RSS before      %8ld KiB\n", before);
    printf("RSS peak        %8ld KiB\n", peak);
    printf("RSS after burst %8ld KiB (made %llu, idle %llu, already released by drains %llu)\n",
           after_burst, (unsigned long long)s0.made, (unsigned long long)s0.idle,
           (unsigned long long)s0.released_by_drain);
    printf("RSS after 2 drain periods + malloc_trim %8ld KiB (idle %llu, drains %llu, released by drains %llu)\n",
           after, (unsigned long long)s1.idle, (unsigned long long)s1.drains,
           (unsigned long long)s1.released_by_drain);
    pthread_barrier_wait(&release);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    tlp_pool_destroy(pool);
    return s1.idle == 0 ? 0 : 1;
}
