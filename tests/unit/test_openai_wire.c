/* test_openai_wire.c - the OpenAI wire format, driven through the openai provider's vtable. */
#include "fixture.h"
#include "redact.h"

#include <jansson.h>

/* ------------------------------------------------------------------ helpers */

static int provider_setup(void **state)
{
    ulm_provider *p = NULL;
    assert_int_equal(ulm__openai_provider_new(&p), ULM_OK);
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

/* A request with a system, a user and an assistant message, in that order. */
static ulm_request *three_message_request(void)
{
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_SYSTEM, "You are terse."), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "Say hi."), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_ASSISTANT, "Hi."), ULM_OK);
    return req;
}

/* Builds a chat request for model "gpt-4o-mini" and returns its body parsed by jansson. */
static json_t *build_chat_body(ulm_provider *p, const ulm_request *req)
{
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_CHAT, "gpt-4o-mini", req, &http), ULM_OK);
    assert_non_null(http.body);
    json_error_t jerr;
    json_t *body = json_loadb(http.body, http.body_len, 0, &jerr);
    if (!body)
        fail_msg("the built body is not JSON: %s", jerr.text);
    assert_true(json_is_object(body));
    ulm__http_request_clear(&http);
    return body;
}

static void parse_fixture(ulm_provider *p, ulm_op op, int status, const char *name,
                          ulm_result *result)
{
    fixture_parse_file(p, op, status, "application/json", name, result);
}

static void parse_body(ulm_provider *p, ulm_op op, int status, const char *content_type,
                       const char *body, ulm_result *result)
{
    ulm_http_response resp;
    fixture_response_from(&resp, status, content_type, body, strlen(body));
    fixture_parse(p, op, &resp, result);
}
/* Parses an error fixture and checks its class and that error_text is error.message. */
static void assert_error_fixture(ulm_provider *p, int status, const char *name, int expected)
{
    ulm_result r;
    parse_fixture(p, ULM_OP_CHAT, status, name, &r);
    char *message = fixture_error_message(name);
    assert_int_equal(r.error, expected);
    assert_non_null(r.error_text);
    assert_string_equal(r.error_text, message);
    assert_null(r.text);
    free(message);
    ulm__result_clear(&r);
}

static void assert_protocol_error(ulm_provider *p, ulm_op op, const char *body)
{
    ulm_result r;
    parse_body(p, op, 200, "application/json", body, &r);
    assert_int_equal(r.error, ULM_EPROTOCOL);
    assert_non_null(r.error_text);
    assert_null(r.text);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ build: chat */

static void test_build_chat_is_post_to_chat_completions(void **state)
{
    ulm_provider *p = *state;
    ulm_request *req = three_message_request();
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_CHAT, "gpt-4o-mini", req, &http), ULM_OK);
    assert_string_equal(http.method, "POST");
    assert_string_equal(http.path, "/chat/completions");
    assert_non_null(http.body);
    assert_int_equal(http.body_len, strlen(http.body));
    assert_int_equal(http.header_count, 0); /* the key header is the core's business */
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

static void test_build_chat_body_has_model_and_messages_in_order(void **state)
{
    ulm_provider *p = *state;
    ulm_request *req = three_message_request();
    json_t *body = build_chat_body(p, req);

    assert_string_equal(json_string_value(json_object_get(body, "model")), "gpt-4o-mini");
    json_t *messages = json_object_get(body, "messages");
    assert_true(json_is_array(messages));
    assert_int_equal(json_array_size(messages), 3);
    static const char *roles[] = {"system", "user", "assistant"};
    static const char *contents[] = {"You are terse.", "Say hi.", "Hi."};
    for (size_t i = 0; i < 3; i++) {
        json_t *m = json_array_get(messages, i);
        assert_int_equal(json_object_size(m), 2);
        assert_string_equal(json_string_value(json_object_get(m, "role")), roles[i]);
        assert_string_equal(json_string_value(json_object_get(m, "content")), contents[i]);
    }
    json_decref(body);
    ulm_request_free(req);
}

