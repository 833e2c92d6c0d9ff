/* test_gemini.c - the Gemini generateContent adapter, driven through its vtable with fixtures. */
#include "fixture.h"

/* ------------------------------------------------------------------ helpers */

static int provider_setup(void **state)
{
    ulm_provider *p = NULL;
    assert_int_equal(ulm__gemini_provider_new(&p), ULM_OK);
    *state = p;
    return 0;
}

static int provider_teardown(void **state)
{
    ulm_provider *p = *state;
    p->destroy(p);
    return 0;
}


static void parse_fixture(ulm_provider *p, ulm_op op, int status, const char *name,
                          ulm_result *result)
{
    fixture_parse_file(p, op, status, "application/json", name, result);
}
/* ------------------------------------------------------------------ model names */

static void test_model_names_are_path_safe(void **state)
{
    ulm_provider *p = *state;
    char buf[256];
    assert_int_equal(p->normalize_model(p, "gemini-2.0-flash", buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, "gemini-2.0-flash");
    assert_int_equal(p->normalize_model(p, "models/gemini-2.5-pro", buf, sizeof buf), ULM_OK);
    assert_string_equal(buf, "gemini-2.5-pro");
    const char *bad[] = {"",          "models/",           "gemini/../../x", "a?key=1",
                         "a%2Fb",     "gemini 2",          "a#b",            "a:generateContent",
                         "tunedModels/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (p->normalize_model(p, bad[i], buf, sizeof buf) != ULM_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(p->normalize_model(p, longname, buf, sizeof buf), ULM_EINVAL);
}

/* ------------------------------------------------------------------ build */

static void test_build_is_post_to_generate_content(void **state)
{
    ulm_provider *p = *state;
    const ulm_role roles[] = {ULM_ROLE_USER};
    const char *texts[] = {"Hi"};
    ulm_request *req = fixture_request_of(roles, texts, 1);
    ulm_http_request http;
    json_t *body = fixture_build_json(p, ULM_OP_CHAT, "gemini-2.0-flash", req, &http);
    assert_string_equal(http.method, "POST");
    assert_string_equal(http.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    /* the key goes in a header the core adds, never in the URL */
    assert_string_equal(p->auth_header, "x-goog-api-key");
    assert_null(strstr(http.path, "key="));
    fixture_assert_json(body, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}]}");
    json_decref(body);
    ulm__http_request_clear(&http);

    body = fixture_build_json(p, ULM_OP_CHAT_STREAM, "gemini-2.0-flash", req, &http);
    assert_string_equal(http.path,
                        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
    json_decref(body);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

/* Roles are user and model; system text is systemInstruction; neighbours of one role
 * become one turn with a part each. */
static void test_build_maps_roles_system_and_merges_turns(void **state)
{
    const ulm_role roles[] = {ULM_ROLE_SYSTEM, ULM_ROLE_USER,      ULM_ROLE_USER,
                              ULM_ROLE_ASSISTANT, ULM_ROLE_SYSTEM, ULM_ROLE_ASSISTANT,
                              ULM_ROLE_USER};
    const char *texts[] = {"Be terse.", "Hello", "Are you there?", "Yes.", "Use English.",
                           "What now?", "Caf\xc3\xa9 \xf0\x9f\x99\x82 \"story\"\n"};
    ulm_request *req = fixture_request_of(roles, texts, 7);
    ulm_http_request http;
    json_t *body = fixture_build_json(*state, ULM_OP_CHAT, "gemini-2.0-flash", req, &http);
    fixture_assert_json(body, "{\"contents\":["
                      "{\"role\":\"user\",\"parts\":[{\"text\":\"Hello\"},{\"text\":\"Are you there?\"}]},"
                      "{\"role\":\"model\",\"parts\":[{\"text\":\"Yes.\"},{\"text\":\"What now?\"}]},"
                      "{\"role\":\"user\",\"parts\":[{\"text\":\"Caf\xc3\xa9 \xf0\x9f\x99\x82 "
                      "\\\"story\\\"\\n\"}]}],"
                      "\"systemInstruction\":{\"parts\":[{\"text\":\"Be terse.\"},"
                      "{\"text\":\"Use English.\"}]}}");
    json_decref(body);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

static void test_build_sends_generation_config(void **state)
{
    const ulm_role roles[] = {ULM_ROLE_USER};
    const char *texts[] = {"Hi"};
    ulm_request *req = fixture_request_of(roles, texts, 1);
    assert_int_equal(ulm_request_set_temperature(req, 0.0), ULM_OK);
    assert_int_equal(ulm_request_set_top_p(req, 0.25), ULM_OK);
    assert_int_equal(ulm_request_set_max_tokens(req, 64), ULM_OK);
    assert_int_equal(ulm_request_set_seed(req, 7), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "END"), ULM_OK);
    ulm_http_request http;
    json_t *body = fixture_build_json(*state, ULM_OP_CHAT, "gemini-2.0-flash", req, &http);
    fixture_assert_json(body, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],"
                      "\"generationConfig\":{\"temperature\":0,\"topP\":0.25,"
                      "\"maxOutputTokens\":64,\"seed\":7,\"stopSequences\":[\"END\"]}}");
    json_decref(body);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

static void test_build_without_conversation_is_einval(void **state)
{
    ulm_provider *p = *state;
    const ulm_role roles[] = {ULM_ROLE_SYSTEM, ULM_ROLE_ASSISTANT};
    const char *texts[] = {"Be terse.", ""};
    ulm_request *req = fixture_request_of(roles, texts, 2);
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_CHAT, "gemini-2.0-flash", req, &http), ULM_EINVAL);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

static void test_build_models_asks_for_one_whole_page(void **state)
{
    ulm_provider *p = *state;
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_MODELS, NULL, NULL, &http), ULM_OK);
    assert_string_equal(http.method, "GET");
    assert_string_equal(http.path, "/v1beta/models?pageSize=1000");
    assert_null(http.body);
    ulm__http_request_clear(&http);
}

