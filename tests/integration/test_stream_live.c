/* test_stream_live.c - streaming and the clocks against the fault server and the DMR emulator. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "live.h"

/* The first two deltas of FAULT_TEXT. */
#define FAULT_HEAD "Hello, world!"

/* ------------------------------------------------------------ setup */

static const char *fault_url(void)
{
    return live_url("ULM_TEST_FAULT_URL");
}

/* A URL of the fault server that plays scenario ("stall-mid/2000"), with an API suffix. */
static char *scenario_url(const char *scenario, const char *suffix)
{
    static char urls[4][256];
    static int next;
    char *u = urls[next++ % 4];
    snprintf(u, sizeof urls[0], "%s/%s%s", fault_url(), scenario, suffix);
    return u;
}

/* "loading/N/run-TAG": a loading period of its own on a server that keeps running. */
static const char *loading_scenario(long ms)
{
    static char scenario[96];
    snprintf(scenario, sizeof scenario, "loading/%ld/run-%ld-%.0f", ms, (long)getpid(), live_now_ms());
    return scenario;
}

typedef struct run {
    ulm_response *resp;
    int rc;
    double ms;
    double end;
    live_deltas seen;
} run;

static void stream(run *r, ulm_client *c, const char *models, ulm_request *req)
{
    if (!req)
        req = live_request(models, "Once upon a time");
    assert_int_equal(ulm_request_set_on_delta(req, live_collect, &r->seen), ULM_OK);
    double start = live_now_ms();
    r->rc = ulm_complete(&r->resp, c, req);
    r->end = live_now_ms();
    r->ms = r->end - start;
    assert_non_null(r->resp);
    ulm_request_free(req);
}

static void run_free(run *r, ulm_client *c)
{
    ulm_response_free(r->resp);
    ulm_client_free(c);
}

static void assert_class(const run *r, int expected)
{
    if (r->rc != expected)
        fail_msg("expected %s, got %s: %s", ulm_error_name(expected), ulm_error_name(r->rc),
                 ulm_response_error_message(r->resp));
}

static void assert_fired_at(const run *r, double limit_ms)
{
    if (r->ms < limit_ms - 1.0 || r->ms > limit_ms + live_tolerance_ms())
        fail_msg("the clock of %.0f ms fired after %.1f ms", limit_ms, r->ms);
}

/* A stream that broke after FAULT_HEAD: that text, once, and no fallback. */
static void assert_incomplete_after_head(const run *r)
{
    assert_true(ulm_response_incomplete(r->resp));
    assert_string_equal(r->seen.text, FAULT_HEAD);
    assert_string_equal(ulm_response_text(r->resp), FAULT_HEAD);
    assert_non_null(strstr(ulm_response_error_message(r->resp), "output incomplete after 13 bytes"));
    assert_int_equal(ulm_response_attempt_count(r->resp), 1);
}

static ulm_client *openai_at(const char *scenario)
{
    ulm_client_options o = live_options(LIVE_DEAD_URL, scenario_url(scenario, "/v1"), "sk-test");
    return live_client_with(&o);
}

/* ------------------------------------------------------------ tests */

static void whole_stream_arrives_in_pieces_with_usage(void **state)
{
    (void)state;
    const char *scenarios[] = {"ok/0", "crlf/0", "slow/60"};
    for (size_t i = 0; i < 3; i++) {
        ulm_client *c = openai_at(scenarios[i]);
        run r = {0};
        stream(&r, c, "openai/fault-model", NULL);
        assert_class(&r, ULM_OK);
        assert_string_equal(r.seen.text, FAULT_TEXT);
        assert_string_equal(ulm_response_text(r.resp), FAULT_TEXT);
        assert_true(r.seen.calls >= 5); /* one per event: the text was not buffered up */
        assert_int_equal(ulm_response_finish_reason(r.resp), ULM_FINISH_STOP);
        assert_int_equal(ulm_response_prompt_tokens(r.resp), 7);
        assert_int_equal(ulm_response_completion_tokens(r.resp), 5);
        assert_int_equal(ulm_response_total_tokens(r.resp), 12);
        assert_false(ulm_response_incomplete(r.resp));
        assert_null(ulm_response_raw_json(r.resp));
        run_free(&r, c);
    }
}

static void first_token_clock_fires_and_nothing_is_delivered(void **state)
{
    (void)state;
    ulm_client *c = openai_at("delay-first-byte/3000");
    ulm_request *req = live_request("openai/fault-model", "hi");
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_FIRST_TOKEN, 400), ULM_OK);
    run r = {0};
    stream(&r, c, NULL, req);
    assert_class(&r, ULM_EFIRST_TOKEN_TIMEOUT);
    assert_fired_at(&r, 400);
    assert_int_equal(r.seen.calls, 0);
    assert_false(ulm_response_incomplete(r.resp));
    run_free(&r, c);
}

