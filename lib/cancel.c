/* cancel.c - cancellation tokens: another thread, or a signal handler, stops a running call. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "cancel.h"

/*
 * Triggering must be safe in a signal handler (Ctrl-C in a program), where no lock may be
 * taken: an atomic flag for whoever looks, and one byte written to a pipe, which wakes any
 * engine waiting on the pipe's read end. A pipe, not an eventfd, to stay POSIX.
 */
struct ulm_cancel {
    atomic_int triggered;
    int fds[2];
};

int ulm_cancel_new(ulm_cancel **out)
{
    if (!out)
        return ULM_EINVAL;
    *out = NULL;
    ulm_cancel *c = ulm__calloc(1, sizeof *c);
    if (!c)
        return ULM_ENOMEM;
    if (pipe(c->fds) != 0) {
        ulm__free(c);
        return ULM_ENOMEM;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(c->fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(c->fds[i], F_SETFL, fcntl(c->fds[i], F_GETFL) | O_NONBLOCK);
    }
    atomic_init(&c->triggered, 0);
    *out = c;
    return ULM_OK;
}

void ulm_cancel_free(ulm_cancel *cancel)
{
    if (!cancel)
        return;
    close(cancel->fds[0]);
    close(cancel->fds[1]);
    ulm__free(cancel);
}

void ulm_cancel_trigger(ulm_cancel *cancel)
{
    if (!cancel || atomic_exchange(&cancel->triggered, 1))
        return;
    /* the byte stays unread: the pipe stays readable for every later wait */
    ssize_t written = write(cancel->fds[1], "x", 1);
    (void)written; /* a full pipe is already readable */
}

int ulm_cancel_triggered(const ulm_cancel *cancel)
{
    return cancel && atomic_load(&((ulm_cancel *)cancel)->triggered);
}

int ulm__cancel_fd(const ulm_cancel *cancel)
{
    return cancel->fds[0];
}