static void test_build_survives_every_allocation_failure(void **state)
{
    fixture_build_under_allocation_failures(*state, "gemini-2.0-flash");
}

/* ------------------------------------------------------------------ parse */


static void test_parse_answer_from_the_docs(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "gemini/generate_stop.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_string_equal(r.text, FIXTURE_DOCS_TEXT);
    assert_int_equal(r.finish, ULM_FINISH_STOP);
    assert_int_equal(r.prompt_tokens, 9);
    assert_int_equal(r.completion_tokens, 17);
    assert_int_equal(r.total_tokens, 26);
    assert_string_equal(r.model, "gemini-2.5-flash");
    ulm__result_clear(&r);
}

/* Text parts are joined in order; thoughts are not the answer, and a function call makes
 * the finish tool_calls; safety stops are content_filter, with whatever text came. */
static void test_parse_parts_and_finish_reasons(void **state)
{
    static const struct {
        const char *name;
        const char *text;
        ulm_finish_reason finish;
        long prompt, completion, total;
    } cases[] = {
        {"gemini/generate_multi_parts.json",
         "The capital of France is Paris. It has been the capital since 987 and is home to "
         "about 2.1 million people.",
         ULM_FINISH_STOP, 8, 28, 36},
        {"gemini/generate_thinking.json",
         "27 \xc3\x97 453 = **12,231**.\n\n(27 \xc3\x97 400 = 10,800 and 27 \xc3\x97 53 = 1,431.)",
         ULM_FINISH_STOP, 11, 31 + 96, 138},
        {"gemini/generate_function_call.json", "", ULM_FINISH_TOOL_CALLS, 74, 19 + 48, 141},
        {"gemini/generate_max_tokens.json",
         "Quantum physics describes how matter and energy behave at the smallest scales, where "
         "particles",
         ULM_FINISH_LENGTH, 6, 16, 22},
        {"gemini/generate_safety.json", "", ULM_FINISH_CONTENT_FILTER, 14, -1, 14},
        {"gemini/generate_recitation.json", "", ULM_FINISH_CONTENT_FILTER, 15, -1, 15},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_result r;
        parse_fixture(*state, ULM_OP_CHAT, 200, cases[i].name, &r);
        assert_int_equal(r.error, ULM_OK);
        assert_string_equal(r.text ? r.text : "", cases[i].text);
        if (r.finish != cases[i].finish)
            fail_msg("%s: finish %d", cases[i].name, r.finish);
        assert_int_equal(r.prompt_tokens, cases[i].prompt);
        assert_int_equal(r.completion_tokens, cases[i].completion);
        assert_int_equal(r.total_tokens, cases[i].total);
        ulm__result_clear(&r);
    }
}

