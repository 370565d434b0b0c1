/* SPDX-License-Identifier: MIT */
/*
 * Opt-in watcher of Linux PSI memory pressure: a thread polls a trigger on
 * /proc/pressure/memory and releases every pool's idle objects when it fires.
 */
#include "internal.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static int psi_fd = -1, stop_fd = -1;

static void *watch(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "tlp-pressure");
    struct pollfd fds[2] = { { psi_fd, POLLPRI, 0 }, { stop_fd, POLLIN, 0 } };
    for (;;) {
        int n = poll(fds, 2, -1);
        if (n < 0)
            continue; /* EINTR */
        if (fds[1].revents)
            break;
        if (fds[0].revents & POLLERR)
            break; /* the trigger went away */
        if (fds[0].revents & POLLPRI)
            tlp_release_idle_all();
    }
    return NULL;
}

int tlp_pressure_watch_start(unsigned stall_us, unsigned window_us)
{
    /* The kernel's range for a trigger (Documentation/accounting/psi):
     * a window of 500 ms to 10 s, a stall within the window. */
    if (stall_us == 0 || stall_us > window_us || window_us < 500000 || window_us > 10000000)
        return EINVAL;
    pthread_mutex_lock(&lock);
    if (psi_fd >= 0) {
        pthread_mutex_unlock(&lock);
        return EALREADY;
    }
    int err = 0;
    int fd = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        err = (errno == ENOENT || errno == EOPNOTSUPP) ? ENOTSUP : errno;
        goto out;
    }
    char trig[64];
    int len = snprintf(trig, sizeof trig, "some %u %u", stall_us, window_us);
    if (write(fd, trig, (size_t)len + 1) < 0) {
        /* The arguments are in range, so EINVAL is this kernel refusing
         * the trigger (unprivileged processes may only use windows that are
         * a multiple of 2 s; kernels built without trigger support). */
        err = (errno == EOPNOTSUPP || errno == EINVAL) ? ENOTSUP : errno;
        close(fd);
        goto out;
    }
    int efd = eventfd(0, EFD_CLOEXEC);
    if (efd < 0) {
        err = errno;
        close(fd);
        goto out;
    }
    psi_fd = fd;
    stop_fd = efd;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&thread, NULL, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        close(psi_fd);
        close(stop_fd);
        psi_fd = stop_fd = -1;
    }
out:
    pthread_mutex_unlock(&lock);
    return err;
}

void tlp__pressure_atfork(int phase)
{
    if (phase == TLP_FORK_PREPARE) {
        pthread_mutex_lock(&lock);
        return;
    }
    if (phase == TLP_FORK_CHILD && psi_fd >= 0) {
        /* The watcher thread did not come along; the child may start its own. */
        close(psi_fd);
        close(stop_fd);
        psi_fd = stop_fd = -1;
    }
    pthread_mutex_unlock(&lock);
}

void tlp_pressure_watch_stop(void)
{
    pthread_mutex_lock(&lock);
    if (psi_fd < 0) {
        pthread_mutex_unlock(&lock);
        return;
    }
    uint64_t one = 1;
    if (write(stop_fd, &one, sizeof one) < 0)
        abort(); /* an eventfd write of 1 cannot fail */
    int old = tlp__nocancel_begin(); /* pthread_join is a cancellation point */
    pthread_join(thread, NULL);
    tlp__nocancel_end(old);
    close(psi_fd);
    close(stop_fd);
    psi_fd = stop_fd = -1;
    pthread_mutex_unlock(&lock);
}
