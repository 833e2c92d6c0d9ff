/* test_clocks.c - which clock of an attempt fires next, and when, from hand-set milestones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "clocks.h"

/* Limits with distinct digits, so a message naming the wrong one is caught by strstr. */
#define CONNECT_MS 1234L
#define LOAD_MS 56789L
#define FIRST_TOKEN_MS 2345L
#define IDLE_MS 3456L

#define START 1000.0       /* attempt_start */
#define FAR_DEADLINE 1e9   /* an overall deadline that never wins */

/* A cloud attempt that started at START with nothing happened yet. */
static ulm_clocks cloud_clocks(void)
{
    ulm_clocks k = {
        .deadline = FAR_DEADLINE,
        .attempt_start = START,
        .load_end = 0,
        .connect_ms = CONNECT_MS,
        .load_ms = LOAD_MS,
        .first_token_ms = FIRST_TOKEN_MS,
        .idle_ms = IDLE_MS,
    };
    return k;
}

/* The same for a local backend whose load budget runs out LOAD_MS after the start. */
static ulm_clocks local_clocks(void)
{
    ulm_clocks k = cloud_clocks();
    k.load_end = START + (double)LOAD_MS;
    return k;
}

static void assert_fires(const ulm_clocks *k, double want_at, int want_code)
{
    int code = 12345;
    double at = ulm__clocks_next(k, &code);
    if (at != want_at || code != want_code)
        fail_msg("fires at %.3f with %d, want %.3f with %d", at, code, want_at, want_code);
}

static ulm_timeouts test_timeouts(void)
{
    ulm_timeouts tm;
    memset(&tm, 0, sizeof tm);
    tm.ms[ULM_CLOCK_CONNECT] = CONNECT_MS;
    tm.ms[ULM_CLOCK_LOAD] = LOAD_MS;
    tm.ms[ULM_CLOCK_FIRST_TOKEN] = FIRST_TOKEN_MS;
    tm.ms[ULM_CLOCK_IDLE] = IDLE_MS;
    tm.ms[ULM_CLOCK_OVERALL] = 99999;
    return tm;
}

/* ------------------------------------------------------------ ulm__clocks_next */

static void before_connecting_the_connect_clock_runs(void **state)
{
    (void)state;
    ulm_clocks k = cloud_clocks();
    assert_fires(&k, START + CONNECT_MS, ULM_ECONNECT_TIMEOUT);
    /* a local backend connects under the same clock: loading starts only once connected */
    k = local_clocks();
    assert_fires(&k, START + CONNECT_MS, ULM_ECONNECT_TIMEOUT);
}

static void an_earlier_overall_deadline_wins_in_every_phase(void **state)
{
    (void)state;
    ulm_clocks k = cloud_clocks();
    k.deadline = START + 100;
    assert_fires(&k, START + 100, ULM_ETIMEOUT);

    k.connected_at = START + 10; /* waiting for the first token */
    assert_fires(&k, START + 100, ULM_ETIMEOUT);

    ulm__clocks_token(&k, START + 50); /* streaming */
    assert_fires(&k, START + 100, ULM_ETIMEOUT);

    /* a tie goes to the overall deadline, the call's own limit */
    k.deadline = START + 50 + IDLE_MS;
    assert_fires(&k, START + 50 + IDLE_MS, ULM_ETIMEOUT);
    k.deadline = START + 51 + IDLE_MS;
    assert_fires(&k, START + 50 + IDLE_MS, ULM_EIDLE_TIMEOUT);
}

static void cloud_first_token_counts_from_the_connection(void **state)
{
    (void)state;
    ulm_clocks k = cloud_clocks();
    k.connected_at = START + 40;
    assert_fires(&k, START + 40 + FIRST_TOKEN_MS, ULM_EFIRST_TOKEN_TIMEOUT);
    /* the status line arriving does not restart it */
    k.headers_at = START + 900;
    assert_fires(&k, START + 40 + FIRST_TOKEN_MS, ULM_EFIRST_TOKEN_TIMEOUT);
}

