/* SPDX-License-Identifier: MIT */
/*
 * Leak tracking: which objects are out of a pool, since when, and who took
 * them (Netty's ResourceLeakDetector, for C: an object "leaks" when it is
 * still out at destroy, at exit, or older than an age the caller picks).
 *
 * Per pool, 16 lock stripes, each an open-addressing table keyed by the
 * object pointer (linear probing, backward-shift deletion: no tombstones).
 * A record holds the time taken (CLOCK_MONOTONIC_COARSE: the kernel tick's
 * resolution, a few ns to read), the call site (the return address of the
 * user's tlp_get / tlp_buf_alloc) and, at the TLP_LEAK_TRACE level, a short
 * backtrace. Sampled pools record one object in N, chosen at random per
 * thread (a counter would alias with loops of period N). A put looks at its
 * stripe's record count first: no lock while the stripe holds nothing.
 *
 * Sites are symbolized when printed (symbolize.c: dladdr, and libdw for
 * file:line and unexported functions where the system has it).
 */
#include "leak.h"
#include "symbolize.h"

#include <execinfo.h>
#include <link.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

/* The hot helpers of the tracked paths, inlined at -O2 too (the library's
 * users build with -O2; the instruction counts in the README are -O3). */
#define ALWAYS_INLINE inline __attribute__((always_inline))

#define STRIPES 16u
#define BT_CAPTURE 24   /* frames captured, ours included */
#define BT_KEEP 8       /* frames kept from the user's site on */

typedef struct rec {
    void *obj;      /* NULL: empty slot */
    void *site;
    uint64_t t_ns;
    void **bt;      /* TLP_LEAK_TRACE: bt[0] = frame count, then the frames */
} rec;

typedef struct stripe {
    _Atomic bool lock;   /* a spinlock: held for a few dozen instructions */
    _Atomic size_t len;  /* written under lock; read without it by puts */
    size_t cap;          /* power of two (1: no_records) */
    size_t mask;         /* cap - 1 */
    size_t limit;        /* the most records before the table grows: cap / 2 */
    rec *tab;
} __attribute__((aligned(TLP_CACHELINE))) stripe;

struct tlp__leaks {
    struct tlp__leaks *next, *prev;  /* every table, for fork (tables_lock) */
    unsigned sample;     /* 1: every object */
    bool trace;
    bool window;         /* sampled, no reset hook: inline gets (see lean paths) */
    /* Sites whose record takes record()'s full path (a backtrace): inside
     * a shared libtlpool (lib_lo, lib_len), or every one when tracing. One
     * compare in record_quick. */
    uintptr_t full_lo, full_len;
    _Atomic uint64_t lost;  /* records dropped for lack of memory */
    _Atomic unsigned live;  /* bit i: stripe i holds records (changed with len
                             * under its lock, at 0 <-> 1) */
    stripe s[STRIPES];
};

/* ---- where the library's own code is (shared library only) -------------- */

static uintptr_t lib_lo, lib_len;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static int find_segment(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t me = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me - lo < ph->p_memsz) {
            /* Only a shared libtlpool: linked statically, our code and the
             * user's share one object and cannot be told apart this way. */
            if (info->dlpi_name && strstr(info->dlpi_name, "libtlpool")) {
                lib_lo = lo;
                lib_len = ph->p_memsz;
            }
            return 1;
        }
    }
    return 0;
}

/* fork(): no stripe may be held (or half-updated) by a thread that does not
 * exist in the child, so the forking thread holds them all across fork. */
static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tlp__leaks *tables;
static void lock_all(void);
static void unlock_all(void);

static uint64_t ticks_stale_init(void);
static uint64_t tick_stale;

static void lib_init(void)
{
    tick_stale = ticks_stale_init();
    dl_iterate_phdr(find_segment, (void *)(uintptr_t)&tlp__leak_took);
    /* backtrace() loads libgcc_s on first use: do it now, not in a get. */
    void *bt[2];
    (void)backtrace(bt, 2);
}

static bool in_lib(const void *p)
{
    return (uintptr_t)p - lib_lo < lib_len;
}

/* ---- table -------------------------------------------------------------- */

/* Fibonacci hashing (one multiply): the top 4 bits pick the stripe, the
 * bits from 28 up the home slot in it (pointers differ in their middle
 * bits, which the multiply carries up). */
static ALWAYS_INLINE uint64_t mix(const void *p)
{
    return (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
}

static ALWAYS_INLINE size_t home_of(uint64_t h, size_t mask)
{
    return (size_t)(h >> 28) & mask;
}

/* A test-and-test-and-set spinlock: the release is one plain store, where a
 * pthread mutex costs an atomic read-modify-write to unlock and two calls;
 * the tracked pair takes two of these. Held for a probe or a copy only. */
__attribute__((noinline)) static void lock_wait(stripe *s)
{
    for (unsigned i = 0; atomic_exchange_explicit(&s->lock, true, memory_order_acquire); i++) {
        while (atomic_load_explicit(&s->lock, memory_order_relaxed))
            if (++i > 64)
                sched_yield();
    }
}

static ALWAYS_INLINE void lock(stripe *s)
{
    if (unlikely(atomic_exchange_explicit(&s->lock, true, memory_order_acquire)))
        lock_wait(s);
}

static ALWAYS_INLINE void unlock(stripe *s)
{
    atomic_store_explicit(&s->lock, false, memory_order_release);
}

static void lock_all(void)
{
    pthread_mutex_lock(&tables_lock);
    for (struct tlp__leaks *L = tables; L; L = L->next)
        for (unsigned i = 0; i < STRIPES; i++)
            lock(&L->s[i]);
}

static void unlock_all(void)
{
    for (struct tlp__leaks *L = tables; L; L = L->next)
        for (unsigned i = 0; i < STRIPES; i++)
            unlock(&L->s[i]);
    pthread_mutex_unlock(&tables_lock);
}

/* fork.c calls this: the leak tables' locks are the innermost of the
 * library, so they are taken last before a fork (a pthread_atfork handler
 * of our own would run before fork.c's and invert the order: a thread
 * making the default buffer pool holds default_lock and then takes
 * tables_lock). */
void tlp__leaks_atfork(int phase)
{
    if (phase == TLP_FORK_PREPARE)
        lock_all();
    else
        unlock_all();
}

static ALWAYS_INLINE stripe *stripe_of(struct tlp__leaks *L, uint64_t h)
{
    stripe *s = &L->s[h >> 60];
    /* One address for all its fields: GCC would otherwise rebuild it per
     * field (a few instructions and registers on the tracked paths). */
    __asm__("" : "+r"(s));
    return s;
}

/* Stripe s (of h) went from no records to one, or back (its lock held):
 * window-mode pools keep the mask of stripes with records (their scans of
 * put magazines read it). Every-object pools' common paths (record_quick,
 * forget_quick without `live`) skip it. */
static ALWAYS_INLINE void live_flip(stripe *s, uint64_t h, bool on)
{
    struct tlp__leaks *L =
        (struct tlp__leaks *)(void *)((char *)(s - (h >> 60)) - offsetof(struct tlp__leaks, s));
    if (!L->window)
        return;
    unsigned bit = 1u << (h >> 60);
    if (on)
        atomic_fetch_or_explicit(&L->live, bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&L->live, ~bit, memory_order_relaxed);
}

/* Index of obj, or of the empty slot where it would go. cap > 0. */
static ALWAYS_INLINE size_t probe(const stripe *s, const void *obj, uint64_t h)
{
    size_t mask = s->mask, i = home_of(h, mask);
    while (s->tab[i].obj && s->tab[i].obj != obj)
        i = (i + 1) & mask;
    return i;
}

/* A stripe without records yet: one empty slot, never written (a record
 * grows the table first), so a probe needs no test for a missing table. */
static rec no_records[1];

__attribute__((noinline)) static bool grow(stripe *s)
{
    size_t cap = s->cap > 1 ? 2 * s->cap : 64;
    rec *t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    rec *old = s->tab;
    size_t ocap = s->cap;
    s->tab = t;
    s->cap = cap;
    s->mask = cap - 1;
    s->limit = cap / 2;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].obj)
            s->tab[probe(s, old[i].obj, mix(old[i].obj))] = old[i];
    if (old != no_records)
        free(old);
    return true;
}

