/* test_limiter.c - the concurrency limit on real threads: queueing, FIFO, give-ups, predictions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"
#include "limiter.h"

#define FAR_MS 30000.0 /* a deadline no test reaches when it works, however loaded the machine */

/* A waiter that blocks its thread, as a caller of the old blocking limiter did: told of
 * its slot through a condition variable. */
typedef struct blocking_waiter {
    ulm_limiter_waiter w;
    pthread_mutex_t lock;
    pthread_cond_t told;
    int notified;
} blocking_waiter;

static void notify_blocking(void *ctx)
{
    blocking_waiter *b = ctx;
    pthread_mutex_lock(&b->lock);
    b->notified = 1;
    pthread_cond_signal(&b->told);
    pthread_mutex_unlock(&b->lock);
}

/* Takes a slot, waiting in line until it comes or deadline_ms passes (then ULM_EBUSY). */
static int acquire(ulm_limiter *l, double deadline_ms, double *waited_ms)
{
    double start = ulm__now_ms();
    blocking_waiter b = {.w = {.notify = notify_blocking}};
    b.w.ctx = &b;
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.told, NULL);
    int rc = ulm__limiter_acquire(l, &b.w, start, deadline_ms);
    if (rc == ULM_LIMITER_QUEUED) {
        pthread_mutex_lock(&b.lock);
        while (!b.notified && ulm__now_ms() < deadline_ms) {
            struct timespec tick;
            clock_gettime(CLOCK_REALTIME, &tick);
            tick.tv_nsec += 1000000L; /* a millisecond: the deadline is on the library's clock */
            if (tick.tv_nsec >= 1000000000L) {
                tick.tv_sec++;
                tick.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&b.told, &b.lock, &tick);
        }
        pthread_mutex_unlock(&b.lock);
        if (ulm__limiter_granted(l, &b.w)) {
            rc = ULM_OK;
        } else {
            ulm__limiter_leave(l, &b.w);
            rc = ulm__limiter_granted(l, &b.w) ? ULM_OK : ULM_EBUSY;
        }
    }
    pthread_cond_destroy(&b.told);
    pthread_mutex_destroy(&b.lock);
    if (waited_ms)
        *waited_ms = ulm__now_ms() - start;
    return rc;
}

/* One caller on its own thread: acquires, notes when it got the slot, and gives it back. */
typedef struct caller {
    ulm_limiter *limiter;
    double deadline_ms;
    int id;
    int rc;
    double waited_ms;
    struct served_log *log; /* NULL: the order is not recorded */
    int keeps_slot;         /* the test releases it after the join */
    pthread_t thread;
} caller;

/* The order in which callers got their slots. */
typedef struct served_log {
    pthread_mutex_t lock;
    int ids[16];
    int count;
} served_log;

static void *caller_main(void *arg)
{
    caller *c = arg;
    c->rc = acquire(c->limiter, c->deadline_ms, &c->waited_ms);
    if (c->rc == ULM_OK) {
        if (c->log) {
            pthread_mutex_lock(&c->log->lock);
            c->log->ids[c->log->count++] = c->id;
            pthread_mutex_unlock(&c->log->lock);
        }
        if (!c->keeps_slot)
            ulm__limiter_release(c->limiter, 0);
    }
    return NULL;
}

static void start_caller(caller *c, ulm_limiter *l, int id, double deadline_ms, served_log *log,
                         int keeps_slot)
{
    *c = (caller){.limiter = l, .deadline_ms = deadline_ms, .id = id, .rc = 1, .log = log,
                  .keeps_slot = keeps_slot};
    assert_int_equal(pthread_create(&c->thread, NULL, caller_main, c), 0);
}

static void join_caller(caller *c)
{
    assert_int_equal(pthread_join(c->thread, NULL), 0);
}

static unsigned int queued_now(ulm_limiter *l)
{
    pthread_mutex_lock(&l->lock);
    unsigned int queued = l->queued;
    pthread_mutex_unlock(&l->lock);
    return queued;
}

