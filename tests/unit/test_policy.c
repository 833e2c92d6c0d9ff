/* test_policy.c - backoff, Retry-After, breakers, endpoint picks, offline mode, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "policy.h"

/* ---------------------------------------------------------------- backoff */

static void backoff_caps_double_then_saturate(void **state)
{
    (void)state;
    const ulm_retry_policy p = {.max_retries = 40, .base_delay_ms = 100, .max_delay_ms = 10000};
    const double draws[] = {0.0, 0.5, 0.999999};
    for (unsigned int retry = 0; retry <= 40; retry++) {
        double cap = fmin(10000.0, ldexp(100.0, (int)retry));
        for (size_t i = 0; i < sizeof draws / sizeof draws[0]; i++) {
            double pause = ulm__backoff_ms(&p, retry, draws[i]);
            assert_true(pause >= 0.0);
            assert_true(pause <= cap);
            assert_true(fabs(pause - draws[i] * cap) < 1e-9);
        }
    }
    /* The caps themselves: 100, 200, 400 ... 6400, then max from retry 7 on. */
    assert_true(ulm__backoff_ms(&p, 0, 0.5) == 50.0);
    assert_true(ulm__backoff_ms(&p, 1, 0.5) == 100.0);
    assert_true(ulm__backoff_ms(&p, 6, 0.5) == 3200.0);
    assert_true(ulm__backoff_ms(&p, 7, 0.5) == 5000.0);
    assert_true(ulm__backoff_ms(&p, 40, 0.5) == 5000.0);
}

static void backoff_never_overflows(void **state)
{
    (void)state;
    const ulm_retry_policy huge = {.base_delay_ms = LONG_MAX / 2, .max_delay_ms = LONG_MAX};
    const unsigned int retries[] = {1, 2, 62, 63, 64, 65, 1000, UINT_MAX};
    for (size_t i = 0; i < sizeof retries / sizeof retries[0]; i++) {
        double pause = ulm__backoff_ms(&huge, retries[i], 0.5);
        assert_true(pause > 0.0);
        assert_true(pause <= (double)LONG_MAX);
    }
    const ulm_retry_policy small = {.base_delay_ms = 1, .max_delay_ms = 30000};
    assert_true(ulm__backoff_ms(&small, UINT_MAX, 0.5) == 15000.0);
    assert_true(ulm__backoff_ms(&small, 64, 0.5) == 15000.0);
    assert_true(ulm__backoff_ms(&small, 14, 0.5) == 8192.0);
}

static void backoff_base_above_max_and_zero_base(void **state)
{
    (void)state;
    const ulm_retry_policy above = {.base_delay_ms = 9000, .max_delay_ms = 1000};
    assert_true(ulm__backoff_ms(&above, 0, 0.5) == 500.0);
    const ulm_retry_policy zero = {.base_delay_ms = 0, .max_delay_ms = 1000};
    assert_true(ulm__backoff_ms(&zero, 5, 0.9) == 0.0);
}

/* ---------------------------------------------------------------- Retry-After */

#define NOV_6_1994 784111777L   /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOV_16_1994 784975777L  /* Wed, 16 Nov 1994 08:49:37 GMT */
#define JAN_1_2025 1735689600L  /* Wed, 01 Jan 2025 00:00:00 GMT */
#define JUN_1_2043 2316729600LL
#define FEB_29_2024_NOON 1709208000L
#define A_DAY_MS (24L * 3600L * 1000L)

static void retry_after_delta_seconds(void **state)
{
    (void)state;
    assert_int_equal(ulm__parse_retry_after("120", NOV_6_1994), 120000);
    assert_int_equal(ulm__parse_retry_after("0", NOV_6_1994), 0);
    assert_int_equal(ulm__parse_retry_after("  7\t", NOV_6_1994), 7000);
    assert_int_equal(ulm__parse_retry_after("\t 3600 ", NOV_6_1994), 3600000);
    assert_int_equal(ulm__parse_retry_after("86401", NOV_6_1994), A_DAY_MS);
    assert_int_equal(ulm__parse_retry_after("99999999999999999999999999999", NOV_6_1994),
                     A_DAY_MS);
}

