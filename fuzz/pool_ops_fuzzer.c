/* SPDX-License-Identifier: MIT */
/*
 * pool_ops_fuzzer: the input is a program of operations over three pools,
 * run against the reference model in pool_model.c, which is checked (and
 * tlp_stats_get compared with it) after every operation.
 *
 * Input: three bytes choose each handle's configuration (variants[] in
 * pool_model.c), then each operation is an opcode byte, a handle byte and
 * its operand bytes (the switch in LLVMFuzzerTestOneInput; gen_corpus.py
 * names the opcodes). Bytes past the end read as 0.
 *
 * The pools of each (handle, variant) pair live across inputs: creating a
 * pool per input would make the fuzzer measure tlp_pool_create, and checked
 * builds keep every destroyed pool as a tombstone. Each input ends by putting
 * everything back and releasing every idle object, so the next input starts
 * from empty pools; counters carry over, and the model carries them too.
 */
#include "pool_model.h"

#include "fuzz_util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NHANDLES 3
#define MAX_OPS 512
#define MAX_OUT 64      /* objects the main thread holds per pool */
#define MAX_RECREATE 4  /* per input: each destroy leaves a tombstone in checked builds */
#define MAX_THREADS 8   /* helper threads per input (each costs a thread start) */
#define MAX_RACES 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mpool pools[NHANDLES][NVARIANTS];
static mpool *active[NHANDLES];
static unsigned pools_made;

static mpool *pool_for(unsigned h, unsigned v)
{
    mpool *mp = &pools[h][v];
    if (!mp->pool)
        model_create(mp, &variants[v], ++pools_made);
    return mp;
}

/* The k-th object the main thread holds (k taken modulo their number). */
static mobj *pick_out(mpool *mp, unsigned k)
{
    size_t n = model_count(mp, ST_OUT, -1);
    if (!n)
        return NULL;
    k %= (unsigned)n;
    for (size_t i = 0; i < mp->nobjs; i++)
        if (mp->objs[i].state == ST_OUT && k-- == 0)
            return &mp->objs[i];
    return NULL;
}

static bool full(mpool *mp)
{
    return model_count(mp, ST_OUT, -1) >= MAX_OUT;
}

/* ---- main-thread operations --------------------------------------------- */

static void op_get(mpool *mp, bool noinline)
{
    if (full(mp))
        return;
    model_phase(PH_GET, mp);
    errno = 0;
    void *p = noinline ? tlp_get_noinline(mp->pool) : tlp_get(mp->pool);
    int err = errno;
    model_phase(PH_NONE, NULL);
    model_got(mp, p, err);
}

static void put_obj(mpool *mp, mobj *m, bool refuse, bool noinline)
{
    void *p = m->p;
    model_put_begin(mp, m, refuse);
    if (noinline)
        tlp_put_noinline(mp->pool, p);
    else
        tlp_put(mp->pool, p);
    model_put_end(mp, p);
}

static void op_put(mpool *mp, unsigned k, bool refuse, bool noinline)
{
    mobj *m = pick_out(mp, k);
    if (m)
        put_obj(mp, m, refuse, noinline);
}

/* Puts back everything the main thread holds, in one of two orders. */
static void op_put_all(mpool *mp, bool order)
{
    mobj *m;
    while ((m = pick_out(mp, order ? 0 : (unsigned)-1)) != NULL)
        put_obj(mp, m, false, false);
}

static void op_drain(mpool *mp)
{
    model_phase(PH_DRAIN, mp);
    tlp_drain(mp->pool);
    model_phase(PH_NONE, NULL);
    model_drained(mp);
}

static void op_release(mpool *mp)
{
    model_phase(PH_RELEASE, mp);
    tlp_release_idle(mp->pool);
    model_phase(PH_NONE, NULL);
    model_released(mp);
}

static void op_release_all(void)
{
    model_phase(PH_RELEASE, NULL);
    tlp_release_idle_all();
    model_phase(PH_NONE, NULL);
    for (unsigned h = 0; h < NHANDLES; h++)
        for (unsigned v = 0; v < NVARIANTS; v++)
            if (pools[h][v].pool)
                model_released(&pools[h][v]);
}

/*
 * TLP_SCOPED: takes an object and leaves the scope by return, by break out
 * of a loop, by goto, or hands ownership out with TLP_TAKE; optionally with
 * an inner scope on a second pool that ends first. Returns the object the
 * cleanup is putting back (the caller finishes the model's put), or NULL.
 */