static void first_token_in_time_is_not_cut(void **state)
{
    (void)state;
    ulm_client *c = openai_at("delay-first-byte/200");
    ulm_request *req = live_request("openai/fault-model", "hi");
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_FIRST_TOKEN, 2000), ULM_OK);
    run r = {0};
    stream(&r, c, NULL, req);
    assert_class(&r, ULM_OK);
    assert_string_equal(r.seen.text, FAULT_TEXT);
    run_free(&r, c);
}

static void idle_clock_cuts_a_stalled_stream(void **state)
{
    (void)state;
    ulm_client *c = openai_at("stall-mid/5000");
    ulm_request *req = live_request("openai/fault-model,dmr/ai/stories260k", "hi");
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_IDLE, 300), ULM_OK);
    run r = {0};
    stream(&r, c, NULL, req);
    assert_class(&r, ULM_EIDLE_TIMEOUT);
    assert_incomplete_after_head(&r);
    double idle = r.end - r.seen.last_at; /* the clock runs from the last event */
    if (idle < 299.0 || idle > 300.0 + live_tolerance_ms())
        fail_msg("the idle clock of 300 ms fired after %.1f ms", idle);
    run_free(&r, c);
}

static void slow_stream_within_the_idle_clock_completes(void **state)
{
    (void)state;
    ulm_client *c = openai_at("slow/150");
    ulm_request *req = live_request("openai/fault-model", "hi");
    /* gaps of 150 ms, a clock well above them however busy the machine */
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_IDLE, 450 + (long)live_tolerance_ms()),
                     ULM_OK);
    run r = {0};
    stream(&r, c, NULL, req);
    assert_class(&r, ULM_OK);
    assert_string_equal(r.seen.text, FAULT_TEXT);
    run_free(&r, c);
}

/* The idle clock measures the backend's silence: time the caller spends with a delta is
 * not a stall, however long, while the overall deadline still counts it. */
static void time_inside_the_callback_is_not_idle_time(void **state)
{
    (void)state;
    /* events 20 ms and 150 ms apart, each held longer than the idle clock by the caller;
     * the clock leaves the server's gaps the tolerance of a busy machine */
    const char *scenarios[] = {"ok/0", "slow/150"};
    long idle_ms = 150 + (long)live_tolerance_ms(), hold_ms = idle_ms + 300;
    for (size_t i = 0; i < 2; i++) {
        ulm_client *c = openai_at(scenarios[i]);
        ulm_request *req = live_request("openai/fault-model", "hi");
        assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_IDLE, idle_ms), ULM_OK);
        run r = {.seen.hold_ms = hold_ms};
        stream(&r, c, NULL, req);
        assert_class(&r, ULM_OK);
        assert_string_equal(r.seen.text, FAULT_TEXT);
        assert_true(r.seen.calls >= 4 && r.ms >= (double)hold_ms * r.seen.calls);
        run_free(&r, c);
    }
}

