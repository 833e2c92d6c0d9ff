/* test_fallback_live.c - fallback between real servers: dead DMR to OpenAI, OpenAI 429 to DMR. */
#include "live.h"

#define KEY "sk-test-0123456789abcdef"

static void dead_local_falls_back_to_openai(void **state)
{
    (void)state;
    ulm_client *c = live_client(LIVE_DEAD_URL, live_url("ULM_TEST_OPENAI_URL"), KEY);
    ulm_request *req = live_request("dmr/ai/stories260k,openai/gpt-4o-mini", "Say hi");
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    if (rc != ULM_OK)
        fail_msg("%s", ulm_response_error_message(resp));
    assert_string_equal(ulm_response_provider(resp), "openai");
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_attempt_is(resp, 0, "dmr", ULM_ECONNECT);
    assert_attempt_is(resp, 1, "openai", ULM_OK);
    assert_string_equal(ulm_attempt_model(ulm_response_attempt(resp, 0)), "ai/stories260k:latest");
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void openai_rate_limit_falls_back_to_local(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), live_url("ULM_TEST_OPENAI_429_URL"),
                                KEY);
    ulm_request *req = live_request("openai/gpt-4o-mini,dmr/ai/stories260k", "Once upon a time");
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    /* the spec's 429 example may be a quota error, which also moves to the next backend */
    if (rc != ULM_OK)
        fail_msg("%s", ulm_response_error_message(resp));
    assert_string_equal(ulm_response_provider(resp), "dmr");
    assert_true(ulm_response_text_length(resp) > 0);
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_int_equal(ulm_attempt_http_status(ulm_response_attempt(resp, 0)), 429);
    assert_attempt_is(resp, 1, "dmr", ULM_OK);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void every_backend_down_reports_each_attempt(void **state)
{
    (void)state;
    ulm_client *c = live_client(LIVE_DEAD_URL, live_url("ULM_TEST_OPENAI_429_URL"), KEY);
    ulm_request *req = live_request("dmr/ai/stories260k,openai/gpt-4o-mini", "hi");
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    assert_int_not_equal(rc, ULM_OK);
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_attempt_is(resp, 0, "dmr", ULM_ECONNECT);
    assert_string_equal(ulm_response_provider(resp), "openai");
    assert_int_equal(ulm_response_http_status(resp), 429);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dead_local_falls_back_to_openai),
        cmocka_unit_test(openai_rate_limit_falls_back_to_local),
        cmocka_unit_test(every_backend_down_reports_each_attempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