static void *scoped(mpool *mp, uint8_t mode, mpool *mp2)
{
    void *pending = NULL;
    if (full(mp))
        return NULL;
    model_phase(PH_GET, mp);
    errno = 0;
    TLP_SCOPED(unsigned char *, obj, mp->pool);
    int err = errno;
    model_phase(PH_NONE, NULL);
    model_got(mp, obj, err);
    if (!obj)
        return NULL;
    if ((mode & 4) && mp2 != mp && !full(mp2)) {
        void *inner_put = NULL;
        {
            model_phase(PH_GET, mp2);
            errno = 0;
            TLP_SCOPED(unsigned char *, inner, mp2->pool);
            int err2 = errno;
            model_phase(PH_NONE, NULL);
            model_got(mp2, inner, err2);
            if (inner) {
                model_put_begin(mp2, model_find(mp2, inner), false);
                inner_put = inner;
            }
        } /* inner's cleanup runs here */
        if (inner_put)
            model_put_end(mp2, inner_put);
    }
    bool refuse = mode & 8;
    switch (mode & 3) {
    case 0: /* early return */
        model_put_begin(mp, model_find(mp, obj), refuse);
        return obj;
    case 1: /* ownership leaves the scope: nothing is put */
        (void)TLP_TAKE(obj);
        return NULL;
    case 2: /* break out of a loop, then the end of the block */
        for (unsigned i = 0;; i++) {
            if (i == 2) {
                model_put_begin(mp, model_find(mp, obj), refuse);
                pending = obj;
                break;
            }
        }
        break;
    default: /* goto past the rest of the scope */
        model_put_begin(mp, model_find(mp, obj), refuse);
        pending = obj;
        goto out;
    }
    pending = pending ? pending : NULL;
out:
    return pending;
}

static void op_scoped(mpool *mp, uint8_t mode, mpool *mp2)
{
    void *put = scoped(mp, mode, mp2);
    if (put)
        model_put_end(mp, put);
}

/* Destroys the handle's pool (after putting everything back) and creates a
 * pool of variant v for it. */
static void op_recreate(unsigned h, unsigned v)
{
    mpool *mp = active[h];
    op_put_all(mp, true);
    model_destroy(mp);
    active[h] = pool_for(h, v);
}

/* ---- helper threads ----------------------------------------------------- */

typedef struct job {
    mpool *mp;
    void *objs[4];
    bool refuse[4];
    unsigned n;
    bool race;          /* alongside drains of the main thread: ages unknown */
    bool do_get;        /* take one object and hand it to the main thread */
    pthread_barrier_t *park; /* wait here (twice) after the puts */
    unsigned cycles;    /* race: get/put pairs */
    void *got;
    int err;
    void *last_kept;    /* the last object this thread put and the pool kept */
} job;

/* Puts p from the helper thread, updating the table under its lock. */
static void thread_put(job *j, void *p, bool refuse)
{
    mpool *mp = j->mp;
    pthread_mutex_lock(&mp->lock);
    mobj *m = model_find(mp, p);
    FZ_CHECK(m && m->state == ST_HELD, "harness: helper put of %p", p);
    m->refuse = refuse;
    m->state = ST_PUTTING;
    pthread_mutex_unlock(&mp->lock);

    tlp_put(mp->pool, p);

    pthread_mutex_lock(&mp->lock);
    mp->puts++;
    m = model_find(mp, p);
    if (mp->v->reset && refuse) {
        if (mp->v->hooks) {
            FZ_CHECK(!m, "pool %s: object %p refused on the helper thread was not released",
                     mp->name, p);
        } else {
            FZ_CHECK(m, "harness: refused object lost");
            model_remove(mp, m);
            mp->released++;
            mp->dropped_reset++;
        }
    } else if (m) {
        FZ_CHECK(m->state == ST_PUTTING, "harness: helper put state");
        m->state = ST_IDLE;
        m->age = 0;
        m->refuse = false;
        j->last_kept = p;
    } else {
        /* Gone already: only a concurrent drain pair can do that. */
        FZ_CHECK(j->race, "pool %s: object %p was released by its own put on the helper thread",
                 mp->name, p);
    }
    pthread_mutex_unlock(&mp->lock);
}

