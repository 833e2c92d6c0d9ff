/* limiter.c - a backend's concurrency limit: slots in flight, and a bounded FIFO queue. */
#include <time.h>

#include "limiter.h"

/*
 * The line is two counters: a caller joining it takes next_ticket, and serving counts the
 * callers that have left it, so next_ticket - serving == queued and a waiter's ticket
 * minus serving is its place in line. The waiters placed below the number of free slots
 * take them; without give-ups that is strict FIFO.
 *
 * A caller whose deadline passes must leave at once, and nothing records which tickets
 * were abandoned, so the line can never be left with a hole it would have to recognise
 * and skip. Instead the leaver fixes the counters itself:
 *  - the last in line hands its ticket back (next_ticket--): nobody's place changes;
 *  - anyone else counts as a departure (serving++): everyone moves up a place. That is
 *    exact for the head of the line. For a caller in the middle, the waiters ahead of it
 *    now read their place one too low, so when slots free up one of them may go before a
 *    neighbour that was ahead of it.
 * Either way a waiter's place never reads higher than the callers truly ahead of it, so
 * the true head of the line always sees place 0 or less and takes the next free slot:
 * nobody waits behind an abandoned ticket, and the worst a give-up costs is a swap among
 * the waiters that were in front of it.
 */

/* How much of a new hold time reaches the moving average: recent load counts most. */
#define HOLD_SMOOTHING 0.2

int ulm__limiter_init(ulm_limiter *l, unsigned int max_in_flight, unsigned int max_queue)
{
    *l = (ulm_limiter){.max_in_flight = max_in_flight, .max_queue = max_queue};
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return ULM_ENOMEM;
    /* Deadlines are ulm__now_ms() times, which are CLOCK_MONOTONIC. */
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&l->turn, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return ULM_ENOMEM;
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        pthread_cond_destroy(&l->turn);
        return ULM_ENOMEM;
    }
    return ULM_OK;
}

void ulm__limiter_destroy(ulm_limiter *l)
{
    pthread_cond_destroy(&l->turn);
    pthread_mutex_destroy(&l->lock);
}

static unsigned int free_slots(const ulm_limiter *l)
{
    return l->in_flight < l->max_in_flight ? l->max_in_flight - l->in_flight : 0;
}

/* Signed, so a ticket the give-ups behind it have pushed past serving reads as <= 0. */
static long place_in_line(const ulm_limiter *l, unsigned long ticket)
{
    return (long)(ticket - l->serving);
}

/* The free check comes first: a place read below 0 must still wait for a slot to free. */
static int may_take_slot(const ulm_limiter *l, unsigned long ticket)
{
    unsigned int free = free_slots(l);
    return free > 0 && place_in_line(l, ticket) < (long)free;
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

/* The absolute CLOCK_MONOTONIC time of a ulm__now_ms() value, for the timed wait. */
static struct timespec monotonic_timespec(double ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000.0);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000.0) * 1e6);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* A waiter gives up its place (see the top of the file). */
static void leave_line(ulm_limiter *l, unsigned long ticket)
{
    l->queued--;
    if (ticket == l->next_ticket - 1) {
        l->next_ticket--;
        return;
    }
    l->serving++;
    /* The line moved up: a waiter may now be placed at a free slot. */
    pthread_cond_broadcast(&l->turn);
}

/*
 * Waits, holding a ticket, until the line reaches it and a slot is free, or the deadline
 * passes. Returns with the ticket gone from the line either way.
 */
static int wait_for_turn(ulm_limiter *l, double deadline_ms)
{
    unsigned long ticket = l->next_ticket++;
    l->queued++;
    while (!may_take_slot(l, ticket)) {
        double now = ulm__now_ms();
        if (now >= deadline_ms) {
            leave_line(l, ticket);
            return ULM_EBUSY;
        }
        /* A far deadline is waited for in day-long steps, so its timespec cannot overflow. */
        double wake = deadline_ms < now + (double)ULM_MAX_TIMEOUT_MS
                          ? deadline_ms
                          : now + (double)ULM_MAX_TIMEOUT_MS;
        struct timespec until = monotonic_timespec(wake);
        /* Timeouts and spurious wakeups alike: the loop looks at the line and the clock again. */
        pthread_cond_timedwait(&l->turn, &l->lock, &until);
    }
    l->queued--;
    l->serving++;
    l->in_flight++;
    return ULM_OK;
}

int ulm__limiter_acquire(ulm_limiter *l, double deadline_ms, double *waited_ms)
{
    double start = ulm__now_ms();
    int rc = ULM_OK;
    pthread_mutex_lock(&l->lock);
    if (l->max_in_flight == 0 || (l->queued == 0 && l->in_flight < l->max_in_flight))
        l->in_flight++; /* a newcomer never passes callers already in line */
    else if (l->queued >= l->max_queue || wait_would_pass_deadline(l, start, deadline_ms))
        rc = ULM_EBUSY;
    else
        rc = wait_for_turn(l, deadline_ms);
    pthread_mutex_unlock(&l->lock);
    if (waited_ms)
        *waited_ms = ulm__now_ms() - start;
    return rc;
}

void ulm__limiter_release(ulm_limiter *l, double held_ms)
{
    pthread_mutex_lock(&l->lock);
    l->in_flight--;
    l->mean_hold_ms = l->mean_hold_ms > 0
                          ? l->mean_hold_ms + HOLD_SMOOTHING * (held_ms - l->mean_hold_ms)
                          : held_ms;
    /* Every waiter checks its own ticket, so all must look; a signal might wake the wrong one. */
    pthread_cond_broadcast(&l->turn);
    pthread_mutex_unlock(&l->lock);
}
