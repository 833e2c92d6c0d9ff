/* test_api.c - the public contract: option versioning, struct layout, errors, request checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "client.h"
#include "redact.h"
#include "request.h"

static void options_init_fills_every_field(void **state)
{
    (void)state;
    ulm_client_options opts;
    memset(&opts, 0xAB, sizeof opts);
    assert_int_equal(ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION), ULM_OK);
    ulm_client_options init = ULM_CLIENT_OPTIONS_INIT;
    assert_int_equal(opts.version, ULM_CLIENT_OPTIONS_VERSION);
    assert_null(opts.log_fn);
    assert_null(opts.openai_api_key);
    assert_int_equal(opts.max_idle_connections, 0);
    assert_int_equal(init.version, opts.version);
    assert_int_equal(init.local_model_timeout_ms, opts.local_model_timeout_ms);
}

static void unknown_options_version_is_refused(void **state)
{
    (void)state;
    ulm_client_options opts;
    assert_int_equal(ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION + 1), ULM_EVERSION);
    assert_int_equal(ulm_client_options_init(&opts, 0), ULM_EVERSION);
    assert_int_equal(ulm_client_options_init(NULL, 1), ULM_EINVAL);
    ulm_client_options bad = ULM_CLIENT_OPTIONS_INIT;
    bad.version = 99;
    ulm_client *c = (ulm_client *)&bad;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &bad, err, sizeof err), ULM_EVERSION);
    assert_null(c);
    assert_string_equal(err, "options.version: 99 is not a version this library knows (1 to 5)");
}

/* A program built against version 1 has a shorter struct: nothing past it is touched. */
static void version_1_options_are_still_read(void **state)
{
    (void)state;
    size_t v1_size = offsetof(ulm_client_options, first_token_timeout_ms);
    ulm_client_options opts;
    memset(&opts, 0x5a, sizeof opts);
    assert_int_equal(ulm_client_options_init(&opts, 1), ULM_OK);
    assert_int_equal(opts.version, 1);
    const unsigned char *tail = (const unsigned char *)&opts + v1_size;
    for (size_t i = 0; i < sizeof opts - v1_size; i++)
        assert_int_equal(tail[i], 0x5a);
    /* the garbage after the version 1 fields would be an invalid idle timeout */
    opts.ignore_environment = 1;
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    ulm_client_free(c);
    opts.version = 2;
    opts.config_path = NULL; /* garbage there would be read as a path */
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_ECONFIG);
    assert_null(c);
}

/* A program built against version 2 has no cloud keys in its struct: they are not read. */
static void version_2_options_are_still_read(void **state)
{
    (void)state;
    size_t v2_size = offsetof(ulm_client_options, anthropic_api_key);
    ulm_client_options opts;
    memset(&opts, 0x5a, sizeof opts);
    assert_int_equal(ulm_client_options_init(&opts, 2), ULM_OK);
    assert_int_equal(opts.version, 2);
    const unsigned char *tail = (const unsigned char *)&opts + v2_size;
    for (size_t i = 0; i < sizeof opts - v2_size; i++)
        assert_int_equal(tail[i], 0x5a);
    /* the garbage after the version 2 fields would be read as pointers to keys and URLs */
    opts.ignore_environment = 1;
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    assert_null(ulm__client_backend(c, "anthropic")->api_key);
    ulm_client_free(c);
}

/* A program built against version 3 has no config_json or backend settings: not read. */
static void version_3_options_are_still_read(void **state)
{
    (void)state;
    size_t v3_size = offsetof(ulm_client_options, config_json);
    ulm_client_options opts;
    memset(&opts, 0x5a, sizeof opts);
    assert_int_equal(ulm_client_options_init(&opts, 3), ULM_OK);
    assert_int_equal(opts.version, 3);
    const unsigned char *tail = (const unsigned char *)&opts + v3_size;
    for (size_t i = 0; i < sizeof opts - v3_size; i++)
        assert_int_equal(tail[i], 0x5a);
    opts.ignore_environment = 1;
    ulm_client *c = NULL;
    char err[ULM_ERROR_SIZE];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    ulm_client_free(c);
}

