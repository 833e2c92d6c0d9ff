/* test_fallback.c - the fallback loop, driven by fake providers over a fake transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "client.h"
#include "engine.h"
#include "route.h"

/* ------------------------------------------------------------ fake transport */

typedef struct scripted {
    const char *url_part; /* the exchange this answers, matched in the URL */
    int transport_error;  /* ULM_OK: answer with status and body */
    int status;
    const char *body;
} scripted;

typedef struct script {
    const scripted *steps;
    size_t count;
    size_t calls;
    char seen_urls[8][128];
    char seen_auth[8][128];
} script;

static int fake_transport(void *ctx, const ulm_transfer *t, ulm_http_response *resp,
                          char *errbuf, size_t errbuf_size)
{
    script *s = ctx;
    if (s->calls < 8) {
        snprintf(s->seen_urls[s->calls], 128, "%s", t->url);
        snprintf(s->seen_auth[s->calls], 128, "%s", t->auth_header_line ? t->auth_header_line : "");
    }
    s->calls++;
    for (size_t i = 0; i < s->count; i++) {
        const scripted *st = &s->steps[i];
        if (!strstr(t->url, st->url_part))
            continue;
        if (st->transport_error != ULM_OK) {
            snprintf(errbuf, errbuf_size, "scripted transport failure");
            return st->transport_error;
        }
        resp->status = st->status;
        return ulm__transfer_body(t, resp, st->body, strlen(st->body));
    }
    fail_msg("unexpected request to %s", t->url);
    return ULM_ETRANSPORT;
}

/* ------------------------------------------------------------ fake provider */

/* Answers are bodies of the form "ok:<text>" or "<error code>:<message>". */
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
    if (strncmp(body, "ok:", 3) == 0) {
        ulm_result_set_finish_reason(out, ULM_FINISH_STOP);
        ulm_result_set_usage(out, 3, 4, -1);
        return ulm_result_set_text(out, body + 3, strlen(body + 3));
    }
    int code = ulm_error_from_http_status(ulm_http_response_status(in));
    return ulm_result_set_error(out, code, body, strlen(body));
}

static void fake_destroy(ulm_provider *self)
{
    free(self);
}

static ulm_provider *fake_provider(const char *name, unsigned int flags)
{
    ulm_provider *p = calloc(1, sizeof *p);
    p->version = ULM_PROVIDER_VERSION;
    p->name = name;
    p->flags = flags;
    p->auth_header = "X-Key";
    p->build = fake_build;
    p->parse = fake_parse;
    p->destroy = fake_destroy;
    return p;
}

static ulm_client *make_client(script *s)
{
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.model_runner_url = "http://localhost:12434"; /* given, so nothing is probed */
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    assert_int_equal(ulm_client_add_provider(c, fake_provider("cloud", 0), "http://cloud.test/v1",
                                             "secret-cloud-key-123"),
                     ULM_OK);
    assert_int_equal(ulm_client_add_provider(c, fake_provider("local", ULM_PROVIDER_LOCAL),
                                             "http://local.test", NULL),
                     ULM_OK);
    assert_int_equal(ulm_client_add_provider(c, fake_provider("cloud2", 0), "http://cloud2.test",
                                             "other-key"),
                     ULM_OK);
    ulm__engine_pool_set_transport(c->engines, fake_transport, s);
    return c;
}

static ulm_request *make_request(const char *models)
{
    ulm_request *r = NULL;
    assert_int_equal(ulm_request_new(&r), ULM_OK);
    assert_int_equal(ulm_request_add_model(r, models), ULM_OK);
    assert_int_equal(ulm_request_add_message(r, ULM_ROLE_USER, "hello"), ULM_OK);
    return r;
}

#define RUN(models, ...)                                                                   \
    scripted steps[] = {__VA_ARGS__};                                                      \
    script s = {steps, sizeof steps / sizeof steps[0], 0, {{0}}, {{0}}};                   \
    ulm_client *c = make_client(&s);                                                       \
    ulm_request *req = make_request(models);                                               \
    ulm_response *resp = NULL;                                                             \
    int rc = ulm_complete(&resp, c, req);                                                  \
    assert_non_null(resp)

#define DONE()                                                                             \
    ulm_response_free(resp);                                                               \
    ulm_request_free(req);                                                                 \
    ulm_client_free(c)