static void test_build_chat_omits_unset_parameters(void **state)
{
    ulm_provider *p = *state;
    ulm_request *req = three_message_request();
    json_t *body = build_chat_body(p, req);

    assert_null(json_object_get(body, "temperature"));
    assert_null(json_object_get(body, "top_p"));
    assert_null(json_object_get(body, "max_tokens"));
    assert_null(json_object_get(body, "seed"));
    assert_null(json_object_get(body, "stop"));
    assert_null(json_object_get(body, "stream"));
    assert_int_equal(json_object_size(body), 2); /* model and messages, nothing else */
    json_decref(body);
    ulm_request_free(req);
}

static void test_build_chat_sends_set_parameters(void **state)
{
    ulm_provider *p = *state;
    ulm_request *req = three_message_request();
    assert_int_equal(ulm_request_set_temperature(req, 0.7), ULM_OK);
    assert_int_equal(ulm_request_set_top_p(req, 0.9), ULM_OK);
    assert_int_equal(ulm_request_set_max_tokens(req, 256), ULM_OK);
    assert_int_equal(ulm_request_set_seed(req, INT64_C(1234567890123)), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "\n\n"), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "END"), ULM_OK);
    json_t *body = build_chat_body(p, req);

    json_t *temperature = json_object_get(body, "temperature");
    assert_true(json_is_number(temperature));
    assert_true(json_number_value(temperature) == 0.7);
    json_t *top_p = json_object_get(body, "top_p");
    assert_true(json_is_number(top_p));
    assert_true(json_number_value(top_p) == 0.9);
    json_t *max_tokens = json_object_get(body, "max_tokens");
    assert_true(json_is_integer(max_tokens));
    assert_int_equal(json_integer_value(max_tokens), 256);
    json_t *seed = json_object_get(body, "seed");
    assert_true(json_is_integer(seed));
    assert_true(json_integer_value(seed) == INT64_C(1234567890123));
    /* the extremes of a seed are written exactly, the sign included */
    const int64_t extremes[] = {INT64_MIN, -1, 0, INT64_MAX};
    for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++) {
        assert_int_equal(ulm_request_set_seed(req, extremes[i]), ULM_OK);
        json_t *other = build_chat_body(p, req);
        assert_true(json_integer_value(json_object_get(other, "seed")) == extremes[i]);
        json_decref(other);
    }
    assert_int_equal(ulm_request_set_seed(req, INT64_C(1234567890123)), ULM_OK);
    json_t *stop = json_object_get(body, "stop");
    assert_true(json_is_array(stop));
    assert_int_equal(json_array_size(stop), 2);
    assert_string_equal(json_string_value(json_array_get(stop, 0)), "\n\n");
    assert_string_equal(json_string_value(json_array_get(stop, 1)), "END");
    assert_int_equal(json_object_size(body), 7);
    json_decref(body);
    ulm_request_free(req);
}

static void test_build_chat_sends_zero_temperature(void **state)
{
    ulm_provider *p = *state;
    ulm_request *req = three_message_request();
    assert_int_equal(ulm_request_set_temperature(req, 0.0), ULM_OK);
    json_t *body = build_chat_body(p, req);

    json_t *temperature = json_object_get(body, "temperature");
    assert_non_null(temperature); /* zero is a setting, not "unset" */
    assert_true(json_is_number(temperature));
    assert_true(json_number_value(temperature) == 0.0);
    json_decref(body);
    ulm_request_free(req);
}

static void test_build_chat_preserves_unicode_content(void **state)
{
    ulm_provider *p = *state;
    /* accents, CJK, an emoji outside the BMP, and characters JSON must escape */
    static const char text[] = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x9a\x80 "
                               "\"quoted\" back\\slash\ttab\nline";
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, text), ULM_OK);
    json_t *body = build_chat_body(p, req);

    json_t *content = json_object_get(json_array_get(json_object_get(body, "messages"), 0),
                                      "content");
    assert_true(json_is_string(content));
    assert_int_equal(json_string_length(content), sizeof text - 1);
    assert_memory_equal(json_string_value(content), text, sizeof text - 1);
    json_decref(body);
    ulm_request_free(req);
}