static void retry_after_garbage(void **state)
{
    (void)state;
    const char *bad[] = {
        "-1", "1.5", "", "   ", "12abc", "+5", "1 2", "0x10",
        "Sun, 06 Now 1994 08:49:37 GMT",  /* bad month */
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long ms = ulm__parse_retry_after(bad[i], NOV_6_1994);
        if (ms != -1)
            fail_msg("\"%s\" gave %ld, expected -1", bad[i], ms);
    }
    assert_int_equal(ulm__parse_retry_after(NULL, NOV_6_1994), -1);
}

static void retry_after_each_date_form(void **state)
{
    (void)state;
    time_t now = NOV_6_1994 - 120;
    assert_int_equal(ulm__parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 120000);
    assert_int_equal(ulm__parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 120000);
    assert_int_equal(ulm__parse_retry_after("Sun Nov  6 08:49:37 1994", now), 120000);
    assert_int_equal(ulm__parse_retry_after("  Sun, 06 Nov 1994 08:49:37 GMT\t", now), 120000);

    now = NOV_16_1994 - 30;
    assert_int_equal(ulm__parse_retry_after("Wed, 16 Nov 1994 08:49:37 GMT", now), 30000);
    assert_int_equal(ulm__parse_retry_after("Wednesday, 16-Nov-94 08:49:37 GMT", now), 30000);
    assert_int_equal(ulm__parse_retry_after("Wed Nov 16 08:49:37 1994", now), 30000);

    assert_int_equal(ulm__parse_retry_after("Thu, 29 Feb 2024 12:00:01 GMT", FEB_29_2024_NOON),
                     1000);
}

static void retry_after_past_and_far_dates(void **state)
{
    (void)state;
    assert_int_equal(ulm__parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOV_6_1994 + 5), 0);
    assert_int_equal(ulm__parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOV_6_1994), 0);
    assert_int_equal(ulm__parse_retry_after("Sun Nov  6 08:49:37 1994", NOV_16_1994), 0);
    assert_int_equal(ulm__parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", NOV_6_1994), 0);
    assert_int_equal(ulm__parse_retry_after("Wed, 16 Nov 1994 08:49:37 GMT", NOV_6_1994),
                     A_DAY_MS);
}

/*
 * Dates are read by libcurl's curl_getdate(), which is more forgiving than RFC 9110's
 * grammar: a server's slightly wrong date is still its advice, and reading it costs nothing.
 * What it reads, it reads as the date the text plainly means.
 */
static void retry_after_forgiving_dates(void **state)
{
    (void)state;
    time_t now = NOV_6_1994 - 120;
    const char *forgiven[] = {
        "Sun, 06 nov 1994 08:49:37 GMT",  /* a lower-case month */
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 94 08:49:37 GMT",    /* a two-digit year in the IMF form */
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
    };
    for (size_t i = 0; i < sizeof forgiven / sizeof forgiven[0]; i++) {
        long ms = ulm__parse_retry_after(forgiven[i], now);
        if (ms != 120000)
            fail_msg("\"%s\" gave %ld, expected 120000", forgiven[i], ms);
    }
}

/* libcurl reads RFC 850's obsolete two-digit years 70-99 as 19xx and 00-69 as 20xx. */
static void retry_after_two_digit_years(void **state)
{
    (void)state;
    assert_int_equal(ulm__parse_retry_after("Wednesday, 01-Jan-25 00:00:00 GMT", JAN_1_2025 - 60),
                     60000);
    assert_int_equal(ulm__parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", (time_t)JUN_1_2043),
                     0);
    assert_int_equal(ulm__parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", NOV_6_1994 - 30),
                     30000);
}

/* ---------------------------------------------------------------- breaker */

static const ulm_breaker_policy three_in_a_second = {
    .failures = 3, .window_ms = 1000, .cooldown_ms = 5000};

static void fail_at(ulm_breaker *b, const ulm_breaker_policy *p, double now)
{
    assert_true(ulm__breaker_allow(b, p, now));
    ulm__breaker_record(b, p, now, 0);
}

static void breaker_opens_after_failures_within_the_window(void **state)
{
    (void)state;
    ulm_breaker b = {0};
    const ulm_breaker_policy *p = &three_in_a_second;
    fail_at(&b, p, 0);
    fail_at(&b, p, 400);
    assert_int_equal(b.state, ULM_BREAKER_CLOSED);
    assert_true(ulm__breaker_ready_at(&b, p, 450) == 450);
    fail_at(&b, p, 1000); /* the window is inclusive: the failure at 0 still counts */
    assert_int_equal(b.state, ULM_BREAKER_OPEN);
    assert_true(b.opened_at == 1000);
    assert_false(ulm__breaker_allow(&b, p, 1001));
}

