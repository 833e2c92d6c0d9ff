/* hub.c - one engine that the blocking calls of every thread share, driven by a thread whose call waits. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>

#include "cancel.h"
#include "clock.h"
#include "hub.h"

/*
 * A call on the hub; it lives on the stack of the thread that waits for it. That thread
 * is told once, through go: its call is done (done set first), or else it is to drive
 * the engine. A semaphore, so that the driver tells it without holding a lock that it
 * would wake up to find taken (with threads many times the cores, the woken thread runs
 * at once and sleeps again on the lock).
 */
typedef struct hub_seat {
    ulm_call *call;
    const ulm_cancel *cancel;
    sem_t go;
    int done;              /* the call is done, its thread may go */
    struct hub_seat *next; /* in the arrivals, then in the driver's running list */
} hub_seat;

struct ulm_hub {
    ulm_engine_pool *pool;
    pthread_mutex_t lock;
    /* under the lock */
    hub_seat *arrived;        /* calls not begun yet, oldest first */
    hub_seat **arrived_end;
    int driven;               /* a thread drives the engine, or has been told to */
    int asleep;               /* the driver may be waiting in the engine: an arrival wakes it */
    ulm_engine *engine;       /* borrowed while any call is on the hub; written by the driver */
    /* the driver's alone */
    hub_seat *running;        /* begun and not yet handed back */
    int *fds;                 /* the running calls' cancellation descriptors */
    size_t fd_capacity;
};

/* The hub this thread drives, so that a call it makes meanwhile (from a log callback)
 * does not wait for itself. */
static _Thread_local const ulm_hub *driven_here;

int ulm__hub_new(ulm_hub **out, ulm_engine_pool *pool)
{
    *out = NULL;
    ulm_hub *h = ulm__calloc(1, sizeof *h);
    if (!h)
        return ULM_ENOMEM;
    if (pthread_mutex_init(&h->lock, NULL) != 0) {
        ulm__free(h);
        return ULM_ENOMEM;
    }
    h->pool = pool;
    h->arrived_end = &h->arrived;
    *out = h;
    return ULM_OK;
}

void ulm__hub_free(ulm_hub *hub)
{
    if (!hub)
        return;
    pthread_mutex_destroy(&hub->lock);
    ulm__free(hub->fds);
    ulm__free(hub);
}

int ulm__hub_usable(const ulm_hub *hub)
{
    return hub && driven_here != hub;
}

/* Takes the calls that arrived; under the lock. Arriving from now on wakes the driver only
 * when it is about to wait. */
static hub_seat *take_arrivals(ulm_hub *h)
{
    hub_seat *list = h->arrived;
    h->arrived = NULL;
    h->arrived_end = &h->arrived;
    h->asleep = 0;
    return list;
}

static void begin_all(ulm_hub *h, hub_seat *list)
{
    while (list) {
        hub_seat *s = list;
        list = s->next;
        s->next = h->running;
        h->running = s;
        ulm__call_begin(s->call, h->engine);
    }
}

/* Keeps fd among those the engine's wait watches; a list that cannot grow leaves the
 * token to be seen at the next turn of the loop, which *capped brings near. */
static void watch(ulm_hub *h, int fd, size_t *count, int *capped)
{
    if (*count == h->fd_capacity) {
        size_t n = h->fd_capacity ? 2 * h->fd_capacity : 8;
        int *grown = ulm__realloc(h->fds, n * sizeof *grown);
        if (!grown) {
            *capped = 1;
            return;
        }
        h->fds = grown;
        h->fd_capacity = n;
    }
    h->fds[(*count)++] = fd;
}

/*
 * Stops the running calls whose token was triggered, wakes those whose time came or whose
 * slot arrived, and gathers the tokens' descriptors; returns when to wake next.
 */
static double tend(ulm_hub *h, double now, size_t *fd_count)
{
    double next = 0;
    int capped = 0;
    *fd_count = 0;
    for (hub_seat *s = h->running; s; s = s->next) {
        ulm_call *k = s->call;
        if (s->cancel && ulm_cancel_triggered(s->cancel))
            ulm__call_stop(k, ULM_ECANCELLED, "cancelled by the caller");
        if (k->state == ULM_CALL_DONE)
            continue;
        double at = ulm__call_tend(k, now);
        if (at && (!next || at < next))
            next = at;
        if (s->cancel && k->state != ULM_CALL_DONE)
            watch(h, ulm__cancel_fd(s->cancel), fd_count, &capped);
    }
    if (capped && (!next || next > now + ULM_UNWATCHED_WAIT_MS))
        next = now + ULM_UNWATCHED_WAIT_MS;
    return next;
}

