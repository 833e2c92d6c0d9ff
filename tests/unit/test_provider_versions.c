/* test_provider_versions.c - providers of every vtable version, used for plain and streamed calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "engine.h"

#define ANSWER "{\"text\": \"version one\"}"

static int v1_build(const ulm_provider *self, ulm_op op, const char *model,
                    const ulm_request *req, ulm_http_request *out)
{
    (void)self, (void)model, (void)req;
    assert_int_equal(op, ULM_OP_CHAT); /* never ULM_OP_CHAT_STREAM: it has no parse_event */
    return ulm_http_request_set_target(out, "POST", "/complete");
}

static int v1_parse(const ulm_provider *self, ulm_op op, const ulm_http_response *in,
                    ulm_result *out)
{
    (void)self, (void)op;
    assert_string_equal(ulm_http_response_body(in, NULL), ANSWER);
    ulm_result_set_finish_reason(out, ULM_FINISH_STOP);
    return ulm_result_set_text(out, "version one", 11);
}

static void v1_destroy(ulm_provider *self)
{
    free(self);
}

/* A version 1 provider in a block exactly as long as a version 1 struct: AddressSanitizer
 * reports any read of a later slot. */
static ulm_provider *version_one(void)
{
    size_t v1_size = offsetof(ulm_provider, parse_event);
    ulm_provider proto = ULM_PROVIDER_INIT;
    proto.version = 1;
    proto.name = "vone";
    proto.build = v1_build;
    proto.parse = v1_parse;
    proto.destroy = v1_destroy;
    void *block = malloc(v1_size);
    assert_non_null(block);
    memcpy(block, &proto, v1_size);
    return block;
}

static int answer(void *ctx, const ulm_transfer *t, ulm_http_response *resp, char *errbuf,
                  size_t errbuf_size)
{
    (void)ctx, (void)errbuf, (void)errbuf_size;
    assert_non_null(strstr(t->url, "/complete"));
    assert_string_equal(t->accept, "application/json");
    resp->status = 200;
    resp->content_type = ulm__strdup("application/json");
    return ulm__transfer_body(t, resp, ANSWER, strlen(ANSWER));
}

typedef struct joined {
    char text[64];
    size_t len;
    int calls;
} joined;

static int join(const char *text, size_t length, void *payload)
{
    joined *j = payload;
    memcpy(j->text + j->len, text, length);
    j->len += length;
    j->calls++;
    return 0;
}

static void a_version_one_provider_serves_streamed_calls_whole(void **state)
{
    (void)state;
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    assert_int_equal(ulm_client_add_provider(c, version_one(), "http://vone.test", NULL), ULM_OK);
    ulm__engine_pool_set_transport(c->engines, answer, NULL);
    for (int streamed = 0; streamed <= 1; streamed++) {
        ulm_request *req = NULL;
        assert_int_equal(ulm_request_new(&req), ULM_OK);
        assert_int_equal(ulm_request_add_model(req, "vone/m"), ULM_OK);
        assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "hi"), ULM_OK);
        joined j = {.len = 0};
        if (streamed)
            assert_int_equal(ulm_request_set_on_delta(req, join, &j), ULM_OK);
        ulm_response *resp = NULL;
        assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
        assert_string_equal(ulm_response_text(resp), "version one");
        assert_int_equal(j.calls, streamed); /* the whole text at once */
        assert_int_equal(j.len, streamed ? 11 : 0);
        ulm_response_free(resp);
        ulm_request_free(req);
    }
    ulm_client_free(c);
}

static void a_provider_of_an_unknown_version_is_refused(void **state)
{
    (void)state;
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    ulm_provider *p = version_one();
    unsigned int zero = 0;
    memcpy(p, &zero, sizeof zero); /* the version, the struct's first member */
    assert_int_equal(ulm_client_add_provider(c, p, "http://vone.test", NULL), ULM_EINVAL);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_version_one_provider_serves_streamed_calls_whole),
        cmocka_unit_test(a_provider_of_an_unknown_version_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