static void test_build_chat_body_bytes_are_compact_json(void **state)
{
    ulm_provider *p = *state;
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "a\x01\x1f\rb/"), ULM_OK);
    assert_int_equal(ulm_request_set_temperature(req, 0.7), ULM_OK);
    assert_int_equal(ulm_request_set_top_p(req, 0.1 + 0.2), ULM_OK);
    assert_int_equal(ulm_request_set_seed(req, -42), ULM_OK);
    assert_int_equal(ulm_request_add_stop(req, "\n\n"), ULM_OK);
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_CHAT, "m\"1", req, &http), ULM_OK);
    /* 0.7 prints short; 0.1 + 0.2 needs 17 digits to read back as the same double */
    assert_string_equal(http.body,
                        "{\"model\":\"m\\\"1\",\"messages\":[{\"role\":\"user\",\"content\":"
                        "\"a\\u0001\\u001f\\rb/\"}],\"temperature\":0.7,"
                        "\"top_p\":0.30000000000000004,\"seed\":-42,\"stop\":[\"\\n\\n\"]}");
    assert_int_equal(http.body_len, strlen(http.body));
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

static void test_build_chat_stream_asks_for_usage(void **state)
{
    ulm_provider *p = *state;
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "hi"), ULM_OK);
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_CHAT_STREAM, "gpt-4o-mini", req, &http), ULM_OK);
    json_t *body = json_loadb(http.body, http.body_len, 0, NULL);
    assert_true(json_is_true(json_object_get(body, "stream")));
    assert_true(json_is_true(json_object_get(json_object_get(body, "stream_options"),
                                             "include_usage")));
    json_decref(body);
    ulm__http_request_clear(&http);
    assert_int_equal(p->build(p, ULM_OP_CHAT, "gpt-4o-mini", req, &http), ULM_OK);
    assert_null(strstr(http.body, "stream"));
    ulm__http_request_clear(&http);
    ulm_request_free(req);
}

static void test_build_chat_without_request_is_einval(void **state)
{
    ulm_provider *p = *state;
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_CHAT, "gpt-4o-mini", NULL, &http), ULM_EINVAL);
    assert_null(http.path);
    assert_null(http.body);
    ulm__http_request_clear(&http);
}

/* ------------------------------------------------------------------ build: models */

static void test_build_models_is_get_models_without_body(void **state)
{
    ulm_provider *p = *state;
    ulm_http_request http = {0};
    assert_int_equal(p->build(p, ULM_OP_MODELS, NULL, NULL, &http), ULM_OK);
    assert_string_equal(http.method, "GET");
    assert_string_equal(http.path, "/models");
    assert_null(http.body);
    assert_int_equal(http.body_len, 0);
    ulm__http_request_clear(&http);
}

static void test_provider_identity(void **state)
{
    ulm_provider *p = *state;
    assert_int_equal(p->version, ULM_PROVIDER_VERSION);
    assert_string_equal(p->name, "openai");
    assert_int_equal(p->flags & ULM_PROVIDER_LOCAL, 0);
    assert_string_equal(p->auth_header, "Authorization");
    assert_string_equal(p->auth_prefix, "Bearer ");
}

/* ------------------------------------------------------------------ parse: success */

static void test_parse_chat_completion_from_openai_docs(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "openai/chat_stop.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_null(r.error_text);
    assert_string_equal(r.text, "Hello! How can I assist you today?");
    assert_int_equal(r.text_len, strlen("Hello! How can I assist you today?"));
    assert_int_equal(r.finish, ULM_FINISH_STOP);
    assert_int_equal(r.prompt_tokens, 19);
    assert_int_equal(r.completion_tokens, 10);
    assert_int_equal(r.total_tokens, 29);
    assert_string_equal(r.model, "gpt-4.1-2025-04-14");
    ulm__result_clear(&r);
}

static void test_parse_finish_reason_length(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "openai/chat_length.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_string_equal(r.text, "Once upon a time, in a quiet village nestled");
    assert_int_equal(r.finish, ULM_FINISH_LENGTH);
    assert_int_equal(r.prompt_tokens, 14);
    assert_int_equal(r.completion_tokens, 10);
    assert_int_equal(r.total_tokens, 24);
    assert_string_equal(r.model, "gpt-4o-mini-2024-07-18");
    ulm__result_clear(&r);
}