/* Broken streams after the first delta: the right class, the text once, no fallback. */
static void broken_streams_end_incomplete_without_fallback(void **state)
{
    (void)state;
    const struct {
        const char *scenario;
        int error;
    } cases[] = {
        {"close-mid/0", ULM_ETRANSPORT},
        {"malformed/0", ULM_EPROTOCOL},
        {"stream-error/0", ULM_ESERVER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_client_options o = live_options(live_url("ULM_TEST_DMR_URL"),
                                            scenario_url(cases[i].scenario, "/v1"), "sk-test");
        ulm_client *c = live_client_with(&o);
        run r = {0};
        stream(&r, c, "openai/fault-model,dmr/ai/stories260k", NULL);
        assert_class(&r, cases[i].error);
        assert_incomplete_after_head(&r);
        assert_string_equal(ulm_response_provider(r.resp), "openai");
        run_free(&r, c);
    }
}

static void stream_without_its_end_marker_is_incomplete(void **state)
{
    (void)state;
    ulm_client *c = openai_at("no-done/0");
    run r = {0};
    stream(&r, c, "openai/fault-model", NULL);
    assert_class(&r, ULM_EPROTOCOL);
    assert_true(ulm_response_incomplete(r.resp));
    assert_string_equal(r.seen.text, FAULT_TEXT);
    assert_non_null(strstr(ulm_response_error_message(r.resp), "before its end marker"));
    run_free(&r, c);
}

static void oversized_event_line_is_refused_at_the_cap(void **state)
{
    (void)state;
    ulm_client_options o = live_options(LIVE_DEAD_URL, scenario_url("oversized-line/5000000", "/v1"),
                                        "sk-test");
    o.max_event_line_bytes = 64 * 1024;
    ulm_client *c = live_client_with(&o);
    run r = {0};
    stream(&r, c, "openai/fault-model", NULL);
    assert_class(&r, ULM_ETOO_LARGE);
    assert_string_equal(ulm_response_error_message(r.resp),
                        "openai: a server-sent event line larger than the 65536-byte cap");
    assert_int_equal(r.seen.calls, 0);
    run_free(&r, c);
}

static void cancel_from_the_callback_stops_the_call(void **state)
{
    (void)state;
    /* events 2 s apart: "Hello" comes one gap after the role's event, the next text two gaps
     * after it; the bound below stays short of that */
    ulm_client_options o = live_options(live_url("ULM_TEST_DMR_URL"), scenario_url("slow/2000", "/v1"),
                                        "sk-test");
    ulm_client *c = live_client_with(&o);
    run r = {.seen.cancel_after = 1};
    stream(&r, c, "openai/fault-model,dmr/ai/stories260k", NULL);
    assert_class(&r, ULM_ECANCELLED);
    assert_int_equal(r.seen.calls, 1);
    assert_string_equal(r.seen.text, "Hello");
    assert_string_equal(ulm_response_text(r.resp), "Hello");
    assert_int_equal(ulm_response_attempt_count(r.resp), 1);
    assert_true(r.ms < 2000 + live_tolerance_ms()); /* it did not wait for the rest */
    run_free(&r, c);
}

static void failure_before_the_first_delta_falls_back(void **state)
{
    (void)state;
    ulm_client_options o = live_options(live_url("ULM_TEST_DMR_URL"), scenario_url("hang/0", "/v1"),
                                        "sk-test");
    /* the clock cuts the hang, and leaves the real model behind it time for its first
     * token however busy the machine */
    o.first_token_timeout_ms = 1000 + (long)live_tolerance_ms();
    ulm_client *c = live_client_with(&o);
    run r = {0};
    stream(&r, c, "openai/fault-model,dmr/ai/stories260k", NULL);
    assert_class(&r, ULM_OK);
    assert_string_equal(ulm_response_provider(r.resp), "dmr");
    assert_attempt_is(r.resp, 0, "openai", ULM_EFIRST_TOKEN_TIMEOUT);
    assert_attempt_is(r.resp, 1, "dmr", ULM_OK);
    assert_string_equal(r.seen.text, ulm_response_text(r.resp)); /* only dmr's text */
    assert_true(ulm_response_text_length(r.resp) > 0);
    run_free(&r, c);
}

static void deadline_is_shared_by_every_attempt(void **state)
{
    (void)state;
    ulm_client_options o = live_options(live_url("ULM_TEST_DMR_URL"), scenario_url("hang/0", "/v1"),
                                        "sk-test");
    ulm_client *c = live_client_with(&o);
    ulm_request *req = live_request("openai/fault-model,dmr/ai/stories260k", "hi");
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_OVERALL, 500), ULM_OK);
    run r = {0};
    stream(&r, c, NULL, req);
    assert_class(&r, ULM_ETIMEOUT);
    assert_fired_at(&r, 500);
    assert_int_equal(ulm_response_attempt_count(r.resp), 1); /* no fallback with no budget */
    run_free(&r, c);
}

/* A server that accepts no connection: a listen queue of zero, filled up. */
typedef struct full_server {
    int listener;
    int fillers[4];
    char url[64];
} full_server;

static void full_server_start(full_server *s)
{
    s->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(s->listener, (struct sockaddr *)&addr, len), 0);
    assert_int_equal(listen(s->listener, 0), 0);
    assert_int_equal(getsockname(s->listener, (struct sockaddr *)&addr, &len), 0);
    for (int i = 0; i < 4; i++) {
        s->fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(s->fillers[i], (struct sockaddr *)&addr, len); /* EINPROGRESS is the point */
    }
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/v1", ntohs(addr.sin_port));
}

static void full_server_stop(full_server *s)
{
    for (int i = 0; i < 4; i++)
        close(s->fillers[i]);
    close(s->listener);
}

static void connect_clock_fires_when_no_connection_is_made(void **state)
{
    (void)state;
    full_server s;
    full_server_start(&s);
    ulm_client_options o = live_options(LIVE_DEAD_URL, s.url, "sk-test");
    o.connect_timeout_ms = 300;
    o.use_local_models_when_offline = -1; /* else the call would go on to a local model */
    ulm_client *c = live_client_with(&o);
    run r = {0};
    stream(&r, c, "openai/fault-model", NULL);
    assert_class(&r, ULM_ECONNECT_TIMEOUT);
    assert_fired_at(&r, 300);
    run_free(&r, c);
    full_server_stop(&s);
}

