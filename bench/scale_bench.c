/* SPDX-License-Identifier: MIT */
/*
 * scale_bench [threads] [pools]: what thousands of threads and many pools
 * cost (the README's "many threads" figures). With `threads` threads on
 * 64 KiB stacks, each blocked after one get+put of a 64-byte object:
 *   - tlpool's resident bytes per thread: the RSS growth when the same
 *     blocked threads each do their one get+put, per thread (the object,
 *     its magazine and the bookkeeping);
 *   - the time of one tlp_drain of the pool all of them hold, and of a pool
 *     that 2 of them hold;
 * then the largest number of pools alive at once (created until `pools`),
 * and thread start + first get + exit against start + exit without tlpool.
 * Times are medians of 5 (drains) or of the whole loop (threads); run it
 * on a quiet machine and compare within one run.
 */
#define _GNU_SOURCE
#include <tlpool.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_bytes(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    if (f)
        fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long started, used;
static int phase; /* 0: wait; 1: use the pools, then wait; 2: exit */
static tlp_pool *pool_all, *pool_two;

/* Blocks first, so that the same threads (same stacks) are measured before
 * and after their one get+put: the difference is tlpool's alone. */
static void *worker(void *arg)
{
    long i = (long)arg;
    pthread_mutex_lock(&mu);
    started++;
    pthread_cond_broadcast(&cv);
    while (phase < 1)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    tlp_put(pool_all, tlp_get(pool_all));
    if (i < 2)
        tlp_put(pool_two, tlp_get(pool_two));
    pthread_mutex_lock(&mu);
    used++;
    pthread_cond_broadcast(&cv);
    while (phase < 2)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void wait_count(long *what, long n)
{
    pthread_mutex_lock(&mu);
    while (*what < n)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void set_phase(int p)
{
    pthread_mutex_lock(&mu);
    phase = p;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Starts n workers, blocked; returns the RSS growth they caused. */
static long start_workers(pthread_t *t, long n)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    long before = rss_bytes();
    for (long i = 0; i < n; i++)
        if (pthread_create(&t[i], &a, worker, (void *)i) != 0) {
            fprintf(stderr, "scale_bench: pthread_create %ld failed\n", i);
            exit(1);
        }
    wait_count(&started, n);
    pthread_attr_destroy(&a);
    return rss_bytes() - before;
}

static void stop_workers(pthread_t *t, long n)
{
    set_phase(2);
    for (long i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of 5 drains, each after the holders refilled nothing: the first
 * drain takes the magazines; later ones visit the same holders. The first
 * is reported separately. */
static void time_drains(tlp_pool *p, double *first, double *median)
{
    double d[5];
    for (int k = 0; k < 5; k++) {
        double t0 = now_s();
        tlp_drain(p);
        d[k] = now_s() - t0;
    }
    *first = d[0];
    qsort(d, 5, sizeof d[0], cmp_d);
    *median = d[2];
}

static void *start_exit(void *arg)
{
    if (arg)
        tlp_put((tlp_pool *)arg, tlp_get((tlp_pool *)arg));
    return NULL;
}

static double thread_cost(tlp_pool *p, long n)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        pthread_t t;
        pthread_create(&t, &a, start_exit, p);
        pthread_join(t, NULL);
    }
    pthread_attr_destroy(&a);
    return (now_s() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    long max_pools = argc > 2 ? atol(argv[2]) : 100000;
    pthread_t *t = calloc((size_t)n, sizeof *t);
    tlp_config c = { 0 };
    c.obj_size = 64;

    /* The same threads, blocked, before and after their get+put. */
    c.name = "all";
    tlp_pool_create(&c, &pool_all);
    c.name = "two";
    tlp_pool_create(&c, &pool_two);
    long base = start_workers(t, n);
    long before_use = rss_bytes();
    set_phase(1);
    wait_count(&used, n);
    long with = rss_bytes() - before_use;
    double all_first, all_med, two_first, two_med;
    time_drains(pool_all, &all_first, &all_med);
    time_drains(pool_two, &two_first, &two_med);
    stop_workers(t, n);
    printf("threads %ld (64 KiB stacks), one 64-byte get+put each\n", n);
    printf("rss_per_thread_without_tlpool_bytes %.0f\n", (double)base / (double)n);
    printf("tlpool_bytes_per_thread %.0f\n", (double)with / (double)n);
    printf("drain_all_holders_first_us %.1f\n", all_first * 1e6);
    printf("drain_all_holders_per_holder_us %.3f\n", all_first * 1e6 / (double)n);
    printf("drain_all_holders_after_us %.1f\n", all_med * 1e6);
    printf("drain_two_holders_first_us %.1f\n", two_first * 1e6);
    printf("drain_two_holders_after_us %.1f\n", two_med * 1e6);
    tlp_pool_destroy(pool_two);

    /* Thread start + first get + exit, against start + exit alone. */
    long m = n < 2000 ? n : 2000;
    double plain = thread_cost(NULL, m), with_get = thread_cost(pool_all, m);
    printf("thread_start_exit_us %.2f\n", plain * 1e6);
    printf("thread_start_get_exit_us %.2f\n", with_get * 1e6);
    tlp_pool_destroy(pool_all);
    pool_all = NULL;

    /* Pools alive at once. */
    tlp_pool **pools = calloc((size_t)max_pools, sizeof *pools);
    long alive = 0;
    c.name = NULL;
    c.shards = 1;
    double t0 = now_s();
    while (alive < max_pools && tlp_pool_create(&c, &pools[alive]) == 0)
        alive++;
    double made = now_s() - t0;
    /* Each works: one get+put on every one of them. */
    for (long i = 0; i < alive; i++)
        tlp_put(pools[i], tlp_get(pools[i]));
    printf("pools_alive %ld%s (create %.2f us each)\n", alive,
           alive == max_pools ? " (stopped there)" : "", made * 1e6 / (double)(alive ? alive : 1));
    for (long i = 0; i < alive; i++)
        tlp_pool_destroy(pools[i]);
    free(pools);
    free(t);
    return 0;
}