/* Polls the limiter until count callers wait in its line, so arrivals happen in a known order. */
static void wait_until_queued(ulm_limiter *l, unsigned int count)
{
    const struct timespec tick = {0, 1000000L};
    for (int i = 0; i < 2000; i++) {
        if (queued_now(l) == count)
            return;
        nanosleep(&tick, NULL);
    }
    fail_msg("the line never reached %u callers (it has %u)", count, queued_now(l));
}

static void unlimited_never_waits(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 0, 0), ULM_OK);
    double waited = -1;
    for (int i = 0; i < 1000; i++) {
        /* Even a deadline already behind us: nothing to wait for. */
        assert_int_equal(acquire(&l, ulm__now_ms() - 1000, &waited), ULM_OK);
        assert_true(waited >= 0 && waited < FAR_MS / 2); /* it did not wait for the deadline */
    }
    assert_int_equal(l.in_flight, 1000);
    for (int i = 0; i < 1000; i++)
        ulm__limiter_release(&l, 100);
    assert_int_equal(l.in_flight, 0);
    assert_int_equal(acquire(&l, ulm__now_ms() - 1000, NULL), ULM_OK);
    ulm__limiter_release(&l, 100);
    ulm__limiter_destroy(&l);
}

static void a_free_slot_is_taken_at_once(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 2, 0), ULM_OK);
    double waited = -1;
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, &waited), ULM_OK);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, &waited), ULM_OK);
    assert_true(waited >= 0 && waited < FAR_MS / 2); /* it did not wait for the deadline */
    /* No room to queue: the third fails at once however far its deadline. */
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, &waited), ULM_EBUSY);
    assert_true(waited < FAR_MS / 2); /* it did not wait for the deadline */
    ulm__limiter_release(&l, 0);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, &waited), ULM_OK);
    ulm__limiter_release(&l, 0);
    ulm__limiter_release(&l, 0);
    assert_int_equal(l.in_flight, 0);
    ulm__limiter_destroy(&l);
}

static void second_queues_third_is_refused(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 1, 1), ULM_OK);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);

    caller second;
    start_caller(&second, &l, 2, ulm__now_ms() + FAR_MS, NULL, 0);
    wait_until_queued(&l, 1);

    double waited = -1;
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, &waited), ULM_EBUSY);
    assert_true(waited < FAR_MS / 2); /* it did not wait for the deadline */
    assert_int_equal(queued_now(&l), 1); /* the second is still waiting */

    ulm__limiter_release(&l, 0);
    join_caller(&second);
    assert_int_equal(second.rc, ULM_OK);
    assert_true(second.waited_ms > 0 && second.waited_ms < FAR_MS);
    assert_int_equal(l.in_flight, 0);
    assert_int_equal(l.queued, 0);
    ulm__limiter_destroy(&l);
}

static void a_newcomer_does_not_pass_the_line(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 1, 2), ULM_OK);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);
    caller waiting;
    start_caller(&waiting, &l, 1, ulm__now_ms() + FAR_MS, NULL, 1);
    wait_until_queued(&l, 1);

    /* The slot just freed is the waiter's, even before it wakes to take it. */
    ulm__limiter_release(&l, 0);
    assert_int_equal(acquire(&l, ulm__now_ms() - 1, NULL), ULM_EBUSY);
    join_caller(&waiting);
    assert_int_equal(waiting.rc, ULM_OK);
    ulm__limiter_release(&l, 0);
    assert_int_equal(l.queued, 0);
    assert_int_equal(l.in_flight, 0);
    ulm__limiter_destroy(&l);
}

static void waiters_are_served_in_arrival_order(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 1, 8), ULM_OK);
    served_log log = {.count = 0};
    pthread_mutex_init(&log.lock, NULL);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);

    enum { CALLERS = 6 };
    caller callers[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        start_caller(&callers[i], &l, i, ulm__now_ms() + FAR_MS, &log, 0);
        wait_until_queued(&l, (unsigned int)i + 1);
    }
    ulm__limiter_release(&l, 0);
    for (int i = 0; i < CALLERS; i++) {
        join_caller(&callers[i]);
        assert_int_equal(callers[i].rc, ULM_OK);
    }
    assert_int_equal(log.count, CALLERS);
    for (int i = 0; i < CALLERS; i++)
        assert_int_equal(log.ids[i], i);
    pthread_mutex_destroy(&log.lock);
    ulm__limiter_destroy(&l);
}