static void breaker_spread_failures_keep_it_closed(void **state)
{
    (void)state;
    ulm_breaker b = {0};
    const ulm_breaker_policy *p = &three_in_a_second;
    /* Two failures per 1000 ms at most: never three within one window. */
    for (int i = 0; i < 100; i++)
        fail_at(&b, p, i * 501.0);
    assert_int_equal(b.state, ULM_BREAKER_CLOSED);
    assert_int_equal(b.failure_count, ULM_BREAKER_MAX_FAILURES);
    fail_at(&b, p, 99 * 501.0 + 1); /* now three within the window */
    assert_int_equal(b.state, ULM_BREAKER_OPEN);
}

static void breaker_refuses_until_cooldown_then_lets_one_trial(void **state)
{
    (void)state;
    ulm_breaker b = {0};
    const ulm_breaker_policy *p = &three_in_a_second;
    for (int i = 0; i < 3; i++)
        fail_at(&b, p, 100.0 * i); /* opens at 200 */
    assert_false(ulm__breaker_allow(&b, p, 300));
    assert_false(ulm__breaker_allow(&b, p, 5199));
    assert_int_equal(b.state, ULM_BREAKER_OPEN);
    assert_true(ulm__breaker_ready_at(&b, p, 300) == 5200);
    assert_true(ulm__breaker_ready_at(&b, p, 5199) == 5200);
    assert_true(ulm__breaker_ready_at(&b, p, 6000) == 6000);

    assert_true(ulm__breaker_allow(&b, p, 5200));
    assert_int_equal(b.state, ULM_BREAKER_HALF_OPEN);
    assert_true(b.trial_in_flight);
    assert_false(ulm__breaker_allow(&b, p, 5201));
    assert_false(ulm__breaker_allow(&b, p, 90000));
    /* With the trial out nothing is ready before a failed trial's cooldown would end. */
    assert_true(ulm__breaker_ready_at(&b, p, 5300) == 5300 + 5000);
}

static ulm_breaker breaker_in_trial(const ulm_breaker_policy *p)
{
    ulm_breaker b = {0};
    for (int i = 0; i < 3; i++)
        fail_at(&b, p, 100.0 * i);
    assert_true(ulm__breaker_allow(&b, p, 5200));
    return b;
}

static void breaker_trial_success_closes_and_forgets(void **state)
{
    (void)state;
    const ulm_breaker_policy *p = &three_in_a_second;
    ulm_breaker b = breaker_in_trial(p);
    ulm__breaker_record(&b, p, 5300, 1);
    assert_int_equal(b.state, ULM_BREAKER_CLOSED);
    assert_int_equal(b.failure_count, 0);
    assert_false(b.trial_in_flight);
    assert_true(ulm__breaker_allow(&b, p, 5301));
    assert_true(ulm__breaker_allow(&b, p, 5302)); /* closed: no limit on requests */
    fail_at(&b, p, 5400);
    fail_at(&b, p, 5500);
    assert_int_equal(b.state, ULM_BREAKER_CLOSED); /* the old three are forgotten */
    fail_at(&b, p, 5600);
    assert_int_equal(b.state, ULM_BREAKER_OPEN);
}

static void breaker_trial_failure_reopens_for_a_new_cooldown(void **state)
{
    (void)state;
    const ulm_breaker_policy *p = &three_in_a_second;
    ulm_breaker b = breaker_in_trial(p);
    ulm__breaker_record(&b, p, 7000, 0);
    assert_int_equal(b.state, ULM_BREAKER_OPEN);
    assert_true(b.opened_at == 7000);
    assert_false(b.trial_in_flight);
    assert_true(ulm__breaker_ready_at(&b, p, 7000) == 12000);
    assert_false(ulm__breaker_allow(&b, p, 11999));
    assert_true(ulm__breaker_allow(&b, p, 12000));
    assert_int_equal(b.state, ULM_BREAKER_HALF_OPEN);
}