/* A prompt the filters refused is an error of its own class, naming the reason. */
static void test_parse_blocked_prompt_is_content_filter(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "gemini/generate_blocked_prompt.json", &r);
    assert_int_equal(r.error, ULM_ECONTENT_FILTER);
    assert_string_equal(r.error_text, "prompt blocked: SAFETY");
    assert_false(ulm_error_is_retryable(ULM_ECONTENT_FILTER));
    ulm__result_clear(&r);
}

static void test_parse_malformed_answers_are_protocol_errors(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "gemini/generate_no_candidates.json", &r);
    assert_int_equal(r.error, ULM_EPROTOCOL);
    assert_string_equal(r.error_text, "the answer has no candidates");
    ulm__result_clear(&r);
    const char *bodies[] = {"not json", "[{\"candidates\":[]}]", "{\"candidates\":[]}",
                            "{\"candidates\":[7]}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        ulm_http_response resp;
        fixture_response_from(&resp, 200, "application/json", bodies[i], strlen(bodies[i]));
        fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
        assert_int_equal(r.error, ULM_EPROTOCOL);
        ulm__result_clear(&r);
    }
}

/* Two answers that are not JSON say what they are: a completion with invalid UTF-8 names
 * the byte (counted from 0), and an event stream sent to a request that asked for JSON
 * says so. */
static void test_parse_misnamed_answers_say_what_they_are(void **state)
{
    const char *body =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"caf\xc3\"}]}}]}";
    char reason[96];
    snprintf(reason, sizeof reason, "the answer has invalid UTF-8 at byte %d (0xc3)",
             (int)(strchr(body, '\xc3') - body));
    ulm_result r;
    ulm_http_response resp;
    fixture_response_from(&resp, 200, "application/json", body, strlen(body));
    fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
    assert_int_equal(r.error, ULM_EPROTOCOL);
    assert_string_equal(r.error_text, reason);
    ulm__result_clear(&r);
    fixture_parse_file(*state, ULM_OP_CHAT, 200, "text/event-stream",
                       "gemini/stream_generate.txt", &r);
    assert_int_equal(r.error, ULM_EPROTOCOL);
    assert_string_equal(r.error_text, "the answer is an event stream where JSON was expected");
    assert_null(r.text);
    ulm__result_clear(&r);
}

/* Resource names lose "models/"; a model that only embeds cannot chat and is left out. */
static void test_parse_models(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_MODELS, 200, "gemini/models.json", &r);
    assert_int_equal(r.error, ULM_OK);
    size_t len;
    char *text = fixture_read("gemini/models.json", &len);
    json_t *root = json_loadb(text, len, 0, NULL);
    free(text);
    size_t expected = 0, i;
    json_t *entry;
    json_array_foreach(json_object_get(root, "models"), i, entry) {
        const char *name = json_string_value(json_object_get(entry, "name"));
        json_t *methods = json_object_get(entry, "supportedGenerationMethods");
        size_t m;
        json_t *method;
        int generates = 0;
        json_array_foreach(methods, m, method)
            generates |= strcmp(json_string_value(method), "generateContent") == 0;
        if (!generates)
            continue;
        assert_true(expected < r.model_id_count);
        assert_string_equal(r.model_ids[expected++], name + strlen("models/"));
    }
    assert_int_equal(r.model_id_count, expected);
    assert_true(expected >= 2 && expected < json_array_size(json_object_get(root, "models")));
    json_decref(root);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ errors */

