/* test_cloud_live.c - Anthropic and Gemini over HTTP: the replay server, prism with Gemini's spec,
 * and a fallback chain across all four backends that ends on the real local model. */
#define _DEFAULT_SOURCE /* mkstemps */
#include <jansson.h>
#include <time.h>
#include <unistd.h>
#include <ultrallm/provider.h>

#include "live.h"

#define KEY "test-key-0123456789"
/* What the replay server answers (tests/servers/replay-server.mjs) */
#define REPLAY_TEXT "Hello from the replay server! \xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" \
                    "d\xc3\xa9 \xf0\x9f\x99\x82 done."

/* A base URL of the replay server: /<provider>/<scenario>. */
static const char *replay(const char *provider, const char *scenario)
{
    static char urls[8][256];
    static unsigned next;
    char *url = urls[next++ % 8];
    snprintf(url, sizeof urls[0], "%s/%s/%s", live_url("ULM_TEST_REPLAY_URL"), provider,
             scenario);
    return url;
}

/* A client whose Anthropic and Gemini backends are at the given URLs, with keys. */
static ulm_client *cloud_client(const char *anthropic_url, const char *gemini_url)
{
    ulm_client_options opts = live_options(LIVE_DEAD_URL, LIVE_DEAD_URL, NULL);
    opts.anthropic_base_url = anthropic_url;
    opts.anthropic_api_key = KEY;
    opts.gemini_base_url = gemini_url;
    opts.gemini_api_key = KEY;
    return live_client_with(&opts);
}

/* One call to model (a chain) with the given messages; on_delta when d is not NULL. */
static int call(ulm_client *c, const char *model, live_deltas *d, ulm_response **resp)
{
    ulm_request *req = live_request(model, "Say hello");
    if (d)
        assert_int_equal(ulm_request_set_on_delta(req, live_collect, d), ULM_OK);
    int rc = ulm_complete(resp, c, req);
    ulm_request_free(req);
    return rc;
}

static void assert_replay_answer(const ulm_response *resp, const char *provider,
                                 const char *model)
{
    assert_string_equal(ulm_response_text(resp), REPLAY_TEXT);
    assert_int_equal(ulm_response_finish_reason(resp), ULM_FINISH_STOP);
    assert_int_equal(ulm_response_prompt_tokens(resp), 12);
    assert_int_equal(ulm_response_completion_tokens(resp), 9);
    assert_int_equal(ulm_response_total_tokens(resp), 21);
    assert_string_equal(ulm_response_provider(resp), provider);
    assert_string_equal(ulm_response_model(resp), model);
}

/* ------------------------------------------------------------------ answers and streams */

static void anthropic_and_gemini_answer_and_stream(void **state)
{
    (void)state;
    ulm_client *c = cloud_client(replay("anthropic", "ok"), replay("gemini", "ok"));
    static const struct {
        const char *target, *provider, *model;
    } cases[] = {
        {"anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"},
        {"gemini/gemini-2.5-flash", "gemini", "gemini-2.5-flash"},
    };
    for (size_t i = 0; i < 2; i++) {
        ulm_response *resp = NULL;
        int rc = call(c, cases[i].target, NULL, &resp);
        if (rc != ULM_OK)
            fail_msg("%s: %s", cases[i].target, ulm_response_error_message(resp));
        assert_replay_answer(resp, cases[i].provider, cases[i].model);
        assert_non_null(ulm_response_raw_json(resp));
        ulm_response_free(resp);

        /* streamed: the same answer, delivered in several pieces, once */
        live_deltas d = {0};
        rc = call(c, cases[i].target, &d, &resp);
        if (rc != ULM_OK)
            fail_msg("%s streamed: %s", cases[i].target, ulm_response_error_message(resp));
        assert_replay_answer(resp, cases[i].provider, cases[i].model);
        assert_string_equal(d.text, REPLAY_TEXT);
        assert_true(d.calls >= 4);
        assert_false(ulm_response_incomplete(resp));
        ulm_response_free(resp);
    }
    ulm_client_free(c);
}

/* The server echoes the request body it received (after checking it as strictly as the
 * real API): what the adapter sent, seen from the other end of the socket. */
static json_t *echoed_body(ulm_client *c, const char *target, ulm_request *req)
{
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    if (rc != ULM_OK)
        fail_msg("%s: %s", target, ulm_response_error_message(resp));
    json_error_t jerr;
    json_t *body = json_loads(ulm_response_text(resp), 0, &jerr);
    if (!body)
        fail_msg("echo is not JSON: %s", jerr.text);
    ulm_response_free(resp);
    return body;
}