/* Removes slot i, shifting back the entries of its probe run. */
__attribute__((noinline)) static void remove_at(stripe *s, size_t i)
{
    size_t mask = s->mask;
    for (size_t j = (i + 1) & mask; s->tab[j].obj; j = (j + 1) & mask) {
        size_t home = home_of(mix(s->tab[j].obj), mask);
        /* Move j to the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            s->tab[i] = s->tab[j];
            i = j;
        }
    }
    s->tab[i].obj = NULL;
    s->tab[i].bt = NULL;
}

struct tlp__leaks *tlp__leaks_new(unsigned sample, bool reset_hook)
{
    pthread_once(&lib_once, lib_init);
    struct tlp__leaks *L = aligned_alloc(TLP_CACHELINE, sizeof *L);
    if (!L)
        return NULL;
    memset(L, 0, sizeof *L);
    for (unsigned i = 0; i < STRIPES; i++) {
        L->s[i].tab = no_records;
        L->s[i].cap = 1; /* mask 0, limit 0 */
    }
    L->trace = sample == TLP_LEAK_TRACE;
    L->sample = L->trace ? 1 : sample;
    L->window = L->sample > 1 && !reset_hook && TLP_FASTPATH;
    L->full_lo = L->trace ? 0 : lib_lo;
    L->full_len = L->trace ? UINTPTR_MAX : lib_len;
    pthread_mutex_lock(&tables_lock);
    L->next = tables;
    if (tables)
        tables->prev = L;
    tables = L;
    pthread_mutex_unlock(&tables_lock);
    return L;
}

bool tlp__leaks_split(const struct tlp__leaks *L)
{
    return L && L->window;
}

void tlp__leaks_free(struct tlp__leaks *L)
{
    if (!L)
        return;
    pthread_mutex_lock(&tables_lock);
    /* O(1): a program may have tens of thousands of tracked pools. */
    if (L->prev)
        L->prev->next = L->next;
    else
        tables = L->next;
    if (L->next)
        L->next->prev = L->prev;
    pthread_mutex_unlock(&tables_lock);
    for (unsigned i = 0; i < STRIPES; i++) {
        stripe *s = &L->s[i];
        for (size_t j = 0; j < s->cap; j++)
            free(s->tab[j].bt);
        if (s->tab != no_records)
            free(s->tab);
    }
    free(L);
}

/* ---- recording ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The every-object get reads the clock through a cache in the tslot: the
 * CPU's cycle counter, read with it, says whether that reading is less
 * than about a millisecond old (then it serves: the clock's own resolution
 * is its tick, 1 to 4 ms), else the clock is read again. A counter gone
 * backwards (another CPU) reads as old. x86-64 with an invariant TSC (its
 * rate constant, running in every state: at 1 GHz or more, 2^20 cycles are
 * at most a millisecond), AArch64's generic timer (its rate in cntfrq);
 * elsewhere tick_stale stays 0 and every get reads the clock. */

#if defined(__x86_64__)
static ALWAYS_INLINE __attribute__((unused)) uint64_t ticks(void)
{
    return __rdtsc();
}

