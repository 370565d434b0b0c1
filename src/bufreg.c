/* SPDX-License-Identifier: MIT */
/*
 * The list of live buffer pools, for tlp_bufpool_foreach (stats printing).
 * Its lock is held while the callback runs, so a buffer pool cannot be
 * destroyed under it; lock order: this lock, then the pool registry's.
 */
#include "internal.h"

#include <stdlib.h>

typedef struct node {
    tlp_bufpool *bp;
    struct node *next;
} node;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static node *head;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* fork(): the list is consistent at every store (one pointer written per
 * change), so the child only needs a lock no missing thread holds. */
static void child(void)
{
    pthread_mutex_init(&lock, NULL);
}

static void install_atfork(void)
{
    pthread_atfork(NULL, NULL, child);
}

void tlp__bufpool_register(tlp_bufpool *bp)
{
    node *n = malloc(sizeof *n);
    if (!n)
        return; /* the pool works; it is only missing from the listing */
    n->bp = bp;
    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&lock);
    /* Appended: the listing shows buffer pools in creation order. */
    node **p = &head;
    while (*p)
        p = &(*p)->next;
    n->next = NULL;
    *p = n;
    pthread_mutex_unlock(&lock);
}

void tlp__bufpool_unregister(tlp_bufpool *bp)
{
    pthread_mutex_lock(&lock);
    for (node **p = &head; *p; p = &(*p)->next) {
        if ((*p)->bp == bp) {
            node *n = *p;
            *p = n->next;
            free(n);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

int tlp_bufpool_foreach(int (*fn)(tlp_bufpool *bp, void *arg), void *arg)
{
    if (!fn)
        return EINVAL;
    int ret = 0;
    pthread_mutex_lock(&lock);
    for (node *n = head; n && ret == 0; n = n->next)
        ret = fn(n->bp, arg);
    pthread_mutex_unlock(&lock);
    return ret;
}