static void a_give_up_at_the_head_does_not_block_the_next(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 1, 4), ULM_OK);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);

    caller impatient, patient;
    start_caller(&impatient, &l, 1, ulm__now_ms() + 100, NULL, 0);
    wait_until_queued(&l, 1);
    start_caller(&patient, &l, 2, ulm__now_ms() + FAR_MS, NULL, 0);
    wait_until_queued(&l, 2);

    join_caller(&impatient);
    assert_int_equal(impatient.rc, ULM_EBUSY);
    assert_true(impatient.waited_ms >= 90 && impatient.waited_ms < FAR_MS / 2);
    assert_int_equal(queued_now(&l), 1);

    double released_at = ulm__now_ms();
    ulm__limiter_release(&l, 0);
    join_caller(&patient);
    assert_int_equal(patient.rc, ULM_OK);
    assert_true(ulm__now_ms() - released_at < FAR_MS / 2); /* served on release, not at its deadline */
    assert_int_equal(l.queued, 0);
    assert_int_equal(l.in_flight, 0);
    assert_null(l.head); /* nobody left behind in the line */
    ulm__limiter_destroy(&l);
}

static void give_ups_in_the_middle_and_at_the_end_keep_the_line_moving(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 1, 8), ULM_OK);
    served_log log = {.count = 0};
    pthread_mutex_init(&log.lock, NULL);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);

    /* first, middle (gives up), third, last (gives up) */
    caller first, middle, third, last;
    start_caller(&first, &l, 1, ulm__now_ms() + FAR_MS, &log, 0);
    wait_until_queued(&l, 1);
    start_caller(&middle, &l, 2, ulm__now_ms() + 60, &log, 0);
    wait_until_queued(&l, 2);
    start_caller(&third, &l, 3, ulm__now_ms() + FAR_MS, &log, 0);
    wait_until_queued(&l, 3);
    start_caller(&last, &l, 4, ulm__now_ms() + 60, &log, 0);
    wait_until_queued(&l, 4);

    join_caller(&middle);
    join_caller(&last);
    assert_int_equal(middle.rc, ULM_EBUSY);
    assert_int_equal(last.rc, ULM_EBUSY);
    assert_int_equal(queued_now(&l), 2);
    /* The two that gave up left the line; the first is still ahead of the third. */
    pthread_mutex_lock(&l.lock);
    assert_non_null(l.head);
    assert_ptr_equal(l.head->next, l.tail);
    assert_null(l.tail->next);
    pthread_mutex_unlock(&l.lock);

    ulm__limiter_release(&l, 0);
    join_caller(&first);
    join_caller(&third);
    assert_int_equal(first.rc, ULM_OK);
    assert_int_equal(third.rc, ULM_OK);
    assert_int_equal(log.count, 2);
    assert_int_equal(log.ids[0], 1);
    assert_int_equal(log.ids[1], 3);
    assert_int_equal(l.queued, 0);
    assert_int_equal(l.in_flight, 0);
    assert_null(l.head);

    /* The line still works for newcomers after the give-ups. */
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);
    caller newcomer;
    start_caller(&newcomer, &l, 5, ulm__now_ms() + FAR_MS, &log, 0);
    wait_until_queued(&l, 1);
    ulm__limiter_release(&l, 0);
    join_caller(&newcomer);
    assert_int_equal(newcomer.rc, ULM_OK);
    pthread_mutex_destroy(&log.lock);
    ulm__limiter_destroy(&l);
}

