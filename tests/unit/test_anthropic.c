/* test_anthropic.c - the Anthropic Messages adapter, driven through its vtable with fixtures. */
#include "fixture.h"

/* ------------------------------------------------------------------ helpers */

static int provider_setup(void **state)
{
    ulm_provider *p = NULL;
    assert_int_equal(ulm__anthropic_provider_new(&p), ULM_OK);
    *state = p;
    return 0;
}

static int provider_teardown(void **state)
{
    ulm_provider *p = *state;
    p->destroy(p);
    return 0;
}
static int has_header(const ulm_http_request *http, const char *line)
{
    for (size_t i = 0; i < http->header_count; i++)
        if (strcmp(http->headers[i], line) == 0)
            return 1;
    return 0;
}

static void parse_fixture(ulm_provider *p, ulm_op op, int status, const char *name,
                          ulm_result *result)
{
    fixture_parse_file(p, op, status, "application/json", name, result);
}
static void assert_error_fixture(ulm_provider *p, int status, const char *name, int expected)
{
    ulm_result r;
    parse_fixture(p, ULM_OP_CHAT, status, name, &r);
    char *message = fixture_error_message(name);
    if (r.error != expected)
        fail_msg("%s: class %s, wanted %s", name, ulm_error_name(r.error),
                 ulm_error_name(expected));
    assert_string_equal(r.error_text, message);
    assert_null(r.text);
    free(message);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ build */

static void test_build_is_post_to_messages_with_version_header(void **state)
{
    ulm_provider *p = *state;
    const ulm_role roles[] = {ULM_ROLE_USER};
    const char *texts[] = {"Hi"};
    ulm_request *req = fixture_request_of(roles, texts, 1);
    ulm_http_request http;
    json_t *body = fixture_build_json(p, ULM_OP_CHAT, "claude-sonnet-4-5", req, &http);
    assert_string_equal(http.method, "POST");
    assert_string_equal(http.path, "/v1/messages");
    assert_true(has_header(&http, "anthropic-version: 2023-06-01"));
    /* the key goes in x-api-key, added by the core from the provider's auth_header */
    assert_string_equal(p->auth_header, "x-api-key");
    assert_null(p->auth_prefix);
    /* max_tokens is required by the API: the documented default when the caller set none */
    fixture_assert_json(body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
    json_decref(body);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

/* System text goes to the top-level field; same-role neighbours become one turn. */
static void test_build_moves_system_and_merges_turns(void **state)
{
    const ulm_role roles[] = {ULM_ROLE_SYSTEM, ULM_ROLE_USER,      ULM_ROLE_USER,
                              ULM_ROLE_ASSISTANT, ULM_ROLE_SYSTEM, ULM_ROLE_ASSISTANT,
                              ULM_ROLE_USER};
    const char *texts[] = {"Be terse.", "Hello", "Are you there?", "Yes.", "Use English.",
                           "What now?", "Tell me a story"};
    ulm_request *req = fixture_request_of(roles, texts, 7);
    ulm_http_request http;
    json_t *body = fixture_build_json(*state, ULM_OP_CHAT, "claude-sonnet-4-5", req, &http);
    fixture_assert_json(body,
                "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,"
                "\"system\":[{\"type\":\"text\",\"text\":\"Be terse.\"},"
                "{\"type\":\"text\",\"text\":\"Use English.\"}],"
                "\"messages\":["
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hello\"},"
                "{\"type\":\"text\",\"text\":\"Are you there?\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Yes.\"},"
                "{\"type\":\"text\",\"text\":\"What now?\"}]},"
                "{\"role\":\"user\",\"content\":\"Tell me a story\"}]}");
    json_decref(body);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

/* Parameters the API has are sent under its names; a seed, which it has not, is not. */
static void test_build_sends_parameters_and_drops_seed(void **state)
{
    const ulm_role roles[] = {ULM_ROLE_SYSTEM, ULM_ROLE_USER, ULM_ROLE_USER};
    const char *texts[] = {"Only system \"quoted\"\n", "", "Caf\xc3\xa9 \xf0\x9f\x99\x82"};
    ulm_request *req = fixture_request_of(roles, texts, 3);
    assert_int_equal(ulm_request_set_temperature(req, 0.0), ULM_OK);
    assert_int_equal(ulm_request_set_top_p(req, 0.5), ULM_OK);
    assert_int_equal(ulm_request_set_max_tokens(req, 77), ULM_OK);
    assert_int_equal(ulm_request_set_seed(req, 42), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "END"), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "\n\n"), ULM_OK);
    ulm_http_request http;
    json_t *body = fixture_build_json(*state, ULM_OP_CHAT_STREAM, "claude-sonnet-4-5", req, &http);
    fixture_assert_json(body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":77,"
                      "\"system\":\"Only system \\\"quoted\\\"\\n\","
                      "\"messages\":[{\"role\":\"user\",\"content\":\"Caf\xc3\xa9 \xf0\x9f\x99\x82\"}],"
                      "\"temperature\":0,\"top_p\":0.5,\"stop_sequences\":[\"END\",\"\\n\\n\"],"
                      "\"stream\":true}");
    json_decref(body);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

/* Anthropic's temperature ends at 1: a higher one is sent as 1, not refused. */
static void test_build_holds_temperature_to_the_api_range(void **state)
{
    const ulm_role roles[] = {ULM_ROLE_USER};
    const char *texts[] = {"Hi"};
    const double asked[] = {1.7, 1.0, 0.3};
    const double sent[] = {1.0, 1.0, 0.3};
    for (size_t i = 0; i < 3; i++) {
        ulm_request *req = fixture_request_of(roles, texts, 1);
        assert_int_equal(ulm_request_set_temperature(req, asked[i]), ULM_OK);
        ulm_http_request http;
        json_t *body = fixture_build_json(*state, ULM_OP_CHAT, "claude-sonnet-4-5", req, &http);
        assert_true(json_number_value(json_object_get(body, "temperature")) == sent[i]);
        json_decref(body);
        ulm__http_request_clear(&http);
        ulm_request_free(req);
    }
}

/* A request with nothing but system text (or empty messages) has no conversation. */
static void test_build_without_conversation_is_einval(void **state)
{
    ulm_provider *p = *state;
    const ulm_role roles[] = {ULM_ROLE_SYSTEM, ULM_ROLE_USER};
    const char *texts[] = {"Be terse.", ""};
    ulm_request *req = fixture_request_of(roles, texts, 2);
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_CHAT, "claude-sonnet-4-5", req, &http), ULM_EINVAL);
    ulm__http_request_clear(&http);
    assert_int_equal(p->build(p, ULM_OP_CHAT, "claude-sonnet-4-5", NULL, &http), ULM_EINVAL);
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

static void test_build_models_asks_for_one_whole_page(void **state)
{
    ulm_provider *p = *state;
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_MODELS, NULL, NULL, &http), ULM_OK);
    assert_string_equal(http.method, "GET");
    assert_string_equal(http.path, "/v1/models?limit=1000");
    assert_true(has_header(&http, "anthropic-version: 2023-06-01"));
    assert_null(http.body);
    ulm__http_request_clear(&http);
}

