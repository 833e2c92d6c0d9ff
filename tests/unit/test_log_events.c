/* test_log_events.c - structured log events of a call, their fields, and the JSON-lines formatter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "engine.h"

/* ------------------------------------------------------------ fake transport and provider */

typedef struct scripted {
    const char *url_part;
    int status;
    const char *body;
} scripted;

typedef struct script {
    const scripted *steps;
    size_t count;
} script;

static int fake_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp, char *errbuf,
                          size_t errbuf_size)
{
    (void)errbuf;
    (void)errbuf_size;
    script *s = ctx;
    for (size_t i = 0; i < s->count; i++) {
        if (!strstr(t->url, s->steps[i].url_part))
            continue;
        resp->status = s->steps[i].status;
        return ulm__transfer_body(t, resp, s->steps[i].body, strlen(s->steps[i].body));
    }
    fail_msg("unexpected request to %s", t->url);
    return ULM_ETRANSPORT;
}

static int fake_build(const ulm_provider *self, ulm_op op, const char *model,
                      const ulm_request *req, ulm_http_request *out)
{
    (void)self;
    (void)op;
    (void)req;
    char path[300];
    snprintf(path, sizeof path, "/%s", model);
    return ulm_http_request_set_target(out, "POST", path);
}

static int fake_parse(const ulm_provider *self, ulm_op op, const ulm_http_response *in,
                      ulm_result *out)
{
    (void)self;
    (void)op;
    const char *body = ulm_http_response_body(in, NULL);
    if (ulm_http_response_status(in) == 200) {
        ulm_result_set_finish_reason(out, ULM_FINISH_STOP);
        return ulm_result_set_text(out, body, strlen(body));
    }
    int code = ulm_error_from_http_status(ulm_http_response_status(in));
    return ulm_result_set_error(out, code, body, strlen(body));
}

static void fake_destroy(ulm_provider *self)
{
    free(self);
}

static ulm_provider *fake_provider(const char *name)
{
    ulm_provider *p = calloc(1, sizeof *p);
    p->version = ULM_PROVIDER_VERSION;
    p->name = name;
    p->auth_header = "X-Key";
    p->build = fake_build;
    p->parse = fake_parse;
    p->destroy = fake_destroy;
    return p;
}

/* ------------------------------------------------------------ what the callbacks saw */

typedef struct seen_event {
    int level;
    char event[32], backend[32], model[32], error_class[32], message[ULM_ERROR_SIZE];
    unsigned int attempt;
    int http_status;
    double ms;
    char json[ULM_LOG_JSON_SIZE];
} seen_event;

typedef struct seen {
    seen_event events[16];
    size_t count;
    char messages[16][ULM_ERROR_SIZE];
    size_t message_count;
} seen;

static void on_event(const ulm_log_event *e, void *payload)
{
    seen *s = payload;
    assert_int_equal(e->version, ULM_LOG_EVENT_VERSION);
    assert_true(s->count < 16);
    seen_event *to = &s->events[s->count++];
    to->level = e->level;
    snprintf(to->event, sizeof to->event, "%s", e->event);
    snprintf(to->backend, sizeof to->backend, "%s", e->backend);
    snprintf(to->model, sizeof to->model, "%s", e->model);
    snprintf(to->error_class, sizeof to->error_class, "%s", e->error_class);
    snprintf(to->message, sizeof to->message, "%s", e->message);
    to->attempt = e->attempt;
    to->http_status = e->http_status;
    to->ms = e->ms;
    size_t need = ulm_log_event_json(e, to->json, sizeof to->json);
    assert_true(need < sizeof to->json);
}

static void on_message(int level, const char *message, void *payload)
{
    (void)level;
    seen *s = payload;
    assert_true(s->message_count < 16);
    snprintf(s->messages[s->message_count++], ULM_ERROR_SIZE, "%s", message);
}

static ulm_client *make_client(script *sc, seen *s, int with_messages)
{
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.model_runner_url = "http://localhost:12434"; /* given, so nothing is probed */
    opts.log_level = ULM_LOG_DEBUG;
    opts.log_event_fn = on_event;
    opts.log_event_payload = s;
    if (with_messages) {
        opts.log_fn = on_message;
        opts.log_payload = s;
    }
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    assert_int_equal(ulm_client_add_provider(c, fake_provider("cloud"), "http://cloud.test/v1",
                                             "secret-cloud-key-123"),
                     ULM_OK);
    assert_int_equal(ulm_client_add_provider(c, fake_provider("cloud2"), "http://cloud2.test",
                                             "other-key"),
                     ULM_OK);
    ulm__engine_pool_set_transport(c->engines, fake_transport, sc);
    return c;
}