static uint64_t ticks_stale_init(void)
{
    unsigned a, b, c, d;
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000007u &&
        __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8)))
        return 1u << 20;
    return 0;
}
#elif defined(__aarch64__)
static ALWAYS_INLINE __attribute__((unused)) uint64_t ticks(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

static uint64_t ticks_stale_init(void)
{
    uint64_t f;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
    return f / 1000u;
}
#else
static ALWAYS_INLINE __attribute__((unused)) uint64_t ticks(void)
{
    return 0;
}

static uint64_t ticks_stale_init(void)
{
    return 0;
}
#endif

/* xorshift64*, seeded from the state's address and the clock. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    if (!x)
        x = (uint64_t)(uintptr_t)state ^ 0x9e3779b97f4a7c15ull ^ now_ns();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Sampling: the thread counts down the gets of a pool (ts->leak_left) and
 * records the one that reaches 0; the next gap is drawn uniformly from
 * 1..2n-1 (mean n), so a loop of period n does not alias with it. A get
 * costs a decrement; the generator runs once per recorded object. A thread
 * without a tslot (no memory) draws one in n at random (global-dynamic TLS:
 * it must not take the static TLS a dlopen()ed library has to share, see
 * docs/DESIGN.md, "ABI and dlopen"). */
static __thread uint64_t rng __attribute__((tls_model("global-dynamic")));

static uint64_t gap(uint64_t *state, unsigned n)
{
    uint64_t x = next_random(state);
    return 1 + (uint64_t)(((unsigned __int128)x * (2 * (uint64_t)n - 1)) >> 64);
}

static bool due(struct tlp__leaks *L, tlp_thread_rec *r, tlp_tslot *ts)
{
    if (L->sample == 1)
        return true;
    if (unlikely(!ts)) {
        uint64_t x = next_random(&rng);
        return (uint64_t)(((unsigned __int128)x * L->sample) >> 64) == 0;
    }
    uint64_t left = ts->leak_left;
    if (left == 0) /* this thread's first get of the pool */
        left = gap(&r->leak_rng, L->sample);
    bool hit = left == 1;
    ts->leak_left = hit ? gap(&r->leak_rng, L->sample) : left - 1;
    return hit;
}

/* The user's site and, if asked, the frames from it on. A site inside a
 * shared libtlpool (tlp_buf_calloc, realloc, builds without tail calls) is
 * replaced by the first frame outside it. */
__attribute__((noinline)) static void **trace_from(void **site, bool keep)
{
    void *bt[BT_CAPTURE];
    int n = backtrace(bt, BT_CAPTURE), i = 0;
    while (i < n && bt[i] != *site)
        i++;
    if (i == n)
        i = 0;
    while (i < n && in_lib(bt[i]))
        i++;
    if (i < n)
        *site = bt[i];
    if (!keep || i == n)
        return NULL;
    int k = n - i < BT_KEEP ? n - i : BT_KEEP;
    void **v = malloc((size_t)(k + 1) * sizeof *v);
    if (v) {
        v[0] = (void *)(uintptr_t)k;
        memcpy(v + 1, bt + i, (size_t)k * sizeof *v);
    }
    return v;
}

/* Inlined into its two callers, which are out of line themselves. */
/* t: now_ns(), read first by the callers (fewer registers live across
 * the call). */
static ALWAYS_INLINE void record(struct tlp__leaks *L, void *obj, void *site, uint64_t t)
{
    void **bt = NULL;
    if (unlikely(L->trace || in_lib(site)))
        bt = trace_from(&site, L->trace);
    uint64_t h = mix(obj);
    stripe *s = stripe_of(L, h);
    lock(s);
    size_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
    if (unlikely(len >= s->limit) && !grow(s)) {
        unlock(s);
        free(bt);
        tlp__count(&L->lost, 1);
        return;
    }
    rec *e = &s->tab[probe(s, obj, h)];
    void **old = e->bt;
    if (likely(!e->obj)) {
        atomic_store_explicit(&s->len, len + 1, memory_order_relaxed);
        if (len == 0)
            live_flip(s, h, true);
    }
    e->obj = obj;
    e->site = site;
    e->t_ns = t;
    e->bt = bt;
    unlock(s);
    if (unlikely(old != NULL))
        free(old); /* a record left over by a misuse (double get) */
}

/* Removes obj's record from s (its lock held), returning its backtrace
 * for the caller to free. */
static inline void **forget_held(stripe *s, void *obj, uint64_t h)
{
    size_t mask = s->mask, i = probe(s, obj, h);
    rec *e = &s->tab[i];
    if (unlikely(!e->obj))
        return NULL;
    void **bt = e->bt;
    if (likely(!s->tab[(i + 1) & mask].obj)) {
        e->obj = NULL; /* the end of its probe run: nothing to shift back */
        e->bt = NULL;
    } else {
        remove_at(s, i);
    }
    size_t len = atomic_load_explicit(&s->len, memory_order_relaxed) - 1;
    atomic_store_explicit(&s->len, len, memory_order_relaxed);
    if (len == 0)
        live_flip(s, h, false);
    return bt;
}

static inline void forget(stripe *s, void *obj, uint64_t h)
{
    lock(s);
    void **bt = forget_held(s, obj, h);
    unlock(s);
    if (unlikely(bt != NULL))
        free(bt);
}

/* The put magazine of a split-window pool's tslot (leak.c, "Split
 * window"), taken from its thread: the thread lock held and the owner
 * kept out (its slots unloaded and an inline operation in flight waited
 * out; or the owner itself; or, locked_tables, a thread that did not come
 * along into a fork()ed child, whose leak tables' locks this thread
 * holds). The records of the objects put into it since the last scan are
 * forgotten first. NULL if none. */
static tlp__mag *take_put(tlp_pool *pool, tlp_tslot *ts, bool locked_tables)
{
    if (tlp__put_slot2(pool) == TLP__NO_SLOT)
        return NULL;
    tlp__mag *m = tlp__split_of(ts)->put;
    if (!m)
        return NULL;
    tlp__split_of(ts)->put = NULL;
    struct tlp__leaks *L = pool->leaks;
    uintptr_t n = tlp__mag_count(m);
    for (uintptr_t i = tlp__split_of(ts)->put_seen; i < n; i++) {
        void *o = m->objs[i];
        uint64_t h = mix(o);
        stripe *s = stripe_of(L, h);
        if (atomic_load_explicit(&s->len, memory_order_relaxed) == 0)
            continue;
        if (!locked_tables) {
            forget(s, o, h);
        } else {
            free(forget_held(s, o, h));
        }
    }
    tlp__split_of(ts)->put_seen = 0;
    tlp__split_of(ts)->leak_mine = NULL;
    m->fast_cap = pool->fast_cap;
    return m;
}

tlp__mag *tlp__leak_take_put(tlp_pool *pool, tlp_tslot *ts)
{
    return take_put(pool, ts, false);
}

tlp__mag *tlp__leak_take_put_fork(tlp_pool *pool, tlp_tslot *ts)
{
    return take_put(pool, ts, true);
}

void tlp__leak_took(tlp_pool *pool, void *obj, void *site)
{
    struct tlp__leaks *L = pool->leaks;
    tlp_thread_rec *r = tlp__self_rec;
    if (due(L, r, r ? tlp__tslot(r, pool->head.slot) : NULL))
        record(L, obj, site, now_ns());
}

__attribute__((noinline)) static void forget_out_of_line(stripe *s, void *obj, uint64_t h)
{
    forget(s, obj, h);
}

void tlp__leak_gave(tlp_pool *pool, void *obj)
{
    uint64_t h = mix(obj);
    stripe *s = stripe_of(pool->leaks, h);
    /* The record of obj, if any, was made before the object reached this
     * thread (whatever handed it over ordered the two), so a count of 0
     * means there is nothing to remove. */
    if (atomic_load_explicit(&s->len, memory_order_relaxed) != 0)
        forget_out_of_line(s, obj, h);
}

/* ---- the tracked pools' get and put -------------------------------------- */

#if TLP_FASTPATH
/*
 * A tracked pool's slot shows the inline path its tslot's mark (count 0,
 * fast_cap 0, tlp__mark), so each of its gets and puts calls the library; these two
 * serve the common case there without the thread lock: a pop from or a
 * push onto the tslot's two magazines, under the inline path's own
 * handshake with drains (busy, then loaded[slot] read: a drain that stored
 * tlp__empty_mag there waits for busy == 0 before it takes the magazines,
 * and an operation that sees tlp__empty_mag leaves it to the locked path).
 * Only the magazines' contents change here, never the tslot's pointers,
 * which drains read under the thread lock. A magazine is consistent at
 * every step (objs[] written before count), as for the inline path.
 * Where the locked path must act (no magazine, both empty or full, a drain
 * in the way, the record not covering the slot) they tail-call it
 * (cache.c), having changed nothing. The common case of each is a leaf but
 * for the record a get makes (the clock), so it pays no stack frame.
 */

/* The calling thread's tslot of pool, or NULL (then: the locked path). */
static ALWAYS_INLINE tlp_tslot *lean_begin(tlp_pool *pool, const char *what, tlp__thread **tp,
                                    tlp__slot_ref **lp)
{
    uint32_t slot = pool->head.slot;
    tlp__slot_ref *l = tlp__tls;
    tlp__thread *t = tlp__head(l);
    if (unlikely(slot >= t->nslots))
        return NULL;
    /* A signal handler that interrupted tlpool (see reenter.c). */
    if (unlikely(tlp__inside != NULL || atomic_load_explicit(&t->busy, memory_order_relaxed) != 0))
        tlp__reentered(pool, what);
    *tp = t;
    *lp = l;
    /* nslots > 0: the thread has its record. The tslot is read before the
     * handshake, but used only if loaded[slot] says it has magazines. */
    return tlp__self_rec->ts[slot];
}

/* The same without the tslot: the every-object paths find it from what
 * loaded[slot] shows (marked). NULL: the locked path. */
static ALWAYS_INLINE tlp__slot_ref *lean_check(tlp_pool *pool, const char *what)
{
    tlp__slot_ref *l = tlp__tls;
    tlp__thread *t = tlp__head(l);
    if (unlikely(pool->head.slot >= t->nslots))
        return NULL;
    if (unlikely(tlp__inside != NULL || atomic_load_explicit(&t->busy, memory_order_relaxed) != 0))
        tlp__reentered(pool, what);
    return l;
}

/* Under busy: the tslot whose mark view is, or NULL (the empty sentinel, or
 * a magazine in window mode). A mark in this thread's loaded[] is this
 * thread's, of the pool at that slot: only the owner installs one. */
static ALWAYS_INLINE tlp_tslot *marked(tlp__mag *view)
{
    return ((const tlp__mark *)(const void *)view)->next == view ? (tlp_tslot *)(void *)view
                                                                  : NULL;
}

/* Under busy, loaded[slot] shows ts's mark: the magazine to pop from /
 * push onto, or NULL. */
static ALWAYS_INLINE tlp__mag *lean_pop_mag(tlp_tslot *ts)
{
    tlp__mag *m = ts->cur;
    if (!m || !tlp__mag_count(m))
        m = ts->prev;
    return m && tlp__mag_count(m) ? m : NULL;
}

/* The same where the slot shows ts's mark: cur is not NULL then (the
 * locked paths install the mark over a magazine only, and a drain stores
 * tlp__empty_mag over it before it takes the magazines). */
static ALWAYS_INLINE tlp__mag *mark_pop_mag(tlp_tslot *ts)
{
    tlp__mag *m = ts->cur;
    if (unlikely(!tlp__mag_count(m))) {
        m = ts->prev;
        if (!m || !tlp__mag_count(m))
            return NULL;
    }
    return m;
}

static ALWAYS_INLINE tlp__mag *mark_push_mag(tlp_tslot *ts, uintptr_t cap)
{
    tlp__mag *m = ts->cur;
    if (unlikely(tlp__mag_count(m) >= cap)) {
        m = ts->prev;
        if (!m || tlp__mag_count(m) >= cap)
            return NULL;
    }
    return m;
}

static ALWAYS_INLINE tlp__mag *lean_push_mag(tlp_tslot *ts, uintptr_t cap)
{
    tlp__mag *m = ts->cur;
    if (!m || tlp__mag_count(m) >= cap)
        m = ts->prev;
    return m && tlp__mag_count(m) < cap ? m : NULL;
}

static ALWAYS_INLINE void push(tlp__mag *m, void *obj)
{
    uintptr_t n = tlp__mag_count(m);
    m->objs[n] = obj;
    m->n.word += TLP__MAG_PUT_STEP; /* count + 1, and counted as the inline path's puts are */
}

/* The common case of forgetting obj's record, with no call: the stripe's
 * lock free at once, the record (if any) at the end of its probe run and
 * without a backtrace. Returns false, having changed nothing, otherwise. */
static ALWAYS_INLINE bool forget_quick(stripe *s, void *obj, uint64_t h, bool live)
{
    if (unlikely(atomic_exchange_explicit(&s->lock, true, memory_order_acquire)))
        return false;
    size_t mask = s->mask, i = probe(s, obj, h);
    rec *e = &s->tab[i];
    if (e->obj) {
        if (unlikely(e->bt != NULL || s->tab[(i + 1) & mask].obj != NULL)) {
            unlock(s);
            return false;
        }
        e->obj = NULL;
        size_t len = atomic_load_explicit(&s->len, memory_order_relaxed) - 1;
        atomic_store_explicit(&s->len, len, memory_order_relaxed);
        if (live && len == 0)
            live_flip(s, h, false);
    }
    unlock(s);
    return true;
}

static void lean_put_slow(tlp_pool *pool, void *obj);

/* Records obj (due already decided), t the time it was taken. */
__attribute__((noinline)) static void *lean_record_at(tlp_pool *pool, void *obj, void *site,
                                                      uint64_t t)
{
    tlp__inside = pool; /* a signal handler must not re-enter record() */
    record(pool->leaks, obj, site, t);
    tlp__inside = NULL;
    return obj;
}

__attribute__((noinline)) static void *lean_record(tlp_pool *pool, void *obj, void *site)
{
    return lean_record_at(pool, obj, site, now_ns());
}

/* The common case of recording obj, with no call, under busy: the lock
 * free at once, room in the table, a free slot for obj, no backtrace to
 * take. Returns false, having changed nothing, otherwise (then
 * lean_record_at, outside busy). Empty slots hold bt NULL (grow's calloc,
 * remove_at), so a new record writes three fields. The caller sets the
 * mark (tlp__inside) around it: busy alone does not stop a signal
 * handler's call, whose own failed inline attempt clears busy before its
 * slow path looks, and which would spin on the stripe's lock. */
static ALWAYS_INLINE bool record_quick(struct tlp__leaks *L, void *obj, void *site, uint64_t t)
{
    if (unlikely((uintptr_t)site - L->full_lo < L->full_len))
        return false;
    uint64_t h = mix(obj);
    stripe *s = stripe_of(L, h);
    if (unlikely(atomic_exchange_explicit(&s->lock, true, memory_order_acquire)))
        return false;
    size_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
    if (likely(len < s->limit)) {
        rec *e = &s->tab[probe(s, obj, h)];
        if (likely(!e->obj)) {
            e->obj = obj;
            /* Plain stores: no fence, but GCC would otherwise pair the
             * first two through a vector register (four instructions). */
            atomic_signal_fence(memory_order_seq_cst);
            e->site = site;
            e->t_ns = t;
            atomic_store_explicit(&s->len, len + 1, memory_order_relaxed);
            unlock(s);
            return true;
        }
    }
    unlock(s);
    return false;
}

/* A sampled pool's countdown reached 1, or this thread's first get. */
__attribute__((noinline)) static void *lean_sample(tlp_pool *pool, tlp_tslot *ts, void *obj,
                                                   void *site)
{
    if (due(pool->leaks, tlp__self_rec, ts))
        return lean_record(pool, obj, site);
    return obj;
}

/*
 * Window mode (sampled pools without a reset hook). The tslot counts down
 * the gets until the recorded one (leak_left: that get is the leak_left-th
 * from the last time the library ran; 0: not drawn yet). While cur holds
 * fewer objects than that (count <= leak_left - 1), cur itself is shown to
 * the inline path as the get window, so inline gets pop from it without a
 * call and cannot reach the recorded get, which finds cur empty and comes
 * here. Otherwise the slot shows the tslot's mark and every get comes
 * here. The view changes by a compare-and-swap of loaded[slot] under busy:
 * a drain's store of tlp__empty_mag wins or is not lost (it then waits for
 * busy == 0 as ever). The locked paths install the mark
 * (tlp__thread_load); the inline gets a drain cuts short are not counted
 * (a few gets' error). Puts go to a magazine of their own (split window,
 * below).
 */
/* left: the countdown with the inline gets since the last visit taken off
 * (view is cur or the mark). */
static ALWAYS_INLINE uint64_t window_left(tlp_tslot *ts, tlp__mag *view)
{
    uint64_t left = ts->leak_left;
    if (view == ts->cur)
        left -= ts->leak_seen - tlp__mag_count(view);
    return left;
}

static ALWAYS_INLINE void *lean_pop(tlp_pool *pool, tlp_tslot *ts, tlp__thread *t, tlp__slot_ref *l)
{
    void *obj = NULL;
    TLP__ENTER(t);
    if (likely(TLP__LOADED(l, pool->head.slot) == tlp__mark_of(ts))) {
        tlp__mag *m = lean_pop_mag(ts);
        if (likely(m != NULL)) {
            uintptr_t n = tlp__mag_count(m) - 1;
            obj = m->objs[n];
            m->n.word -= 1; /* count - 1 */
        }
    }
    TLP__LEAVE(t);
    return obj;
}


/*
 * Split window (window-mode pools other than buffer pools' classes): the
 * pool owns a second slot, its head.put_slot (tlp__put_slot2, reserved in
 * slot.c), where loaded[] shows the thread's put magazine (tlp__split, right
 * after the tslot; fast_cap mag_cap), so inline puts push there with no
 * call, while loaded[slot] shows the get window (cur, kept below the
 * countdown as above). The records of objects put inline are forgotten
 * lazily: before an object of the put magazine is handed out again or
 * leaves the thread (drains, the signal fallback's catch-up, thread exit,
 * fork, destroy, and a flush before every report), the objects put since
 * the last scan (put_seen on) are looked up (split_scan); the pool's mask
 * of stripes with records skips most, and when the only record is the
 * one this thread made last (leak_mine) the scan compares pointers. A get
 * that finds the window empty comes here (split_get): it takes the inline
 * gets since the last visit off the countdown, and refills the window
 * with the put magazine's top objects (scanned), as many as the countdown
 * allows, returning one (recorded if due). Pools without obj_new make
 * objects ahead to fill the window while the pool holds fewer than a
 * magazine of objects and none idle elsewhere (make_room), so that a
 * small working set (one object in a loop) still runs inline.
 */

/* forget_quick could not: the general removal, with the mark set. */
__attribute__((noinline)) static void split_forget(tlp_pool *pool, stripe *s, void *obj,
                                                   uint64_t h)
{
    tlp__inside = pool;
    if (!forget_quick(s, obj, h, true))
        forget(s, obj, h);
    tlp__inside = NULL;
}

/* Whether the only record in stripe s is obj's. */
static ALWAYS_INLINE bool only_record(stripe *s, void *obj, uint64_t h)
{
    if (unlikely(atomic_exchange_explicit(&s->lock, true, memory_order_acquire)))
        return false;
    bool only = atomic_load_explicit(&s->len, memory_order_relaxed) == 1 &&
                s->tab[probe(s, obj, h)].obj == obj;
    unlock(s);
    return only;
}

/* Index of obj in objs[i..n), or n. */
static ALWAYS_INLINE uintptr_t find_ptr(void *const *objs, uintptr_t i, uintptr_t n, void *obj)
{
    for (; i + 4 <= n; i += 4) {
        if (objs[i] == obj)
            return i;
        if (objs[i + 1] == obj)
            return i + 1;
        if (objs[i + 2] == obj)
            return i + 2;
        if (objs[i + 3] == obj)
            return i + 3;
    }
    for (; i < n; i++)
        if (objs[i] == obj)
            return i;
    return n;
}

/* The objects of pm from i to n that may have a record (mask: the stripes
 * with records): their records forgotten. The common case: the only
 * record of the pool is the one this thread made last (tlp__split_of(ts)->leak_mine), so
 * the scan looks for that pointer alone. Sound because a record of an
 * object in pm was made before the object was put into pm (so before this
 * scan read the mask), and stays until the object is put again, which
 * only this thread can do now: such a record lies in the stripes of mask,
 * and one stripe that held only leak_mine's record under its lock held no
 * other. */
__attribute__((noinline)) static void split_scan_some(tlp_pool *pool, tlp_tslot *ts, tlp__mag *pm,
                                                      uintptr_t i, uintptr_t n, unsigned mask)
{
    struct tlp__leaks *L = pool->leaks;
    void *mine = tlp__split_of(ts)->leak_mine;
    if (mine) {
        uint64_t h = mix(mine);
        stripe *s = &L->s[h >> 60];
        if (mask == 1u << (h >> 60) && only_record(s, mine, h)) {
            if (find_ptr(pm->objs, i, n, mine) != n) {
                split_forget(pool, s, mine, h);
                tlp__split_of(ts)->leak_mine = NULL;
            }
            return;
        }
    }
    for (; i < n; i++) {
        void *o = pm->objs[i];
        uint64_t h = mix(o);
        if (unlikely(mask >> (h >> 60) & 1)) {
            split_forget(pool, &L->s[h >> 60], o, h);
            if (o == mine)
                tlp__split_of(ts)->leak_mine = NULL;
        }
    }
}

/* Under busy, the slot showing pm: forgets the records of pm's objects
 * added since the last scan. */
static ALWAYS_INLINE void split_scan(tlp_pool *pool, tlp_tslot *ts, tlp__mag *pm)
{
    struct tlp__leaks *L = pool->leaks;
    uintptr_t i = tlp__split_of(ts)->put_seen, n = tlp__mag_count(pm);
    if (i == n)
        return;
    unsigned mask = atomic_load_explicit(&L->live, memory_order_relaxed);
    if (mask)
        split_scan_some(pool, ts, pm, i, n, mask);
    tlp__split_of(ts)->put_seen = n;
}

/* The slot of the put magazine showed the empty sentinel: the thread has
 * none yet, or a drain took it (or missed the thread: then the locked path
 * hands the magazines over first, and the next call installs one). A new
 * one is installed under the thread lock (drains read tlp__split_of(ts)->put under it). */
__attribute__((noinline)) static void split_install(tlp_pool *pool, tlp_tslot *ts)
{
    tlp_thread_rec *r = ts->rec;
    tlp__mag *m = NULL;
    tlp__lock_take(&r->lock);
    if (atomic_load_explicit(&ts->missed, memory_order_relaxed)) {
        /* A drain missed the thread: the locked path hands the magazines
         * over first. */
        tlp__lock_drop(&r->lock);
        return;
    }
    if (tlp__split_of(ts)->put) {
        /* A flush of the put magazines (tlp__leaks_flush) could not reach
         * this thread: it keeps its magazine. */
        atomic_store_explicit(&tlp__loaded_of(r)[pool->head.put_slot], tlp__split_of(ts)->put,
                              memory_order_relaxed);
        tlp__lock_drop(&r->lock);
        return;
    }
    tlp__lock_drop(&r->lock);
    m = tlp__mag_take(pool, tlp__home_idx(pool, r));
    if (!m)
        return;
    m->fast_cap = pool->mag_cap;
    tlp__lock_take(&r->lock);
    bool ok = tlp__split_of(ts)->put == NULL && !atomic_load_explicit(&ts->missed, memory_order_relaxed);
    if (ok) {
        tlp__split_of(ts)->put = m;
        tlp__split_of(ts)->put_seen = 0;
        atomic_store_explicit(&tlp__loaded_of(r)[pool->head.put_slot], m, memory_order_relaxed);
    }
    tlp__lock_drop(&r->lock);
    if (!ok)
        tlp__mag_recycle(pool, m);
}

/* Under busy: the slots show the window (or the mark) and the put
 * magazine, so the tslot's pointers are the thread's to read (a drain
 * stores the empty sentinel in both before it touches them). */
static ALWAYS_INLINE bool split_views(tlp_tslot *ts, tlp__mag *view, tlp__mag *pv)
{
    return pv != &tlp__empty_mag && view != &tlp__empty_mag && pv == tlp__split_of(ts)->put &&
           (view == ts->cur || view == tlp__mark_of(ts));
}

/* Under busy: how many objects may be made ahead: the pool keeps fewer
 * than mag_cap objects in all (a working set too small to fill windows;
 * larger ones never grow by this), and none may be idle outside this
 * thread's window and put magazine (its previous magazine, the shared
 * tier, the victim generation). */
static uintptr_t make_room(tlp_pool *pool, tlp_tslot *ts)
{
    uint64_t made = atomic_load_explicit(&pool->made, memory_order_relaxed);
    uint64_t released = atomic_load_explicit(&pool->released, memory_order_relaxed);
    if (made - released >= pool->mag_cap)
        return 0;
    if (ts->prev && tlp__mag_count(ts->prev))
        return 0;
    if (atomic_load_explicit(&pool->victim_objs, memory_order_relaxed))
        return 0;
    for (uint32_t i = 0; i < pool->nshards; i++)
        if (atomic_load_explicit(&pool->shards[i].objs, memory_order_relaxed))
            return 0;
    return pool->mag_cap - (uintptr_t)(made - released);
}

/* Makes up to k objects ahead (pools without obj_new) and adds them to the
 * window, which the slot shows. */
__attribute__((noinline)) static void split_fill(tlp_pool *pool, tlp_tslot *ts, uintptr_t k)
{
    void *made[64];
    if (k > 64)
        k = 64;
    uintptr_t n = 0;
    while (n < k && (made[n] = tlp__obj_make(pool)) != NULL)
        n++;
    tlp__slot_ref *l = tlp__tls;
    tlp__thread *t = tlp__head(l);
    TLP__ENTER(t);
    tlp__mag *view = TLP__LOADED(l, pool->head.slot);
    if (likely(split_views(ts, view, TLP__LOADED(l, pool->head.put_slot)) && view == ts->cur)) {
        uintptr_t c = tlp__mag_count(view);
        while (n && c + 1 < ts->leak_left && c < pool->mag_cap)
            view->objs[c++] = made[--n];
        tlp__mag_set_count(view, c);
        ts->leak_seen = c;
    }
    TLP__LEAVE(t);
    while (n)
        tlp__obj_release(pool, made[--n]); /* a drain came in between */
}

/* The window was empty (or the slot showed the mark). */
__attribute__((noinline)) static void *split_get(tlp_pool *pool, void *site, tlp_tslot *ts,
                                                 tlp__thread *t, tlp__slot_ref *l)
{
    uint32_t slot = pool->head.slot;
    void *obj = NULL;
    bool hit = false, unloaded = false;
    uintptr_t more = 0;
    TLP__ENTER(t);
    tlp__mag *view = TLP__LOADED(l, slot);
    tlp__mag *pm = TLP__LOADED(l, pool->head.put_slot);
    if (likely(split_views(ts, view, pm))) {
        tlp__mag *cur = ts->cur;
        uint64_t left = window_left(ts, view);
        uint64_t next = left;
        uint64_t *state = &tlp__self_rec->leak_rng;
        if (next == 0)
            next = gap(state, pool->leaks->sample);
        hit = next == 1;
        next = hit ? gap(state, pool->leaks->sample) : next - 1;
        uintptr_t n = tlp__mag_count(cur), p = tlp__mag_count(pm);
        if (n == 0 && p != 0) {
            /* The put magazine's top objects, scanned, refill the window:
             * this get's and up to next - 1 more. */
            split_scan(pool, ts, pm);
            n = p < next ? p : (uintptr_t)next;
            p -= n;
            memcpy(cur->objs, &pm->objs[p], n * sizeof(void *));
            tlp__mag_set_count(pm, p);
            tlp__split_of(ts)->put_seen = p;
        }
        if (likely(n != 0)) {
            obj = cur->objs[--n];
            tlp__mag_set_count(cur, n);
            /* Made ahead: the window up to next - 1, while the two
             * magazines hold fewer than mag_cap (all fit in the put
             * magazine again). */
            uintptr_t top = pool->mag_cap - 1 - p;
            if (next - 1 < top)
                top = (uintptr_t)next - 1;
            if (pool->obj_new == NULL && n < top) {
                more = make_room(pool, ts);
                if (more > top - n)
                    more = top - n;
            }
            ts->leak_left = next;
            ts->leak_seen = n;
            tlp__mag *want = n < next ? cur : tlp__mark_of(ts);
            if (want != view)
                (void)atomic_compare_exchange_strong_explicit(&l[slot], &view, want,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed);
        } else {
            hit = false;
            ts->leak_left = left; /* the locked path counts on */
        }
    } else if (view == &tlp__empty_mag && pm != &tlp__empty_mag && pm == tlp__split_of(ts)->put &&
               tlp__mag_count(pm) != 0) {
        /* A drain took the window (the locked path loads a new one) and a
         * put installed a new put magazine since: its objects, scanned,
         * come first. */
        split_scan(pool, ts, pm);
        uintptr_t p = tlp__mag_count(pm) - 1;
        obj = pm->objs[p];
        tlp__mag_set_count(pm, p);
        tlp__split_of(ts)->put_seen = p;
        uint64_t left = ts->leak_left, *state = &tlp__self_rec->leak_rng;
        if (left == 0)
            left = gap(state, pool->leaks->sample);
        hit = left == 1;
        ts->leak_left = hit ? gap(state, pool->leaks->sample) : left - 1;
    } else if (pm == &tlp__empty_mag && view != &tlp__empty_mag) {
        /* The put magazine was taken (a report's flush, or none yet): the
         * window's gets since the last visit still count. */
        unloaded = true;
        if (view == ts->cur || view == tlp__mark_of(ts))
            ts->leak_left = window_left(ts, view);
    }
    if (hit)
        tlp__split_of(ts)->leak_mine = obj; /* under busy: drains clear it */
    TLP__LEAVE(t);
    if (unlikely(!obj)) {
        if (unloaded)
            split_install(pool, ts);
        return tlp__get_locked(pool, site);
    }
    if (more)
        split_fill(pool, ts, more);
    if (hit)
        return lean_record(pool, obj, site);
    return obj;
}

/* The inline put failed: the put magazine is full, or not shown (none yet,
 * or a drain took it). */
__attribute__((noinline)) static void split_put(tlp_pool *pool, void *obj)
{
    tlp__thread *t;
    tlp__slot_ref *l;
    tlp_tslot *ts = lean_begin(pool, "tlp_put", &t, &l);
    if (unlikely(!ts)) {
        tlp__put_locked(pool, obj);
        return;
    }
    uint32_t ps = pool->head.put_slot;
    tlp__mag *full = NULL;
    TLP__ENTER(t);
    tlp__mag *pm = TLP__LOADED(l, ps);
    if (pm == &tlp__empty_mag) {
        TLP__LEAVE(t);
        split_install(pool, ts);
        if (!tlp__put_fast(ps, obj))
            tlp__put_locked(pool, obj);
        return;
    }
    if (likely(pm == tlp__split_of(ts)->put)) {
        split_scan(pool, ts, pm);
        if (tlp__mag_count(pm) < pool->mag_cap) {
            push(pm, obj); /* scanned at the next visit */
            TLP__LEAVE(t);
            return;
        }
        full = pm;
    }
    TLP__LEAVE(t);
    if (full) {
        /* Full and scanned: it becomes the previous magazine if that and
         * the window are empty (so the thread keeps at most thread_cache
         * objects: two magazines' worth), and an empty one takes the puts;
         * else it goes to the shared tier and an empty one takes its
         * place. Under the thread lock too: the locked paths and
         * statistics read the tslot's pointers under it. A drain between
         * the two holds of the lock leaves the sentinel in the slot: the
         * compare-and-swap fails. */
        tlp_thread_rec *r = ts->rec;
        uint32_t h = tlp__home_idx(pool, r);
        tlp__lock_take(&r->lock);
        tlp__mag *prev = ts->prev, *e = NULL;
        bool keep = pool->two_mags && (!prev || tlp__mag_count(prev) == 0) &&
                    (!ts->cur || tlp__mag_count(ts->cur) == 0);
        if (keep && prev) {
            e = prev;
        } else {
            tlp__lock_drop(&r->lock);
            e = tlp__mag_take(pool, h);
            tlp__lock_take(&r->lock);
        }
        bool ok = false;
        if (e) {
            e->fast_cap = pool->mag_cap;
            TLP__ENTER(t);
            tlp__mag *cmp = full;
            /* A compare-and-swap: a drain's store of the sentinel wins. */
            if (atomic_compare_exchange_strong_explicit(&l[ps], &cmp, e, memory_order_relaxed,
                                                        memory_order_relaxed)) {
                if (keep)
                    ts->prev = full;
                tlp__split_of(ts)->put = e;
                tlp__split_of(ts)->put_seen = 0;
                push(e, obj);
                ok = true;
            }
            TLP__LEAVE(t);
        }
        tlp__lock_drop(&r->lock);
        if (ok) {
            if (!keep)
                tlp__shard_push(pool, h, full);
            return;
        }
        if (e && e != prev)
            tlp__mag_recycle(pool, e);
    }
    tlp__put_locked(pool, obj);
}

/* Sampled pools: window mode, or (reset hook) every get here with the
 * countdown inline and the draw and the record out of line. */
__attribute__((noinline)) static void *sampled_get(tlp_pool *pool, void *site, tlp_tslot *ts,
                                                   tlp__thread *t, tlp__slot_ref *l)
{
    if (tlp__put_slot2(pool) != TLP__NO_SLOT)
        return split_get(pool, site, ts, t, l);
    void *obj = lean_pop(pool, ts, t, l);
    if (unlikely(!obj))
        return tlp__get_locked(pool, site);
    uint64_t left = ts->leak_left;
    if (likely(left > 1)) {
        ts->leak_left = left - 1;
        return obj;
    }
    return lean_sample(pool, ts, obj, site);
}

__attribute__((noinline)) static void *sampled_entry(tlp_pool *pool, void *site)
{
    tlp__thread *t;
    tlp__slot_ref *l;
    tlp_tslot *ts = lean_begin(pool, "tlp_get", &t, &l);
    if (unlikely(!ts))
        return tlp__get_locked(pool, site);
    return sampled_get(pool, site, ts, t, l);
}

/* record_quick could not, or the clock cache is old: read the clock (and
 * renew the cache), then record with the mark set. */
__attribute__((noinline)) static void *lean_record_fresh(tlp_pool *pool, tlp_tslot *ts, void *obj,
                                                         void *site)
{
    uint64_t tick = ticks(), now = now_ns();
    ts->leak_tick = tick;
    ts->leak_ns = now;
    return lean_record_at(pool, obj, site, now);
}

/* Every object: the pop and the record in one stretch of busy, the time
 * from the tslot's clock cache (no call). Sampled pools (whose gets come
 * here seldom, see window mode) go on to sampled_entry. */
void *tlp__leak_get(tlp_pool *pool, void *site)
{
    if (pool->leaks->sample != 1)
        return sampled_entry(pool, site);
    tlp__slot_ref *l = lean_check(pool, "tlp_get");
    if (unlikely(!l))
        return tlp__get_locked(pool, site);
    tlp__thread *t = tlp__head(l);
    void *obj = NULL;
    bool done = false;
    TLP__ENTER(t);
    tlp_tslot *ts = marked(TLP__LOADED(l, pool->head.slot));
    if (likely(ts != NULL)) {
        tlp__mag *m = mark_pop_mag(ts);
        if (likely(m != NULL)) {
            uintptr_t n = tlp__mag_count(m) - 1;
            obj = m->objs[n];
            m->n.word -= 1; /* count - 1 */
            if (likely(ticks() - ts->leak_tick < tick_stale)) {
                tlp__inside = pool;
                done = record_quick(pool->leaks, obj, site, ts->leak_ns);
                tlp__inside = NULL;
            }
        }
    }
    TLP__LEAVE(t);
    if (likely(done))
        return obj;
    if (unlikely(!obj))
        return tlp__get_locked(pool, site);
    return lean_record_fresh(pool, ts, obj, site);
}


/* forget_quick could not: forget with the mark set (a signal handler must
 * not re-enter), then push. */
__attribute__((noinline)) static void lean_put_slow(tlp_pool *pool, void *obj)
{
    tlp__inside = pool;
    tlp__leak_gave(pool, obj);
    tlp__inside = NULL;
    tlp__thread *t;
    tlp__slot_ref *l;
    tlp_tslot *ts = lean_begin(pool, "tlp_put", &t, &l);
    bool ok = false;
    if (ts) {
        TLP__ENTER(t);
        if (likely(TLP__LOADED(l, pool->head.slot) == tlp__mark_of(ts))) {
            tlp__mag *m = lean_push_mag(ts, pool->mag_cap);
            if (m) {
                push(m, obj);
                ok = true;
            }
        }
        TLP__LEAVE(t);
    }
    if (!ok)
        tlp__put_locked(pool, obj); /* looks for the record again: none */
}

/* The record is forgotten before the push: once back in a magazine the
 * object may be taken and recorded again. Both run under busy (a few
 * instructions, no call), so a signal handler's call finds busy set and
 * stops the program rather than spin on the stripe's lock. */

void tlp__leak_put(tlp_pool *pool, void *obj)
{
    /* A buffer pool's class: its puts must pass the per-thread idle cap
     * (threadcap.c), which runs on the locked path only. */
    if (unlikely(pool->group != NULL)) {
        tlp__put_locked(pool, obj);
        return;
    }
    struct tlp__leaks *L = pool->leaks;
    /* Split window: a tracked pool's put_slot is its put magazine's slot
     * or TLP__PUT_SLOW (every other one, buffer pools' classes included). */
    if (pool->head.put_slot != TLP__PUT_SLOW) {
        split_put(pool, obj);
        return;
    }
    tlp__slot_ref *l = lean_check(pool, "tlp_put");
    if (unlikely(!l)) {
        tlp__put_locked(pool, obj);
        return;
    }
    tlp__thread *t = tlp__head(l);
    uint64_t h = mix(obj);
    stripe *s = stripe_of(L, h);
    uintptr_t cap = pool->mag_cap;
    bool ok = false;
    TLP__ENTER(t);
    tlp_tslot *ts = marked(TLP__LOADED(l, pool->head.slot));
    if (likely(ts != NULL)) {
        tlp__mag *m = mark_push_mag(ts, cap);
        /* Every object out has its record here: no test of the stripe's
         * count first (forget_quick finds none for an object without). */
        if (likely(m != NULL) && forget_quick(s, obj, h, false)) {
            push(m, obj);
            ok = true;
        }
    }
    TLP__LEAVE(t);
    if (unlikely(!ok))
        lean_put_slow(pool, obj);
}
#endif

/* ---- reporting ---------------------------------------------------------- */

typedef struct item {
    void *site;
    uint64_t t_ns;
    void **bt;  /* a copy */
} item;

static int by_site_then_age(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->site != y->site)
        return (uintptr_t)x->site < (uintptr_t)y->site ? -1 : 1;
    return x->t_ns < y->t_ns ? -1 : x->t_ns > y->t_ns;
}

