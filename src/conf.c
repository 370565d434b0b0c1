/* SPDX-License-Identifier: MIT */
/*
 * TLPOOL_CONF: settings without recompiling, read once at first use, in the
 * style of jemalloc's MALLOC_CONF: comma-separated key:value pairs.
 *
 *   leaks:off|all|trace|N   leak tracking of pools whose leak_sample is 0
 *   stats:off|text|json     print tlp_stats_print to stderr at exit
 *   thread_cache:N          for pools whose thread_cache is 0
 *   drain_ms:N              for pools whose drain_ms is 0
 *   buf_max_idle_bytes:N[k|m|g], buf_thread_idle_bytes:N[k|m|g]|none,
 *   buf_zero_on_free:BOOL, buf_drain_ms:N
 *                           the default buffer pool (over tlp_buf_default_config)
 *
 * An unknown key or a bad value prints one warning naming it and is ignored.
 * Also here: the default buffer pool's configuration and the exit reports.
 */
#include "conf.h"
#include "bufpool.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static tlp__conf_t conf;
static pthread_once_t conf_once = PTHREAD_ONCE_INIT;

static void warn(const char *what, const char *key, size_t klen, const char *val, size_t vlen)
{
    if (val)
        fprintf(stderr, "tlpool: TLPOOL_CONF: %s '%.*s' for key '%.*s' (ignored)\n", what,
                (int)vlen, val, (int)klen, key);
    else
        fprintf(stderr, "tlpool: TLPOOL_CONF: %s '%.*s' (ignored)\n", what, (int)klen, key);
}

/* Decimal, no sign, at most max; with suffixes k/m/g (x1024) when sized. */
static bool parse_num(const char *v, size_t n, uint64_t max, bool sized, uint64_t *out)
{
    uint64_t x = 0, mul = 1;
    if (n && sized) {
        switch (tolower((unsigned char)v[n - 1])) {
        case 'k': mul = (uint64_t)1 << 10; n--; break;
        case 'm': mul = (uint64_t)1 << 20; n--; break;
        case 'g': mul = (uint64_t)1 << 30; n--; break;
        default: break;
        }
    }
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > max / mul)
        return false;
    *out = x * mul;
    return true;
}

static bool is(const char *v, size_t n, const char *word)
{
    return strlen(word) == n && strncmp(v, word, n) == 0;
}

static bool parse_bool(const char *v, size_t n, bool *out)
{
    if (is(v, n, "1") || is(v, n, "true") || is(v, n, "on") || is(v, n, "yes"))
        *out = true;
    else if (is(v, n, "0") || is(v, n, "false") || is(v, n, "off") || is(v, n, "no"))
        *out = false;
    else
        return false;
    return true;
}