static void assert_attempt(const ulm_response *resp, size_t i, const char *provider,
                           int error, int status)
{
    const ulm_attempt *a = ulm_response_attempt(resp, i);
    assert_non_null(a);
    assert_string_equal(ulm_attempt_provider(a), provider);
    assert_int_equal(ulm_attempt_error(a), error);
    assert_int_equal(ulm_attempt_http_status(a), status);
    assert_true(ulm_attempt_ms(a) >= 0.0);
}

static void first_target_answers(void **state)
{
    (void)state;
    RUN("cloud/m1,local/m2", {"cloud.test", ULM_OK, 200, "ok:first"});
    assert_int_equal(rc, ULM_OK);
    assert_string_equal(ulm_response_text(resp), "first");
    assert_string_equal(ulm_response_provider(resp), "cloud");
    assert_string_equal(ulm_response_model(resp), "m1");
    assert_int_equal(ulm_response_total_tokens(resp), 7);
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.seen_urls[0], "http://cloud.test/v1/m1");
    assert_string_equal(s.seen_auth[0], "X-Key: secret-cloud-key-123");
    assert_string_equal(ulm_response_raw_json(resp), "ok:first");
    DONE();
}

static void connect_failure_falls_back(void **state)
{
    (void)state;
    RUN("local/m,cloud/m", {"local.test", ULM_ECONNECT, 0, NULL},
        {"cloud.test", ULM_OK, 200, "ok:from cloud"});
    assert_int_equal(rc, ULM_OK);
    assert_string_equal(ulm_response_text(resp), "from cloud");
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_attempt(resp, 0, "local", ULM_ECONNECT, 0);
    assert_attempt(resp, 1, "cloud", ULM_OK, 200);
    assert_string_equal(ulm_attempt_error_message(ulm_response_attempt(resp, 0)),
                        "local: scripted transport failure");
    DONE();
}

static void rate_limit_and_server_errors_fall_back(void **state)
{
    (void)state;
    RUN("cloud/a,cloud2/b,local/c", {"cloud.test", ULM_OK, 429, "slow down"},
        {"cloud2.test", ULM_OK, 502, "bad gateway"}, {"local.test", ULM_OK, 200, "ok:local"});
    assert_int_equal(rc, ULM_OK);
    assert_int_equal(ulm_response_attempt_count(resp), 3);
    assert_attempt(resp, 0, "cloud", ULM_ERATE_LIMIT, 429);
    assert_attempt(resp, 1, "cloud2", ULM_ESERVER, 502);
    assert_attempt(resp, 2, "local", ULM_OK, 200);
    assert_string_equal(ulm_attempt_error_message(ulm_response_attempt(resp, 0)),
                        "cloud: HTTP 429: slow down");
    DONE();
}

static void auth_failure_stops_the_chain(void **state)
{
    (void)state;
    RUN("cloud/a,local/b", {"cloud.test", ULM_OK, 401, "bad key"});
    assert_int_equal(rc, ULM_EAUTH);
    assert_int_equal(ulm_response_error(resp), ULM_EAUTH);
    assert_int_equal(ulm_response_http_status(resp), 401);
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    assert_int_equal(s.calls, 1);
    assert_string_equal(ulm_response_error_message(resp), "cloud: HTTP 401: bad key");
    DONE();
}

static void bad_request_stops_the_chain(void **state)
{
    (void)state;
    RUN("cloud/a,local/b", {"cloud.test", ULM_OK, 400, "no"});
    assert_int_equal(rc, ULM_EBAD_REQUEST);
    assert_int_equal(s.calls, 1);
    DONE();
}

static void missing_cloud_model_stops_but_missing_local_model_falls_back(void **state)
{
    (void)state;
    {
        RUN("cloud/a,local/b", {"cloud.test", ULM_OK, 404, "no such model"});
        assert_int_equal(rc, ULM_EMODEL_NOT_FOUND);
        assert_int_equal(s.calls, 1);
        DONE();
    }
    {
        RUN("local/a,cloud/b", {"local.test", ULM_OK, 404, "model not found"},
            {"cloud.test", ULM_OK, 200, "ok:cloud"});
        assert_int_equal(rc, ULM_OK);
        assert_attempt(resp, 0, "local", ULM_EMODEL_NOT_FOUND, 404);
        DONE();
    }
}

