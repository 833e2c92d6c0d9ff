/* test_metrics_live.c - calls through real faults move exactly the counters they should. */
#define _DEFAULT_SOURCE /* popen */
#include <jansson.h>
#include <unistd.h>

#include "live.h"

#define KEY "sk-metrics-test-0123456789"

static ulm_client *metrics_client(void)
{
    const char *fault = live_url("ULM_TEST_FAULT_URL");
    char json[2048];
    snprintf(json, sizeof json,
             "{\"backends\": {"
             "\"ok\": {\"type\": \"openai\", \"url\": \"%s/ok/0/v1\"},"
             "\"busy\": {\"type\": \"openai\", \"url\": \"%s/error-json/503/v1\"},"
             "\"stall\": {\"type\": \"openai\", \"url\": \"%s/delay-first-byte/60000/v1\"},"
             "\"gate\": {\"type\": \"openai\", \"url\": \"%s/delay-first-byte/300/v1\","
             " \"max_in_flight\": 1, \"max_queue\": 0},"
             "\"down\": {\"type\": \"openai\", \"url\": \"%s\"}},"
             " \"retry\": {\"max_retries\": 1, \"base_delay_ms\": 1, \"max_delay_ms\": 1},"
             " \"offline\": {\"use_local_models\": false}}",
             fault, fault, fault, fault, LIVE_DEAD_URL);
    ulm_backend_setting keys[5] = {{"ok", "api_key", KEY}, {"busy", "api_key", KEY},
                                   {"stall", "api_key", KEY}, {"gate", "api_key", KEY},
                                   {"down", "api_key", KEY}};
    ulm_client_options opts = live_options(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    opts.config_json = json;
    opts.backend_settings = keys;
    opts.backend_setting_count = 5;
    return live_client_with(&opts);
}

static int call(ulm_client *c, const char *models, ulm_cancel *cancel)
{
    ulm_request *req = live_request(models, "hello");
    if (cancel)
        assert_int_equal(ulm_request_set_cancel(req, cancel), ULM_OK);
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    ulm_response_free(resp);
    ulm_request_free(req);
    return rc;
}

static json_t *snapshot(ulm_client *c)
{
    size_t n = ulm_client_metrics(c, ULM_METRICS_JSON, NULL, 0);
    char *text = malloc(n + 1);
    assert_non_null(text);
    assert_int_equal(ulm_client_metrics(c, ULM_METRICS_JSON, text, n + 1), n);
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(root);
    return root;
}

/* The number at backends[backend].models[model].key, 0 when the series is absent. */
static long long model_count(json_t *root, const char *backend, const char *model,
                             const char *key, const char *class_name)
{
    size_t i, j;
    json_t *b, *m;
    json_array_foreach(json_object_get(root, "backends"), i, b) {
        if (strcmp(json_string_value(json_object_get(b, "backend")), backend) != 0)
            continue;
        json_array_foreach(json_object_get(b, "models"), j, m) {
            if (strcmp(json_string_value(json_object_get(m, "model")), model) != 0)
                continue;
            json_t *v = json_object_get(m, key);
            if (class_name)
                v = json_object_get(v, class_name);
            return json_integer_value(v);
        }
    }
    return 0;
}

static long long backend_count(json_t *root, const char *backend, const char *key)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(root, "backends"), i, b)
        if (strcmp(json_string_value(json_object_get(b, "backend")), backend) == 0)
            return json_integer_value(json_object_get(b, key));
    return 0;
}

