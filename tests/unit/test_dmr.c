/* test_dmr.c - the Docker Model Runner adapter: model names, requests, and DMR's real answers. */
#include "fixture.h"

#include <jansson.h>

#define DMR_TEXT "text/plain; charset=utf-8"

/* ------------------------------------------------------------------ helpers */

static int provider_setup(void **state)
{
    ulm_provider *p = NULL;
    assert_int_equal(ulm__dmr_provider_new(&p), ULM_OK);
    assert_non_null(p);
    *state = p;
    return 0;
}

static int provider_teardown(void **state)
{
    ulm_provider *p = *state;
    p->destroy(p);
    return 0;
}

static void assert_normalized(const char *name, const char *expected)
{
    char buf[256];
    memset(buf, 'X', sizeof buf);
    int rc = ulm__dmr_normalize_model(name, buf, sizeof buf);
    if (rc != ULM_OK)
        fail_msg("normalize(\"%s\") returned %d, expected \"%s\"", name, rc, expected);
    assert_string_equal(buf, expected);
}

static void assert_rejected(const char *name)
{
    char buf[256] = "";
    int rc = ulm__dmr_normalize_model(name, buf, sizeof buf);
    if (rc != ULM_EINVAL)
        fail_msg("normalize(\"%s\") returned %d (\"%s\"), expected ULM_EINVAL", name, rc, buf);
}


/* A text/plain error fixture: checks the class and that error_text is the body as sent. */
static void assert_text_error(ulm_provider *p, int status, const char *name, int expected)
{
    ulm_result r;
    fixture_parse_file(p, ULM_OP_CHAT, status, DMR_TEXT, name, &r);
    char *body = fixture_read(name, NULL);
    assert_int_equal(r.error, expected);
    assert_non_null(r.error_text);
    assert_string_equal(r.error_text, body);
    assert_null(r.text);
    free(body);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ model names */

static void test_normalize_bare_name_gets_ai_namespace_and_latest(void **state)
{
    (void)state;
    assert_normalized("smollm2", "ai/smollm2:latest");
}

static void test_normalize_namespaced_name_gets_latest(void **state)
{
    (void)state;
    assert_normalized("ai/smollm2", "ai/smollm2:latest");
}

static void test_normalize_lowercases_name(void **state)
{
    (void)state;
    assert_normalized("AI/SmolLM2", "ai/smollm2:latest");
}

static void test_normalize_keeps_tag_case(void **state)
{
    (void)state;
    assert_normalized("ai/llama3.2:1B-Q8_0", "ai/llama3.2:1B-Q8_0");
}

static void test_normalize_rewrites_huggingface_host_to_hf_co(void **state)
{
    (void)state;
    assert_normalized("huggingface.co/Bartowski/X-GGUF", "hf.co/bartowski/x-gguf:latest");
}

static void test_normalize_keeps_hf_co_tag(void **state)
{
    (void)state;
    assert_normalized("hf.co/a/b:Q4_K_M", "hf.co/a/b:Q4_K_M");
}

static void test_normalize_is_idempotent(void **state)
{
    (void)state;
    assert_normalized("ai/smollm2:latest", "ai/smollm2:latest");
    assert_normalized("hf.co/bartowski/x-gguf:latest", "hf.co/bartowski/x-gguf:latest");
}

static void test_normalize_rejects_empty_name(void **state)
{
    (void)state;
    assert_rejected("");
}

static void test_normalize_rejects_namespace_without_name(void **state)
{
    (void)state;
    assert_rejected("ai/");
}

static void test_normalize_rejects_leading_slash(void **state)
{
    (void)state;
    assert_rejected("/x");
}

static void test_normalize_rejects_empty_path_segment(void **state)
{
    (void)state;
    assert_rejected("a//b");
}

static void test_normalize_rejects_empty_tag(void **state)
{
    (void)state;
    assert_rejected("x:");
}

static void test_normalize_rejects_space(void **state)
{
    (void)state;
    assert_rejected("has space");
}

static void test_normalize_rejects_300_char_name(void **state)
{
    (void)state;
    char name[301];
    memset(name, 'a', 300);
    name[300] = '\0';
    assert_rejected(name);
}

static void test_normalize_rejects_buffer_too_small(void **state)
{
    (void)state;
    char buf[17]; /* "ai/smollm2:latest" needs 18 bytes with its NUL */
    assert_int_equal(ulm__dmr_normalize_model("smollm2", buf, sizeof buf), ULM_EINVAL);
}

static void test_normalize_fits_exact_buffer(void **state)
{
    (void)state;
    char buf[18];
    assert_int_equal(ulm__dmr_normalize_model("smollm2", buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, "ai/smollm2:latest");
}

static void test_provider_normalize_slot_uses_dmr_names(void **state)
{
    ulm_provider *p = *state;
    char buf[256];
    assert_non_null(p->normalize_model);
    assert_int_equal(p->normalize_model(p, "SmolLM2", buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, "ai/smollm2:latest");
    assert_int_equal(p->normalize_model(p, "a//b", buf, sizeof buf), ULM_EINVAL);
}

/* ------------------------------------------------------------------ provider and build */

static void test_provider_is_local_without_auth(void **state)
{
    ulm_provider *p = *state;
    assert_int_equal(p->version, ULM_PROVIDER_VERSION);
    assert_string_equal(p->name, "dmr");
    assert_true(p->flags & ULM_PROVIDER_LOCAL);
    assert_null(p->auth_header);
    assert_null(p->auth_prefix);
}

static void test_build_chat_posts_normalized_model_as_given(void **state)
{
    ulm_provider *p = *state;
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "Hello"), ULM_OK);
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_CHAT, "ai/llama3.2:1B-Q8_0", req, &http), ULM_OK);

    assert_string_equal(http.method, "POST");
    assert_string_equal(http.path, "/chat/completions");
    assert_int_equal(http.header_count, 0); /* DMR takes no key */
    json_t *body = json_loadb(http.body, http.body_len, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "model")),
                        "ai/llama3.2:1B-Q8_0");
    json_t *m = json_array_get(json_object_get(body, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "role")), "user");
    assert_string_equal(json_string_value(json_object_get(m, "content")), "Hello");
    json_decref(body);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