/* Race only: a get/put pair; the object must not be in anyone's hands. */
static void thread_cycle(job *j)
{
    mpool *mp = j->mp;
    void *p = tlp_get(mp->pool);
    if (!p)
        return; /* obj_new told to fail: counted from the stats afterwards */
    pthread_mutex_lock(&mp->lock);
    mobj *m = model_find(mp, p);
    if (mp->v->hooks)
        FZ_CHECK(m && (m->state == ST_FRESH || m->state == ST_IDLE),
                 "pool %s: helper tlp_get returned %p (%s)", mp->name, p,
                 m ? "not idle" : "unknown");
    else if (!m)
        m = model_add(mp, p, ST_IDLE);
    else
        FZ_CHECK(m->state == ST_IDLE, "pool %s: helper tlp_get returned %p, which is not idle",
                 mp->name, p);
    m->state = ST_HELD;
    mp->gets++;
    pthread_mutex_unlock(&mp->lock);
    *(volatile unsigned char *)p = 0x5a; /* it is ours: touch it */
    thread_put(j, p, false);
}

static void *thread_main(void *arg)
{
    job *j = arg;
    for (unsigned i = 0; i < j->n; i++)
        thread_put(j, j->objs[i], j->refuse[i]);
    if (j->park) {
        pthread_barrier_wait(j->park); /* the main thread drains now */
        pthread_barrier_wait(j->park);
    }
    for (unsigned i = 0; i < j->cycles; i++)
        thread_cycle(j);
    if (j->do_get) {
        errno = 0;
        j->got = tlp_get(j->mp->pool);
        j->err = errno;
    }
    return NULL; /* thread exit flushes this thread's cache to the shared tier */
}

/* Hands up to four held objects (chosen from byte b) to the job. */
static void hand_over(job *j, unsigned count, uint8_t b)
{
    mpool *mp = j->mp;
    for (unsigned i = 0; i < count; i++) {
        mobj *m = pick_out(mp, b + i);
        if (!m)
            break;
        m->state = ST_HELD;
        j->refuse[j->n] = (b >> (4 + i)) & 1;
        j->objs[j->n++] = m->p;
    }
}

static void run_thread(job *j)
{
    pthread_t t;
    int err = pthread_create(&t, NULL, thread_main, j);
    FZ_CHECK(err == 0, "pthread_create: %d", err);
    if (j->race) {
        /* Drain while the helper runs (its cache is reached through the
         * handshake), and read the stats (approximate, not checked). */
        for (unsigned d = 0; d < j->cycles / 4 + 1; d++) {
            tlp_drain(j->mp->pool);
            tlp_stats s;
            tlp_stats_get(j->mp->pool, &s);
            sched_yield();
        }
    }
    pthread_join(t, NULL);
}

/* The object the helper thread took, now the main thread's. */
static void thread_got(mpool *mp, job *j)
{
    if (!j->got) {
        mp->new_failed++;
        FZ_CHECK(j->err == ENOMEM, "pool %s: helper tlp_get returned NULL, errno %d", mp->name, j->err);
        FZ_CHECK(mp->v->hooks && mp->hook_new_failed == mp->new_failed,
                 "pool %s: helper tlp_get returned NULL but obj_new did not fail", mp->name);
        FZ_CHECK(model_count(mp, ST_IDLE, 1) == 0,
                 "pool %s: helper tlp_get failed while the victim generation had objects", mp->name);
        return;
    }
    FZ_CHECK(!j->last_kept || j->got == j->last_kept,
             "pool %s: helper tlp_get returned %p, not %p which it had just put (LIFO cache)",
             mp->name, j->got, j->last_kept);
    mobj *m = model_find(mp, j->got);
    bool fresh = mp->v->hooks ? (m && m->state == ST_FRESH) : !m;
    if (mp->v->hooks)
        FZ_CHECK(m, "pool %s: helper tlp_get returned %p, which obj_new never made", mp->name, j->got);
    if (fresh) {
        if (!m) {
            m = model_add(mp, j->got, ST_FRESH);
            mp->made++;
        }
        FZ_CHECK(model_count(mp, ST_IDLE, 1) == 0,
                 "pool %s: helper tlp_get made an object while the victim generation had %zu",
                 mp->name, model_count(mp, ST_IDLE, 1));
    } else {
        FZ_CHECK(m->state == ST_IDLE, "pool %s: helper tlp_get returned %p, which is not idle",
                 mp->name, j->got);
        if (m->age == 1)
            mp->hits_victim++;
        model_check_bytes(mp, m);
    }
    m->state = ST_OUT;
    FZ_CHECK(model_count(mp, ST_FRESH, -1) == 0,
             "pool %s: obj_new made an object that the helper's tlp_get did not return", mp->name);
    mp->gets++;
    model_fill(mp, m);
}

