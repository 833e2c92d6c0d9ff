/* test_redact.c - no key reaches a log line, a message, describe or a model list, and short keys garble nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "engine.h"
#include "redact.h"

#define URL_USER_SECRET "sk-userinfo-secret-0123456789"
#define URL_QUERY_SECRET "query-secret-9876543210"
#define CLIENT_KEY "client-key-secret-abcdef"
#define SECRET_URL "http://proxyuser:" URL_USER_SECRET "@client.test/v1?key=" URL_QUERY_SECRET

static void redacted_is(const ulm_secrets *secrets, const char *text, const char *expected)
{
    char *out = ulm__redacted(secrets, text, strlen(text));
    assert_non_null(out);
    assert_string_equal(out, expected);
    free(out);
}

static void urls_lose_userinfo_and_credential_parameters(void **state)
{
    (void)state;
    redacted_is(NULL, "POST http://u:p4ss@host:8080/v1/chat -> HTTP 200",
                "POST http://[REDACTED]@host:8080/v1/chat -> HTTP 200");
    redacted_is(NULL, "https://only-a-user@proxy.example/v1", "https://[REDACTED]@proxy.example/v1");
    redacted_is(NULL, "https://h/v1beta/models/g:generateContent?alt=sse&key=abc123",
                "https://h/v1beta/models/g:generateContent?alt=sse&key=[REDACTED]");
    redacted_is(NULL, "see \"https://h/x?api_key=s3cr3t&x=1\"", "see \"https://h/x?api_key=[REDACTED]&x=1\"");
    redacted_is(NULL, "https://h/x?TOKEN=abc#frag", "https://h/x?TOKEN=[REDACTED]#frag");
    /* libcurl sends userinfo as Basic credentials, which a backend may repeat */
    redacted_is(NULL, "you sent authorization: Basic dXNlcjpwYXNz==, ok",
                "you sent authorization: Basic [REDACTED], ok");
    /* what is not a credential stays as it is */
    redacted_is(NULL, "https://h/x?monkey=banana&keyword=1", "https://h/x?monkey=banana&keyword=1");
    redacted_is(NULL, "https://h/path/with@sign", "https://h/path/with@sign");
    redacted_is(NULL, "mail me at a@b.c, or see https://h/", "mail me at a@b.c, or see https://h/");
    redacted_is(NULL, "http://[::1]:8080/v1", "http://[::1]:8080/v1");

    char *url = ulm__redacted_url(SECRET_URL);
    assert_string_equal(url, "http://[REDACTED]@client.test/v1?key=[REDACTED]");
    free(url);
}

static void short_keys_garble_nothing(void **state)
{
    (void)state;
    const char *dummy[] = {"x", "none", "EMPTY"};
    ulm_secrets secrets = {dummy, 3};
    redacted_is(&secrets, "the request exceeds the available context size (nginx/1.22.1)",
                "the request exceeds the available context size (nginx/1.22.1)");
    redacted_is(&secrets, "none of the EMPTY keys", "none of the EMPTY keys");
}

static void keys_are_replaced_wherever_they_occur(void **state)
{
    (void)state;
    const char *keys[] = {"x", CLIENT_KEY};
    ulm_secrets secrets = {keys, 2};
    redacted_is(&secrets, "bad key " CLIENT_KEY ".", "bad key [REDACTED].");
    /* glued to an encoding or a longer word, a key is still a key */
    redacted_is(&secrets, "q=key%3D" CLIENT_KEY "&x", "q=key%3D[REDACTED]&x");
    redacted_is(&secrets, "xx" CLIENT_KEY "xx", "xx[REDACTED]xx");
    /* a key that is also the name a shape keeps (found by fuzz_text) */
    const char *named[] = {"password"};
    ulm_secrets name_key = {named, 1};
    redacted_is(&name_key, "u?a=1&password=r", "u?a=1&[REDACTED]=r");
}

/* ------------------------------------------------- a client given a URL with credentials */

typedef struct captured {
    char text[16384];
    size_t len;
} captured;

static void keep(captured *c, const char *s)
{
    size_t n = strlen(s);
    if (c->len + n + 1 < sizeof c->text) {
        memcpy(c->text + c->len, s, n);
        c->len += n;
        c->text[c->len++] = '\n';
        c->text[c->len] = '\0';
    }
}

static void on_log(int level, const char *line, void *payload)
{
    (void)level;
    keep(payload, line);
}

/* A backend that answers 500 and repeats everything it was sent, the URL and the key. */
static int echo_500(void *ctx, const ulm_transfer *t, ulm_http_response *resp, char *errbuf,
                    size_t errbuf_size)
{
    (void)ctx, (void)errbuf, (void)errbuf_size;
    char body[1024];
    snprintf(body, sizeof body, "{\"error\":{\"message\":\"failed %s with %s\"}}", t->url,
             t->auth_header_line ? t->auth_header_line : "");
    resp->status = 500;
    resp->content_type = ulm__strdup("application/json");
    return ulm__transfer_body(t, resp, body, strlen(body));
}

static void assert_no_secret(const char *text)
{
    assert_null(strstr(text, URL_USER_SECRET));
    assert_null(strstr(text, URL_QUERY_SECRET));
    assert_null(strstr(text, CLIENT_KEY));
}

static void a_url_with_credentials_is_never_shown(void **state)
{
    (void)state;
    captured log = {0};
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.openai_api_key = CLIENT_KEY;
    opts.openai_base_url = SECRET_URL;
    opts.log_fn = on_log;
    opts.log_payload = &log;
    opts.log_level = ULM_LOG_DEBUG;
    ulm_client *c = NULL;
    char err[256];
    assert_int_equal(ulm_client_new(&c, &opts, err, sizeof err), ULM_OK);
    ulm__engine_pool_set_transport(c->engines, echo_500, NULL);

    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, "openai/gpt-4o-mini"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "hi"), ULM_OK);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_ESERVER);
    captured shown = {0};
    keep(&shown, ulm_response_error_message(resp));
    for (size_t i = 0; i < ulm_response_attempt_count(resp); i++)
        keep(&shown, ulm_attempt_error_message(ulm_response_attempt(resp, i)));
    char described[16384];
    assert_true(ulm_client_describe(c, described, sizeof described) < sizeof described);
    keep(&shown, described);
    ulm_model_list *list = NULL;
    assert_int_equal(ulm_list_models(&list, c), ULM_OK);
    for (size_t i = 0; i < ulm_model_list_backend_count(list); i++) {
        keep(&shown, ulm_model_list_backend_url(list, i));
        keep(&shown, ulm_model_list_backend_message(list, i));
    }

    /* the call was made and logged, with the URL in its place */
    assert_non_null(strstr(log.text, "http://[REDACTED]@client.test/v1"));
    assert_non_null(strstr(shown.text, "http://[REDACTED]@client.test/v1?key=[REDACTED]"));
    assert_no_secret(log.text);
    assert_no_secret(shown.text);

    ulm_model_list_free(list);
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_lose_userinfo_and_credential_parameters),
        cmocka_unit_test(short_keys_garble_nothing),
        cmocka_unit_test(keys_are_replaced_wherever_they_occur),
        cmocka_unit_test(a_url_with_credentials_is_never_shown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
