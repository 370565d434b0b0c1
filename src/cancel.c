/* SPDX-License-Identifier: MIT */
/*
 * Thread cancellation. The library's blocking waits (pthread_cond_wait,
 * pthread_join) are cancellation points; a thread cancelled there would leave
 * with a library lock held or a reference taken, and every later call would
 * hang. They run with cancellation disabled; a pending cancel is acted on at
 * the caller's next cancellation point after the library call returns.
 */
#include "internal.h"

int tlp__nocancel_begin(void)
{
    int old = PTHREAD_CANCEL_ENABLE;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    return old;
}

void tlp__nocancel_end(int old)
{
    int ignored;
    pthread_setcancelstate(old, &ignored);
}