/* Every allocation of a build may fail: the result is ULM_ENOMEM and nothing leaks. */
static void test_build_survives_every_allocation_failure(void **state)
{
    fixture_build_under_allocation_failures(*state, "claude-sonnet-4-5");
}

/* ------------------------------------------------------------------ parse */

static void test_parse_message_from_the_docs(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "anthropic/messages_end_turn.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_string_equal(r.text, FIXTURE_DOCS_TEXT);
    assert_int_equal(r.finish, ULM_FINISH_STOP);
    /* input_tokens counts what follows the cache; tokens written to it are read too */
    assert_int_equal(r.prompt_tokens, 21 + 1536);
    assert_int_equal(r.completion_tokens, 19);
    assert_int_equal(r.total_tokens, 21 + 1536 + 19);
    assert_string_equal(r.model, "claude-sonnet-4-5-20250929");
    ulm__result_clear(&r);
}

/* Text blocks are joined in order; tool calls and thinking are not text. */
static void test_parse_joins_text_blocks_only(void **state)
{
    static const struct {
        const char *name;
        const char *text;
        ulm_finish_reason finish;
        long prompt, completion;
    } cases[] = {
        {"anthropic/messages_two_text_blocks.json",
         "The capital of France is Paris. It has been the capital since 987 and is home to "
         "about 2.1 million people.",
         ULM_FINISH_STOP, 18, 31},
        {"anthropic/messages_tool_use.json",
         "I'll check the current weather in San Francisco for you.", ULM_FINISH_TOOL_CALLS, 384,
         76},
        {"anthropic/messages_thinking.json", "27 \xc3\x97 453 = 12,231.", ULM_FINISH_STOP,
         46 + 2048, 118},
        {"anthropic/messages_max_tokens.json",
         "Quantum physics describes how matter and energy behave at the smallest scales, where "
         "particles",
         ULM_FINISH_LENGTH, 12, 16},
        {"anthropic/messages_stop_sequence.json", "1. Apples\n2. Bananas\n3. Cherries\n",
         ULM_FINISH_STOP, 25, 14},
        {"anthropic/messages_refusal.json", "Hello..", ULM_FINISH_CONTENT_FILTER, 33, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ulm_result r;
        parse_fixture(*state, ULM_OP_CHAT, 200, cases[i].name, &r);
        assert_int_equal(r.error, ULM_OK);
        assert_string_equal(r.text, cases[i].text);
        assert_int_equal(r.finish, cases[i].finish);
        assert_int_equal(r.prompt_tokens, cases[i].prompt);
        assert_int_equal(r.completion_tokens, cases[i].completion);
        assert_int_equal(r.total_tokens, cases[i].prompt + cases[i].completion);
        ulm__result_clear(&r);
    }
}

static void test_parse_unknown_stop_reason_and_missing_usage(void **state)
{
    ulm_result r;
    const char *body = "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}],"
                       "\"stop_reason\":\"pause_turn\"}";
    ulm_http_response resp;
    fixture_response_from(&resp, 200, "application/json", body, strlen(body));
    fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.finish, ULM_FINISH_UNKNOWN);
    assert_int_equal(r.prompt_tokens, -1);
    assert_int_equal(r.total_tokens, -1);
    assert_null(r.model);
    ulm__result_clear(&r);
}