/* One key:value item; false: bad value (the caller warns). */
static bool apply(const char *k, size_t kn, const char *v, size_t vn, bool *known)
{
    uint64_t x;
    *known = true;
    if (is(k, kn, "leaks")) {
        if (is(v, vn, "off"))
            conf.leaks = 0;
        else if (is(v, vn, "all"))
            conf.leaks = 1;
        else if (is(v, vn, "trace"))
            conf.leaks = TLP_LEAK_TRACE;
        else if (parse_num(v, vn, UINT32_MAX - 1, false, &x))
            conf.leaks = (unsigned)x;
        else
            return false;
    } else if (is(k, kn, "stats")) {
        if (is(v, vn, "off"))
            conf.stats = NULL;
        else if (is(v, vn, "text"))
            conf.stats = "text";
        else if (is(v, vn, "json"))
            conf.stats = "json";
        else
            return false;
    } else if (is(k, kn, "thread_cache")) {
        if (!parse_num(v, vn, TLP_MAX_THREAD_CACHE, false, &x))
            return false;
        conf.thread_cache = (unsigned)x;
    } else if (is(k, kn, "drain_ms")) {
        if (!parse_num(v, vn, UINT32_MAX, false, &x))
            return false;
        conf.drain_ms = (unsigned)x;
    } else if (is(k, kn, "buf_max_idle_bytes")) {
        if (!parse_num(v, vn, SIZE_MAX, true, &x))
            return false;
        conf.buf_max_idle_bytes = (size_t)x;
        conf.has_buf_max_idle_bytes = true;
    } else if (is(k, kn, "buf_thread_idle_bytes")) {
        if (is(v, vn, "none"))
            x = SIZE_MAX;
        else if (!parse_num(v, vn, SIZE_MAX, true, &x))
            return false;
        conf.buf_thread_idle_bytes = (size_t)x;
        conf.has_buf_thread_idle_bytes = true;
    } else if (is(k, kn, "buf_zero_on_free")) {
        if (!parse_bool(v, vn, &conf.buf_zero_on_free))
            return false;
        conf.has_buf_zero_on_free = true;
    } else if (is(k, kn, "buf_drain_ms")) {
        if (!parse_num(v, vn, UINT32_MAX, false, &x))
            return false;
        conf.buf_drain_ms = (unsigned)x;
        conf.has_buf_drain_ms = true;
    } else {
        *known = false;
    }
    return true;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static void read_conf(void)
{
    const char *env = getenv("TLPOOL_CONF");
    for (const char *p = env; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *item = p;
        p = end ? end + 1 : p + n;
        trim(&item, &n);
        if (!n)
            continue;
        const char *colon = memchr(item, ':', n);
        if (!colon) {
            warn("no ':' in item", item, n, NULL, 0);
            continue;
        }
        const char *k = item, *v = colon + 1;
        size_t kn = (size_t)(colon - item), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        bool known;
        if (!apply(k, kn, v, vn, &known))
            warn("bad value", k, kn, v, vn);
        else if (!known)
            warn("unknown key", k, kn, NULL, 0);
    }
    if (conf.stats)
        tlp__exit_report_arm();
}

const tlp__conf_t *tlp__conf(void)
{
    pthread_once(&conf_once, read_conf);
    return &conf;
}

/* ---- reports at exit ---------------------------------------------------- */

static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static _Atomic bool tracking_seen;

static void at_exit(void)
{
    if (conf.stats)
        tlp_stats_print(stderr, conf.stats);
    if (atomic_load_explicit(&tracking_seen, memory_order_relaxed))
        tlp_leaks_print(stderr, 0);
}

static void arm(void)
{
    atexit(at_exit);
}

void tlp__exit_report_arm(void)
{
    pthread_once(&exit_once, arm);
}

void tlp__exit_report_leaks(void)
{
    atomic_store_explicit(&tracking_seen, true, memory_order_relaxed);
    tlp__exit_report_arm();
}

/* ---- the default buffer pool's configuration ---------------------------- */

static pthread_mutex_t buf_lock = PTHREAD_MUTEX_INITIALIZER;
static bool buf_used;            /* the default pool was made (or is being made) */
static bool buf_set;             /* tlp_buf_default_config was called */
static tlp_bufpool_config buf_cfg;
static char *buf_name;

int tlp_buf_default_config(const tlp_bufpool_config *cfg)
{
    if (!cfg)
        return EINVAL;
    /* Validate by making (and dropping) a pool with it, without drains. */
    tlp_bufpool_config probe = *cfg;
    probe.drain_ms = 0;
    tlp_bufpool *bp;
    int err = tlp_bufpool_create(&probe, &bp);
    if (err)
        return err;
    tlp_bufpool_destroy(bp);
    char *name = cfg->name ? strdup(cfg->name) : NULL;
    if (cfg->name && !name)
        return ENOMEM;
    pthread_mutex_lock(&buf_lock);
    if (buf_used) {
        pthread_mutex_unlock(&buf_lock);
        free(name);
        return EBUSY;
    }
    free(buf_name);
    buf_name = name;
    buf_cfg = *cfg;
    buf_cfg.name = buf_name;
    buf_set = true;
    pthread_mutex_unlock(&buf_lock);
    return 0;
}

void tlp__buf_default_settings(tlp_bufpool_config *out, const char *name, unsigned drain_ms)
{
    const tlp__conf_t *c = tlp__conf();
    pthread_mutex_lock(&buf_lock);
    if (!buf_used) {
        buf_used = true;
        if (!buf_set)
            buf_cfg.drain_ms = drain_ms;
        if (!buf_cfg.name)
            buf_cfg.name = name;
    }
    *out = buf_cfg;
    pthread_mutex_unlock(&buf_lock);
    if (c->has_buf_max_idle_bytes)
        out->max_idle_bytes = c->buf_max_idle_bytes;
    if (c->has_buf_thread_idle_bytes) {
        /* A cap below one buffer of the largest class would make the pool
         * EINVAL and the drop-ins fall back to malloc for good: refused. */
        size_t largest = tlp__buf_grid_size(tlp__buf_grid(out->max_class ? out->max_class
                                                                         : (size_t)64 << 10));
        size_t v = c->buf_thread_idle_bytes;
        if (v != 0 && v < largest)
            fprintf(stderr,
                    "tlpool: TLPOOL_CONF: buf_thread_idle_bytes %zu is below the default "
                    "buffer pool's largest class (%zu bytes) (ignored)\n",
                    v, largest);
        else
            out->thread_idle_bytes = v;
    }
    if (c->has_buf_zero_on_free)
        out->zero_on_free = c->buf_zero_on_free;
    if (c->has_buf_drain_ms)
        out->drain_ms = c->buf_drain_ms;
}