typedef struct group {
    size_t first, count;
} group;

static int by_count(const void *a, const void *b)
{
    const group *x = a, *y = b;
    return x->count > y->count ? -1 : x->count < y->count;
}

/* Copies the records older than min_ns; NULL with *n = 0 when none (or no memory). */
static item *collect(struct tlp__leaks *L, uint64_t now, uint64_t min_ns, size_t *n)
{
    item *v = NULL;
    size_t len = 0, cap = 0;
    for (unsigned k = 0; k < STRIPES; k++) {
        stripe *s = &L->s[k];
        lock(s);
        for (size_t i = 0; i < s->cap; i++) {
            const rec *r = &s->tab[i];
            if (!r->obj || now - r->t_ns < min_ns || r->t_ns > now)
                continue;
            if (len == cap) {
                size_t nc = cap ? 2 * cap : 64;
                item *nv = realloc(v, nc * sizeof *nv);
                if (!nv)
                    continue;
                v = nv;
                cap = nc;
            }
            void **bt = NULL;
            if (r->bt) {
                size_t sz = ((uintptr_t)r->bt[0] + 1) * sizeof(void *);
                bt = malloc(sz);
                if (bt)
                    memcpy(bt, r->bt, sz);
            }
            v[len++] = (item){ r->site, r->t_ns, bt };
        }
        unlock(s);
    }
    *n = len;
    return v;
}

