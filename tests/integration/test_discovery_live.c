/* test_discovery_live.c - finding Docker Model Runner: candidate addresses, and what Compose injects. */
#include <jansson.h>

#include "live.h"

/* The client's model_runner_discovery section of ulm_client_describe(). */
static json_t *discovery(ulm_client *c)
{
    size_t n = ulm_client_describe(c, NULL, 0);
    char *text = malloc(n + 1);
    assert_non_null(text);
    ulm_client_describe(c, text, n + 1);
    json_t *root = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(root);
    json_t *d = json_incref(json_object_get(root, "model_runner_discovery"));
    json_decref(root);
    assert_non_null(d);
    return d;
}

/* A client with no runner URL, looking at the given candidates only. */
static ulm_client *discovering_client(const char *candidates)
{
    ulm_backend_setting setting = {"dmr", "candidates", candidates};
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.default_local_model = "ai/stories260k";
    opts.backend_settings = &setting;
    opts.backend_setting_count = 1;
    return live_client_with(&opts);
}

static int ask(ulm_client *c, const char *model, ulm_response **resp)
{
    ulm_request *req = live_request(model, "Once upon a time");
    int rc = ulm_complete(resp, c, req);
    ulm_request_free(req);
    return rc;
}

/* Fails the test with the library's message when a call did not succeed. */
static void expect_answer(int rc, const ulm_response *resp)
{
    if (rc != ULM_OK)
        fail_msg("%s", ulm_response_error_message(resp));
}

static void the_first_candidate_that_answers_is_used(void **state)
{
    (void)state;
    char candidates[512];
    snprintf(candidates, sizeof candidates, "%s,%s", LIVE_DEAD_URL, live_url("ULM_TEST_DMR_URL"));
    ulm_client *c = discovering_client(candidates);
    json_t *d = discovery(c);
    assert_true(json_is_true(json_object_get(d, "needed")));
    assert_int_equal(json_array_size(json_object_get(d, "tried")), 0); /* not before a call */
    json_decref(d);
    ulm_response *resp = NULL;
    int rc = ask(c, NULL, &resp);
    expect_answer(rc, resp);
    assert_string_equal(ulm_response_provider(resp), "dmr");
    ulm_response_free(resp);
    rc = ask(c, NULL, &resp);
    expect_answer(rc, resp); /* probed once per client */
    ulm_response_free(resp);
    d = discovery(c);
    json_t *tried = json_object_get(d, "tried");
    /* exactly the candidates given, in order, and nothing else */
    assert_int_equal(json_array_size(tried), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tried, 0), "url")),
                        LIVE_DEAD_URL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tried, 0), "outcome")),
                        "connect");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tried, 1), "outcome")),
                        "ok");
    assert_true(json_is_null(json_object_get(d, "failure")));
    json_decref(d);
    ulm_client_free(c);
}

static void no_runner_says_how_to_fix_it(void **state)
{
    (void)state;
    ulm_client *c = discovering_client(LIVE_DEAD_URL);
    ulm_response *resp = NULL;
    assert_int_equal(ask(c, NULL, &resp), ULM_ECONNECT);
    const char *m = ulm_response_error_message(resp);
    assert_non_null(strstr(m, "no Docker Model Runner answered at " LIVE_DEAD_URL));
    assert_non_null(strstr(m, "docker desktop enable model-runner --tcp 12434"));
    assert_non_null(strstr(m, "MODEL_RUNNER_URL"));
    assert_non_null(strstr(m, "from a container: http://model-runner.docker.internal"));
    ulm_response_free(resp);
    ulm_client_free(c);
}

/* What a Compose service with `models: [llm]` is given, and nothing else configured. */
static void compose_models_need_no_configuration(void **state)
{
    (void)state;
    char url[512];
    snprintf(url, sizeof url, "%s/v1/", live_url("ULM_TEST_DMR_URL"));
    setenv("LLM_URL", url, 1);
    setenv("LLM_MODEL", "ai/stories260k", 1);
    setenv("ULM_DMR_CANDIDATES", LIVE_DEAD_URL, 1); /* the default runner is not used */
    unsetenv("DEFAULT_LOCAL_MODEL");
    unsetenv("MODEL_RUNNER_URL");
    unsetenv("ULM_CONFIG");
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, NULL, err, sizeof err), ULM_OK);
    /* the one injected model is the default, reached through backend "llm" */
    assert_string_equal(ulm_client_default_model(c), "llm/ai/stories260k");
    ulm_response *resp = NULL;
    int rc = ask(c, NULL, &resp);
    expect_answer(rc, resp);
    assert_string_equal(ulm_response_provider(resp), "llm");
    ulm_response_free(resp);
    /* and by its name, as an alias */
    rc = ask(c, "llm", &resp);
    expect_answer(rc, resp);
    assert_string_equal(ulm_response_provider(resp), "llm");
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    ulm_response_free(resp);
    ulm_client_free(c);
    unsetenv("LLM_URL");
    unsetenv("LLM_MODEL");
    unsetenv("ULM_DMR_CANDIDATES");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_first_candidate_that_answers_is_used),
        cmocka_unit_test(no_runner_says_how_to_fix_it),
        cmocka_unit_test(compose_models_need_no_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
