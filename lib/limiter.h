/* limiter.h - a backend's concurrency limit: requests in flight, and a bounded FIFO line of waiters. */
#ifndef ULM_LIMITER_H
#define ULM_LIMITER_H

#include <pthread.h>

#include "alloc.h"

/*
 * A caller waiting for a slot. Nothing blocks here: a waiter is told by its notify
 * function (called with the limiter's lock held, from whichever thread freed the slot)
 * and then finds ulm__limiter_granted() true. The waiter must stay where it is until it
 * was granted a slot or left the line.
 */
typedef struct ulm_limiter_waiter ulm_limiter_waiter;
struct ulm_limiter_waiter {
    void (*notify)(void *ctx);
    void *ctx;
    ulm_limiter_waiter *next;  /* the line, in arrival order */
    int in_line;
    int granted;
};

typedef struct ulm_limiter {
    pthread_mutex_t lock;
    unsigned int max_in_flight; /* 0: no limit (acquire never waits) */
    unsigned int max_queue;     /* callers that may wait; more are refused at once */
    unsigned int in_flight;     /* slots taken, granted ones included */
    unsigned int queued;
    ulm_limiter_waiter *head, *tail;
    double mean_hold_ms;        /* moving average of how long a slot is held */
} ulm_limiter;

/* ulm__limiter_acquire's answer when the caller was put in line. */
#define ULM_LIMITER_QUEUED 1

ULM_HIDDEN int ulm__limiter_init(ulm_limiter *l, unsigned int max_in_flight,
                                 unsigned int max_queue);
ULM_HIDDEN void ulm__limiter_destroy(ulm_limiter *l);

/*
 * Takes a slot at once (ULM_OK), or puts w at the end of the line (ULM_LIMITER_QUEUED),
 * or refuses (ULM_EBUSY): when the line is full, when deadline_ms (ulm__now_ms() time)
 * has passed, or when the expected wait (the callers ahead times the mean hold time, over
 * max_in_flight) would pass it. A newcomer never passes callers already in line.
 */
ULM_HIDDEN int ulm__limiter_acquire(ulm_limiter *l, ulm_limiter_waiter *w, double now,
                                    double deadline_ms);

/* Whether w, in line, has been given a slot (it holds the slot from then on). */
ULM_HIDDEN int ulm__limiter_granted(ulm_limiter *l, const ulm_limiter_waiter *w);

/* w gives up: it leaves the line, and a slot it was granted meanwhile is given back. */
ULM_HIDDEN void ulm__limiter_leave(ulm_limiter *l, ulm_limiter_waiter *w);

/* Gives back a slot taken held_ms ago; the first in line gets it. */
ULM_HIDDEN void ulm__limiter_release(ulm_limiter *l, double held_ms);

#endif /* ULM_LIMITER_H */