static void test_parse_finish_reason_content_filter(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "openai/chat_content_filter.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_string_equal(r.text, "I can't help with");
    assert_int_equal(r.finish, ULM_FINISH_CONTENT_FILTER);
    ulm__result_clear(&r);
}

static void test_parse_tool_calls_with_null_content_gives_empty_text(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "openai/chat_tool_calls.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_non_null(r.text);
    assert_string_equal(r.text, "");
    assert_int_equal(r.text_len, 0);
    assert_int_equal(r.finish, ULM_FINISH_TOOL_CALLS);
    assert_int_equal(r.prompt_tokens, 82);
    assert_int_equal(r.completion_tokens, 17);
    assert_int_equal(r.total_tokens, 99);
    assert_string_equal(r.model, "gpt-4o-mini");
    ulm__result_clear(&r);
}

static void test_parse_unknown_finish_reason_is_unknown(void **state)
{
    ulm_result r;
    parse_body(*state, ULM_OP_CHAT, 200, "application/json",
               "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"eos\"}]}", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_string_equal(r.text, "x");
    assert_int_equal(r.finish, ULM_FINISH_UNKNOWN);
    assert_null(r.model);
    ulm__result_clear(&r);
}

static void test_parse_without_usage_reports_minus_one(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "openai/chat_no_usage.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_string_equal(r.text, "No usage here.");
    assert_int_equal(r.prompt_tokens, -1);
    assert_int_equal(r.completion_tokens, -1);
    assert_int_equal(r.total_tokens, -1);
    ulm__result_clear(&r);
}

static void test_parse_usage_without_total_computes_total(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_CHAT, 200, "openai/chat_usage_without_total.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.prompt_tokens, 12);
    assert_int_equal(r.completion_tokens, 7);
    assert_int_equal(r.total_tokens, 19);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ parse: errors */

static void test_parse_401_invalid_api_key_is_auth(void **state)
{
    assert_error_fixture(*state, 401, "openai/error_401_invalid_api_key.json", ULM_EAUTH);
}

static void test_parse_429_rate_limit_is_rate_limit(void **state)
{
    assert_error_fixture(*state, 429, "openai/error_429_rate_limit.json", ULM_ERATE_LIMIT);
}

static void test_parse_429_insufficient_quota_is_quota(void **state)
{
    assert_error_fixture(*state, 429, "openai/error_429_insufficient_quota.json", ULM_EQUOTA);
}

static void test_parse_400_context_length_exceeded_is_context_length(void **state)
{
    assert_error_fixture(*state, 400, "openai/error_400_context_length_exceeded.json",
                         ULM_ECONTEXT_LENGTH);
}

static void test_parse_404_model_not_found_is_model_not_found(void **state)
{
    assert_error_fixture(*state, 404, "openai/error_404_model_not_found.json",
                         ULM_EMODEL_NOT_FOUND);
}

/* A prompt a safety system refused is content_filter, as Gemini's blocked prompt is. */
static void test_parse_refused_prompt_is_content_filter(void **state)
{
    const char *bodies[] = {
        "{\"error\":{\"message\":\"Your request was rejected by our safety system.\","
        "\"type\":\"invalid_request_error\",\"code\":\"content_policy_violation\"}}",
        "{\"error\":{\"message\":\"The response was filtered due to the prompt triggering "
        "content management policy.\",\"type\":null,\"param\":\"prompt\","
        "\"code\":\"content_filter\",\"status\":400}}",
    };
    for (size_t i = 0; i < 2; i++) {
        ulm_result r;
        parse_body(*state, ULM_OP_CHAT, 400, "application/json", bodies[i], &r);
        assert_int_equal(r.error, ULM_ECONTENT_FILTER);
        ulm__result_clear(&r);
    }
}

static void test_parse_500_is_server(void **state)
{
    assert_error_fixture(*state, 500, "openai/error_500_server_error.json", ULM_ESERVER);
}

static void test_parse_503_is_unavailable(void **state)
{
    assert_error_fixture(*state, 503, "openai/error_503_overloaded.json", ULM_EUNAVAILABLE);
}

static void test_parse_huge_error_body_is_capped(void **state)
{
    size_t len = 1024 * 1024;
    char *body = malloc(len);
    assert_non_null(body);
    for (size_t i = 0; i < len; i++)
        body[i] = (char)('a' + i % 26);
    ulm_http_response resp;
    fixture_response_from(&resp, 500, "text/plain", body, len);
    ulm_result r;
    fixture_parse(*state, ULM_OP_CHAT, &resp, &r);

    assert_int_equal(r.error, ULM_ESERVER);
    assert_non_null(r.error_text);
    assert_int_equal(strlen(r.error_text), ULM_UPSTREAM_TEXT_CAP + 1024);
    assert_memory_equal(r.error_text, body, ULM_UPSTREAM_TEXT_CAP + 1024);
    free(body);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ parse: malformed */

static void test_parse_non_json_success_is_protocol(void **state)
{
    assert_protocol_error(*state, ULM_OP_CHAT, "<html><body>Bad Gateway</body></html>");
}

static void test_parse_json_array_success_is_protocol(void **state)
{
    assert_protocol_error(*state, ULM_OP_CHAT, "[{\"message\":{\"content\":\"hi\"}}]");
}

static void test_parse_success_without_choices_is_protocol(void **state)
{
    assert_protocol_error(*state, ULM_OP_CHAT, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\"}");
}

static void test_parse_success_with_empty_choices_is_protocol(void **state)
{
    assert_protocol_error(*state, ULM_OP_CHAT, "{\"choices\":[]}");
}

static void test_parse_choice_without_message_is_protocol(void **state)
{
    assert_protocol_error(*state, ULM_OP_CHAT, "{\"choices\":[{\"index\":0,\"finish_reason\":\"stop\"}]}");
}

static void test_parse_numeric_content_is_protocol(void **state)
{
    assert_protocol_error(*state, ULM_OP_CHAT,
                          "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":42}}]}");
}