static void breaker_success_while_closed_clears_history(void **state)
{
    (void)state;
    const ulm_breaker_policy *p = &three_in_a_second;
    ulm_breaker b = {0};
    fail_at(&b, p, 0);
    fail_at(&b, p, 10);
    assert_true(ulm__breaker_allow(&b, p, 20));
    ulm__breaker_record(&b, p, 20, 1);
    assert_int_equal(b.failure_count, 0);
    fail_at(&b, p, 30);
    fail_at(&b, p, 40);
    assert_int_equal(b.state, ULM_BREAKER_CLOSED);
}

static void breaker_late_failure_while_open_keeps_the_cooldown(void **state)
{
    (void)state;
    const ulm_breaker_policy *p = &three_in_a_second;
    ulm_breaker b = {0};
    for (int i = 0; i < 3; i++)
        fail_at(&b, p, 100.0 * i);
    ulm__breaker_record(&b, p, 3000, 0); /* a request sent before it opened */
    assert_int_equal(b.state, ULM_BREAKER_OPEN);
    assert_true(b.opened_at == 200);
}

static void breaker_threshold_is_held_to_the_ring(void **state)
{
    (void)state;
    const ulm_breaker_policy many = {.failures = 1000, .window_ms = 100000, .cooldown_ms = 10};
    ulm_breaker b = {0};
    for (int i = 0; i < ULM_BREAKER_MAX_FAILURES - 1; i++)
        fail_at(&b, &many, i);
    assert_int_equal(b.state, ULM_BREAKER_CLOSED);
    fail_at(&b, &many, ULM_BREAKER_MAX_FAILURES);
    assert_int_equal(b.state, ULM_BREAKER_OPEN);
}

static void breaker_of_zero_failures_never_opens(void **state)
{
    (void)state;
    const ulm_breaker_policy none = {.failures = 0, .window_ms = 1000, .cooldown_ms = 10};
    ulm_breaker b = {0};
    for (int i = 0; i < 10; i++)
        fail_at(&b, &none, i);
    assert_int_equal(b.state, ULM_BREAKER_CLOSED);
}

/* ---------------------------------------------------------------- endpoints */

static const ulm_breaker_policy one_failure = {.failures = 1, .window_ms = 1000,
                                               .cooldown_ms = 1000};

static void open_endpoint(ulm_endpoint_state *ep, double opened_at)
{
    ep->breaker.state = ULM_BREAKER_OPEN;
    ep->breaker.opened_at = opened_at;
}

static void round_robin_is_fair(void **state)
{
    (void)state;
    ulm_endpoint_state eps[3];
    memset(eps, 0, sizeof eps);
    unsigned int cursor = 0, picks[3] = {0};
    for (int i = 0; i < 300; i++) {
        int pick = ulm__pick_endpoint(eps, 3, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 0, 0);
        assert_int_equal(pick, i % 3);
        picks[pick]++;
    }
    assert_int_equal(picks[0], 100);
    assert_int_equal(picks[1], 100);
    assert_int_equal(picks[2], 100);
}

static void round_robin_skips_open_endpoints(void **state)
{
    (void)state;
    ulm_endpoint_state eps[3];
    memset(eps, 0, sizeof eps);
    open_endpoint(&eps[1], 500);
    unsigned int cursor = 0, picks[3] = {0};
    for (int i = 0; i < 200; i++)
        picks[ulm__pick_endpoint(eps, 3, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 600, 0)]++;
    assert_int_equal(picks[0], 100);
    assert_int_equal(picks[1], 0);
    assert_int_equal(picks[2], 100);
    assert_int_equal(eps[1].breaker.state, ULM_BREAKER_OPEN);
}

static void all_cooling_gives_minus_one(void **state)
{
    (void)state;
    ulm_endpoint_state eps[3];
    memset(eps, 0, sizeof eps);
    for (int i = 0; i < 3; i++)
        open_endpoint(&eps[i], 100.0 * i);
    unsigned int cursor = 1;
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 999, 0), -1);
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 999, 0), -1);
    assert_int_equal(ulm__pick_endpoint(eps, 0, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 0, 0),
                     -1);
}

