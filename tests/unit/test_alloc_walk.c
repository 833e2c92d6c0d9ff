/* test_alloc_walk.c - every allocation of a real adapter's streamed and blocking call down a fallback chain fails in turn: ULM_ENOMEM or success, never a crash or a leak. */
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

#define TEXT "Hello, w\xc3\xb6rld!"

/* The OpenAI wire as the two backends answer it: the first is overloaded, the second
 * streams its answer in events cut across reads, or sends it whole. */
static const char *const EVENTS =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\", w\xc3\xb6rld!\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,"
    "\"total_tokens\":5}}\n\n"
    "data: [DONE]\n\n";
static const char *const ANSWER =
    "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" TEXT "\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,"
    "\"total_tokens\":5}}";
static const char *const OVERLOADED = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}";

static int answer(void *ctx, const ulm_transfer *t, ulm_http_response *resp, char *errbuf,
                  size_t errbuf_size)
{
    (void)ctx, (void)errbuf, (void)errbuf_size;
    int streamed = t->on_body != NULL;
    if (strstr(t->url, "first.test")) {
        resp->status = 503;
        resp->content_type = ulm__strdup("application/json");
        return resp->content_type ? ulm__transfer_body(t, resp, OVERLOADED, strlen(OVERLOADED))
                                  : ULM_ENOMEM;
    }
    resp->status = 200;
    resp->content_type = ulm__strdup(streamed ? "text/event-stream" : "application/json");
    if (!resp->content_type)
        return ULM_ENOMEM;
    const char *body = streamed ? EVENTS : ANSWER;
    size_t n = strlen(body);
    /* reads of 7 bytes: events, lines and a character split across them */
    for (size_t at = 0; at < n; at += 7) {
        int rc = ulm__transfer_body(t, resp, body + at, n - at < 7 ? n - at : 7);
        if (rc != ULM_OK)
            return rc;
    }
    return ULM_OK;
}

typedef struct joined {
    char text[256];
    size_t len;
} joined;

static int join(const char *text, size_t length, void *payload)
{
    joined *j = payload;
    assert_true(j->len + length < sizeof j->text);
    memcpy(j->text + j->len, text, length);
    j->len += length;
    j->text[j->len] = '\0';
    return 0;
}

/* One call down the chain with the n-th allocation from its start failing (0: none). */
static int call_failing_at(long n, int streamed, joined *got)
{
    ulm_backend_setting keys[] = {{"second", "api_key", "sk-second-0123456789"}};
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.model_runner_url = "http://127.0.0.1:1";
    opts.openai_api_key = "sk-first-0123456789";
    opts.openai_base_url = "http://first.test/v1";
    opts.config_json = "{\"backends\": {\"second\": {\"type\": \"openai\","
                       " \"url\": \"http://second.test/v1\"}}}";
    opts.backend_settings = keys;
    opts.backend_setting_count = 1;
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    ulm__engine_pool_set_transport(c->engines, answer, NULL);
    ulm_request *req = NULL;
    assert_int_equal(ulm_request_new(&req), ULM_OK);
    assert_int_equal(ulm_request_add_model(req, "openai/gpt-4o-mini,second/gpt-4o-mini"), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_SYSTEM, "Be brief."), ULM_OK);
    assert_int_equal(ulm_request_add_message(req, ULM_ROLE_USER, "Say hello."), ULM_OK);
    if (streamed)
        assert_int_equal(ulm_request_set_on_delta(req, join, got), ULM_OK);
    ulm_response *resp = NULL;
    ulm__test_fail_alloc_after(n);
    int rc = ulm_complete(&resp, c, req);
    ulm__test_fail_alloc_after(0);
    if (rc == ULM_OK) {
        assert_string_equal(ulm_response_text(resp), TEXT);
        assert_string_equal(ulm_response_provider(resp), "second");
        assert_int_equal(ulm_response_attempt_count(resp), 2);
        assert_int_equal(ulm_response_total_tokens(resp), 5);
        if (streamed)
            assert_string_equal(got->text, TEXT);
    } else if (rc != ULM_ENOMEM) {
        fail_msg("allocation %ld failing ended in %s: %s", n, ulm_error_name(rc),
                 resp ? ulm_response_error_message(resp) : "(no response)");
    }
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(c);
    return rc;
}

/* Fails allocation 1, 2, 3 ... of the call until 20 calls in a row no longer reach the
 * failing one: an allocation whose failure the call rides out (a log line) may succeed
 * in between, which is as good as ULM_ENOMEM. */
static void walk(int streamed)
{
    joined got = {{0}, 0};
    assert_int_equal(call_failing_at(0, streamed, &got), ULM_OK);
    long oom = 0, successes_in_a_row = 0, n;
    for (n = 1; n < 5000 && successes_in_a_row < 20; n++) {
        joined partial = {{0}, 0};
        int rc_n = call_failing_at(n, streamed, &partial);
        if (rc_n == ULM_OK) {
            successes_in_a_row++;
            continue;
        }
        successes_in_a_row = 0;
        oom++;
        /* what was streamed before memory ran out is a prefix of the answer, never more */
        assert_int_equal(strncmp(partial.text, TEXT, partial.len), 0);
    }
    assert_true(successes_in_a_row == 20);
    assert_true(oom >= 10);
    printf("%s call down a chain of two: allocations 1 to %ld failed in turn, %ld ended in "
           "out_of_memory and the others in the whole answer\n",
           streamed ? "streamed" : "blocking", n - 21, oom);
}

static void a_streamed_call_down_a_chain(void **state)
{
    (void)state;
    walk(1);
}

static void a_blocking_call_down_a_chain(void **state)
{
    (void)state;
    walk(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_streamed_call_down_a_chain),
        cmocka_unit_test(a_blocking_call_down_a_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
