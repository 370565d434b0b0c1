/* SPDX-License-Identifier: MIT */
/*
 * The cleanup function behind TLP_SCOPED: puts the variable's object back
 * unless ownership was taken (the variable was set to NULL).
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