static void half_open_trial_goes_to_one_endpoint(void **state)
{
    (void)state;
    ulm_endpoint_state eps[3];
    memset(eps, 0, sizeof eps);
    open_endpoint(&eps[0], 0);    /* cooled down at 1000 */
    open_endpoint(&eps[1], 5000); /* still cooling at 2000 */
    open_endpoint(&eps[2], 0);    /* cooled down at 1000 */
    unsigned int cursor = 0;
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 2000, 0), 0);
    assert_int_equal(eps[0].breaker.state, ULM_BREAKER_HALF_OPEN);
    assert_true(eps[0].breaker.trial_in_flight);
    /* The other cooled-down endpoint was only looked at, not turned half-open. */
    assert_int_equal(eps[2].breaker.state, ULM_BREAKER_OPEN);
    assert_false(eps[2].breaker.trial_in_flight);

    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 2001, 0), 2);
    assert_int_equal(eps[2].breaker.state, ULM_BREAKER_HALF_OPEN);
    /* Both trials are out and endpoint 1 is cooling: nothing is left. */
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 2002, 0), -1);
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 2002, 0), -1);
}

static void least_in_flight_gives_the_trial_to_its_pick_only(void **state)
{
    (void)state;
    ulm_endpoint_state eps[3];
    memset(eps, 0, sizeof eps);
    open_endpoint(&eps[0], 0); /* both cooled down at 1000, and idle */
    eps[1].in_flight = 4;
    open_endpoint(&eps[2], 0);
    unsigned int cursor = 0;
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 2000, 0), 0);
    assert_int_equal(eps[0].breaker.state, ULM_BREAKER_HALF_OPEN);
    assert_int_equal(eps[2].breaker.state, ULM_BREAKER_OPEN);
    assert_false(eps[2].breaker.trial_in_flight);
    eps[0].in_flight = 1;
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 2001, 0), 2);
    assert_int_equal(eps[2].breaker.state, ULM_BREAKER_HALF_OPEN);
    eps[2].in_flight = 1;
    /* Both trials out: only the busy closed endpoint is left. */
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 2002, 0), 1);
}

static void least_in_flight_takes_the_idlest(void **state)
{
    (void)state;
    ulm_endpoint_state eps[3];
    memset(eps, 0, sizeof eps);
    eps[0].in_flight = 3;
    eps[1].in_flight = 1;
    eps[2].in_flight = 2;
    unsigned int cursor = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(
            ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 0, 0), 1);
    /* An open endpoint is skipped however idle it is. */
    eps[1].in_flight = 0;
    open_endpoint(&eps[1], 0);
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 10, 0), 2);
}

static void least_in_flight_ties_go_round_robin(void **state)
{
    (void)state;
    ulm_endpoint_state eps[3];
    memset(eps, 0, sizeof eps);
    eps[0].in_flight = 1;
    unsigned int cursor = 0, picks[3] = {0};
    for (int i = 0; i < 100; i++) {
        int pick =
            ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 0, 0);
        assert_int_equal(pick, i % 2 ? 2 : 1);
        picks[pick]++;
    }
    assert_int_equal(picks[0], 0);
    assert_int_equal(picks[1], 50);
    assert_int_equal(picks[2], 50);
}

/* ---------------------------------------------------------------- offline */

#define PROBE_MS 30000L

static void offline_starts_on_a_connect_failure(void **state)
{
    (void)state;
    ulm_offline_state s = {0};
    assert_false(ulm__offline_skip_cloud(&s, 0));
    ulm__offline_note_cloud(&s, 500, 0, PROBE_MS); /* an answer: still online */
    assert_false(s.offline);
    ulm__offline_note_cloud(&s, 1000, 1, PROBE_MS);
    assert_true(s.offline);
    assert_true(s.since == 1000);
    assert_true(s.next_probe_at == 1000 + PROBE_MS);
    assert_true(ulm__offline_skip_cloud(&s, 1001));
    assert_true(ulm__offline_skip_cloud(&s, 1000 + PROBE_MS - 1));
    assert_false(s.probe_in_flight);
}

static void offline_lets_exactly_one_probe_through(void **state)
{
    (void)state;
    ulm_offline_state s = {0};
    ulm__offline_note_cloud(&s, 1000, 1, PROBE_MS);
    assert_false(ulm__offline_skip_cloud(&s, 31000)); /* the probe */
    assert_true(s.probe_in_flight);
    assert_true(ulm__offline_skip_cloud(&s, 31000));
    assert_true(ulm__offline_skip_cloud(&s, 31001));
    assert_true(ulm__offline_skip_cloud(&s, 99000)); /* still waiting for the probe */
}