/* The ABI: a version of the options struct never changes size or layout once released. */
static void options_layout_is_pinned(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__aarch64__)
    assert_int_equal(offsetof(ulm_client_options, first_token_timeout_ms), 120); /* v1 size */
    assert_int_equal(offsetof(ulm_client_options, anthropic_api_key), 168); /* v2 size */
    assert_int_equal(offsetof(ulm_client_options, config_json), 200); /* v3 size */
    assert_int_equal(offsetof(ulm_client_options, backend_settings), 208);
    assert_int_equal(offsetof(ulm_client_options, backend_setting_count), 216);
    assert_int_equal(offsetof(ulm_client_options, log_event_fn), 224); /* v4 size */
    assert_int_equal(offsetof(ulm_client_options, log_event_payload), 232);
    assert_int_equal(sizeof(ulm_client_options), 240);
    assert_int_equal(offsetof(ulm_client_options, anthropic_base_url), 176);
    assert_int_equal(offsetof(ulm_client_options, gemini_api_key), 184);
    assert_int_equal(offsetof(ulm_client_options, gemini_base_url), 192);
    assert_int_equal(offsetof(ulm_client_options, max_event_bytes), 144);
    assert_int_equal(offsetof(ulm_client_options, config_path), 152);
    assert_int_equal(offsetof(ulm_client_options, use_local_models_when_offline), 160);
    assert_int_equal(offsetof(ulm_client_options, version), 0);
    assert_int_equal(offsetof(ulm_client_options, log_fn), 8);
    assert_int_equal(offsetof(ulm_client_options, log_level), 24);
    assert_int_equal(offsetof(ulm_client_options, ignore_environment), 28);
    assert_int_equal(offsetof(ulm_client_options, openai_api_key), 32);
    assert_int_equal(offsetof(ulm_client_options, enable_model_runner), 48);
    assert_int_equal(offsetof(ulm_client_options, local_model_timeout_ms), 80);
    assert_int_equal(offsetof(ulm_client_options, max_response_bytes), 104);
    assert_int_equal(offsetof(ulm_client_options, max_idle_connections), 112);
    assert_int_equal(offsetof(ulm_provider, parse_event), 64); /* v1 size */
    assert_int_equal(sizeof(ulm_provider), 72);
    assert_int_equal(offsetof(ulm_provider, normalize_model), 32);
    assert_int_equal(offsetof(ulm_provider, destroy), 56);
#else
    skip();
#endif
}

static void error_codes_are_stable(void **state)
{
    (void)state;
    assert_int_equal(ULM_EINVAL, -1);
    assert_int_equal(ULM_ECONNECT, -6);
    assert_int_equal(ULM_EMODEL_LOAD, -13);
    assert_int_equal(ULM_EUNSUPPORTED, -20);
    assert_int_equal(ULM_ECANCELLED, -21);
    assert_int_equal(ULM_EMODEL_LOADING, -26);
    assert_int_equal(ULM_ECIRCUIT_OPEN, -28);
    assert_int_equal(ULM_ECONTENT_FILTER, -29);
    for (int code = 0; code >= ULM_ECONTENT_FILTER; code--) {
        assert_string_not_equal(ulm_error_name(code), "unknown");
        assert_string_not_equal(ulm_strerror(code), "unknown error");
    }
    assert_string_equal(ulm_strerror(-1000), "unknown error");
    assert_string_equal(ulm_error_name(1), "unknown");
}