/* A 200 whose body fails as reason says: a protocol error with exactly that reason. */
static void assert_protocol_reason(ulm_provider *p, const char *content_type, const char *body,
                                   const char *reason)
{
    ulm_result r;
    parse_body(p, ULM_OP_CHAT, 200, content_type, body, &r);
    assert_int_equal(r.error, ULM_EPROTOCOL);
    assert_non_null(r.error_text);
    assert_string_equal(r.error_text, reason);
    assert_null(r.text);
    ulm__result_clear(&r);
}

/* A completion whose text is not UTF-8 names the first bad byte, counted from 0: a byte
 * that starts no character, a character cut short, an overlong form, a surrogate. */
static void test_parse_invalid_utf8_names_the_byte(void **state)
{
    static const struct {
        const char *text; /* after "ok " in the content */
        size_t bad;       /* where in it the first bad byte is */
    } cases[] = {
        {"\xff", 0}, {"caf\xc3", 3}, {"\xe2\x82z", 0}, {"\xc0\xaf", 0}, {"\xed\xa0\x80", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[160], reason[96];
        snprintf(body, sizeof body,
                 "{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":\"ok %s\"}}]}",
                 cases[i].text);
        size_t at = (size_t)(strstr(body, "ok ") - body) + 3 + cases[i].bad;
        snprintf(reason, sizeof reason, "the answer has invalid UTF-8 at byte %zu (0x%02x)", at,
                 (unsigned char)body[at]);
        assert_protocol_reason(*state, "application/json", body, reason);
    }
}

/* An event stream sent to a request that asked for JSON (a server or proxy that streams
 * regardless) is named as such, whichever line it starts with. */
static void test_parse_event_stream_instead_of_json_is_named(void **state)
{
    static const char *const streams[] = {
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n",
        "\r\n: keep-alive\r\ndata: {}\r\n\r\n",
        "event: message\ndata: {}\n\n",
        "id: 7\ndata: {}\n\n",
        "retry: 100\n\n",
    };
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
        assert_protocol_reason(*state, "text/event-stream", streams[i],
                               "the answer is an event stream where JSON was expected");
    /* the body decides, not the Content-Type: JSON that says it is a stream is read */
    ulm_result r;
    parse_body(*state, ULM_OP_CHAT, 200, "text/event-stream",
               "{\"choices\":[{\"message\":{\"content\":\"Hi\"}}]}", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_string_equal(r.text, "Hi");
    ulm__result_clear(&r);
    /* other bodies that are not JSON keep the general reason */
    assert_protocol_reason(*state, "text/html", "<html>data: no</html>",
                           "the answer is not a JSON object");
    assert_protocol_reason(*state, "application/json",
                           "{\"choices\":", "the answer is not a JSON object");
}

static void test_parse_huge_success_body_keeps_whole_text(void **state)
{
    const size_t text_len = 4 * 1024 * 1024;
    static const char head[] = "{\"model\":\"gpt-4o\",\"choices\":[{\"message\":{\"content\":\"";
    static const char tail[] = "\"},\"finish_reason\":\"length\"}]}";
    ulm_http_response resp = {0};
    resp.status = 200;
    assert_int_equal(ulm_text_append(&resp.body, head, sizeof head - 1), ULM_OK);
    char chunk[4096];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)('a' + i % 26);
    for (size_t done = 0; done < text_len; done += sizeof chunk)
        assert_int_equal(ulm_text_append(&resp.body, chunk, sizeof chunk), ULM_OK);
    assert_int_equal(ulm_text_append(&resp.body, tail, sizeof tail - 1), ULM_OK);
    ulm_result r;
    fixture_parse(*state, ULM_OP_CHAT, &resp, &r);

    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.text_len, text_len);
    assert_int_equal(strlen(r.text), text_len);
    assert_memory_equal(r.text, chunk, sizeof chunk);
    assert_memory_equal(r.text + text_len - sizeof chunk, chunk, sizeof chunk);
    assert_int_equal(r.finish, ULM_FINISH_LENGTH);
    ulm__result_clear(&r);
}

