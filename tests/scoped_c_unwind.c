/* SPDX-License-Identifier: MIT */
/*
 * A TLP_SCOPED scope written in C and unwound by a C++ exception: compiled
 * as C with -fexceptions (tests/extra.cmake) and linked into test_scoped_cxx,
 * whose callback throws from inside the scope.
 */
#include "scoped_c_unwind.h"

int tlpt_c_scope_call(tlp_pool *pool, tlpt_c_callback cb, void *arg, void **seen)
{
    TLP_SCOPED(void *, obj, pool);
    *seen = obj;
    if (!obj)
        return -1;
    cb(obj, arg); /* may throw (C++): the cleanup puts obj while unwinding */
    return 0;
}

int tlpt_c_scope_take_call(tlp_pool *pool, tlpt_c_callback cb, void *arg, void **taken)
{
    TLP_SCOPED(void *, obj, pool);
    *taken = TLP_TAKE(obj); /* ownership leaves: nothing is put, thrown or not */
    cb(*taken, arg);
    return 0;
}