static void test_build_models_is_get_models(void **state)
{
    ulm_provider *p = *state;
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_MODELS, NULL, NULL, &http), ULM_OK);
    assert_string_equal(http.method, "GET");
    assert_string_equal(http.path, "/models");
    assert_int_equal(http.header_count, 0);
    ulm__http_request_clear(&http);
}

/* ------------------------------------------------------------------ success answers */

/* llama.cpp's stream: content null in the role chunk, usage and timings after the end. */
static void test_llamacpp_stream_split_anywhere(void **state)
{
    size_t len;
    char *body = fixture_read("dmr/stream_chat_llamacpp.txt", &len);
    for (size_t cut = 0; cut <= len; cut += 7) {
        ulm_result r;
        fixture_deltas d = {0};
        assert_int_equal(fixture_stream(*state, body, len, &cut, 1, &r, &d), ULM_OK);
        assert_string_equal(r.text, "Once upon");
        assert_int_equal(d.text.len, 9);
        assert_int_equal(r.finish, ULM_FINISH_LENGTH);
        assert_int_equal(r.prompt_tokens, 5);
        assert_int_equal(r.completion_tokens, 2);
        assert_int_equal(r.total_tokens, 7);
        assert_string_equal(r.model, "ai/smollm2");
        ulm__result_clear(&r);
        ulm_text_free(&d.text);
    }
    free(body);
}