/* ------------------------------------------------------------------ parse: models */

static void test_parse_models_lists_ids_in_order(void **state)
{
    ulm_result r;
    parse_fixture(*state, ULM_OP_MODELS, 200, "openai/models.json", &r);
    assert_int_equal(r.error, ULM_OK);
    assert_int_equal(r.model_id_count, 2);
    assert_string_equal(r.model_ids[0], "a");
    assert_string_equal(r.model_ids[1], "b");
    ulm__result_clear(&r);
}

static void test_parse_models_without_data_is_protocol(void **state)
{
    assert_protocol_error(*state, ULM_OP_MODELS, "{\"object\":\"list\"}");
}

static void test_parse_models_entry_without_id_is_protocol(void **state)
{
    assert_protocol_error(*state, ULM_OP_MODELS,
                          "{\"object\":\"list\",\"data\":[{\"id\":\"a\"},{\"object\":\"model\"}]}");
}

/* ------------------------------------------------------------------ main */

/* ------------------------------------------------------------------ streaming */

#define STREAM_TEXT "Hello! Caf\xc3\xa9 \xf0\x9f\x99\x82 How can I help?"

static void assert_recorded_stream(const ulm_result *r, const fixture_deltas *d)
{
    assert_int_equal(r->error, ULM_OK);
    assert_string_equal(r->text, STREAM_TEXT);
    assert_int_equal(r->finish, ULM_FINISH_STOP);
    assert_int_equal(r->prompt_tokens, 9);
    assert_int_equal(r->completion_tokens, 12);
    assert_int_equal(r->total_tokens, 21);
    assert_string_equal(r->model, "gpt-4o-mini");
    assert_int_equal(d->text.len, strlen(STREAM_TEXT)); /* delivered once, all of it */
    assert_memory_equal(d->text.data, STREAM_TEXT, d->text.len);
}

/* The recorded stream cut at every byte, and one byte at a time: the same answer. */
static void test_stream_read_in_any_pieces_gives_the_same_answer(void **state)
{
    fixture_stream_every_cut(*state, "openai/stream_chat.txt", ULM_OK, assert_recorded_stream);
}