static ulm_request *conversation(const char *target)
{
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, target), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_SYSTEM, "Be brief."), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "Hello"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "Are you there?"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_ASSISTANT, "Yes."), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "Caf\xc3\xa9?"), ULM_OK);
    assert_int_equal(ulm_request_set_temperature(req, 0.5), ULM_OK);
    assert_int_equal(ulm_request_set_max_tokens(req, 24), ULM_OK);
    assert_int_equal(ulm_request_set_seed(req, 7), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "END"), ULM_OK);
    return req;
}

static void requests_arrive_as_each_api_wants_them(void **state)
{
    (void)state;
    ulm_client *c = cloud_client(replay("anthropic", "echo"), replay("gemini", "echo"));
    ulm_request *req = conversation("anthropic/claude-sonnet-4-5");
    json_t *body = echoed_body(c, "anthropic", req);
    assert_string_equal(json_string_value(json_object_get(body, "system")), "Be brief.");
    assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 24);
    json_t *messages = json_object_get(body, "messages");
    assert_int_equal(json_array_size(messages), 3); /* the two user messages are one turn */
    assert_int_equal(json_array_size(json_object_get(json_array_get(messages, 0), "content")), 2);
    assert_null(json_object_get(body, "seed"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(body, "stop_sequences"),
                                                         0)),
                        "END");
    json_decref(body);
    ulm_request_free(req);

    /* without max_tokens the documented default goes out: the API requires one */
    req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, "anthropic/claude-sonnet-4-5"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "Hi"), ULM_OK);
    body = echoed_body(c, "anthropic", req);
    assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 4096);
    json_decref(body);
    ulm_request_free(req);

    req = conversation("gemini/gemini-2.5-flash");
    body = echoed_body(c, "gemini", req);
    json_t *contents = json_object_get(body, "contents");
    assert_int_equal(json_array_size(contents), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(contents, 1), "role")),
                        "model");
    json_t *config = json_object_get(body, "generationConfig");
    assert_int_equal(json_integer_value(json_object_get(config, "maxOutputTokens")), 24);
    assert_int_equal(json_integer_value(json_object_get(config, "seed")), 7);
    json_t *system = json_object_get(json_object_get(body, "systemInstruction"), "parts");
    assert_string_equal(json_string_value(json_object_get(json_array_get(system, 0), "text")),
                        "Be brief.");
    json_decref(body);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------------ errors */

