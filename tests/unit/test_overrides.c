/* test_overrides.c - a request's own key and base URL for a backend (multi-tenant hosts). */
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

#define CLIENT_KEY "sk-client-key-0123456789abcdef"
#define TENANT_KEY "sk-tenant-key-9876543210fedcba"

typedef struct seen {
    char url[256];
    char auth[256];
    int status;            /* what to answer */
} seen;

static int record(void *ctx, const ulm_transfer *t, ulm_http_response *resp, char *errbuf,
                  size_t errbuf_size)
{
    (void)errbuf, (void)errbuf_size;
    seen *s = ctx;
    snprintf(s->url, sizeof s->url, "%s", t->url);
    snprintf(s->auth, sizeof s->auth, "%s", t->auth_header_line ? t->auth_header_line : "");
    resp->status = s->status;
    resp->content_type = ulm__strdup("application/json");
    /* a backend that repeats the key it was sent: the message must not */
    const char *body = s->status == 200
                           ? "{\"choices\":[{\"message\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}"
                           : "{\"error\":{\"message\":\"bad key " TENANT_KEY "\",\"code\":\"invalid_api_key\"}}";
    return ulm__transfer_body(t, resp, body, strlen(body));
}

static ulm_client *client(seen *s)
{
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.openai_api_key = CLIENT_KEY;
    opts.openai_base_url = "http://client.test/v1";
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    ulm__engine_pool_set_transport(c->engines, record, s);
    return c;
}

static ulm_request *request(void)
{
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, "openai/gpt-4o-mini"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "hi"), ULM_OK);
    return req;
}

static void a_request_uses_its_tenants_key_and_url(void **state)
{
    (void)state;
    seen s = {.status = 200};
    ulm_client *c = client(&s);
    ulm_request *req = request();
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    assert_string_equal(s.url, "http://client.test/v1/chat/completions");
    assert_string_equal(s.auth, "Authorization: Bearer " CLIENT_KEY);
    ulm_response_free(resp);

    assert_int_equal(ulm_request_set_backend_override(req, "openai", TENANT_KEY,
                                                      "http://tenant.test/v1/"),
                     ULM_OK);
    assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
    assert_string_equal(s.url, "http://tenant.test/v1/chat/completions");
    assert_string_equal(s.auth, "Authorization: Bearer " TENANT_KEY);
    ulm_response_free(resp);

    /* only the key: the client's URL stays */
    ulm_request *keyed = request();
    assert_int_equal(ulm_request_set_backend_override(keyed, "openai", TENANT_KEY, NULL), ULM_OK);
    assert_int_equal(ulm_complete(&resp, c, keyed), ULM_OK);
    assert_string_equal(s.url, "http://client.test/v1/chat/completions");
    assert_string_equal(s.auth, "Authorization: Bearer " TENANT_KEY);
    ulm_response_free(resp);
    ulm_request_free(keyed);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void the_tenants_key_is_redacted_from_messages(void **state)
{
    (void)state;
    seen s = {.status = 401};
    ulm_client *c = client(&s);
    ulm_request *req = request();
    assert_int_equal(ulm_request_set_backend_override(req, "openai", TENANT_KEY, NULL), ULM_OK);
    ulm_response *resp = NULL;
    assert_int_equal(ulm_complete(&resp, c, req), ULM_EAUTH);
    assert_null(strstr(ulm_response_error_message(resp), TENANT_KEY));
    assert_non_null(strstr(ulm_response_error_message(resp), "[REDACTED]"));
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
}

static void bad_overrides_are_refused(void **state)
{
    (void)state;
    ulm_request *req = request();
    assert_int_equal(ulm_request_set_backend_override(req, "openai", NULL, NULL), ULM_EINVAL);
    assert_int_equal(ulm_request_set_backend_override(req, "", "k", NULL), ULM_EINVAL);
    assert_int_equal(ulm_request_set_backend_override(req, "openai", "", NULL), ULM_EINVAL);
    assert_int_equal(ulm_request_set_backend_override(req, "openai", "a\nb", NULL), ULM_EINVAL);
    assert_int_equal(ulm_request_set_backend_override(req, "openai", NULL, "ftp://x"), ULM_EINVAL);
    assert_int_equal(ulm_request_set_backend_override(NULL, "openai", "k", NULL), ULM_EINVAL);
    ulm_request_free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_request_uses_its_tenants_key_and_url),
        cmocka_unit_test(the_tenants_key_is_redacted_from_messages),
        cmocka_unit_test(bad_overrides_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