static int run(seen *s, int with_messages, const char *models, const scripted *steps, size_t count)
{
    script sc = {steps, count};
    ulm_client *c = make_client(&sc, s, with_messages);
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, models), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "hello"), ULM_OK);
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
    return rc;
}

/* The JSON line without its time, which is the clock's. */
static const char *after_time(const char *json)
{
    assert_memory_equal(json, "{\"time\":\"", 9);
    const char *end = strchr(json + 9, '"');
    assert_non_null(end);
    assert_int_equal(end - (json + 9), 24); /* 2026-12-02T17:31:05.118Z */
    assert_int_equal(end[-1], 'Z');
    return end + 1;
}

/* ------------------------------------------------------------ tests */

/* A rate-limited request falls back: each step is an event with the fields it concerns. */
static void a_fallback_is_told_field_by_field(void **state)
{
    (void)state;
    seen s = {0};
    scripted steps[] = {{"cloud.test", 429, "slow down"}, {"cloud2.test", 200, "hi"}};
    assert_int_equal(run(&s, 0, "cloud/a,cloud2/b", steps, 2), ULM_OK);
    assert_int_equal(s.count, 4);

    seen_event *answered = &s.events[0]; /* an answer came, whatever its status */
    assert_string_equal(answered->event, "request.done");
    assert_int_equal(answered->http_status, 429);
    assert_int_equal(answered->attempt, 1);

    seen_event *failed = &s.events[1];
    assert_string_equal(failed->event, "request.failed");
    assert_int_equal(failed->level, ULM_LOG_WARN);
    assert_string_equal(failed->backend, "cloud");
    assert_string_equal(failed->model, "a");
    assert_int_equal(failed->attempt, 1);
    assert_string_equal(failed->error_class, "rate_limit");
    assert_int_equal(failed->http_status, 429);
    assert_true(failed->ms >= 0);

    seen_event *fallback = &s.events[2];
    assert_string_equal(fallback->event, "fallback");
    assert_int_equal(fallback->level, ULM_LOG_INFO);
    assert_string_equal(fallback->backend, "cloud");
    assert_string_equal(fallback->model, "a");
    assert_int_equal(fallback->attempt, 2);
    assert_string_equal(fallback->error_class, "rate_limit");
    assert_int_equal(fallback->http_status, 0);
    assert_true(fallback->ms == -1);
    assert_string_equal(fallback->message, "falling back from cloud/a to cloud2/b");
    assert_string_equal(after_time(fallback->json),
                        ",\"level\":\"info\",\"event\":\"fallback\",\"backend\":\"cloud\","
                        "\"model\":\"a\",\"attempt\":2,\"error_class\":\"rate_limit\","
                        "\"message\":\"falling back from cloud/a to cloud2/b\"}\n");

    seen_event *done = &s.events[3];
    assert_string_equal(done->event, "request.done");
    assert_int_equal(done->level, ULM_LOG_DEBUG);
    assert_string_equal(done->backend, "cloud2");
    assert_string_equal(done->model, "b");
    assert_int_equal(done->attempt, 2);
    assert_string_equal(done->error_class, "");
    assert_int_equal(done->http_status, 200);
    assert_true(done->ms >= 0);
    assert_non_null(strstr(done->json, "\"http_status\":200,\"ms\":"));
    assert_null(strstr(done->json, "error_class"));
}

/* With both callbacks, each gets every diagnostic, with the same text; no key in either. */
static void both_callbacks_get_the_same_messages(void **state)
{
    (void)state;
    seen s = {0};
    scripted steps[] = {{"cloud.test", 401, "bad key secret-cloud-key-123"}};
    assert_int_equal(run(&s, 1, "cloud/a", steps, 1), ULM_EAUTH);
    assert_true(s.count >= 1);
    assert_int_equal(s.message_count, s.count);
    for (size_t i = 0; i < s.count; i++) {
        assert_string_equal(s.messages[i], s.events[i].message);
        assert_null(strstr(s.events[i].json, "secret-cloud-key-123"));
        assert_null(strstr(s.messages[i], "secret-cloud-key-123"));
    }
    assert_string_equal(s.events[1].event, "request.failed");
    assert_string_equal(s.events[1].error_class, "auth");
    assert_int_equal(s.events[1].http_status, 401);
}