static void test_every_documented_error_has_its_class(void **state)
{
    static const struct {
        int status;
        const char *name;
        int expected;
    } cases[] = {
        {400, "gemini/error_400_invalid_argument.json", ULM_EBAD_REQUEST},
        {400, "gemini/error_400_api_key_invalid.json", ULM_EAUTH},
        {400, "gemini/error_400_token_limit.json", ULM_ECONTEXT_LENGTH},
        {403, "gemini/error_403_permission_denied.json", ULM_EAUTH},
        {404, "gemini/error_404_not_found.json", ULM_EMODEL_NOT_FOUND},
        {429, "gemini/error_429_resource_exhausted.json", ULM_ERATE_LIMIT},
        {500, "gemini/error_500_internal.json", ULM_ESERVER},
        {503, "gemini/error_503_unavailable.json", ULM_EUNAVAILABLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_result r;
        parse_fixture(*state, ULM_OP_CHAT, cases[i].status, cases[i].name, &r);
        if (r.error != cases[i].expected)
            fail_msg("%s: class %s, wanted %s", cases[i].name, ulm_error_name(r.error),
                     ulm_error_name(cases[i].expected));
        char *message = fixture_error_message(cases[i].name);
        assert_string_equal(r.error_text, message);
        free(message);
        ulm__result_clear(&r);
    }
}

/* The status name decides over the HTTP status; an array-wrapped error is read too;
 * a body that is not Google's error JSON leaves the HTTP status to decide. */
static void test_error_shapes(void **state)
{
    static const struct {
        int status;
        const char *body;
        int expected;
    } cases[] = {
        {400, "{\"error\":{\"code\":400,\"message\":\"m\",\"status\":\"FAILED_PRECONDITION\"}}",
         ULM_EBAD_REQUEST},
        {401, "{\"error\":{\"code\":401,\"message\":\"m\",\"status\":\"UNAUTHENTICATED\"}}",
         ULM_EAUTH},
        {504, "{\"error\":{\"code\":504,\"message\":\"m\",\"status\":\"DEADLINE_EXCEEDED\"}}",
         ULM_ESERVER},
        {429, "[{\"error\":{\"code\":429,\"message\":\"m\",\"status\":\"RESOURCE_EXHAUSTED\"}}]",
         ULM_ERATE_LIMIT},
        {503, "<html>Service Unavailable</html>", ULM_EUNAVAILABLE},
        {500, "{\"error\":{\"code\":500,\"status\":\"SOMETHING_NEW\"}}", ULM_ESERVER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_result r;
        ulm_http_response resp;
        fixture_response_from(&resp, cases[i].status, "application/json", cases[i].body,
                              strlen(cases[i].body));
        fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
        if (r.error != cases[i].expected)
            fail_msg("case %zu: class %s", i, ulm_error_name(r.error));
        ulm__result_clear(&r);
    }
}

/* RetryInfo's delay becomes the failure's retry advice, rounded up to whole milliseconds;
 * anything that is not a Duration is ignored. */
static void test_retry_delay_is_read_from_retry_info(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 429, "gemini/error_429_resource_exhausted.json", &r);
    assert_int_equal(r.error, ULM_ERATE_LIMIT);
    assert_int_equal(r.retry_after_ms, 43000);
    ulm__result_clear(&r);
    static const struct {
        const char *delay;
        long ms;
    } cases[] = {
        {"1s", 1000},        {"0.5s", 500},      {"43.185720155s", 43186}, {"0.0001s", 1},
        {"2.000s", 2000},    {"99999999999999999999s", 86400000},
        {"s", -1},           {"1", -1},          {"1.s", -1},              {"-1s", -1},
        {"1sx", -1},         {"", -1},           {"1.5ms", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"error\":{\"code\":429,\"message\":\"m\",\"status\":\"RESOURCE_EXHAUSTED\","
                 "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
                 "\"retryDelay\":\"%s\"}]}}",
                 cases[i].delay);
        ulm_http_response resp;
        fixture_response_from(&resp, 429, "application/json", body, strlen(body));
        fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
        if (r.retry_after_ms != cases[i].ms)
            fail_msg("\"%s\": %ld ms, wanted %ld", cases[i].delay, r.retry_after_ms, cases[i].ms);
        ulm__result_clear(&r);
    }
    parse_fixture(*state, ULM_OP_CHAT, 503, "gemini/error_503_unavailable.json", &r);
    assert_int_equal(r.retry_after_ms, -1);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ streaming */

static void assert_recorded_stream(const ulm_result *r, const fixture_deltas *d)
{
    assert_int_equal(r->error, ULM_OK);
    assert_string_equal(r->text, FIXTURE_DOCS_TEXT);
    assert_int_equal(r->finish, ULM_FINISH_STOP);
    assert_true(r->stream_ended);
    assert_int_equal(r->prompt_tokens, 9);
    assert_int_equal(r->completion_tokens, 17);
    assert_int_equal(r->total_tokens, 26);
    assert_string_equal(r->model, "gemini-2.5-flash");
    assert_int_equal(d->text.len, strlen(FIXTURE_DOCS_TEXT));
    assert_memory_equal(d->text.data, FIXTURE_DOCS_TEXT, d->text.len);
}

/* The recorded stream cut at every byte, and one byte at a time: the same answer. */
static void test_stream_read_in_any_pieces_gives_the_same_answer(void **state)
{
    fixture_stream_every_cut(*state, "gemini/stream_generate.txt", ULM_OK, assert_recorded_stream);
}

/* Every allocation of a stream's reading may fail: ULM_ENOMEM, and nothing leaks. */
static void test_stream_survives_every_allocation_failure(void **state)
{
    fixture_stream_under_allocation_failures(*state, "gemini/stream_generate.txt", ULM_OK);
    fixture_stream_under_allocation_failures(*state, "gemini/stream_blocked.txt", ULM_ECONTENT_FILTER);
}

/* Counts as large as a long can hold do not overflow when added up: the sums stop at
 * LONG_MAX (a fuzzer's finding: the sums were undefined behaviour). */
static void test_stream_huge_token_counts_saturate(void **state)
{
    const char *body = "data: {\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":"
        "{\"promptTokenCount\":9223372036854775807,\"candidatesTokenCount\":"
        "9223372036854775807,\"thoughtsTokenCount\":1}}\r\n\r\n";
    ulm_result r;
    fixture_deltas d = {0};
    assert_int_equal(fixture_stream(*state, body, strlen(body), NULL, 0, &r, &d), ULM_OK);
    assert_true(r.prompt_tokens == LONG_MAX);
    assert_true(r.completion_tokens == LONG_MAX);
    assert_true(r.total_tokens == LONG_MAX);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
}

/* The last chunk may carry the finish reason without any part. */
static void test_stream_final_chunk_without_parts(void **state)
{
    size_t len;
    char *body = fixture_read("gemini/stream_final_no_parts.txt", &len);
    ulm_result r;
    fixture_deltas d = {0};
    assert_int_equal(fixture_stream(*state, body, len, NULL, 0, &r, &d), ULM_OK);
    assert_string_equal(r.text, "Four.");
    assert_int_equal(r.finish, ULM_FINISH_STOP);
    assert_int_equal(r.total_tokens, 53);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
    free(body);
}

/* A blocked prompt in a stream: the class of the error, and no text delivered. */
static void test_stream_blocked_prompt_is_content_filter(void **state)
{
    size_t len;
    char *body = fixture_read("gemini/stream_blocked.txt", &len);
    ulm_result r;
    fixture_deltas d = {0};
    assert_int_equal(fixture_stream(*state, body, len, NULL, 0, &r, &d), ULM_ECONTENT_FILTER);
    assert_string_equal(r.error_text, "prompt blocked: PROHIBITED_CONTENT");
    assert_int_equal(d.calls, 0);
    ulm__result_clear(&r);
    free(body);
}

/* Text, then a chunk that stops for safety without content: the text stays, the finish
 * says why it stopped. */
static void test_stream_safety_stop_keeps_the_text(void **state)
{
    size_t len;
    char *body = fixture_read("gemini/stream_safety.txt", &len);
    ulm_result r;
    fixture_deltas d = {0};
    assert_int_equal(fixture_stream(*state, body, len, NULL, 0, &r, &d), ULM_OK);
    assert_int_equal(r.finish, ULM_FINISH_CONTENT_FILTER);
    assert_true(r.text_len > 0);
    assert_int_equal(d.text.len, r.text_len);
    assert_memory_equal(d.text.data, r.text, r.text_len);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
    free(body);
}

static int stream_text(ulm_provider *p, const char *body, ulm_result *r, fixture_deltas *d)
{
    return fixture_stream(p, body, strlen(body), NULL, 0, r, d);
}

/* Gemini has no end marker: a stream that stops before a finish reason was cut. */
static void test_stream_without_finish_and_error_events(void **state)
{
    ulm_result r;
    fixture_deltas d = {0};
    const char *cut = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],"
                      "\"role\":\"model\"},\"index\":0}]}\r\n\r\n";
    assert_int_equal(stream_text(*state, cut, &r, &d), ULM_EPROTOCOL);
    assert_memory_equal(d.text.data, "Hi", 2);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);

    d = (fixture_deltas){0};
    const char *failed = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\r\n\r\n"
                         "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
                         "\"status\":\"UNAVAILABLE\"}}\r\n\r\n";
    assert_int_equal(stream_text(*state, failed, &r, &d), ULM_EUNAVAILABLE);
    assert_string_equal(r.error_text, "The model is overloaded.");
    ulm__result_clear(&r);
    ulm_text_free(&d.text);

    d = (fixture_deltas){0};
    assert_int_equal(stream_text(*state, "data: {\"candidates\":\r\n\r\n", &r, &d), ULM_EPROTOCOL);
    assert_string_equal(r.error_text, "a stream event is not a JSON object");
    ulm__result_clear(&r);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, provider_setup, provider_teardown)
    const struct CMUnitTest tests[] = {
        T(test_model_names_are_path_safe),
        T(test_build_is_post_to_generate_content),
        T(test_build_maps_roles_system_and_merges_turns),
        T(test_build_sends_generation_config),
        T(test_build_without_conversation_is_einval),
        T(test_build_models_asks_for_one_whole_page),
        T(test_build_survives_every_allocation_failure),
        T(test_parse_answer_from_the_docs),
        T(test_parse_parts_and_finish_reasons),
        T(test_parse_blocked_prompt_is_content_filter),
        T(test_parse_malformed_answers_are_protocol_errors),
        T(test_parse_misnamed_answers_say_what_they_are),
        T(test_parse_models),
        T(test_every_documented_error_has_its_class),
        T(test_error_shapes),
        T(test_retry_delay_is_read_from_retry_info),
        T(test_stream_safety_stop_keeps_the_text),
        T(test_stream_read_in_any_pieces_gives_the_same_answer),
        T(test_stream_survives_every_allocation_failure),
        T(test_stream_huge_token_counts_saturate),
        T(test_stream_final_chunk_without_parts),
        T(test_stream_blocked_prompt_is_content_filter),
        T(test_stream_without_finish_and_error_events),
    };
    return cmocka_run_group_tests_name("gemini", tests, NULL, NULL);
}