static void local_without_headers_waits_out_the_load_budget(void **state)
{
    (void)state;
    ulm_clocks k = local_clocks();
    k.connected_at = START + 40;
    /* the load budget, then the first-token timeout on top: nothing came to start it sooner */
    assert_fires(&k, START + LOAD_MS + FIRST_TOKEN_MS, ULM_ELOAD_TIMEOUT);
}

static void local_headers_before_load_end_start_the_first_token_clock(void **state)
{
    (void)state;
    ulm_clocks k = local_clocks();
    k.connected_at = START + 40;
    k.headers_at = START + 5000; /* the model answered well inside its load budget */
    assert_fires(&k, START + 5000 + FIRST_TOKEN_MS, ULM_EFIRST_TOKEN_TIMEOUT);
}

static void local_headers_after_load_end_count_from_load_end(void **state)
{
    (void)state;
    ulm_clocks k = local_clocks();
    k.connected_at = START + 40;
    k.headers_at = k.load_end + 700; /* late: the load budget was already spent */
    assert_fires(&k, k.load_end + FIRST_TOKEN_MS, ULM_EFIRST_TOKEN_TIMEOUT);
}

static void after_the_first_token_the_idle_clock_runs_and_moves(void **state)
{
    (void)state;
    ulm_clocks k = local_clocks(); /* the load budget no longer matters once tokens flow */
    k.connected_at = START + 40;
    k.headers_at = START + 300;
    ulm__clocks_token(&k, START + 800);
    assert_fires(&k, START + 800 + IDLE_MS, ULM_EIDLE_TIMEOUT);
    ulm__clocks_token(&k, START + 2500);
    assert_fires(&k, START + 2500 + IDLE_MS, ULM_EIDLE_TIMEOUT);
    /* activity recorded without the helper, as the stream does for events without text */
    k.last_activity = START + 4000;
    assert_fires(&k, START + 4000 + IDLE_MS, ULM_EIDLE_TIMEOUT);
}

/* ------------------------------------------------------------ ulm__clocks_token */

static void token_sets_the_first_token_only_once(void **state)
{
    (void)state;
    ulm_clocks k = cloud_clocks();
    k.connected_at = START + 40;
    ulm__clocks_token(&k, START + 600);
    assert_true(k.first_token_at == START + 600);
    assert_true(k.last_activity == START + 600);
    ulm__clocks_token(&k, START + 900);
    assert_true(k.first_token_at == START + 600);
    assert_true(k.last_activity == START + 900);
}

/* ------------------------------------------------------------ ulm__clocks_start */

static void start_copies_limits_and_clears_milestones(void **state)
{
    (void)state;
    ulm_timeouts tm = test_timeouts();
    ulm_clocks k;
    memset(&k, 0x5A, sizeof k); /* garbage that start must overwrite */
    double before = ulm__now_ms();
    ulm__clocks_start(&k, &tm, 0, 777777.0, 0);
    double after = ulm__now_ms();
    assert_true(k.attempt_start >= before && k.attempt_start <= after);
    assert_true(k.deadline == 777777.0);
    assert_int_equal(k.connect_ms, CONNECT_MS);
    assert_int_equal(k.load_ms, LOAD_MS);
    assert_int_equal(k.first_token_ms, FIRST_TOKEN_MS);
    assert_int_equal(k.idle_ms, IDLE_MS);
    assert_true(k.connected_at == 0 && k.headers_at == 0);
    assert_true(k.first_token_at == 0 && k.last_activity == 0);
    assert_true(k.load_end == 0);
}