static void documented_errors_are_classified(void **state)
{
    (void)state;
    static const struct {
        const char *provider, *scenario;
        int error, status;
    } cases[] = {
        {"anthropic", "overloaded", ULM_EUNAVAILABLE, 529},
        {"anthropic", "rate-limit", ULM_ERATE_LIMIT, 429},
        {"anthropic", "auth", ULM_EAUTH, 401},
        {"anthropic", "denied", ULM_EAUTH, 403},
        {"anthropic", "not-found", ULM_EMODEL_NOT_FOUND, 404},
        {"anthropic", "invalid", ULM_EBAD_REQUEST, 400},
        {"anthropic", "too-long", ULM_ECONTEXT_LENGTH, 400},
        {"anthropic", "credit", ULM_EQUOTA, 400},
        {"anthropic", "server", ULM_ESERVER, 500},
        {"gemini", "unavailable", ULM_EUNAVAILABLE, 503},
        {"gemini", "rate-limit", ULM_ERATE_LIMIT, 429},
        {"gemini", "auth", ULM_EAUTH, 400},
        {"gemini", "denied", ULM_EAUTH, 403},
        {"gemini", "not-found", ULM_EMODEL_NOT_FOUND, 404},
        {"gemini", "invalid", ULM_EBAD_REQUEST, 400},
        {"gemini", "too-long", ULM_ECONTEXT_LENGTH, 400},
        {"gemini", "server", ULM_ESERVER, 500},
        {"gemini", "blocked", ULM_ECONTENT_FILTER, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *url = replay(cases[i].provider, cases[i].scenario);
        ulm_client *c = cloud_client(url, url);
        const char *target = strcmp(cases[i].provider, "anthropic") == 0
                                 ? "anthropic/claude-sonnet-4-5"
                                 : "gemini/gemini-2.5-flash";
        for (int streamed = 0; streamed < 2; streamed++) {
            live_deltas d = {0};
            ulm_response *resp = NULL;
            int rc = call(c, target, streamed ? &d : NULL, &resp);
            if (rc != cases[i].error)
                fail_msg("%s/%s%s: %s, wanted %s: %s", cases[i].provider, cases[i].scenario,
                         streamed ? " streamed" : "", ulm_error_name(rc),
                         ulm_error_name(cases[i].error), ulm_response_error_message(resp));
            assert_int_equal(ulm_response_http_status(resp), cases[i].status);
            assert_string_equal(ulm_response_provider(resp), cases[i].provider);
            assert_null(strstr(ulm_response_error_message(resp), KEY));
            assert_int_equal(d.calls, 0);
            ulm_response_free(resp);
        }
        ulm_client_free(c);
    }
}

/* A failure after text was delivered ends the call: no fallback, nothing twice. */
static void a_stream_that_breaks_is_incomplete(void **state)
{
    (void)state;
    const char *url[] = {replay("anthropic", "stream-error"), replay("gemini", "stream-error")};
    const char *targets[] = {"anthropic/claude-sonnet-4-5," LIVE_LOCAL_MODEL,
                             "gemini/gemini-2.5-flash," LIVE_LOCAL_MODEL};
    const int errors[] = {ULM_EUNAVAILABLE, ULM_ETRANSPORT};
    for (size_t i = 0; i < 2; i++) {
        ulm_client_options opts = live_options(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
        opts.anthropic_base_url = url[i];
        opts.anthropic_api_key = KEY;
        opts.gemini_base_url = url[i];
        opts.gemini_api_key = KEY;
        ulm_client *c = live_client_with(&opts);
        live_deltas d = {0};
        ulm_response *resp = NULL;
        int rc = call(c, targets[i], &d, &resp);
        if (rc != errors[i])
            fail_msg("%s: %s: %s", targets[i], ulm_error_name(rc),
                     ulm_response_error_message(resp));
        assert_true(ulm_response_incomplete(resp));
        assert_string_equal(d.text, "Hello from the replay server!");
        assert_string_equal(ulm_response_text(resp), d.text);
        assert_int_equal(ulm_response_attempt_count(resp), 1);
        ulm_response_free(resp);
        ulm_client_free(c);
    }
}

/* Thoughts are not the answer; a safety stop is a finish reason, with the text so far. */
static void gemini_thoughts_and_safety_stops(void **state)
{
    (void)state;
    ulm_client *c = cloud_client(LIVE_DEAD_URL, replay("gemini", "thinking"));
    for (int streamed = 0; streamed < 2; streamed++) {
        live_deltas d = {0};
        ulm_response *resp = NULL;
        assert_int_equal(call(c, "gemini/gemini-2.5-flash", streamed ? &d : NULL, &resp), ULM_OK);
        assert_string_equal(ulm_response_text(resp), REPLAY_TEXT);
        assert_int_equal(ulm_response_total_tokens(resp), 25); /* 4 thought tokens counted */
        ulm_response_free(resp);
    }
    ulm_client_free(c);
    c = cloud_client(LIVE_DEAD_URL, replay("gemini", "safety"));
    for (int streamed = 0; streamed < 2; streamed++) {
        live_deltas d = {0};
        ulm_response *resp = NULL;
        assert_int_equal(call(c, "gemini/gemini-2.5-flash", streamed ? &d : NULL, &resp), ULM_OK);
        assert_string_equal(ulm_response_text(resp), "Hello");
        assert_int_equal(ulm_response_finish_reason(resp), ULM_FINISH_CONTENT_FILTER);
        ulm_response_free(resp);
    }
    ulm_client_free(c);
}

/* A prompt a safety filter refused stops the chain: the local model is not asked. */
static void a_blocked_prompt_stops_the_chain(void **state)
{
    (void)state;
    ulm_client_options opts = live_options(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    opts.gemini_base_url = replay("gemini", "blocked");
    opts.gemini_api_key = KEY;
    ulm_client *c = live_client_with(&opts);
    ulm_response *resp = NULL;
    assert_int_equal(call(c, "gemini/gemini-2.5-flash," LIVE_LOCAL_MODEL, NULL, &resp),
                     ULM_ECONTENT_FILTER);
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    assert_string_equal(ulm_response_error_message(resp),
                        "gemini: HTTP 200: prompt blocked: SAFETY");
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* ------------------------------------------------------------------ Gemini's own spec */

/* A provider that sends a body Gemini's schema forbids: proves that prism validates. */
static int bad_body_build(const ulm_provider *self, ulm_op op, const char *model,
                          const ulm_request *req, ulm_http_request *out)
{
    (void)self, (void)op, (void)req;
    char path[256];
    snprintf(path, sizeof path, "/v1beta/models/%s:generateContent", model);
    static const char body[] = "{\"contents\":\"not an array\"}";
    int rc = ulm_http_request_set_target(out, "POST", path);
    return rc == ULM_OK ? ulm_http_request_set_body(out, body, sizeof body - 1) : rc;
}

static int bad_body_parse(const ulm_provider *self, ulm_op op, const ulm_http_response *in,
                          ulm_result *out)
{
    (void)self, (void)op;
    int status = ulm_http_response_status(in);
    return status == 200 ? ULM_OK
                         : ulm_result_set_error(out, ulm_error_from_http_status(status), NULL, 0);
}

static void destroy_static(ulm_provider *self)
{
    (void)self;
}

static void gemini_requests_pass_the_published_schema(void **state)
{
    (void)state;
    const char *spec_url = live_url("ULM_TEST_GEMINI_URL");
    ulm_client *c = cloud_client(LIVE_DEAD_URL, spec_url);
    for (int with_all = 0; with_all < 2; with_all++) {
        ulm_request *req = with_all ? conversation("gemini/gemini-2.0-flash")
                                    : live_request("gemini/gemini-2.0-flash", "hi");
        ulm_response *resp = NULL;
        int rc = ulm_complete(&resp, c, req);
        /* a 422 from prism is a request the schema refuses: a bug in the adapter */
        if (rc != ULM_OK)
            fail_msg("%s (HTTP %d)", ulm_response_error_message(resp),
                     ulm_response_http_status(resp));
        assert_string_equal(ulm_response_provider(resp), "gemini");
        /* prism's example answer has one part, marked as a thought: no text */
        assert_string_equal(ulm_response_text(resp), "");
        ulm_response_free(resp);
        ulm_request_free(req);
    }
    ulm_model_list *list = NULL;
    assert_int_equal(ulm_list_models(&list, c), ULM_OK);
    for (size_t i = 0; i < ulm_model_list_backend_count(list); i++)
        if (strcmp(ulm_model_list_backend_name(list, i), "gemini") == 0)
            assert_int_equal(ulm_model_list_backend_error(list, i), ULM_OK);
    ulm_model_list_free(list);

    /* the same server refuses a body its schema forbids */
    static ulm_provider bad = {ULM_PROVIDER_VERSION, 0, "badgemini", "x-goog-api-key", NULL, NULL,
                               bad_body_build, bad_body_parse, destroy_static, NULL};
    assert_int_equal(ulm_client_add_provider(c, &bad, spec_url, KEY), ULM_OK);
    ulm_request *req = live_request("badgemini/gemini-2.0-flash", "hi");
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_EBAD_REQUEST);
    assert_int_equal(ulm_response_http_status(resp), 422);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* ------------------------------------------------------------------ retries */

/* With retries on: Gemini's RetryInfo ("1s" from the replay server) is the pause, not the
 * backoff (held to 1 ms here); OpenAI's insufficient_quota, a 429 too, is not retried. */
static void retries_follow_each_provider_s_advice(void **state)
{
    (void)state;
    char path[64] = "/tmp/ulm-cloud-XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    static const char json[] =
        "{\"retry\": {\"max_retries\": 2, \"base_delay_ms\": 1, \"max_delay_ms\": 1}}";
    assert_int_equal(write(fd, json, sizeof json - 1), (ssize_t)(sizeof json - 1));
    close(fd);
    char openai_url[256];
    snprintf(openai_url, sizeof openai_url, "%s/quota/0/v1", live_url("ULM_TEST_FAULT_URL"));
    ulm_client_options opts = live_options(LIVE_DEAD_URL, openai_url, KEY);
    opts.config_path = path;
    opts.gemini_base_url = replay("gemini", "rate-limit");
    opts.gemini_api_key = KEY;
    ulm_client *c = live_client_with(&opts);
    unlink(path);

    ulm_response *resp = NULL;
    double start = live_now_ms();
    assert_int_equal(call(c, "gemini/gemini-2.5-flash", NULL, &resp), ULM_ERATE_LIMIT);
    double elapsed = live_now_ms() - start;
    assert_int_equal(ulm_response_attempt_count(resp), 3);
    /* two pauses of the advised second each: at least 2 s, and less than a third pause,
     * since a loaded machine adds time to the calls, not pauses */
    if (elapsed < 2000.0 || elapsed > 3000.0 + live_tolerance_ms())
        fail_msg("three attempts took %.0f ms, wanted 2000 ms of advised pauses", elapsed);
    ulm_response_free(resp);

    assert_int_equal(call(c, "openai/gpt-4o-mini", NULL, &resp), ULM_EQUOTA);
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    assert_int_equal(ulm_response_http_status(resp), 429);
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* ------------------------------------------------------------------ listing and the chain */

static void model_list_includes_cloud_models_with_keys(void **state)
{
    (void)state;
    ulm_client *c = cloud_client(replay("anthropic", "ok"), replay("gemini", "ok"));
    ulm_model_list *list = NULL;
    assert_int_equal(ulm_list_models(&list, c), ULM_OK);
    size_t anthropic = 0, gemini = 0;
    for (size_t i = 0; i < ulm_model_list_count(list); i++) {
        const char *provider = ulm_model_list_provider(list, i);
        const char *id = ulm_model_list_id(list, i);
        if (strcmp(provider, "anthropic") == 0) {
            assert_true(strncmp(id, "claude-", 7) == 0);
            anthropic++;
        } else if (strcmp(provider, "gemini") == 0) {
            assert_null(strstr(id, "models/"));
            assert_null(strstr(id, "embedding"));
            gemini++;
        }
    }
    assert_int_equal(anthropic, 3);
    assert_int_equal(gemini, 2); /* the embedding model cannot chat */
    ulm_model_list_free(list);
    ulm_client_free(c);
}

/* anthropic -> gemini -> openai -> dmr: three clouds fail three ways, the local model
 * answers, and the trail says who failed how. Plain and streamed. */
static void chain_across_all_four_backends(void **state)
{
    (void)state;
    char openai_url[256];
    snprintf(openai_url, sizeof openai_url, "%s/quota/0/v1", live_url("ULM_TEST_FAULT_URL"));
    ulm_client_options opts = live_options(live_url("ULM_TEST_DMR_URL"), openai_url, KEY);
    opts.anthropic_base_url = replay("anthropic", "overloaded");
    opts.anthropic_api_key = KEY;
    opts.gemini_base_url = replay("gemini", "rate-limit");
    opts.gemini_api_key = KEY;
    ulm_client *c = live_client_with(&opts);
    const char *chain = "anthropic/claude-sonnet-4-5,gemini/gemini-2.5-flash,openai/gpt-4o-mini,"
                        LIVE_LOCAL_MODEL;
    for (int streamed = 0; streamed < 2; streamed++) {
        live_deltas d = {0};
        ulm_response *resp = NULL;
        int rc = call(c, chain, streamed ? &d : NULL, &resp);
        if (rc != ULM_OK)
            fail_msg("%s", ulm_response_error_message(resp));
        assert_string_equal(ulm_response_provider(resp), "dmr");
        assert_true(ulm_response_text_length(resp) > 0);
        assert_int_equal(ulm_response_attempt_count(resp), 4);
        assert_attempt_is(resp, 0, "anthropic", ULM_EUNAVAILABLE);
        assert_attempt_is(resp, 1, "gemini", ULM_ERATE_LIMIT);
        assert_attempt_is(resp, 2, "openai", ULM_EQUOTA);
        assert_attempt_is(resp, 3, "dmr", ULM_OK);
        const int statuses[] = {529, 429, 429, 200};
        for (size_t i = 0; i < 4; i++)
            assert_int_equal(ulm_attempt_http_status(ulm_response_attempt(resp, i)), statuses[i]);
        assert_string_equal(ulm_attempt_model(ulm_response_attempt(resp, 0)), "claude-sonnet-4-5");
        assert_string_equal(ulm_attempt_model(ulm_response_attempt(resp, 1)), "gemini-2.5-flash");
        if (streamed) /* only the local model's text reached the caller */
            assert_string_equal(d.text, ulm_response_text(resp));
        ulm_response_free(resp);
    }
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(anthropic_and_gemini_answer_and_stream),
        cmocka_unit_test(requests_arrive_as_each_api_wants_them),
        cmocka_unit_test(documented_errors_are_classified),
        cmocka_unit_test(a_stream_that_breaks_is_incomplete),
        cmocka_unit_test(gemini_thoughts_and_safety_stops),
        cmocka_unit_test(a_blocked_prompt_stops_the_chain),
        cmocka_unit_test(gemini_requests_pass_the_published_schema),
        cmocka_unit_test(retries_follow_each_provider_s_advice),
        cmocka_unit_test(model_list_includes_cloud_models_with_keys),
        cmocka_unit_test(chain_across_all_four_backends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