static void retryable_classes(void **state)
{
    (void)state;
    const int yes[] = {ULM_ECONNECT, ULM_ETIMEOUT, ULM_ERATE_LIMIT, ULM_EUNAVAILABLE,
                       ULM_ESERVER, ULM_EMODEL_LOAD, ULM_ETRANSPORT};
    const int no[] = {ULM_OK, ULM_EINVAL, ULM_EAUTH, ULM_EBAD_REQUEST, ULM_EQUOTA,
                      ULM_EMODEL_NOT_FOUND, ULM_ECONTEXT_LENGTH, ULM_ETOO_LARGE, -999};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(ulm_error_is_retryable(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(ulm_error_is_retryable(no[i]));
}

static void http_status_classes(void **state)
{
    (void)state;
    const int table[][2] = {
        {200, ULM_OK},           {400, ULM_EBAD_REQUEST},     {401, ULM_EAUTH},
        {403, ULM_EAUTH},        {404, ULM_EMODEL_NOT_FOUND}, {408, ULM_EUNAVAILABLE},
        {413, ULM_EBAD_REQUEST}, {422, ULM_EBAD_REQUEST},     {429, ULM_ERATE_LIMIT},
        {500, ULM_ESERVER},      {502, ULM_ESERVER},          {503, ULM_EUNAVAILABLE},
        {504, ULM_ESERVER},      {529, ULM_EUNAVAILABLE},     {418, ULM_EBAD_REQUEST},
        {302, ULM_EPROTOCOL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        assert_int_equal(ulm_error_from_http_status(table[i][0]), table[i][1]);
}

static void redaction_removes_credentials(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"Incorrect API key provided: sk-proj-abcdefghij1234.", "Incorrect API key provided: [REDACTED]."},
        {"Authorization: Bearer abc.def-ghi", "Authorization: Bearer [REDACTED]"},
        {"key=AIzaSyA1234567890abcdefghijklmnop", "key=[REDACTED]"},
        {"ask-me-anything", "ask-me-anything"},
        {"sk-short", "sk-short"},
        {"plain text", "plain text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = ulm__redacted(NULL, cases[i][0], strlen(cases[i][0]));
        assert_string_equal(out, cases[i][1]);
        free(out);
    }
}

static void capping_keeps_utf8_whole_and_folds_controls(void **state)
{
    (void)state;
    char *out = ulm__cap_text("a\nb\tc", 5, 100);
    assert_string_equal(out, "a b c");
    free(out);
    out = ulm__cap_text("  model not found\n", 18, 100);
    assert_string_equal(out, "model not found");
    free(out);
    /* "é" is two bytes: a cap in its middle must not leave half of it */
    out = ulm__cap_text("abc\xc3\xa9xyz", 8, 4);
    assert_string_equal(out, "abc...");
    free(out);
    out = ulm__cap_text("abcdef", 6, 6);
    assert_string_equal(out, "abcdef");
    free(out);
}

static void request_setters_check_ranges(void **state)
{
    (void)state;
    ulm_request *r = NULL;
    assert_int_equal(ulm_request_new(&r), ULM_OK);
    assert_int_equal(ulm_request_set_temperature(r, -0.1), ULM_EINVAL);
    assert_int_equal(ulm_request_set_temperature(r, 2.5), ULM_EINVAL);
    assert_int_equal(ulm_request_set_temperature(r, NAN), ULM_EINVAL);
    assert_false(ulm_request_temperature(r, NULL));
    assert_int_equal(ulm_request_set_temperature(r, 0.7), ULM_OK);
    double t = 0;
    assert_true(ulm_request_temperature(r, &t));
    assert_true(t == 0.7);
    assert_int_equal(ulm_request_set_top_p(r, 1.5), ULM_EINVAL);
    assert_int_equal(ulm_request_set_max_tokens(r, 0), ULM_EINVAL);
    assert_int_equal(ulm_request_set_max_tokens(r, 16), ULM_OK);
    assert_int_equal(ulm_request_add_message(r, (ulm_role)9, "x"), ULM_EINVAL);
    assert_int_equal(ulm_request_add_message(r, ULM_ROLE_USER, NULL), ULM_EINVAL);
    assert_int_equal(ulm_request_add_message(r, ULM_ROLE_USER, "bad \xff utf8"), ULM_EINVAL);
    assert_int_equal(ulm_request_add_message(r, ULM_ROLE_USER, "h\xc3\xa9llo"), ULM_OK);
    assert_int_equal(ulm_request_message_count(r), 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ulm_request_add_stop(r, "\n"), ULM_OK);
    assert_int_equal(ulm_request_add_stop(r, "\n"), ULM_EINVAL);
    assert_int_equal(ulm_request_add_model(r, "dmr/a, openai/b"), ULM_OK);
    assert_int_equal(ulm__request_model_count(r), 2);
    assert_string_equal(ulm__request_model(r, 1), "openai/b");
    /* a list with an empty entry adds nothing at all */
    assert_int_equal(ulm_request_add_model(r, "dmr/c,,dmr/d"), ULM_EINVAL);
    assert_int_equal(ulm__request_model_count(r), 2);
    ulm_request_free(r);
}

/* Each refusal leaves a message that names what was wrong; a success leaves none. */
static void request_setters_say_why_they_refuse(void **state)
{
    (void)state;
    ulm_request *r = NULL;
    assert_int_equal(ulm_request_new(&r), ULM_OK);
    assert_string_equal(ulm_request_error_message(r), "");
    assert_string_equal(ulm_request_error_message(NULL), "");
    assert_int_equal(ulm_request_set_temperature(r, 2.5), ULM_EINVAL);
    assert_string_equal(ulm_request_error_message(r), "temperature 2.5 is out of range: 0 to 2");
    assert_int_equal(ulm_request_set_temperature(r, 1), ULM_OK);
    assert_string_equal(ulm_request_error_message(r), "");
    assert_int_equal(ulm_request_set_top_p(r, -1), ULM_EINVAL);
    assert_string_equal(ulm_request_error_message(r), "top_p -1 is out of range: 0 to 1");
    assert_int_equal(ulm_request_set_max_tokens(r, 0), ULM_EINVAL);
    assert_string_equal(ulm_request_error_message(r), "max_tokens 0 is out of range: 1 or more");
    assert_int_equal(ulm_request_add_message(r, ULM_ROLE_USER, "bad \xff utf8"), ULM_EINVAL);
    assert_string_equal(ulm_request_error_message(r),
                        "the message's content is not valid UTF-8 (at byte 4)");
    assert_int_equal(ulm_request_add_message(r, (ulm_role)9, "x"), ULM_EINVAL);
    assert_non_null(strstr(ulm_request_error_message(r), "role 9 is not a ulm_role"));
    assert_int_equal(ulm_request_set_timeout(r, ULM_CLOCK_IDLE, 0), ULM_EINVAL);
    assert_string_equal(ulm_request_error_message(r),
                        "0 ms is out of range for a clock: 1 to 86400000");
    assert_int_equal(ulm_request_set_timeout(r, (ulm_clock)7, 5), ULM_EINVAL);
    assert_non_null(strstr(ulm_request_error_message(r), "clock 7 is not a ulm_clock"));
    assert_int_equal(ulm_request_add_model(r, "dmr/c,,dmr/d"), ULM_EINVAL);
    assert_non_null(strstr(ulm_request_error_message(r), "may not be empty"));
    for (int i = 0; i < 4; i++)
        assert_int_equal(ulm_request_add_stop(r, "\n"), ULM_OK);
    assert_int_equal(ulm_request_add_stop(r, "\n"), ULM_EINVAL);
    assert_string_equal(ulm_request_error_message(r), "a request takes at most 4 stop sequences");
    assert_int_equal(ulm_request_add_input(r, ""), ULM_EINVAL);
    assert_string_equal(ulm_request_error_message(r), "an input to embed may not be empty");
    /* an override's refused key is never shown */
    assert_int_equal(ulm_request_set_backend_override(r, "openai", "sk-secret\n", NULL),
                     ULM_EINVAL);
    assert_non_null(strstr(ulm_request_error_message(r), "openai"));
    assert_null(strstr(ulm_request_error_message(r), "sk-secret"));
    assert_int_equal(ulm_request_set_backend_override(r, "openai", NULL, "ftp://x"), ULM_EINVAL);
    assert_string_equal(ulm_request_error_message(r),
                        "the base URL of openai's override is not http:// or https://");
    ulm_request_free(r);
}

static void null_arguments_are_refused(void **state)
{
    (void)state;
    ulm_response *resp = (ulm_response *)1;
    assert_int_equal(ulm_complete(&resp, NULL, NULL), ULM_EINVAL);
    assert_null(resp);
    assert_int_equal(ulm_complete(NULL, NULL, NULL), ULM_EINVAL);
    assert_int_equal(ulm_client_new(NULL, NULL, NULL, 0), ULM_EINVAL);
    assert_int_equal(ulm_request_new(NULL), ULM_EINVAL);
    assert_string_equal(ulm_response_text(NULL), "");
    assert_null(ulm_response_attempt(NULL, 0));
    ulm_response_free(NULL);
    ulm_request_free(NULL);
    ulm_client_free(NULL);
    ulm_model_list_free(NULL);
}

static void version_matches_header(void **state)
{
    (void)state;
    assert_int_equal(ulm_version_number(), ULM_VERSION_NUMBER);
    assert_string_equal(ulm_version_string(), ULM_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_init_fills_every_field),
        cmocka_unit_test(unknown_options_version_is_refused),
        cmocka_unit_test(version_1_options_are_still_read),
        cmocka_unit_test(version_2_options_are_still_read),
        cmocka_unit_test(version_3_options_are_still_read),
        cmocka_unit_test(options_layout_is_pinned),
        cmocka_unit_test(error_codes_are_stable),
        cmocka_unit_test(retryable_classes),
        cmocka_unit_test(http_status_classes),
        cmocka_unit_test(redaction_removes_credentials),
        cmocka_unit_test(capping_keeps_utf8_whole_and_folds_controls),
        cmocka_unit_test(request_setters_check_ranges),
        cmocka_unit_test(request_setters_say_why_they_refuse),
        cmocka_unit_test(null_arguments_are_refused),
        cmocka_unit_test(version_matches_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
