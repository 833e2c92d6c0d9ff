/* test_embeddings.c - the adapters' embeddings: the bodies they send and the vectors they read. */
#include "fixture.h"

#include <jansson.h>

static ulm_request *inputs(const char *a, const char *b)
{
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_input(req, a), ULM_OK);
    if (b)
        assert_int_equal(ulm_request_add_input(req, b), ULM_OK);
    return req;
}

static void openai_and_dmr_send_their_inputs(void **state)
{
    (void)state;
    int (*makers[])(ulm_provider **) = {ulm__openai_provider_new, ulm__dmr_provider_new};
    for (size_t i = 0; i < 2; i++) {
        ulm_provider *p = NULL;
        assert_int_equal(makers[i](&p), ULM_OK);
        ulm_request *req = inputs("first \"text\"", "second");
        ulm_http_request http;
        json_t *body = fixture_build_json(p, ULM_OP_EMBED, "m", req, &http);
        assert_string_equal(http.method, "POST");
        assert_string_equal(http.path, "/embeddings");
        fixture_assert_json(body, "{\"model\":\"m\",\"input\":[\"first \\\"text\\\"\",\"second\"]}");
        json_decref(body);
        ulm__http_request_clear(&http);
        ulm_request_free(req);
        p->destroy(p);
    }
}

static void the_dmr_emulators_vectors_are_read(void **state)
{
    (void)state;
    ulm_provider *p = NULL;
    assert_int_equal(ulm__dmr_provider_new(&p), ULM_OK);
    ulm_result r;
    fixture_parse_file(p, ULM_OP_EMBED, 200, "application/json", "dmr/embeddings.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.embedding_count, 2); /* two inputs, 64 dimensions each */
    assert_int_equal(r.dimensions, 64);
    assert_true(r.embeddings[0] > 0.0226f && r.embeddings[0] < 0.0227f);
    assert_int_equal(r.prompt_tokens, 9);
    assert_string_equal(r.model, "ai/stories260k");
    ulm__result_clear(&r);
    p->destroy(p);
}

/* Parses body (a JSON text) as an OpenAI embeddings answer. */
static void parse_openai(const char *body, ulm_result *r)
{
    ulm_provider *p = NULL;
    assert_int_equal(ulm__openai_provider_new(&p), ULM_OK);
    ulm_http_response resp;
    fixture_response_from(&resp, 200, "application/json", body, strlen(body));
    fixture_parse(p, ULM_OP_EMBED, &resp, r);
    p->destroy(p);
}

static void vectors_come_in_index_order(void **state)
{
    (void)state;
    ulm_result r;
    parse_openai("{\"data\":[{\"index\":1,\"embedding\":[3,4]},{\"index\":0,\"embedding\":[1,2]}],"
                 "\"usage\":{\"prompt_tokens\":5,\"total_tokens\":5}}",
                 &r);
    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.embedding_count, 2);
    assert_int_equal(r.dimensions, 2);
    const float want[] = {1, 2, 3, 4};
    assert_memory_equal(r.embeddings, want, sizeof want);
    ulm__result_clear(&r);
}

static void malformed_vectors_are_protocol_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"data\":[]}",
        "{\"data\":[{\"index\":0,\"embedding\":[1,\"x\"]}]}",
        "{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":1,\"embedding\":[3]}]}",
        "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}",
        "{\"data\":[{\"index\":0,\"embedding\":{}}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ulm_result r;
        parse_openai(bad[i], &r);
        if (r.error != ULM_EPROTOCOL)
            fail_msg("%s gave %d", bad[i], r.error);
        ulm__result_clear(&r);
    }
}

static void gemini_batches_one_request_per_input(void **state)
{
    (void)state;
    ulm_provider *p = NULL;
    assert_int_equal(ulm__gemini_provider_new(&p), ULM_OK);
    ulm_request *req = inputs("a", "b");
    ulm_http_request http;
    json_t *body = fixture_build_json(p, ULM_OP_EMBED, "text-embedding-004", req, &http);
    assert_string_equal(http.path, "/v1beta/models/text-embedding-004:batchEmbedContents");
    fixture_assert_json(body, "{\"requests\":["
                              "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{\"text\":\"a\"}]}},"
                              "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{\"text\":\"b\"}]}}]}");
    json_decref(body);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
    ulm_result r;
    fixture_parse_file(p, ULM_OP_EMBED, 200, "application/json", "gemini/embeddings.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.embedding_count, 2);
    assert_int_equal(r.dimensions, 3);
    assert_true(r.embeddings[3] < -0.0223f && r.embeddings[3] > -0.0224f);
    ulm__result_clear(&r);
    p->destroy(p);
}

static void anthropic_has_no_embeddings(void **state)
{
    (void)state;
    ulm_provider *p = NULL;
    assert_int_equal(ulm__anthropic_provider_new(&p), ULM_OK);
    ulm_request *req = inputs("a", NULL);
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_EMBED, "claude", req, &http), ULM_EUNSUPPORTED);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
    p->destroy(p);
}

static void inputs_are_checked(void **state)
{
    (void)state;
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_input(req, ""), ULM_EINVAL);
    assert_int_equal(ulm_request_add_input(req, "\xed\xa0\x80"), ULM_EINVAL); /* a surrogate */
    assert_int_equal(ulm_request_add_input(req, NULL), ULM_EINVAL);
    assert_int_equal(ulm_request_input_count(req), 0);
    assert_null(ulm_request_input(req, 0));
    ulm_request_free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(openai_and_dmr_send_their_inputs),
        cmocka_unit_test(the_dmr_emulators_vectors_are_read),
        cmocka_unit_test(vectors_come_in_index_order),
        cmocka_unit_test(malformed_vectors_are_protocol_errors),
        cmocka_unit_test(gemini_batches_one_request_per_input),
        cmocka_unit_test(anthropic_has_no_embeddings),
        cmocka_unit_test(inputs_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