/* Every allocation of a stream's reading may fail: ULM_ENOMEM, and nothing leaks. */
static void test_stream_survives_every_allocation_failure(void **state)
{
    fixture_stream_under_allocation_failures(*state, "openai/stream_chat.txt", ULM_OK);
}

/* Counts as large as a long can hold do not overflow when added up: the sums stop at
 * LONG_MAX (a fuzzer's finding: the sums were undefined behaviour). */
static void test_stream_huge_token_counts_saturate(void **state)
{
    const char *body = "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":"
        "{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":1}}\n\n"
        "data: [DONE]\n\n";
    ulm_result r;
    fixture_deltas d = {0};
    assert_int_equal(fixture_stream(*state, body, strlen(body), NULL, 0, &r, &d), ULM_OK);
    assert_true(r.prompt_tokens == LONG_MAX);
    assert_true(r.completion_tokens == 1);
    assert_true(r.total_tokens == LONG_MAX);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
}

/* Read whole, the stream gives one delta per content event, and none for the empty one. */
static void test_stream_delivers_one_delta_per_content_event(void **state)
{
    size_t len;
    char *body = fixture_read("openai/stream_chat.txt", &len);
    ulm_result r;
    fixture_deltas d = {0};
    assert_int_equal(fixture_stream(*state, body, len, NULL, 0, &r, &d), ULM_OK);
    assert_int_equal(d.calls, 3);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
    free(body);
}

static int stream_text(ulm_provider *p, const char *body, ulm_result *r, fixture_deltas *d)
{
    return fixture_stream(p, body, strlen(body), NULL, 0, r, d);
}

/* A failure after the 200 status arrives as an error event: classified like a status. */
static void test_stream_error_event_is_classified(void **state)
{
    ulm_result r;
    fixture_deltas d = {0};
    const char *body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                       "data: {\"error\":{\"message\":\"The server had an error\","
                       "\"type\":\"server_error\"}}\n\n";
    assert_int_equal(stream_text(*state, body, &r, &d), ULM_ESERVER);
    assert_string_equal(r.error_text, "The server had an error");
    assert_memory_equal(d.text.data, "Hi", 2);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);

    d = (fixture_deltas){0};
    body = "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
           "\"code\":\"rate_limit_exceeded\"}}\n\n";
    assert_int_equal(stream_text(*state, body, &r, &d), ULM_ERATE_LIMIT);
    ulm__result_clear(&r);
    body = "data: {\"error\":{\"message\":\"too long\",\"code\":\"context_length_exceeded\"}}\n\n";
    assert_int_equal(stream_text(*state, body, &r, &d), ULM_ECONTEXT_LENGTH);
    assert_int_equal(d.calls, 0);
    ulm__result_clear(&r);
}

static void test_stream_malformed_events_are_protocol_errors(void **state)
{
    const char *bodies[] = {
        "data: {\"choices\":[{\"delta\":{\"content\":\n\n",
        "data: [1,2]\n\n",
        "data: not json\n\n",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        ulm_result r;
        fixture_deltas d = {0};
        assert_int_equal(stream_text(*state, bodies[i], &r, &d), ULM_EPROTOCOL);
        assert_string_equal(r.error_text, "a stream event is not a JSON object");
        ulm__result_clear(&r);
    }
}

/* An event whose JSON is not UTF-8 names the byte, counted from the start of its data. */
static void test_stream_event_with_invalid_utf8_names_the_byte(void **state)
{
    ulm_result r;
    fixture_deltas d = {0};
    const char *body =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xf0\x9f\"}}]}\n\n";
    const char *event = strstr(body, "\n\ndata: ") + strlen("\n\ndata: ");
    char reason[96];
    snprintf(reason, sizeof reason, "a stream event has invalid UTF-8 at byte %d (0xf0)",
             (int)(strchr(event, '\xf0') - event));
    assert_int_equal(stream_text(*state, body, &r, &d), ULM_EPROTOCOL);
    assert_string_equal(r.error_text, reason);
    assert_int_equal(d.text.len, 2); /* "Hi" was delivered before it */
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
}