/* Gives the limiter a hold-time history by taking and releasing a slot with these times. */
static void hold_for(ulm_limiter *l, double held_ms, int times)
{
    for (int i = 0; i < times; i++) {
        assert_int_equal(acquire(l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);
        ulm__limiter_release(l, held_ms);
    }
}

static void mean_hold_follows_releases(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 1, 1), ULM_OK);
    assert_true(l.mean_hold_ms == 0);
    hold_for(&l, 100, 1);
    assert_true(l.mean_hold_ms == 100); /* the first measurement is the mean */
    hold_for(&l, 100, 5);
    assert_true(l.mean_hold_ms == 100);
    hold_for(&l, 200, 1);
    assert_true(l.mean_hold_ms > 100 && l.mean_hold_ms < 200);
    hold_for(&l, 200, 50);
    assert_true(l.mean_hold_ms > 199 && l.mean_hold_ms <= 200);
    ulm__limiter_destroy(&l);
}

static void a_wait_past_the_deadline_is_refused_at_once(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 1, 4), ULM_OK);
    hold_for(&l, 100, 5);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);

    double waited = -1;
    assert_int_equal(acquire(&l, ulm__now_ms() + 10, &waited), ULM_EBUSY);
    assert_true(waited >= 0 && waited < 10); /* did not sit out the 10 ms */
    assert_int_equal(l.queued, 0);

    /* 100 ms expected, 150 ms allowed: it waits, and gives up at its deadline. */
    assert_int_equal(acquire(&l, ulm__now_ms() + 150, &waited), ULM_EBUSY);
    assert_true(waited >= 145 && waited < FAR_MS / 2);

    /* With one caller ahead the same 150 ms are not enough: 200 ms expected. */
    caller ahead;
    start_caller(&ahead, &l, 1, ulm__now_ms() + FAR_MS, NULL, 0);
    wait_until_queued(&l, 1);
    assert_int_equal(acquire(&l, ulm__now_ms() + 150, &waited), ULM_EBUSY);
    assert_true(waited < 150); /* did not sit out its deadline */
    ulm__limiter_release(&l, 100);
    join_caller(&ahead);
    assert_int_equal(ahead.rc, ULM_OK);
    ulm__limiter_destroy(&l);
}

static void the_prediction_shares_the_wait_among_slots(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 2, 4), ULM_OK);
    hold_for(&l, 100, 5);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);

    /* Two slots free one every 50 ms: 40 ms is too short, 60 ms worth waiting for. */
    double waited = -1;
    assert_int_equal(acquire(&l, ulm__now_ms() + 40, &waited), ULM_EBUSY);
    assert_true(waited < 40); /* did not sit out its deadline */
    assert_int_equal(acquire(&l, ulm__now_ms() + 60, &waited), ULM_EBUSY);
    assert_true(waited >= 55 && waited < FAR_MS / 2);
    ulm__limiter_release(&l, 100);
    ulm__limiter_release(&l, 100);
    ulm__limiter_destroy(&l);
}

static void no_prediction_without_history(void **state)
{
    (void)state;
    ulm_limiter l;
    assert_int_equal(ulm__limiter_init(&l, 1, 1), ULM_OK);
    assert_int_equal(acquire(&l, ulm__now_ms() + FAR_MS, NULL), ULM_OK);
    double waited = -1;
    assert_int_equal(acquire(&l, ulm__now_ms() + 30, &waited), ULM_EBUSY);
    assert_true(waited >= 25 && waited < FAR_MS / 2); /* it waited for its deadline */
    assert_int_equal(l.queued, 0);
    ulm__limiter_release(&l, 0);
    assert_true(l.mean_hold_ms == 0); /* a zero hold is no history either */
    ulm__limiter_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unlimited_never_waits),
        cmocka_unit_test(a_free_slot_is_taken_at_once),
        cmocka_unit_test(second_queues_third_is_refused),
        cmocka_unit_test(a_newcomer_does_not_pass_the_line),
        cmocka_unit_test(waiters_are_served_in_arrival_order),
        cmocka_unit_test(a_give_up_at_the_head_does_not_block_the_next),
        cmocka_unit_test(give_ups_in_the_middle_and_at_the_end_keep_the_line_moving),
        cmocka_unit_test(mean_hold_follows_releases),
        cmocka_unit_test(a_wait_past_the_deadline_is_refused_at_once),
        cmocka_unit_test(the_prediction_shares_the_wait_among_slots),
        cmocka_unit_test(no_prediction_without_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