/* The level filters events as it filters messages. */
static void the_level_filters_events(void **state)
{
    (void)state;
    seen s = {0};
    script sc = {(const scripted[]){{"cloud.test", 200, "hi"}}, 1};
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.model_runner_url = "http://localhost:12434";
    opts.log_event_fn = on_event; /* no level: warn, as for log_fn */
    opts.log_event_payload = &s;
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    assert_int_equal(
        ulm_client_add_provider(c, fake_provider("cloud"), "http://cloud.test/v1", "k"), ULM_OK);
    ulm__engine_pool_set_transport(c->engines, fake_transport, &sc);
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, "cloud/a"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "hello"), ULM_OK);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    assert_int_equal(s.count, 0); /* request.done is debug */
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* Strings are escaped as JSON wants; bytes that are not UTF-8 become U+FFFD; absent
 * fields are left out; the length works like snprintf's. */
static void the_json_line_escapes_and_measures(void **state)
{
    (void)state;
    ulm_log_event e = {.version = ULM_LOG_EVENT_VERSION,
                       .level = ULM_LOG_ERROR,
                       .event = "request.failed",
                       .message = "say \"hi\"\\ \n\t\x01 caf\xc3\xa9 \xff end",
                       .backend = "b\"e",
                       .model = "",
                       .attempt = 0,
                       .error_class = "",
                       .http_status = 0,
                       .ms = 12.345};
    char line[ULM_LOG_JSON_SIZE];
    size_t need = ulm_log_event_json(&e, line, sizeof line);
    assert_int_equal(need, strlen(line));
    const char *want = ",\"level\":\"error\",\"event\":\"request.failed\",\"backend\":\"b\\\"e\","
                       "\"ms\":12.3,\"message\":\"say \\\"hi\\\"\\\\ \\n\\t\\u0001 caf\xc3\xa9 "
                       "\xef\xbf\xbd end\"}\n";
    assert_string_equal(after_time(line), want);

    char small[10];
    assert_int_equal(ulm_log_event_json(&e, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, line, sizeof small - 1);
    assert_int_equal(ulm_log_event_json(&e, NULL, 0), need);
    assert_int_equal(ulm_log_event_json(NULL, small, sizeof small), 0);
    assert_string_equal(small, "");
}

/* Long values are cut on a character, the message at 2048 escaped bytes, the other fields
 * at 384, so that even the worst line fits ULM_LOG_JSON_SIZE. */
static void long_values_are_cut_on_a_character(void **state)
{
    (void)state;
    static char accents[3001], controls[5001];
    for (size_t i = 0; i < 1500; i++)
        memcpy(accents + 2 * i, "\xc3\xa9", 2);
    memset(controls, '\x01', sizeof controls - 1); /* \u0001: six bytes each */
    ulm_log_event e = {.version = ULM_LOG_EVENT_VERSION,
                       .level = ULM_LOG_INFO,
                       .event = "x",
                       .message = accents,
                       .backend = "",
                       .model = "",
                       .error_class = "",
                       .ms = -1};
    char line[ULM_LOG_JSON_SIZE];
    size_t need = ulm_log_event_json(&e, line, sizeof line);
    assert_true(need < sizeof line);
    const char *text = strstr(line, "\"message\":\"") + 11;
    assert_int_equal(strlen(text), 2048 + 3); /* 1024 characters, then "}\n */
    assert_string_equal(text + 2048, "\"}\n");

    ulm_log_event worst = {.version = ULM_LOG_EVENT_VERSION,
                           .level = ULM_LOG_DEBUG,
                           .event = controls,
                           .message = controls,
                           .backend = controls,
                           .model = controls,
                           .attempt = 4294967295u,
                           .error_class = controls,
                           .http_status = -2147483647 - 1,
                           .ms = 1e300};
    need = ulm_log_event_json(&worst, line, sizeof line);
    assert_true(need < sizeof line);
    assert_int_equal(need, strlen(line));
    assert_non_null(strstr(line, "\"ms\":1000000000000.0,"));
    assert_string_equal(line + need - 2, "}\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_fallback_is_told_field_by_field),
        cmocka_unit_test(both_callbacks_get_the_same_messages),
        cmocka_unit_test(the_level_filters_events),
        cmocka_unit_test(the_json_line_escapes_and_measures),
        cmocka_unit_test(long_values_are_cut_on_a_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