static void op_thread(mpool *mp, uint8_t b, uint8_t pick)
{
    job j = { .mp = mp, .do_get = (b & 4) != 0 };
    hand_over(&j, 1 + (b & 3), pick);
    model_phase(PH_THREAD, mp);
    run_thread(&j);
    model_phase(PH_NONE, NULL);
    if (j.do_get)
        thread_got(mp, &j);
}

/*
 * A drain while a helper thread that put objects is parked, alive but idle:
 * the drain must reach that thread's cache (the objects become the victim
 * generation like any other), and the puts it made must still be counted
 * after it exits with an empty cache.
 */
static void op_parked(mpool *mp, uint8_t b, uint8_t pick)
{
    pthread_barrier_t park;
    pthread_barrier_init(&park, NULL, 2);
    job j = { .mp = mp, .park = &park };
    hand_over(&j, 1 + (b & 3), pick);
    model_phase(PH_THREAD, mp);
    pthread_t t;
    int err = pthread_create(&t, NULL, thread_main, &j);
    FZ_CHECK(err == 0, "pthread_create: %d", err);
    pthread_barrier_wait(&park);
    model_phase(PH_DRAIN, mp);
    tlp_drain(mp->pool);
    model_drained(mp);
    model_phase(PH_THREAD, mp);
    pthread_barrier_wait(&park);
    pthread_join(t, NULL);
    model_phase(PH_NONE, NULL);
    pthread_barrier_destroy(&park);
}

/*
 * A helper thread puts and cycles objects while the main thread drains the
 * pool. Where each object ends up is a race, so the model only requires
 * that nothing in anyone's hands is released; then a tlp_release_idle must
 * release every idle object, and the counters are re-read from the stats.
 */
static void op_race(mpool *mp, uint8_t b, uint8_t pick)
{
    job j = { .mp = mp, .race = true, .cycles = (b >> 2) & 15 };
    hand_over(&j, b & 3, pick);
    model_phase(PH_RACE, mp);
    run_thread(&j);
    model_phase(PH_RELEASE, mp);
    tlp_release_idle(mp->pool);
    model_phase(PH_NONE, NULL);

    size_t out = model_count(mp, ST_OUT, -1);
    if (mp->v->hooks) {
        FZ_CHECK(mp->nobjs == out, "pool %s: %zu objects neither out nor released after a race",
                 mp->name, mp->nobjs - out);
    } else {
        for (size_t i = mp->nobjs; i-- > 0;)
            if (mp->objs[i].state != ST_OUT)
                model_remove(mp, &mp->objs[i]);
    }
    tlp_stats s;
    tlp_stats_get(mp->pool, &s);
    if (!mp->v->hooks) {
        /* Objects the helper made are unseen: take the count, check the rest. */
        FZ_CHECK(s.made >= mp->made, "pool %s: stats.made went down", mp->name);
        mp->made = s.made;
        mp->released = s.made - out;
    }
#define ADOPT(field, model)                                                             \
    do {                                                                                \
        FZ_CHECK(s.field >= (model), "pool %s: stats." #field " went down", mp->name);  \
        (model) = s.field;                                                              \
    } while (0)
    ADOPT(released_by_drain, mp->by_drain);
    ADOPT(released_by_cap, mp->by_cap);
    ADOPT(dropped_reset, mp->dropped_reset);
    ADOPT(hits_victim, mp->hits_victim);
#undef ADOPT
    mp->new_failed = mp->hook_new_failed;
    mp->drains += j.cycles / 4 + 1;
    mp->last_put = NULL;
}

/* fork(): the child (only this thread) must be able to read the pools and
 * make, use and destroy new ones whatever the parent's other threads were
 * doing (parked helper threads' records and caches come along). Bounded by alarm(); the parent checks the child's status. */
#define MAX_FORKS 2
static void op_fork(void)
{
    pid_t pid = fork();
    FZ_CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        alarm(10);
        /* The model's pools have hooks that check the model's phase: only
         * read them here; a new pool is made, used and destroyed. */
        for (unsigned h = 0; h < NHANDLES; h++) {
            tlp_stats st;
            tlp_stats_get(active[h]->pool, &st);
        }
        tlp_config c = { .obj_size = 16, .name = "in-child" };
        tlp_pool *p = NULL;
        if (tlp_pool_create(&c, &p) != 0)
            _exit(3);
        tlp_put(p, tlp_get(p));
        tlp_pool_destroy(p);
        _exit(0);
    }
    int status = 0;
    pid_t got;
    do /* libFuzzer's SIGALRM (its -timeout clock) may interrupt the wait */
        got = waitpid(pid, &status, 0);
    while (got < 0 && errno == EINTR);
    FZ_CHECK(got == pid, "waitpid failed");
    FZ_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
             "fork child failed (status 0x%x): hung, crashed or could not use the pools", status);
}