static void faults_move_their_counters(void **state)
{
    (void)state;
    ulm_client *c = metrics_client();
    for (int i = 0; i < 3; i++)
        assert_int_equal(call(c, "ok/m", NULL), ULM_OK);
    /* 503 twice (a retry), then the chain falls back to ok */
    assert_int_equal(call(c, "busy/m,ok/m", NULL), ULM_OK);
    assert_int_equal(call(c, "down/m", NULL), ULM_ECONNECT);
    ulm_cancel *cancel = NULL;
    assert_int_equal(ulm_cancel_new(&cancel), ULM_OK);
    ulm_cancel_trigger(cancel);
    assert_int_equal(call(c, "stall/m", cancel), ULM_ECANCELLED);
    ulm_cancel_free(cancel);
    json_t *m = snapshot(c);
    assert_int_equal(model_count(m, "ok", "m", "requests_started_total", NULL), 4);
    assert_int_equal(model_count(m, "ok", "m", "requests_succeeded_total", NULL), 4);
    assert_int_equal(model_count(m, "busy", "m", "requests_started_total", NULL), 2);
    assert_int_equal(model_count(m, "busy", "m", "requests_failed_total", "unavailable"), 2);
    assert_int_equal(model_count(m, "busy", "m", "retries_total", NULL), 1);
    assert_int_equal(model_count(m, "down", "m", "requests_failed_total", "connect"), 2);
    assert_int_equal(model_count(m, "down", "m", "retries_total", NULL), 1);
    assert_int_equal(model_count(m, "stall", "m", "requests_cancelled_total", NULL), 1);
    assert_int_equal(model_count(m, "ok", "m", "calls_succeeded_total", NULL), 4);
    assert_int_equal(model_count(m, "ok", "m", "completion_tokens_total", NULL), 4 * 5);
    /* the fallback busy -> ok */
    json_t *fallbacks = json_object_get(m, "fallbacks_total");
    assert_int_equal(json_array_size(fallbacks), 1);
    json_t *f = json_array_get(fallbacks, 0);
    assert_string_equal(json_string_value(json_object_get(f, "from")), "busy");
    assert_string_equal(json_string_value(json_object_get(f, "to")), "ok");
    assert_int_equal(json_integer_value(json_object_get(f, "value")), 1);
    for (int b = 0; b < 5; b++) {
        const char *names[] = {"ok", "busy", "stall", "gate", "down"};
        assert_int_equal(backend_count(m, names[b], "requests_in_flight"), 0);
    }
    json_decref(m);
    ulm_client_free(c);
}

/* A full queue turns calls away, and counts them; a round counts its members. */
static void the_queue_and_rounds_are_counted(void **state)
{
    (void)state;
    ulm_client *c = metrics_client();
    ulm_request *req = live_request(NULL, "hello");
    const char *members[] = {"gate/a", "gate/b", "ok/m"};
    ulm_round *r = NULL;
    assert_int_equal(ulm_round_run(&r, c, req, members, 3, NULL), ULM_OK);
    /* gate takes one request at a time with no queue: one of its two members was refused */
    int refused = ulm_response_error(ulm_round_member(r, 0)) == ULM_EBUSY ||
                  ulm_response_error(ulm_round_member(r, 1)) == ULM_EBUSY;
    assert_true(refused);
    ulm_round_free(r);
    ulm_round_options o = ULM_ROUND_OPTIONS_INIT;
    o.quorum = 1;
    const char *quick[] = {"ok/m", "stall/m"};
    assert_int_equal(ulm_round_run(&r, c, req, quick, 2, &o), ULM_OK);
    ulm_round_free(r);
    json_t *m = snapshot(c);
    assert_int_equal(backend_count(m, "gate", "queue_rejected_total"), 1);
    assert_int_equal(json_integer_value(json_object_get(m, "rounds_total")), 2);
    assert_int_equal(json_integer_value(json_object_get(m, "round_members_total")), 5);
    assert_int_equal(json_integer_value(json_object_get(m, "rounds_quorum_reached_total")), 1);
    assert_int_equal(json_integer_value(json_object_get(m, "round_members_cancelled_total")), 1);
    assert_int_equal(model_count(m, "stall", "m", "requests_cancelled_total", NULL), 1);
    assert_int_equal(model_count(m, "stall", "m", "calls_cancelled_total", NULL), 1);
    json_decref(m);
    ulm_request_free(req);
    ulm_client_free(c);
}

static long long top_count(ulm_client *c, const char *key)
{
    json_t *root = snapshot(c);
    json_t *v = json_object_get(root, key);
    assert_true(json_is_integer(v));
    long long n = json_integer_value(v);
    json_decref(root);
    return n;
}

static int stream_to_nothing(const char *text, size_t length, void *payload)
{
    (void)text, (void)length, (void)payload;
    return 0;
}