static void all_failing_reports_the_last_real_error(void **state)
{
    (void)state;
    RUN("local/a,cloud/b", {"local.test", ULM_EFIRST_TOKEN_TIMEOUT, 0, NULL},
        {"cloud.test", ULM_OK, 503, "overloaded"});
    assert_int_equal(rc, ULM_EUNAVAILABLE);
    assert_int_equal(ulm_response_error(resp), ULM_EUNAVAILABLE);
    assert_string_equal(ulm_response_provider(resp), "cloud");
    assert_int_equal(ulm_response_http_status(resp), 503);
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_string_equal(ulm_response_text(resp), "");
    assert_null(ulm_response_raw_json(resp));
    DONE();
}

static void unconfigured_backend_is_skipped_without_a_request(void **state)
{
    (void)state;
    /* the built-in openai backend has no key when the environment is ignored */
    RUN("local/a,openai/gpt-4o-mini", {"local.test", ULM_ECONNECT, 0, NULL});
    assert_int_equal(rc, ULM_ECONNECT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_attempt(resp, 1, "openai", ULM_ENOT_CONFIGURED, 0);
    /* the error that says most is the one a backend gave, not the missing key */
    assert_string_equal(ulm_response_provider(resp), "local");
    assert_string_equal(ulm_response_error_message(resp), "local: scripted transport failure");
    DONE();
}

static void invalid_target_sends_nothing(void **state)
{
    (void)state;
    RUN("local/a,nosuch/b", {"local.test", ULM_OK, 200, "ok:x"});
    assert_int_equal(rc, ULM_EINVAL);
    assert_int_equal(s.calls, 0);
    assert_int_equal(ulm_response_attempt_count(resp), 0);
    assert_string_equal(ulm_response_error_message(resp),
                        "model \"nosuch/b\": unknown provider \"nosuch\" (known: dmr, openai, "
                        "anthropic, gemini, cloud, local, cloud2)");
    DONE();
}

static void request_without_messages_is_refused(void **state)
{
    (void)state;
    script s = {0};
    ulm_client *c = make_client(&s);
    ulm_request *req = NULL;
    ulm_request_new(&req);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_EINVAL);
    assert_string_equal(ulm_response_error_message(resp), "request: no messages");
    assert_int_equal(s.calls, 0);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void default_model_is_the_local_one(void **state)
{
    (void)state;
    scripted steps[] = {{"localhost:12434", ULM_OK, 200,
                         "{\"choices\":[{\"message\":{\"content\":\"hi\"},"
                         "\"finish_reason\":\"stop\"}]}"}};
    script s = {steps, 1, 0, {{0}}, {{0}}};
    ulm_client *c = make_client(&s);
    ulm_request *req = NULL;
    ulm_request_new(&req);
    ulm_request_add_message(req, ULM_ROLE_USER, "hello");
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    assert_string_equal(s.seen_urls[0], "http://localhost:12434/engines/v1/chat/completions");
    assert_string_equal(ulm_response_provider(resp), "dmr");
    assert_string_equal(ulm_response_model(resp), "ai/smollm2:latest");
    assert_string_equal(ulm_response_text(resp), "hi");
    assert_int_equal(ulm_response_finish_reason(resp), ULM_FINISH_STOP);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void keys_never_reach_error_messages(void **state)
{
    (void)state;
    RUN("cloud/a", {"cloud.test", ULM_OK, 401,
                    "{\"detail\":\"key secret-cloud-key-123 refused; also sk-abcdefghijklmnop\"}"});
    assert_int_equal(rc, ULM_EAUTH);
    const char *msg = ulm_response_error_message(resp);
    assert_null(strstr(msg, "secret-cloud-key-123"));
    assert_null(strstr(msg, "sk-abcdefghijklmnop"));
    assert_non_null(strstr(msg, "[REDACTED]"));
    DONE();
}

static void huge_error_bodies_are_capped(void **state)
{
    (void)state;
    char *big = malloc(1 << 20);
    memset(big, 'x', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\0';
    RUN("cloud/a", {"cloud.test", ULM_OK, 500, big});
    assert_int_equal(rc, ULM_ESERVER);
    assert_true(strlen(ulm_response_error_message(resp)) < ULM_ERROR_SIZE);
    assert_true(strlen(ulm_response_error_message(resp)) <= ULM_UPSTREAM_TEXT_CAP + 40);
    DONE();
    free(big);
}

/* What on_delta received. */
typedef struct received {
    char text[64];
    int calls;
} received;

static int receive(const char *text, size_t length, void *payload)
{
    received *r = payload;
    assert_true(strlen(r->text) + length < sizeof r->text);
    strncat(r->text, text, length);
    r->calls++;
    return 0;
}

/* An adapter without parse_event still streams: the whole text, once, from the answer. */
static void backend_without_streaming_delivers_once_after_fallback(void **state)
{
    (void)state;
    received got = {{0}, 0};
    scripted steps[] = {{"local.test", ULM_OK, 503, "503:busy"},
                        {"cloud.test", ULM_OK, 200, "ok:whole answer"}};
    script s = {steps, 2, 0, {{0}}, {{0}}};
    ulm_client *c = make_client(&s);
    ulm_request *req = make_request("local/a,cloud/b");
    assert_int_equal(ulm_request_set_on_delta(req, receive, &got), ULM_OK);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    assert_int_equal(got.calls, 1);
    assert_string_equal(got.text, "whole answer");
    assert_string_equal(ulm_response_text(resp), "whole answer");
    assert_false(ulm_response_incomplete(resp));
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void request_timeouts_are_checked(void **state)
{
    (void)state;
    ulm_request *req = make_request("local/a");
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_IDLE, 1), ULM_OK);
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_OVERALL, 86400000), ULM_OK);
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_OVERALL, 86400001), ULM_EINVAL);
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_CONNECT, 0), ULM_EINVAL);
    assert_int_equal(ulm_request_set_timeout(req, (ulm_clock)0, 100), ULM_EINVAL);
    assert_int_equal(ulm_request_set_timeout(req, (ulm_clock)6, 100), ULM_EINVAL);
    assert_int_equal(ulm_request_set_timeout(NULL, ULM_CLOCK_IDLE, 100), ULM_EINVAL);
    assert_int_equal(ulm_request_set_on_delta(NULL, receive, NULL), ULM_EINVAL);
    ulm_request_free(req);
}

