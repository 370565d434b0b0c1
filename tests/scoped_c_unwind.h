/* SPDX-License-Identifier: MIT */
/* The C side of test_scoped_cxx's unwinding tests (scoped_c_unwind.c). */
#ifndef TLPT_SCOPED_C_UNWIND_H
#define TLPT_SCOPED_C_UNWIND_H

#include <tlpool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*tlpt_c_callback)(void *obj, void *arg);

/* Takes an object through TLP_SCOPED (stored in *seen), calls cb(obj, arg)
 * inside the scope, returns 0 (-1 when the get failed). */
int tlpt_c_scope_call(tlp_pool *pool, tlpt_c_callback cb, void *arg, void **seen);

/* The same, but the object is taken out of the scope (TLP_TAKE, stored in
 * *taken) before cb runs. */
int tlpt_c_scope_take_call(tlp_pool *pool, tlpt_c_callback cb, void *arg, void **taken);

#ifdef __cplusplus
}
#endif

#endif