/* Lets the thread of a seat go: its call is done. Once told, the seat may be gone. */
static void tell_done(hub_seat *s)
{
    s->done = 1;
    sem_post(&s->go);
}

/* Takes the done calls off the running list and lets their threads go; returns whether
 * mine is done (it is taken off too, and its thread is the caller). */
static int hand_back_done(ulm_hub *h, hub_seat *mine)
{
    for (hub_seat **at = &h->running; *at;) {
        hub_seat *s = *at;
        if (s->call->state != ULM_CALL_DONE) {
            at = &s->next;
            continue;
        }
        *at = s->next;
        if (s != mine)
            tell_done(s);
    }
    return mine->call->state == ULM_CALL_DONE;
}

/* Without an engine no call can run: every call that arrived ends with ULM_ENOMEM. */
static void refuse_arrivals(ulm_hub *h, hub_seat *mine)
{
    pthread_mutex_lock(&h->lock);
    hub_seat *list = take_arrivals(h);
    h->driven = 0;
    pthread_mutex_unlock(&h->lock);
    for (hub_seat *s = list, *next; s; s = next) {
        next = s->next;
        ulm__call_stop(s->call, ULM_ENOMEM, "out of memory");
        if (s != mine)
            tell_done(s);
    }
}

/*
 * Runs every call on the hub until mine is done, then hands the engine to a thread whose
 * call is still on it, or gives it back to the pool when none is.
 */
static void drive(ulm_hub *h, hub_seat *mine)
{
    if (!h->engine && ulm__engine_borrow(h->pool, &h->engine) != ULM_OK) {
        h->engine = NULL;
        refuse_arrivals(h, mine);
        return;
    }
    driven_here = h;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        hub_seat *arrivals = take_arrivals(h);
        pthread_mutex_unlock(&h->lock);
        begin_all(h, arrivals);
        size_t fd_count;
        double wake_at = tend(h, ulm__now_ms(), &fd_count);
        if (hand_back_done(h, mine))
            break;
        pthread_mutex_lock(&h->lock);
        int more = h->arrived != NULL;
        h->asleep = !more;
        pthread_mutex_unlock(&h->lock);
        if (more)
            continue;
        int rc = ulm__engine_run(h->engine, wake_at, h->fds, fd_count);
        if (rc != ULM_OK)
            for (hub_seat *s = h->running; s; s = s->next)
                ulm__call_stop(s->call, rc, "the transport failed");
        if (hand_back_done(h, mine))
            break;
    }
    driven_here = NULL;
    ulm_engine *idle = NULL;
    pthread_mutex_lock(&h->lock);
    h->asleep = 0;
    hub_seat *heir = h->running ? h->running : h->arrived;
    if (!heir) {
        h->driven = 0;
        idle = h->engine;
        h->engine = NULL;
    }
    pthread_mutex_unlock(&h->lock);
    if (heir)
        sem_post(&heir->go); /* it waits for this, so its seat is still there */
    if (idle)
        ulm__engine_return(h->pool, idle);
}

void ulm__hub_run(ulm_hub *h, ulm_call *k, const ulm_cancel *cancel)
{
    hub_seat mine = {.call = k, .cancel = cancel};
    if (sem_init(&mine.go, 0, 0) != 0) {
        ulm__call_stop(k, ULM_ENOMEM, "out of memory");
        return;
    }
    /* a thread cancelled in its wait would leave its seat to the driver, or the hub
     * without one: the seat is on its stack */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    ulm_engine *sleeper = NULL;
    pthread_mutex_lock(&h->lock);
    *h->arrived_end = &mine;
    h->arrived_end = &mine.next;
    int first = !h->driven;
    if (first) {
        h->driven = 1;
    } else if (h->asleep) {
        /* one arrival wakes the driver; the next ones find it awake */
        h->asleep = 0;
        sleeper = h->engine;
    }
    if (sleeper) /* under the lock, which the driver needs to give the engine back */
        ulm__engine_wakeup(sleeper);
    pthread_mutex_unlock(&h->lock);
    if (!first)
        while (sem_wait(&mine.go) != 0 && errno == EINTR)
            ;
    if (!mine.done)
        drive(h, &mine);
    sem_destroy(&mine.go);
    pthread_setcancelstate(cancel_state, NULL);
}