/*
 * The library's heap gauge counts every block it holds: after a client made calls of
 * every kind (blocking, streamed, failing over, a round with a synthesis, embeddings, a
 * runner's model list) and everything was freed, it is back where it was, to the byte. A
 * block freed outside the count, or counted twice, would leave it off. While the client
 * lived, its engines held their kept-alive connections, and an idle engine.
 */
static void the_heap_gauge_returns_to_where_it_was(void **state)
{
    (void)state;
    ulm_client *observer = metrics_client();
    long long before = top_count(observer, "heap_bytes");
    assert_true(before > 0); /* the observer itself */
    for (int pass = 0; pass < 3; pass++) {
        ulm_client *c = metrics_client();
        assert_int_equal(call(c, "ok/m", NULL), ULM_OK);
        assert_int_equal(call(c, "busy/m,ok/m", NULL), ULM_OK);
        assert_int_equal(call(c, "down/m", NULL), ULM_ECONNECT);
        ulm_request *req = live_request("dmr/ai/stories260k", "Once upon a time");
        assert_int_equal(ulm_request_set_on_delta(req, stream_to_nothing, NULL), ULM_OK);
        ulm_response *resp = NULL;
        assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
        /* what the program holds is the library's heap too, until it frees it */
        assert_true(top_count(observer, "heap_bytes") > before);
        ulm_response_free(resp);
        const char *members[] = {"ok/a", "dmr/ai/stories260k", "down/m"};
        ulm_round_options o;
        assert_int_equal(ulm_round_options_init(&o, ULM_ROUND_OPTIONS_VERSION), ULM_OK);
        o.synthesize = "dmr/ai/stories260k";
        ulm_round *r = NULL;
        assert_int_equal(ulm_round_run(&r, c, req, members, 3, &o), ULM_OK);
        ulm_round_free(r);
        ulm_request_free(req);
        ulm_request *embed = NULL;
        assert_int_equal(ulm_request_new(&embed), ULM_OK);
        assert_int_equal(ulm_request_add_model(embed, "dmr/ai/stories260k"), ULM_OK);
        assert_int_equal(ulm_request_add_input(embed, "one"), ULM_OK);
        assert_int_equal(ulm_embed(&resp, c, embed), ULM_OK);
        ulm_response_free(resp);
        ulm_request_free(embed);
        char why[ULM_ERROR_SIZE];
        ulm_dmr_models *models = NULL;
        assert_int_equal(ulm_dmr_list(&models, c, "dmr", why, sizeof why), ULM_OK);
        ulm_dmr_models_free(models);
        ulm_dmr_runners *runners = NULL;
        assert_int_equal(ulm_dmr_ps(&runners, c, "dmr", why, sizeof why), ULM_OK);
        ulm_dmr_runners_free(runners);
        assert_true(top_count(c, "connections_open") >= 1);
        assert_true(top_count(c, "engines_idle") >= 1);
        ulm_client_free(c);
        long long after = top_count(observer, "heap_bytes");
        if (after != before)
            fail_msg("pass %d: the library held %lld bytes before the client, %lld after", pass,
                     before, after);
    }
    ulm_client_free(observer);
}

/* The Prometheus text of real calls passes promtool, when it is installed. */
static void the_exposition_passes_promtool(void **state)
{
    (void)state;
    if (system("command -v promtool > /dev/null 2>&1") != 0) {
        skip();
        return;
    }
    ulm_client *c = metrics_client();
    assert_int_equal(call(c, "ok/m", NULL), ULM_OK);
    assert_int_equal(call(c, "busy/m,ok/m", NULL), ULM_OK);
    size_t n = ulm_client_metrics(c, ULM_METRICS_PROMETHEUS, NULL, 0);
    char *text = malloc(n + 1);
    assert_non_null(text);
    ulm_client_metrics(c, ULM_METRICS_PROMETHEUS, text, n + 1);
    FILE *p = popen("promtool check metrics > /dev/null 2>&1", "w");
    assert_non_null(p);
    fputs(text, p);
    assert_int_equal(pclose(p), 0);
    free(text);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(faults_move_their_counters),
        cmocka_unit_test(the_queue_and_rounds_are_counted),
        cmocka_unit_test(the_heap_gauge_returns_to_where_it_was),
        cmocka_unit_test(the_exposition_passes_promtool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