static void offline_failed_probe_pushes_the_next(void **state)
{
    (void)state;
    ulm_offline_state s = {0};
    ulm__offline_note_cloud(&s, 1000, 1, PROBE_MS);
    assert_false(ulm__offline_skip_cloud(&s, 31000));
    ulm__offline_note_cloud(&s, 32000, 1, PROBE_MS);
    assert_true(s.offline);
    assert_true(s.since == 1000);
    assert_false(s.probe_in_flight);
    assert_true(s.next_probe_at == 32000 + PROBE_MS);
    assert_true(ulm__offline_skip_cloud(&s, 61999));
    assert_false(ulm__offline_skip_cloud(&s, 62000));
    assert_true(ulm__offline_skip_cloud(&s, 62001));
}

static void offline_ends_when_the_cloud_answers(void **state)
{
    (void)state;
    ulm_offline_state s = {0};
    ulm__offline_note_cloud(&s, 1000, 1, PROBE_MS);
    assert_false(ulm__offline_skip_cloud(&s, 31000));
    ulm__offline_note_cloud(&s, 31200, 0, PROBE_MS); /* the probe got an HTTP answer */
    assert_false(s.offline);
    assert_false(s.probe_in_flight);
    assert_false(ulm__offline_skip_cloud(&s, 31201));
    assert_false(ulm__offline_skip_cloud(&s, 31202));

    /* Any cloud answer ends it, even one that was not the probe. */
    ulm__offline_note_cloud(&s, 40000, 1, PROBE_MS);
    assert_true(ulm__offline_skip_cloud(&s, 40001));
    ulm__offline_note_cloud(&s, 40002, 0, PROBE_MS);
    assert_false(ulm__offline_skip_cloud(&s, 40003));
}

/* Failing over within one call: endpoints already tried are passed over, even if healthy. */
static void pick_passes_over_excluded_endpoints(void **state)
{
    (void)state;
    ulm_endpoint_state eps[3] = {{{0}, 0}, {{0}, 0}, {{0}, 0}};
    ulm_breaker_policy one_failure = {1, 1000, 1000};
    unsigned int cursor = 0;
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 0, 0x1), 1);
    cursor = 0;
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_LEAST_IN_FLIGHT, &cursor, &one_failure, 0, 0x3), 2);
    assert_int_equal(
        ulm__pick_endpoint(eps, 3, ULM_BALANCE_ROUND_ROBIN, &cursor, &one_failure, 0, 0x7), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_caps_double_then_saturate),
        cmocka_unit_test(backoff_never_overflows),
        cmocka_unit_test(backoff_base_above_max_and_zero_base),
        cmocka_unit_test(retry_after_delta_seconds),
        cmocka_unit_test(retry_after_garbage),
        cmocka_unit_test(retry_after_each_date_form),
        cmocka_unit_test(retry_after_past_and_far_dates),
        cmocka_unit_test(retry_after_forgiving_dates),
        cmocka_unit_test(retry_after_two_digit_years),
        cmocka_unit_test(breaker_opens_after_failures_within_the_window),
        cmocka_unit_test(breaker_spread_failures_keep_it_closed),
        cmocka_unit_test(breaker_refuses_until_cooldown_then_lets_one_trial),
        cmocka_unit_test(breaker_trial_success_closes_and_forgets),
        cmocka_unit_test(breaker_trial_failure_reopens_for_a_new_cooldown),
        cmocka_unit_test(breaker_success_while_closed_clears_history),
        cmocka_unit_test(breaker_late_failure_while_open_keeps_the_cooldown),
        cmocka_unit_test(breaker_threshold_is_held_to_the_ring),
        cmocka_unit_test(breaker_of_zero_failures_never_opens),
        cmocka_unit_test(round_robin_is_fair),
        cmocka_unit_test(round_robin_skips_open_endpoints),
        cmocka_unit_test(all_cooling_gives_minus_one),
        cmocka_unit_test(half_open_trial_goes_to_one_endpoint),
        cmocka_unit_test(least_in_flight_gives_the_trial_to_its_pick_only),
        cmocka_unit_test(least_in_flight_takes_the_idlest),
        cmocka_unit_test(least_in_flight_ties_go_round_robin),
        cmocka_unit_test(offline_starts_on_a_connect_failure),
        cmocka_unit_test(offline_lets_exactly_one_probe_through),
        cmocka_unit_test(offline_failed_probe_pushes_the_next),
        cmocka_unit_test(offline_ends_when_the_cloud_answers),
        cmocka_unit_test(pick_passes_over_excluded_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