static void start_sets_the_load_budget_of_local_backends_only(void **state)
{
    (void)state;
    ulm_timeouts tm = test_timeouts();
    ulm_clocks k;

    ulm__clocks_start(&k, &tm, 1, FAR_DEADLINE, 0); /* a first attempt: the budget starts now */
    assert_true(k.load_end == k.attempt_start + (double)LOAD_MS);

    ulm__clocks_start(&k, &tm, 1, FAR_DEADLINE, 4242.0); /* asking again: the budget carries on */
    assert_true(k.load_end == 4242.0);

    ulm__clocks_start(&k, &tm, 0, FAR_DEADLINE, 4242.0); /* cloud: no load budget at all */
    assert_true(k.load_end == 0);
    /* so once connected a cloud attempt waits for the first token, not for a load */
    k.connected_at = k.attempt_start + 5;
    assert_fires(&k, k.attempt_start + 5 + FIRST_TOKEN_MS, ULM_EFIRST_TOKEN_TIMEOUT);
}

/* ------------------------------------------------------------ ulm__clocks_describe */

static void describe(int code, char *out, size_t size)
{
    ulm_clocks k = cloud_clocks();
    memset(out, 'Z', size);
    ulm__clocks_describe(&k, code, out, size);
}

static void describe_names_the_limit_that_passed(void **state)
{
    (void)state;
    char out[256];

    describe(ULM_ECONNECT_TIMEOUT, out, sizeof out);
    assert_non_null(strstr(out, "connection"));
    assert_non_null(strstr(out, "1234 ms"));

    describe(ULM_ELOAD_TIMEOUT, out, sizeof out);
    assert_non_null(strstr(out, "load"));
    assert_non_null(strstr(out, "56789 ms"));
    assert_non_null(strstr(out, "2345 ms"));
    /* the load budget first, as the message words it, then the first-token timeout */
    assert_true(strstr(out, "load") < strstr(out, "56789") &&
                strstr(out, "56789") < strstr(out, "2345"));

    describe(ULM_EFIRST_TOKEN_TIMEOUT, out, sizeof out);
    assert_non_null(strstr(out, "first token"));
    assert_non_null(strstr(out, "2345 ms"));
    assert_null(strstr(out, "56789"));

    describe(ULM_EIDLE_TIMEOUT, out, sizeof out);
    assert_non_null(strstr(out, "stalled"));
    assert_non_null(strstr(out, "3456 ms"));

    describe(ULM_ETIMEOUT, out, sizeof out);
    assert_non_null(strstr(out, "deadline"));
}

static void describe_stays_inside_a_small_buffer(void **state)
{
    (void)state;
    char out[12];
    ulm_clocks k = cloud_clocks();
    memset(out, 'Z', sizeof out);
    ulm__clocks_describe(&k, ULM_ELOAD_TIMEOUT, out, 8);
    assert_int_equal(strlen(out), 7); /* cut and terminated at the size given */
    assert_int_equal(out[8], 'Z');    /* and nothing written past it */

    memset(out, 'Z', sizeof out);
    ulm__clocks_describe(&k, ULM_EIDLE_TIMEOUT, out, 0); /* size 0: nothing at all */
    assert_int_equal(out[0], 'Z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(before_connecting_the_connect_clock_runs),
        cmocka_unit_test(an_earlier_overall_deadline_wins_in_every_phase),
        cmocka_unit_test(cloud_first_token_counts_from_the_connection),
        cmocka_unit_test(local_without_headers_waits_out_the_load_budget),
        cmocka_unit_test(local_headers_before_load_end_start_the_first_token_clock),
        cmocka_unit_test(local_headers_after_load_end_count_from_load_end),
        cmocka_unit_test(after_the_first_token_the_idle_clock_runs_and_moves),
        cmocka_unit_test(token_sets_the_first_token_only_once),
        cmocka_unit_test(start_copies_limits_and_clears_milestones),
        cmocka_unit_test(start_sets_the_load_budget_of_local_backends_only),
        cmocka_unit_test(describe_names_the_limit_that_passed),
        cmocka_unit_test(describe_stays_inside_a_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
