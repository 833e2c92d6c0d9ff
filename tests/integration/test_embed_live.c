/* test_embed_live.c - ulm_embed() against real servers: the local model's vectors, the specs' mocks, a chain. */
#include <math.h>

#include "live.h"

static ulm_request *texts(const char *models)
{
    ulm_request *r = NULL;
    assert_int_equal(ulm_request_new(&r), ULM_OK);
    assert_int_equal(ulm_request_add_model(r, models), ULM_OK);
    assert_int_equal(ulm_request_add_input(r, "Once upon a time"), ULM_OK);
    assert_int_equal(ulm_request_add_input(r, "there was a dragon"), ULM_OK);
    return r;
}

static void the_local_model_gives_real_vectors(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = texts(LIVE_LOCAL_MODEL);
    ulm_response *resp = NULL;
    int rc = ulm_embed(&resp, c, req);
    if (rc != ULM_OK)
        fail_msg("embed: %s", ulm_response_error_message(resp));
    assert_int_equal(ulm_response_embedding_count(resp), 2);
    size_t dims = ulm_response_dimensions(resp);
    assert_true(dims > 0);
    /* two different texts, two different unit vectors */
    const float *a = ulm_response_embedding(resp, 0), *b = ulm_response_embedding(resp, 1);
    double norm = 0, diff = 0;
    for (size_t i = 0; i < dims; i++) {
        norm += (double)a[i] * a[i];
        diff += fabs((double)a[i] - b[i]);
    }
    assert_true(fabs(norm - 1.0) < 0.01);
    assert_true(diff > 0.01);
    assert_null(ulm_response_embedding(resp, 2));
    assert_string_equal(ulm_response_provider(resp), "dmr");
    assert_true(ulm_response_prompt_tokens(resp) > 0);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

/* Anthropic has no embeddings: the chain moves on to the local model. */
static void a_backend_without_embeddings_falls_back(void **state)
{
    (void)state;
    ulm_client_options opts = live_options(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    opts.anthropic_api_key = "sk-ant-embed-test-0123456789";
    opts.anthropic_base_url = LIVE_DEAD_URL; /* never asked: nothing to send */
    ulm_client *c = live_client_with(&opts);
    ulm_request *req = texts("anthropic/claude-haiku-4-5," LIVE_LOCAL_MODEL);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_embed(&resp, c, req), ULM_OK);
    assert_int_equal(ulm_response_attempt_count(resp), 2);
    assert_attempt_is(resp, 0, "anthropic", ULM_EUNSUPPORTED);
    assert_attempt_is(resp, 1, "dmr", ULM_OK);
    assert_int_equal(ulm_response_embedding_count(resp), 2);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

/*
 * prism answers from OpenAI's published spec, checking the request. (Gemini's spec here
 * leaves out the "model" each request of batchEmbedContents must carry, which Google's
 * reference and every client send, so prism refuses what the service needs: the Gemini
 * body is held to the reference by the unit tests instead; docs/providers.md says so.)
 */
static void the_cloud_specs_accept_the_requests(void **state)
{
    (void)state;
    ulm_client_options opts = live_options(LIVE_DEAD_URL, live_url("ULM_TEST_OPENAI_URL"),
                                           "sk-embed-test-0123456789");
    ulm_client *c = live_client_with(&opts);
    const char *models[] = {"openai/text-embedding-3-small"};
    for (size_t i = 0; i < 1; i++) {
        ulm_request *req = texts(models[i]);
        ulm_response *resp = NULL;
        int rc = ulm_embed(&resp, c, req);
        /* prism's example answers hold one vector whatever was asked: the request passed the
         * spec's validation (a 422 otherwise), and the count check of the answer speaks */
        if (rc != ULM_OK && rc != ULM_EPROTOCOL)
            fail_msg("%s: %s", models[i], ulm_response_error_message(resp));
        if (rc == ULM_EPROTOCOL)
            assert_non_null(strstr(ulm_response_error_message(resp), "vectors for 2 inputs"));
        else
            assert_int_equal(ulm_response_embedding_count(resp), 2);
        ulm_response_free(resp);
        ulm_request_free(req);
    }
    ulm_client_free(c);
}

static void no_input_is_refused(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_embed(&resp, c, req), ULM_EINVAL);
    assert_string_equal(ulm_response_error_message(resp), "request: no input to embed");
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_local_model_gives_real_vectors),
        cmocka_unit_test(a_backend_without_embeddings_falls_back),
        cmocka_unit_test(the_cloud_specs_accept_the_requests),
        cmocka_unit_test(no_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
