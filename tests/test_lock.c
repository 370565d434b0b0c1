/* SPDX-License-Identifier: MIT */
/*
 * The shards' futex lock (src/lock.h, src/lock.c; internal, so compiled in
 * here): mutual exclusion with holders that sleep while holding it, so
 * that waiters go past the spin into the futex sleep and must be woken.
 * A plain counter incremented under the lock must come out exact (and TSan
 * sees the lock's acquire/release as the only order between the threads).
 */
#include "../src/lock.c"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { THREADS = 4, ROUNDS = 20000 };

static tlp__lock lock;
static long counter;    /* written only under lock */
static long in_section; /* ditto: must be 0 on entry */
static long overlaps;

static void nap(long ns)
{
    struct timespec t = { 0, ns };
    nanosleep(&t, NULL);
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        tlp__lock_take(&lock);
        if (in_section++ != 0)
            overlaps++;
        counter++;
        if (i % 1000 == 0)
            nap(200000); /* 0.2 ms held: the others sleep in the kernel */
        in_section--;
        tlp__lock_drop(&lock);
    }
    return NULL;
}

int main(void)
{
    tlp__lock_init(&lock);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0)
            return 2;
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    if (counter != (long)THREADS * ROUNDS || overlaps != 0) {
        fprintf(stderr, "test_lock: counter %ld (want %ld), overlaps %ld\n", counter,
                (long)THREADS * ROUNDS, overlaps);
        return 1;
    }
    if (atomic_load(&lock.state) != 0) {
        fprintf(stderr, "test_lock: lock left held (%u)\n", atomic_load(&lock.state));
        return 1;
    }
    printf("test_lock: %ld increments under the lock, no overlap\n", counter);
    return 0;
}
