/* limiter.h - a backend's concurrency limit: requests in flight, and a bounded FIFO queue. */
#ifndef ULM_LIMITER_H
#define ULM_LIMITER_H

#include "internal.h"

typedef struct ulm_limiter {
    pthread_mutex_t lock;
    pthread_cond_t turn;        /* signalled when a slot frees; waits on CLOCK_MONOTONIC */
    unsigned int max_in_flight; /* 0: no limit (acquire never waits) */
    unsigned int max_queue;     /* callers that may wait; more fail at once */
    unsigned int in_flight;
    unsigned int queued;
    unsigned long next_ticket;  /* FIFO: tickets are served in order */
    unsigned long serving;
    double mean_hold_ms;        /* moving average of how long a slot is held */
} ulm_limiter;

ULM_HIDDEN int ulm__limiter_init(ulm_limiter *l, unsigned int max_in_flight,
                                 unsigned int max_queue);
ULM_HIDDEN void ulm__limiter_destroy(ulm_limiter *l);

/*
 * Takes a slot, waiting in FIFO order when all are busy. Fails at once with ULM_EBUSY when
 * the queue is full, or when the expected wait (the callers ahead times the mean hold
 * time, over max_in_flight) would pass deadline_ms (ulm__now_ms() time); fails with
 * ULM_EBUSY too if the deadline passes while waiting. *waited_ms gets the time spent.
 */
ULM_HIDDEN int ulm__limiter_acquire(ulm_limiter *l, double deadline_ms, double *waited_ms);

/* Gives back a slot taken held_ms ago, and wakes the next caller in line. */
ULM_HIDDEN void ulm__limiter_release(ulm_limiter *l, double held_ms);

#endif /* ULM_LIMITER_H */