/* Without [DONE] or a finish reason the answer may have been cut: not a success. */
static void test_stream_without_end_is_protocol_but_finish_is_enough(void **state)
{
    ulm_result r;
    fixture_deltas d = {0};
    const char *cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    assert_int_equal(stream_text(*state, cut, &r, &d), ULM_EPROTOCOL);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
    d = (fixture_deltas){0};
    const char *finished = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
                           "\"finish_reason\":\"length\"}]}\n\n";
    assert_int_equal(stream_text(*state, finished, &r, &d), ULM_OK);
    assert_int_equal(r.finish, ULM_FINISH_LENGTH);
    assert_int_equal(r.prompt_tokens, -1);
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
}

/* Events after [DONE] mean nothing. */
static void test_stream_ignores_events_after_done(void **state)
{
    ulm_result r;
    fixture_deltas d = {0};
    const char *body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n"
                       "data: [DONE]\n\n"
                       "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"B\"}}]}\n\n";
    assert_int_equal(stream_text(*state, body, &r, &d), ULM_OK);
    assert_string_equal(r.text, "A");
    ulm__result_clear(&r);
    ulm_text_free(&d.text);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, provider_setup, provider_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_build_chat_is_post_to_chat_completions),
        T(test_build_chat_stream_asks_for_usage),
        T(test_stream_read_in_any_pieces_gives_the_same_answer),
        T(test_stream_survives_every_allocation_failure),
        T(test_stream_huge_token_counts_saturate),
        T(test_stream_delivers_one_delta_per_content_event),
        T(test_stream_error_event_is_classified),
        T(test_stream_malformed_events_are_protocol_errors),
        T(test_stream_event_with_invalid_utf8_names_the_byte),
        T(test_stream_without_end_is_protocol_but_finish_is_enough),
        T(test_stream_ignores_events_after_done),
        T(test_build_chat_body_has_model_and_messages_in_order),
        T(test_build_chat_omits_unset_parameters),
        T(test_build_chat_sends_set_parameters),
        T(test_build_chat_sends_zero_temperature),
        T(test_build_chat_preserves_unicode_content),
        T(test_build_chat_body_bytes_are_compact_json),
        T(test_build_chat_without_request_is_einval),
        T(test_build_models_is_get_models_without_body),
        T(test_provider_identity),
        T(test_parse_chat_completion_from_openai_docs),
        T(test_parse_finish_reason_length),
        T(test_parse_finish_reason_content_filter),
        T(test_parse_tool_calls_with_null_content_gives_empty_text),
        T(test_parse_unknown_finish_reason_is_unknown),
        T(test_parse_without_usage_reports_minus_one),
        T(test_parse_usage_without_total_computes_total),
        T(test_parse_401_invalid_api_key_is_auth),
        T(test_parse_429_rate_limit_is_rate_limit),
        T(test_parse_429_insufficient_quota_is_quota),
        T(test_parse_400_context_length_exceeded_is_context_length),
        T(test_parse_404_model_not_found_is_model_not_found),
        T(test_parse_refused_prompt_is_content_filter),
        T(test_parse_500_is_server),
        T(test_parse_503_is_unavailable),
        T(test_parse_huge_error_body_is_capped),
        T(test_parse_non_json_success_is_protocol),
        T(test_parse_json_array_success_is_protocol),
        T(test_parse_success_without_choices_is_protocol),
        T(test_parse_success_with_empty_choices_is_protocol),
        T(test_parse_choice_without_message_is_protocol),
        T(test_parse_numeric_content_is_protocol),
        T(test_parse_invalid_utf8_names_the_byte),
        T(test_parse_event_stream_instead_of_json_is_named),
        T(test_parse_huge_success_body_keeps_whole_text),
        T(test_parse_models_lists_ids_in_order),
        T(test_parse_models_without_data_is_protocol),
        T(test_parse_models_entry_without_id_is_protocol),
    };
    return cmocka_run_group_tests_name("openai_wire", tests, NULL, NULL);
}