static void test_parse_llamacpp_chat_completion_with_timings(void **state)
{
    ulm_result r;
    fixture_parse_file(*state, ULM_OP_CHAT, 200, "application/json", "dmr/chat_llamacpp.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_null(r.error_text);
    assert_string_equal(r.text, "Hello! How can I help you today?");
    assert_int_equal(r.finish, ULM_FINISH_STOP);
    assert_int_equal(r.prompt_tokens, 31);
    assert_int_equal(r.completion_tokens, 9);
    assert_int_equal(r.total_tokens, 40);
    assert_string_equal(r.model, "ai/smollm2:latest");
    ulm__result_clear(&r);
}

static void test_parse_models_lists_pulled_models(void **state)
{
    ulm_result r;
    fixture_parse_file(*state, ULM_OP_MODELS, 200, "application/json", "dmr/models.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.model_id_count, 2);
    assert_string_equal(r.model_ids[0], "ai/smollm2:latest");
    assert_string_equal(r.model_ids[1], "ai/llama3.2:1B-Q8_0");
    ulm__result_clear(&r);
}

static void test_parse_malformed_success_is_protocol(void **state)
{
    ulm_http_response resp;
    fixture_response_from(&resp, 200, "application/json", "{\"choices\":[]}", 14);
    ulm_result r;
    fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
    assert_int_equal(r.error, ULM_EPROTOCOL);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ DMR's errors */

static void test_404_model_not_found_text_is_model_not_found(void **state)
{
    assert_text_error(*state, 404, "dmr/error_404_model_not_found.txt", ULM_EMODEL_NOT_FOUND);
}

static void test_500_unable_to_load_runner_is_model_load(void **state)
{
    assert_text_error(*state, 500, "dmr/error_500_load_gpu_memory.txt", ULM_EMODEL_LOAD);
}

static void test_500_other_text_is_server(void **state)
{
    ulm_http_response resp;
    fixture_response_from(&resp, 500, DMR_TEXT, "model unavailable\n", 18);
    ulm_result r;
    fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
    assert_int_equal(r.error, ULM_ESERVER);
    assert_string_equal(r.error_text, "model unavailable\n");
    ulm__result_clear(&r);
}

static void test_412_backend_not_installed_is_model_load(void **state)
{
    assert_text_error(*state, 412, "dmr/error_412_backend_not_installed.txt", ULM_EMODEL_LOAD);
}

static void test_503_service_unavailable_text_is_unavailable(void **state)
{
    assert_text_error(*state, 503, "dmr/error_503_service_unavailable.txt", ULM_EUNAVAILABLE);
}

/* Older DMR releases say this while a model loads: the core waits and asks again. */
static void test_503_loading_model_json_is_model_loading(void **state)
{
    ulm_result r;
    fixture_parse_file(*state, ULM_OP_CHAT, 503, "application/json",
                  "dmr/error_503_loading_model.json", &r);
    assert_int_equal(r.error, ULM_EMODEL_LOADING);
    assert_string_equal(r.error_text, "Loading model");
    ulm__result_clear(&r);
}

static void test_500_runner_crash_json_is_server(void **state)
{
    ulm_result r;
    fixture_parse_file(*state, ULM_OP_CHAT, 500, "application/json",
                  "dmr/error_500_runner_crash.json", &r);
    assert_int_equal(r.error, ULM_ESERVER);
    assert_non_null(r.error_text);
    /* the runner's own message, not the JSON around it */
    assert_string_equal(r.error_text, "llama.cpp runner terminated unexpectedly: signal: killed");
    ulm__result_clear(&r);
}

static void test_normalize_checks_digests_and_component_starts(void **state)
{
    (void)state;
    assert_normalized("ai/x@sha256:0123abcdef", "ai/x@sha256:0123abcdef");
    assert_rejected("x@");
    assert_rejected("ai/x@sha256:");
    assert_rejected("x@has space");
    assert_rejected("-x");
    assert_rejected(".");
    assert_rejected("ai/..");
}

static void test_404_backend_not_found_is_unsupported(void **state)
{
    ulm_http_response resp;
    fixture_response_from(&resp, 404, "text/plain", "backend not found\n", 18);
    ulm_result r;
    fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
    assert_int_equal(r.error, ULM_EUNSUPPORTED);
    ulm__result_clear(&r);
}

static void test_502_empty_body_is_server_with_explanation(void **state)
{
    ulm_http_response resp;
    fixture_response_from(&resp, 502, NULL, "", 0);
    ulm_result r;
    fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
    assert_int_equal(r.error, ULM_ESERVER);
    assert_non_null(r.error_text);
    assert_true(strlen(r.error_text) > 0);
    ulm__result_clear(&r);
}

static void test_400_exceed_context_size_json_is_context_length(void **state)
{
    ulm_result r;
    fixture_parse_file(*state, ULM_OP_CHAT, 400, "application/json",
                  "dmr/error_400_exceed_context_size.json", &r);
    assert_int_equal(r.error, ULM_ECONTEXT_LENGTH);
    assert_string_equal(r.error_text,
                        "the request exceeds the available context size, try increasing it");
    ulm__result_clear(&r);
}

static void test_400_request_too_large_text_is_bad_request(void **state)
{
    assert_text_error(*state, 400, "dmr/error_400_request_too_large.txt", ULM_EBAD_REQUEST);
}

/* ------------------------------------------------------------------ main */

#define T(fn) cmocka_unit_test_setup_teardown(fn, provider_setup, provider_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_normalize_bare_name_gets_ai_namespace_and_latest),
        T(test_normalize_namespaced_name_gets_latest),
        T(test_normalize_lowercases_name),
        T(test_normalize_keeps_tag_case),
        T(test_normalize_rewrites_huggingface_host_to_hf_co),
        T(test_normalize_keeps_hf_co_tag),
        T(test_normalize_is_idempotent),
        T(test_normalize_rejects_empty_name),
        T(test_normalize_rejects_namespace_without_name),
        T(test_normalize_rejects_leading_slash),
        T(test_normalize_rejects_empty_path_segment),
        T(test_normalize_rejects_empty_tag),
        T(test_normalize_rejects_space),
        T(test_normalize_rejects_300_char_name),
        T(test_normalize_rejects_buffer_too_small),
        T(test_normalize_fits_exact_buffer),
        T(test_provider_normalize_slot_uses_dmr_names),
        T(test_provider_is_local_without_auth),
        T(test_build_chat_posts_normalized_model_as_given),
        T(test_build_models_is_get_models),
        T(test_parse_llamacpp_chat_completion_with_timings),
        T(test_llamacpp_stream_split_anywhere),
        T(test_parse_models_lists_pulled_models),
        T(test_parse_malformed_success_is_protocol),
        T(test_404_model_not_found_text_is_model_not_found),
        T(test_500_unable_to_load_runner_is_model_load),
        T(test_500_other_text_is_server),
        T(test_412_backend_not_installed_is_model_load),
        T(test_503_service_unavailable_text_is_unavailable),
        T(test_503_loading_model_json_is_model_loading),
        T(test_500_runner_crash_json_is_server),
        T(test_normalize_checks_digests_and_component_starts),
        T(test_404_backend_not_found_is_unsupported),
        T(test_502_empty_body_is_server_with_explanation),
        T(test_400_exceed_context_size_json_is_context_length),
        T(test_400_request_too_large_text_is_bad_request),
    };
    return cmocka_run_group_tests_name("dmr", tests, NULL, NULL);
}