/* ---- the program -------------------------------------------------------- */

/* Every input ends here: nothing out, nothing idle, every object released. */
static void finish(void)
{
    for (unsigned h = 0; h < NHANDLES; h++) {
        mpool *mp = active[h];
        op_put_all(mp, false);
        op_release(mp);
        FZ_CHECK(mp->nobjs == 0 && mp->made == mp->released,
                 "pool %s: %llu made, %llu released at the end", mp->name,
                 (unsigned long long)mp->made, (unsigned long long)mp->released);
        model_check_stats(mp);
        mp->fail_next_new = false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input in = { data, size };
    for (unsigned h = 0; h < NHANDLES; h++)
        active[h] = pool_for(h, fz_u8(&in) % NVARIANTS);
    unsigned recreates = 0, threads = 0, races = 0, forks = 0;

    for (unsigned n = 0; n < MAX_OPS && fz_more(&in); n++) {
        uint8_t op = fz_u8(&in);
        unsigned h = fz_u8(&in) % NHANDLES;
        mpool *mp = active[h];
        switch (op % 18) {
        case 0:
            op_get(mp, false);
            break;
        case 1:
            op_put(mp, fz_u8(&in), false, false);
            break;
        case 2: /* the reset hook (if any) refuses it */
            op_put(mp, fz_u8(&in), true, false);
            break;
        case 3:
            op_drain(mp);
            break;
        case 4:
            op_release(mp);
            break;
        case 5:
            op_release_all();
            break;
        case 6: {
            uint8_t mode = fz_u8(&in);
            op_scoped(mp, mode, active[(mode >> 4) % NHANDLES]);
            break;
        }
        case 7: {
            uint8_t v = fz_u8(&in);
            if (recreates++ < MAX_RECREATE)
                op_recreate(h, v % NVARIANTS);
            break;
        }
        case 8: {
            uint8_t b = fz_u8(&in), pick = fz_u8(&in);
            if (threads++ < MAX_THREADS)
                op_thread(mp, b, pick);
            break;
        }
        case 9:
            mp->fail_next_new = mp->v->hooks;
            break;
        case 10: {
            uint8_t b = fz_u8(&in), pick = fz_u8(&in);
            if (races++ < MAX_RACES && threads++ < MAX_THREADS)
                op_race(mp, b, pick);
            break;
        }
        case 11: {
            unsigned k = 1 + fz_u8(&in) % 16;
            for (unsigned i = 0; i < k; i++)
                op_get(mp, false);
            break;
        }
        case 12:
            op_put_all(mp, fz_u8(&in) & 1);
            break;
        case 13:
            op_get(mp, true);
            break;
        case 14:
            op_put(mp, fz_u8(&in), false, true);
            break;
        case 15: /* NULL is a no-op */
            tlp_put(mp->pool, NULL);
            tlp_put_noinline(mp->pool, NULL);
            break;
        case 16:
            if (forks++ < MAX_FORKS)
                op_fork();
            break;
        default: {
            uint8_t b = fz_u8(&in), pick = fz_u8(&in);
            if (threads++ < MAX_THREADS)
                op_parked(mp, b, pick);
            break;
        }
        }
        for (unsigned k = 0; k < NHANDLES; k++)
            model_check_stats(active[k]);
    }
    finish();
    return 0;
}
