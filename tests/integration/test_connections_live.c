/* test_connections_live.c - thousands of calls on one client over kept-alive connections the server closes: none fails. */
#include <curl/curl.h>
#include <unistd.h>

#include "live.h"

/* Calls of each kind (blocking, streamed); valgrind runs ask for fewer through the
 * environment, since it is the count that takes time there, not the test's meaning. */
static long calls_per_kind(void)
{
    const char *v = getenv("ULM_TEST_CONNECTION_CALLS");
    long n = v && *v ? atol(v) : 1000;
    return n > 0 ? n : 1000;
}

/* What the debug log says of each answered request: on a new or a reused connection. */
typedef struct connections {
    long fresh;
    long reused;
} connections;

static void count_connections(int level, const char *line, void *payload)
{
    (void)level;
    connections *c = payload;
    if (strstr(line, "(new connection)"))
        c->fresh++;
    else if (strstr(line, "(reused connection)"))
        c->reused++;
}

typedef struct body {
    char text[8192];
    size_t len;
} body;

static size_t keep_body(char *data, size_t size, size_t count, void *payload)
{
    body *b = payload;
    size_t n = size * count;
    if (b->len + n >= sizeof b->text)
        return 0;
    memcpy(b->text + b->len, data, n);
    b->len += n;
    b->text[b->len] = '\0';
    return n;
}

/* The fault server's count of requests close-idle reset (GET /_stats), asked with libcurl
 * directly: the library is what is under test. */
static long server_resets(const char *fault)
{
    char url[256];
    snprintf(url, sizeof url, "%s/_stats", fault);
    body b = {0};
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    const char *r = strstr(b.text, "\"reset\":");
    assert_non_null(r);
    return atol(r + 8);
}

/* The scenarios the calls cycle through: closed after some answers, after every answer,
 * and shortly after each answer, resetting a request that arrives meanwhile. */
static const char *const scenarios[] = {"close-after/50", "close-after/100", "close-idle/2"};

static void one_call(ulm_client *c, const char *url, int streamed, long *failures)
{
    ulm_request *req = live_request("openai/fault-model", "hi");
    assert_int_equal(ulm_request_set_backend_override(req, "openai", NULL, url), ULM_OK);
    live_deltas seen = {0};
    if (streamed)
        assert_int_equal(ulm_request_set_on_delta(req, live_collect, &seen), ULM_OK);
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, req);
    if (rc != ULM_OK || strcmp(ulm_response_text(resp), FAULT_TEXT) != 0 ||
        (streamed && strcmp(seen.text, FAULT_TEXT) != 0)) {
        if (++*failures <= 5)
            fprintf(stderr, "%s call to %s failed: %s: %s\n", streamed ? "streamed" : "blocking",
                    url, ulm_error_name(rc), ulm_response_error_message(resp));
    }
    ulm_response_free(resp);
    ulm_request_free(req);
}

static void calls_on_closed_keep_alive_connections_all_succeed(void **state)
{
    (void)state;
    const char *fault = live_url("ULM_TEST_FAULT_URL");
    connections seen = {0};
    ulm_client_options o = live_options(LIVE_DEAD_URL, NULL, "sk-test");
    char base[256];
    snprintf(base, sizeof base, "%s/ok/0/v1", fault);
    o.openai_base_url = base;
    o.log_fn = count_connections;
    o.log_payload = &seen;
    o.log_level = ULM_LOG_DEBUG;
    ulm_client *c = live_client_with(&o);
    long resets_before = server_resets(fault);

    long per_kind = calls_per_kind(), failures = 0;
    char urls[3][256];
    for (size_t s = 0; s < 3; s++)
        snprintf(urls[s], sizeof urls[s], "%s/%s/conn-%ld/v1", fault, scenarios[s], (long)getpid());
    double start = live_now_ms();
    /* blocking and streamed calls alternate, so each kind reuses what the other left */
    for (long i = 0; i < 2 * per_kind; i++)
        one_call(c, urls[(i / 2) % 3], (int)(i % 2), &failures);
    double took = live_now_ms() - start;
    long resets = server_resets(fault) - resets_before;
    printf("connections: %ld blocking + %ld streamed calls, %ld failures, in %.1f s; "
           "%ld on new connections, %ld on reused ones; the server reset %ld requests\n",
           per_kind, per_kind, failures, took / 1e3, seen.fresh, seen.reused, resets);
    assert_int_equal(failures, 0);
    assert_int_equal(seen.fresh + seen.reused, 2 * per_kind);
    /* both happened, so the calls did reuse connections the server went on to close */
    assert_true(seen.reused > 0);
    assert_true(seen.fresh > 0);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_on_closed_keep_alive_connections_all_succeed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
