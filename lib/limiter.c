/* limiter.c - a backend's concurrency limit: requests in flight, and a bounded FIFO line of waiters. */
#include "limiter.h"

/*
 * A freed slot goes straight to the first waiter in line (in_flight stays the same), so
 * a newcomer can never take it first, and a waiter that gives up unlinks itself: the line
 * is exact FIFO whoever leaves it.
 */

/* How much of a new hold time reaches the moving average: recent load counts most. */
#define HOLD_SMOOTHING 0.2

int ulm__limiter_init(ulm_limiter *l, unsigned int max_in_flight, unsigned int max_queue)
{
    *l = (ulm_limiter){.max_in_flight = max_in_flight, .max_queue = max_queue};
    return pthread_mutex_init(&l->lock, NULL) == 0 ? ULM_OK : ULM_ENOMEM;
}

void ulm__limiter_destroy(ulm_limiter *l)
{
    pthread_mutex_destroy(&l->lock);
}

/*
 * Whether waiting is hopeless: a newcomer gets a slot after the callers queued ahead and
 * then itself have each had one freed, and slots free at max_in_flight per mean hold.
 * Without any hold time measured yet there is nothing to predict from.
 */
static int wait_would_pass_deadline(const ulm_limiter *l, double now, double deadline_ms)
{
    if (l->mean_hold_ms <= 0)
        return 0;
    double expected = (double)(l->queued + 1) * l->mean_hold_ms / (double)l->max_in_flight;
    return now + expected > deadline_ms;
}

static void join_line(ulm_limiter *l, ulm_limiter_waiter *w)
{
    w->next = NULL;
    w->in_line = 1;
    w->granted = 0;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->queued++;
}

static void unlink_waiter(ulm_limiter *l, ulm_limiter_waiter *w)
{
    ulm_limiter_waiter *prev = NULL;
    for (ulm_limiter_waiter *it = l->head; it; prev = it, it = it->next) {
        if (it != w)
            continue;
        if (prev)
            prev->next = w->next;
        else
            l->head = w->next;
        if (l->tail == w)
            l->tail = prev;
        break;
    }
    w->next = NULL;
    w->in_line = 0;
    l->queued--;
}

/* Hands a free slot to the first waiter, if any; the lock is held. */
static void serve_line(ulm_limiter *l)
{
    ulm_limiter_waiter *w = l->head;
    if (!w || l->in_flight >= l->max_in_flight)
        return;
    unlink_waiter(l, w);
    w->granted = 1;
    l->in_flight++;
    w->notify(w->ctx);
}

int ulm__limiter_acquire(ulm_limiter *l, ulm_limiter_waiter *w, double now, double deadline_ms)
{
    int rc = ULM_OK;
    pthread_mutex_lock(&l->lock);
    w->granted = 0;
    w->in_line = 0;
    if (l->max_in_flight == 0 || (l->queued == 0 && l->in_flight < l->max_in_flight))
        l->in_flight++;
    else if (l->queued >= l->max_queue || now >= deadline_ms ||
             wait_would_pass_deadline(l, now, deadline_ms))
        rc = ULM_EBUSY;
    else {
        join_line(l, w);
        rc = ULM_LIMITER_QUEUED;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int ulm__limiter_granted(ulm_limiter *l, const ulm_limiter_waiter *w)
{
    pthread_mutex_lock(&l->lock);
    int granted = w->granted;
    pthread_mutex_unlock(&l->lock);
    return granted;
}

void ulm__limiter_leave(ulm_limiter *l, ulm_limiter_waiter *w)
{
    pthread_mutex_lock(&l->lock);
    if (w->in_line) {
        unlink_waiter(l, w);
    } else if (w->granted) {
        w->granted = 0;
        l->in_flight--;
        serve_line(l);
    }
    pthread_mutex_unlock(&l->lock);
}

void ulm__limiter_release(ulm_limiter *l, double held_ms)
{
    pthread_mutex_lock(&l->lock);
    l->in_flight--;
    l->mean_hold_ms = l->mean_hold_ms > 0
                          ? l->mean_hold_ms + HOLD_SMOOTHING * (held_ms - l->mean_hold_ms)
                          : held_ms;
    serve_line(l);
    pthread_mutex_unlock(&l->lock);
}
