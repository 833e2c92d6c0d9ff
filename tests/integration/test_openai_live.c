/* test_openai_live.c - the OpenAI adapter against prism serving OpenAI's published spec. */
#include "live.h"

#define KEY "sk-test-0123456789abcdef"

static void spec_mock_answers(void **state)
{
    (void)state;
    ulm_client *c = live_client(LIVE_DEAD_URL, live_url("ULM_TEST_OPENAI_URL"), KEY);
    ulm_request *req = live_request("openai/gpt-4o-mini", "Say hi");
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    if (rc != ULM_OK)
        fail_msg("%s", ulm_response_error_message(resp));
    assert_string_equal(ulm_response_provider(resp), "openai");
    assert_int_equal(ulm_response_http_status(resp), 200);
    /* prism answers with the spec's example: its fields must come through normalized */
    assert_non_null(ulm_response_raw_json(resp));
    assert_true(strlen(ulm_response_model(resp)) > 0);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void missing_authorization_is_auth_error(void **state)
{
    (void)state;
    ulm_client *c = live_client(LIVE_DEAD_URL, live_url("ULM_TEST_OPENAI_401_URL"), KEY);
    ulm_request *req = live_request("openai/gpt-4o-mini,dmr/ai/stories260k", "Say hi");
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_EAUTH);
    assert_int_equal(ulm_response_http_status(resp), 401);
    /* 401 stops the chain: the local model is not tried */
    assert_int_equal(ulm_response_attempt_count(resp), 1);
    assert_null(strstr(ulm_response_error_message(resp), KEY));
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void rate_limit_is_classified(void **state)
{
    (void)state;
    ulm_client *c = live_client(LIVE_DEAD_URL, live_url("ULM_TEST_OPENAI_429_URL"), KEY);
    ulm_request *req = live_request("openai/gpt-4o-mini", "Say hi");
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    assert_int_equal(ulm_response_http_status(resp), 429);
    assert_true(rc == ULM_ERATE_LIMIT || rc == ULM_EQUOTA);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void model_list_from_spec(void **state)
{
    (void)state;
    ulm_client *c = live_client(LIVE_DEAD_URL, live_url("ULM_TEST_OPENAI_URL"), KEY);
    ulm_model_list *list = NULL;
    assert_int_equal(ulm_list_models(&list, c), ULM_OK);
    assert_int_equal(ulm_model_list_backend_error(list, 0), ULM_ECONNECT);
    assert_int_equal(ulm_model_list_backend_error(list, 1), ULM_OK);
    int openai_models = 0;
    for (size_t i = 0; i < ulm_model_list_count(list); i++)
        openai_models += strcmp(ulm_model_list_provider(list, i), "openai") == 0;
    assert_true(openai_models > 0);
    ulm_model_list_free(list);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_mock_answers),
        cmocka_unit_test(missing_authorization_is_auth_error),
        cmocka_unit_test(rate_limit_is_classified),
        cmocka_unit_test(model_list_from_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