static void out_of_memory_anywhere_is_clean(void **state)
{
    (void)state;
    /* Fail each allocation in turn, with and without streaming: every outcome must be
     * ULM_OK or ULM_ENOMEM, never a crash or a leak (the sanitizer and valgrind runs
     * check the latter). */
    for (int streamed = 0; streamed <= 1; streamed++) {
        int saw_oom = 0, saw_ok = 0;
        for (long n = 1; n < 400 && !saw_ok; n++) {
            scripted steps[] = {{"local.test", ULM_ECONNECT, 0, NULL},
                                {"cloud.test", ULM_OK, 200, "ok:done"}};
            script s = {steps, 2, 0, {{0}}, {{0}}};
            ulm_client *c = make_client(&s);
            ulm_request *req = make_request("local/a,cloud/b");
            received got = {{0}, 0};
            if (streamed)
                assert_int_equal(ulm_request_set_on_delta(req, receive, &got), ULM_OK);
            ulm_response *resp = NULL;
            ulm__test_fail_alloc_after(n);
            int rc = ulm_complete(&resp, c, req);
            ulm__test_fail_alloc_after(0);
            if (rc == ULM_ENOMEM) {
                assert_null(resp);
                saw_oom = 1;
            } else {
                assert_int_equal(rc, ULM_OK);
                assert_string_equal(ulm_response_text(resp), "done");
                saw_ok = 1;
            }
            ulm_response_free(resp);
            ulm_request_free(req);
            ulm_client_free(c);
        }
        assert_true(saw_oom);
        assert_true(saw_ok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_target_answers),
        cmocka_unit_test(connect_failure_falls_back),
        cmocka_unit_test(rate_limit_and_server_errors_fall_back),
        cmocka_unit_test(auth_failure_stops_the_chain),
        cmocka_unit_test(bad_request_stops_the_chain),
        cmocka_unit_test(missing_cloud_model_stops_but_missing_local_model_falls_back),
        cmocka_unit_test(all_failing_reports_the_last_real_error),
        cmocka_unit_test(unconfigured_backend_is_skipped_without_a_request),
        cmocka_unit_test(invalid_target_sends_nothing),
        cmocka_unit_test(request_without_messages_is_refused),
        cmocka_unit_test(default_model_is_the_local_one),
        cmocka_unit_test(keys_never_reach_error_messages),
        cmocka_unit_test(huge_error_bodies_are_capped),
        cmocka_unit_test(backend_without_streaming_delivers_once_after_fallback),
        cmocka_unit_test(request_timeouts_are_checked),
        cmocka_unit_test(out_of_memory_anywhere_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
