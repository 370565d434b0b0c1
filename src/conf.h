/* SPDX-License-Identifier: MIT */
/* TLPOOL_CONF and the exit reports (conf.c). */
#ifndef TLP_CONF_H
#define TLP_CONF_H

#include "internal.h"

typedef struct tlp__conf_t {
    unsigned leaks;         /* 0 off, 1 every object, N one in N, TLP_LEAK_TRACE */
    const char *stats;      /* NULL, "text" or "json": printed at exit */
    unsigned thread_cache;  /* 0: the library's default */
    unsigned drain_ms;
    size_t buf_max_idle_bytes;
    size_t buf_thread_idle_bytes;
    bool buf_zero_on_free;
    unsigned buf_drain_ms;
    bool has_buf_max_idle_bytes, has_buf_thread_idle_bytes, has_buf_zero_on_free, has_buf_drain_ms;
} tlp__conf_t;

/* The settings; TLPOOL_CONF is parsed on the first call. */
const tlp__conf_t *tlp__conf(void);

/* Registers the exit report (stats if configured, leaks once a pool was
 * tracked); idempotent. */
void tlp__exit_report_arm(void);
/* A tracked pool exists: print its leaks at exit. */
void tlp__exit_report_leaks(void);

/* The default buffer pool's configuration: what tlp_buf_default_config set
 * (else name and drain_ms given here), overridden by TLPOOL_CONF's buf_*
 * keys. After the first call tlp_buf_default_config returns EBUSY. */
void tlp__buf_default_settings(tlp_bufpool_config *out, const char *name, unsigned drain_ms);

#endif
