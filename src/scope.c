/* SPDX-License-Identifier: MIT */
/*
 * The cleanup function behind 0.2's TLP_SCOPED: puts the variable's object
 * back unless ownership was taken (the variable was set to NULL). TLP_SCOPED
 * now uses the header's inline tlp__scope_put; this stays exported for
 * binaries built against 0.2 (ABI).
 */
#include "internal.h"

#include <string.h>

void tlp__scope_exit(tlp__scope *s)
{
    void *obj;
    /* The variable has the user's pointer type; copy its bytes rather than
     * read it through a void ** (no aliasing assumption). */
    memcpy(&obj, s->var, sizeof obj);
    if (obj)
        tlp_put(s->pool, obj);
}