/* A split-window pool: the records of objects put back inline into put
 * magazines are forgotten only when those are scanned. Before a report,
 * every holder's put magazine is taken as a drain takes magazines
 * (handshake.c), scanned, and pushed to the shared tier. A thread the
 * signal fallback cannot reach keeps its magazine (and its records). */
/* Destroy: nobody uses the pool (its precondition), so no handshake. */
static tlp__mag *take_puts_unused(tlp_pool *pool)
{
    uint32_t ps = tlp__put_slot2(pool);
    tlp__mag *list = NULL;
    pthread_mutex_lock(&tlp__registry_lock);
    for (tlp_tslot *ts = pool->holders; ts; ts = ts->hnext) {
        tlp_thread_rec *r = ts->rec;
        tlp__lock_take(&r->lock);
        atomic_store_explicit(&tlp__loaded_of(r)[ps], &tlp__empty_mag, memory_order_relaxed);
        tlp__mag *m = take_put(pool, ts, false);
        tlp__lock_drop(&r->lock);
        if (m && tlp__mag_count(m)) {
            m->next = list;
            list = m;
        } else if (m) {
            tlp__mag_retire_puts(pool, m);
            tlp__mag_recycle(pool, m);
        }
    }
    pthread_mutex_unlock(&tlp__registry_lock);
    return list;
}

