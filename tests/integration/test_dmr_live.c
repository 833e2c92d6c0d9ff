/* test_dmr_live.c - real completions from a local model behind the DMR emulator. */
#include "live.h"

static void local_model_answers(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, "Once upon a time");
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    if (rc != ULM_OK)
        fail_msg("%s", ulm_response_error_message(resp));
    assert_true(ulm_response_text_length(resp) > 0);
    assert_string_equal(ulm_response_provider(resp), "dmr");
    assert_string_equal(ulm_response_model(resp), "ai/stories260k:latest");
    assert_true(ulm_response_prompt_tokens(resp) > 0);
    assert_true(ulm_response_completion_tokens(resp) > 0);
    assert_true(ulm_response_completion_tokens(resp) <= 24);
    assert_int_equal(ulm_response_total_tokens(resp),
                     ulm_response_prompt_tokens(resp) + ulm_response_completion_tokens(resp));
    assert_int_not_equal(ulm_response_finish_reason(resp), ULM_FINISH_UNKNOWN);
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    assert_non_null(strstr(ulm_response_raw_json(resp), "chat.completion"));
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void temperature_zero_is_deterministic(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = live_request("dmr/stories260k", "The little dog");
    ulm_response *a = NULL, *b = NULL;
    assert_int_equal(ulm_complete(&a, c, req), ULM_OK);
    assert_int_equal(ulm_complete(&b, c, req), ULM_OK);
    assert_string_equal(ulm_response_text(a), ulm_response_text(b));
    ulm_response_free(a);
    ulm_response_free(b);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void max_tokens_gives_length(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, "Once upon a time");
    assert_int_equal(ulm_request_set_max_tokens(req, 2), ULM_OK);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    assert_int_equal(ulm_response_finish_reason(resp), ULM_FINISH_LENGTH);
    assert_int_equal(ulm_response_completion_tokens(resp), 2);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void model_not_pulled_is_classified(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = live_request("dmr/ai/not-pulled", "hi");
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_EMODEL_NOT_FOUND);
    assert_int_equal(ulm_response_http_status(resp), 404);
    assert_non_null(strstr(ulm_response_error_message(resp), "dmr: HTTP 404"));
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void context_overflow_is_classified(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    /* far past the model's 2048-token window */
    size_t len = 40000;
    char *prompt = malloc(len + 1);
    for (size_t i = 0; i < len; i += 4)
        memcpy(prompt + i, "cat ", 4);
    prompt[len] = '\0';
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, prompt);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_ECONTEXT_LENGTH);
    assert_int_equal(ulm_response_http_status(resp), 400);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
    free(prompt);
}

static ulm_client *client_with(long load_timeout_ms, size_t max_response_bytes)
{
    ulm_client_options opts = live_options(live_url("ULM_TEST_DMR_URL"), NULL, NULL);
    opts.local_model_timeout_ms = load_timeout_ms;
    opts.max_response_bytes = max_response_bytes;
    return live_client_with(&opts);
}

static void answer_over_the_size_cap_is_too_large(void **state)
{
    (void)state;
    ulm_client *c = client_with(30000, 64);
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, "Once upon a time");
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_ETOO_LARGE);
    assert_string_equal(ulm_response_error_message(resp),
                        "dmr: answer larger than the 64-byte cap");
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

/*
 * Without streaming DMR sends nothing until the whole answer is ready. The earlier tests
 * loaded the model, and the runner's list of runners says so: a long answer then has the
 * first-token timeout only, no load budget on top (a cold model would have both:
 * test_runner_state_live.c).
 */
static void a_loaded_local_model_has_no_load_budget(void **state)
{
    (void)state;
    ulm_client *c = client_with(30000, 0);
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, "Once upon a time");
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK); /* loaded, whatever ran before */
    ulm_response_free(resp);
    /* filling the 2048-token window takes seconds here: far past 200 ms */
    assert_int_equal(ulm_request_set_max_tokens(req, 2000), ULM_OK);
    assert_int_equal(ulm_request_set_temperature(req, 1.0), ULM_OK);
    assert_int_equal(ulm_request_set_timeout(req, ULM_CLOCK_FIRST_TOKEN, 200), ULM_OK);
    assert_int_equal(ulm_complete(&resp, c, req), ULM_EFIRST_TOKEN_TIMEOUT);
    /* generous bounds: this is a check that the clock fired, not a benchmark */
    assert_true(ulm_response_latency_ms(resp) >= 190.0);
    assert_true(ulm_response_latency_ms(resp) < 3000.0 + live_tolerance_ms());
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void model_list_names_local_models(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_model_list *list = NULL;
    assert_int_equal(ulm_list_models(&list, c), ULM_OK);
    int found = 0;
    for (size_t i = 0; i < ulm_model_list_count(list); i++)
        found |= strcmp(ulm_model_list_provider(list, i), "dmr") == 0 &&
                 strcmp(ulm_model_list_id(list, i), "ai/stories260k:latest") == 0;
    assert_true(found);
    assert_int_equal(ulm_model_list_backend_count(list), 4);
    assert_int_equal(ulm_model_list_backend_error(list, 0), ULM_OK);
    /* an OpenAI-compatible server on this machine takes no key: asked, and refused */
    assert_int_equal(ulm_model_list_backend_error(list, 1), ULM_ECONNECT);
    for (size_t i = 2; i < 4; i++) /* anthropic and gemini have no key */
        assert_int_equal(ulm_model_list_backend_error(list, i), ULM_ENOT_CONFIGURED);
    ulm_model_list_free(list);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(local_model_answers),
        cmocka_unit_test(temperature_zero_is_deterministic),
        cmocka_unit_test(max_tokens_gives_length),
        cmocka_unit_test(model_not_pulled_is_classified),
        cmocka_unit_test(context_overflow_is_classified),
        cmocka_unit_test(answer_over_the_size_cap_is_too_large),
        cmocka_unit_test(a_loaded_local_model_has_no_load_budget),
        cmocka_unit_test(model_list_names_local_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