static void test_parse_malformed_answers_are_protocol_errors(void **state)
{
    const char *bodies[] = {"not json", "[1]", "{\"type\":\"message\"}",
                            "{\"content\":\"a string\"}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        ulm_result r;
        ulm_http_response resp;
        fixture_response_from(&resp, 200, "application/json", bodies[i], strlen(bodies[i]));
        fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
        assert_int_equal(r.error, ULM_EPROTOCOL);
        assert_null(r.text);
        ulm__result_clear(&r);
    }
}

/* Two answers that are not JSON say what they are: a completion with invalid UTF-8 names
 * the byte (counted from 0), and an event stream sent to a request that asked for JSON
 * says so. */
static void test_parse_misnamed_answers_say_what_they_are(void **state)
{
    const char *body =
        "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"caf\xc3\"}]}";
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
                       "anthropic/stream_messages.txt", &r);
    assert_int_equal(r.error, ULM_EPROTOCOL);
    assert_string_equal(r.error_text, "the answer is an event stream where JSON was expected");
    assert_null(r.text);
    ulm__result_clear(&r);
}

static void test_parse_models(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_MODELS, 200, "anthropic/models.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.model_id_count, 3);
    assert_string_equal(r.model_ids[0], "claude-haiku-4-5-20251001");
    assert_string_equal(r.model_ids[2], "claude-opus-4-1-20250805");
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
        {400, "anthropic/error_400_invalid_request.json", ULM_EBAD_REQUEST},
        {400, "anthropic/error_400_prompt_too_long.json", ULM_ECONTEXT_LENGTH},
        {400, "anthropic/error_400_credit_balance.json", ULM_EQUOTA},
        {400, "anthropic/error_400_spend_limit.json", ULM_EQUOTA},
        {401, "anthropic/error_401_authentication.json", ULM_EAUTH},
        {402, "anthropic/error_402_billing.json", ULM_EQUOTA},
        {403, "anthropic/error_403_permission.json", ULM_EAUTH},
        {404, "anthropic/error_404_not_found.json", ULM_EMODEL_NOT_FOUND},
        {413, "anthropic/error_413_request_too_large.json", ULM_EBAD_REQUEST},
        {429, "anthropic/error_429_rate_limit.json", ULM_ERATE_LIMIT},
        {429, "anthropic/error_429_spend_limit.json", ULM_EQUOTA},
        {500, "anthropic/error_500_api_error.json", ULM_ESERVER},
        {504, "anthropic/error_504_timeout.json", ULM_ESERVER},
        {529, "anthropic/error_529_overloaded.json", ULM_EUNAVAILABLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error_fixture(*state, cases[i].status, cases[i].name, cases[i].expected);
    /* retryability follows the class: waiting helps an overload, not an empty account */
    assert_true(ulm_error_is_retryable(ULM_EUNAVAILABLE));
    assert_false(ulm_error_is_retryable(ULM_EQUOTA));
}

/* A proxy's HTML or an empty body: the status decides, the text is kept (capped later). */
static void test_error_without_error_json_uses_the_status(void **state)
{
    const char *bodies[] = {"<html>Bad Gateway</html>", "", "{\"type\":\"error\"}"};
    const int statuses[] = {502, 529, 429};
    const int expected[] = {ULM_ESERVER, ULM_EUNAVAILABLE, ULM_ERATE_LIMIT};
    for (size_t i = 0; i < 3; i++) {
        ulm_result r;
        ulm_http_response resp;
        fixture_response_from(&resp, statuses[i], "text/html", bodies[i], strlen(bodies[i]));
        fixture_parse(*state, ULM_OP_CHAT, &resp, &r);
        assert_int_equal(r.error, expected[i]);
        ulm__result_clear(&r);
    }
}

/* ------------------------------------------------------------------ streaming */


static void assert_recorded_stream(const ulm_result *r, const fixture_deltas *d)
{
    assert_int_equal(r->error, ULM_OK);
    assert_string_equal(r->text, FIXTURE_DOCS_TEXT);
    assert_int_equal(r->finish, ULM_FINISH_STOP);
    assert_true(r->stream_ended);
    assert_int_equal(r->prompt_tokens, 21);
    assert_int_equal(r->completion_tokens, 19);
    assert_int_equal(r->total_tokens, 40);
    assert_string_equal(r->model, "claude-sonnet-4-5-20250929");
    assert_int_equal(d->text.len, strlen(FIXTURE_DOCS_TEXT)); /* delivered once, all of it */
    assert_memory_equal(d->text.data, FIXTURE_DOCS_TEXT, d->text.len);
}

/* The recorded stream cut at every byte, and one byte at a time: the same answer. */
static void test_stream_read_in_any_pieces_gives_the_same_answer(void **state)
{
    fixture_stream_every_cut(*state, "anthropic/stream_messages.txt", ULM_OK, assert_recorded_stream);
}

/* Every allocation of a stream's reading may fail: ULM_ENOMEM, and nothing leaks. */
static void test_stream_survives_every_allocation_failure(void **state)
{
    fixture_stream_under_allocation_failures(*state, "anthropic/stream_messages.txt", ULM_OK);
    fixture_stream_under_allocation_failures(*state, "anthropic/stream_error.txt", ULM_EUNAVAILABLE);
}

/* Counts as large as a long can hold do not overflow when added up: the sums stop at
 * LONG_MAX (a fuzzer's finding: the sums were undefined behaviour). */
static void test_stream_huge_token_counts_saturate(void **state)
{
    const char *body = "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"usage\":"
        "{\"input_tokens\":9223372036854775807,\"cache_creation_input_tokens\":1,"
        "\"output_tokens\":9223372036854775807}}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    ulm_result r;
    fixture_deltas d = {0};
    assert_int_equal(fixture_stream(*state, body, strlen(body), NULL, 0, &r, &d), ULM_OK);
    assert_true(r.prompt_tokens == LONG_MAX);
    assert_true(r.completion_tokens == LONG_MAX);
    assert_true(r.total_tokens == LONG_MAX);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
}

/* Tool input and thinking arrive as deltas too, but they are not the answer's text. */
static void test_stream_passes_only_text_deltas(void **state)
{
    static const struct {
        const char *name;
        const char *text;
        ulm_finish_reason finish;
        long prompt, completion;
    } cases[] = {
        {"anthropic/stream_tool_use.txt",
         "I'll check the current weather in San Francisco for you.", ULM_FINISH_TOOL_CALLS, 384,
         76},
        {"anthropic/stream_thinking.txt", "27 \xc3\x97 453 = 12,231.", ULM_FINISH_STOP,
         46 + 2048, 118},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *body = fixture_read(cases[i].name, &len);
        for (size_t cut = 0; cut <= len; cut += 7) {
            ulm_result r;
            fixture_deltas d = {0};
            assert_int_equal(fixture_stream(*state, body, len, &cut, 1, &r, &d), ULM_OK);
            assert_string_equal(r.text, cases[i].text);
            assert_int_equal(d.text.len, strlen(cases[i].text));
            assert_int_equal(r.finish, cases[i].finish);
            assert_int_equal(r.prompt_tokens, cases[i].prompt);
            assert_int_equal(r.completion_tokens, cases[i].completion);
            assert_int_equal(r.total_tokens, cases[i].prompt + cases[i].completion);
            ulm__result_clear(&r);
            ulm_text_free(&d.text);
        }
        free(body);
    }
}

/* An error event after text: classified by its type, the text so far delivered once. */
static void assert_overloaded_after_text(const ulm_result *r, const fixture_deltas *d)
{
    assert_string_equal(r->error_text, "Overloaded");
    const char *so_far = "Here is the first part of the answer \xe2\x80\x94 tr\xc3\xa8s";
    assert_int_equal(d->text.len, strlen(so_far));
    assert_memory_equal(d->text.data, so_far, d->text.len);
}

static void test_stream_error_event_is_classified(void **state)
{
    fixture_stream_every_cut(*state, "anthropic/stream_error.txt", ULM_EUNAVAILABLE,
                             assert_overloaded_after_text);
}

static int stream_text(ulm_provider *p, const char *body, ulm_result *r, fixture_deltas *d)
{
    return fixture_stream(p, body, strlen(body), NULL, 0, r, d);
}

/* Without message_stop, or a stop reason, the answer may have been cut: not a success.
 * Event types this adapter does not know are skipped, as Anthropic asks of clients. */
static void test_stream_end_and_unknown_events(void **state)
{
    ulm_result r;
    fixture_deltas d = {0};
    const char *cut = "event: content_block_delta\n"
                      "data: {\"type\":\"content_block_delta\",\"index\":0,"
                      "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n";
    assert_int_equal(stream_text(*state, cut, &r, &d), ULM_EPROTOCOL);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);

    d = (fixture_deltas){0};
    const char *odd = "event: brand_new_event\ndata: {\"type\":\"brand_new_event\",\"x\":1}\n\n"
                      "event: content_block_delta\n"
                      "data: {\"type\":\"content_block_delta\",\"index\":0,"
                      "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
                      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    assert_int_equal(stream_text(*state, odd, &r, &d), ULM_OK);
    assert_string_equal(r.text, "Hi");
    assert_int_equal(r.finish, ULM_FINISH_UNKNOWN);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);

    const char *broken[] = {"event: message_start\ndata: {\"type\":\n\n", "data: [1]\n\n"};
    for (size_t i = 0; i < 2; i++) {
        d = (fixture_deltas){0};
        assert_int_equal(stream_text(*state, broken[i], &r, &d), ULM_EPROTOCOL);
        assert_string_equal(r.error_text, "a stream event is not a JSON object");
        ulm__result_clear(&r);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, provider_setup, provider_teardown)
    const struct CMUnitTest tests[] = {
        T(test_build_is_post_to_messages_with_version_header),
        T(test_build_moves_system_and_merges_turns),
        T(test_build_sends_parameters_and_drops_seed),
        T(test_build_holds_temperature_to_the_api_range),
        T(test_build_without_conversation_is_einval),
        T(test_build_models_asks_for_one_whole_page),
        T(test_build_survives_every_allocation_failure),
        T(test_parse_message_from_the_docs),
        T(test_parse_joins_text_blocks_only),
        T(test_parse_unknown_stop_reason_and_missing_usage),
        T(test_parse_malformed_answers_are_protocol_errors),
        T(test_parse_misnamed_answers_say_what_they_are),
        T(test_parse_models),
        T(test_every_documented_error_has_its_class),
        T(test_error_without_error_json_uses_the_status),
        T(test_stream_read_in_any_pieces_gives_the_same_answer),
        T(test_stream_survives_every_allocation_failure),
        T(test_stream_huge_token_counts_saturate),
        T(test_stream_passes_only_text_deltas),
        T(test_stream_error_event_is_classified),
        T(test_stream_end_and_unknown_events),
    };
    return cmocka_run_group_tests_name("anthropic", tests, NULL, NULL);
}