/* Older DMR releases answer 503 "Loading model" while loading: wait, then answer. */
static void loading_model_is_waited_for_within_the_load_budget(void **state)
{
    (void)state;
    ulm_client_options o = live_options(scenario_url(loading_scenario(800), ""), LIVE_DEAD_URL,
                                        NULL);
    o.local_model_timeout_ms = 5000;
    ulm_client *c = live_client_with(&o);
    run r = {0};
    stream(&r, c, "dmr/fault-model", NULL);
    assert_class(&r, ULM_OK);
    assert_string_equal(r.seen.text, FAULT_TEXT);
    assert_true(r.ms >= 800);
    assert_int_equal(ulm_response_attempt_count(r.resp), 1);
    run_free(&r, c);
}

static void loading_past_the_load_budget_is_a_load_timeout(void **state)
{
    (void)state;
    ulm_client_options o = live_options(scenario_url(loading_scenario(60000), ""), LIVE_DEAD_URL,
                                        NULL);
    o.local_model_timeout_ms = 700;
    ulm_client *c = live_client_with(&o);
    run r = {0};
    stream(&r, c, "dmr/fault-model", NULL);
    assert_class(&r, ULM_ELOAD_TIMEOUT);
    assert_fired_at(&r, 700);
    assert_int_equal(r.seen.calls, 0);
    run_free(&r, c);
}

/* A local model that sends nothing has its load budget plus the first-token timeout. */
static void silent_local_model_gets_load_budget_then_first_token(void **state)
{
    (void)state;
    ulm_client_options o = live_options(scenario_url("hang/0", ""), LIVE_DEAD_URL, NULL);
    o.local_model_timeout_ms = 400;
    o.first_token_timeout_ms = 200;
    ulm_client *c = live_client_with(&o);
    run r = {0};
    stream(&r, c, "dmr/fault-model", NULL);
    assert_class(&r, ULM_ELOAD_TIMEOUT);
    assert_fired_at(&r, 600);
    run_free(&r, c);
}

/* Real tokens from llama.cpp: the stream says what the plain call says. */
static void local_stream_matches_the_plain_answer(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *plain_req = live_request(LIVE_LOCAL_MODEL, "Once upon a time");
    ulm_response *plain = NULL;
    assert_int_equal(ulm_complete(&plain, c, plain_req), ULM_OK);
    run r = {0};
    stream(&r, c, LIVE_LOCAL_MODEL, NULL);
    assert_class(&r, ULM_OK);
    assert_string_equal(r.seen.text, ulm_response_text(plain));
    assert_string_equal(ulm_response_text(r.resp), ulm_response_text(plain));
    assert_true(r.seen.calls > 1);
    assert_int_equal(ulm_response_completion_tokens(r.resp), ulm_response_completion_tokens(plain));
    assert_int_equal(ulm_response_prompt_tokens(r.resp), ulm_response_prompt_tokens(plain));
    assert_int_equal(ulm_response_finish_reason(r.resp), ulm_response_finish_reason(plain));
    ulm_response_free(plain);
    ulm_request_free(plain_req);
    run_free(&r, c);
}

int main(void)
{
    fault_url();
    live_url("ULM_TEST_DMR_URL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_stream_arrives_in_pieces_with_usage),
        cmocka_unit_test(first_token_clock_fires_and_nothing_is_delivered),
        cmocka_unit_test(first_token_in_time_is_not_cut),
        cmocka_unit_test(idle_clock_cuts_a_stalled_stream),
        cmocka_unit_test(slow_stream_within_the_idle_clock_completes),
        cmocka_unit_test(time_inside_the_callback_is_not_idle_time),
        cmocka_unit_test(broken_streams_end_incomplete_without_fallback),
        cmocka_unit_test(stream_without_its_end_marker_is_incomplete),
        cmocka_unit_test(oversized_event_line_is_refused_at_the_cap),
        cmocka_unit_test(cancel_from_the_callback_stops_the_call),
        cmocka_unit_test(failure_before_the_first_delta_falls_back),
        cmocka_unit_test(deadline_is_shared_by_every_attempt),
        cmocka_unit_test(connect_clock_fires_when_no_connection_is_made),
        cmocka_unit_test(loading_model_is_waited_for_within_the_load_budget),
        cmocka_unit_test(loading_past_the_load_budget_is_a_load_timeout),
        cmocka_unit_test(silent_local_model_gets_load_budget_then_first_token),
        cmocka_unit_test(local_stream_matches_the_plain_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