static void flush_puts(tlp_pool *pool, bool unused)
{
    tlp__mag *list;
    if (unused) {
        list = take_puts_unused(pool);
    } else {
        pthread_mutex_lock(&tlp__registry_lock);
        pthread_mutex_lock(&pool->drain_lock);
        list = tlp__take_put_mags(pool, tlp__remote_drain_ok());
        pthread_mutex_unlock(&pool->drain_lock);
    }
    tlp_thread_rec *r = tlp__self_rec;
    uint32_t h = r ? tlp__home_idx(pool, r) : 0;
    while (list) {
        tlp__mag *next = list->next;
        list->next = NULL;
        tlp__shard_push(pool, h, list);
        list = next;
    }
}

size_t tlp__leaks_report(FILE *out, tlp_pool *pool, unsigned min_age_ms, const char *why,
                         bool destroying)
{
    struct tlp__leaks *L = pool->leaks;
    if (!L)
        return 0;
    if (tlp__put_slot2(pool) != TLP__NO_SLOT)
        flush_puts(pool, destroying);
    uint64_t now = now_ns();
    size_t n;
    item *v = collect(L, now, (uint64_t)min_age_ms * 1000000u, &n);
    uint64_t lost = tlp__relaxed_get(&L->lost);
    if (!n && !lost) {
        free(v);
        return 0;
    }
    qsort(v, n, sizeof *v, by_site_then_age);
    group *g = malloc((n ? n : 1) * sizeof *g);
    size_t ng = 0;
    for (size_t i = 0; g && i < n; i++) {
        if (i == 0 || v[i].site != v[i - 1].site)
            g[ng++] = (group){ i, 0 };
        g[ng - 1].count++;
    }
    qsort(g, ng, sizeof *g, by_count);

    tlp__sym *sym = tlp__sym_begin();
    flockfile(out);
    fprintf(out, "tlpool: leaks: %spool '%s': %zu object(s) out for at least %u ms", why,
            pool->name, n, min_age_ms);
    if (L->sample > 1)
        fprintf(out, " (1 in %u sampled: about %u times as many out)", L->sample, L->sample);
    if (lost)
        fprintf(out, " (%llu record(s) lost: out of memory)", (unsigned long long)lost);
    fputc('\n', out);
    for (size_t k = 0; k < ng; k++) {
        const item *first = &v[g[k].first], *last = &v[g[k].first + g[k].count - 1];
        fprintf(out, "  %zu taken at ", g[k].count);
        tlp__sym_print(sym, out, first->site);
        /* first is the oldest of the group, last the youngest */
        fprintf(out, ", age %llu..%llu ms\n", (unsigned long long)((now - last->t_ns) / 1000000u),
                (unsigned long long)((now - first->t_ns) / 1000000u));
        if (first->bt) {
            size_t nf = (uintptr_t)first->bt[0];
            for (size_t f = 0; f < nf; f++) {
                fprintf(out, "      #%zu ", f);
                tlp__sym_print(sym, out, first->bt[1 + f]);
                fputc('\n', out);
            }
        }
    }
    if (!g && n)
        fprintf(out, "  (no memory to group the records by site)\n");
    funlockfile(out);
    fflush(out);
    tlp__sym_end(sym);
    for (size_t i = 0; i < n; i++)
        free(v[i].bt);
    free(v);
    free(g);
    return n;
}

size_t tlp_leaks_print(FILE *out, unsigned min_age_ms)
{
    if (!out)
        return 0;
    size_t n, total = 0;
    tlp_pool **pools = tlp__pools_ref(&n);
    if (!pools)
        return 0;
    for (size_t i = 0; i < n; i++)
        total += tlp__leaks_report(out, pools[i], min_age_ms, "", false);
    tlp__pools_unref(pools, n);
    return total;
}
