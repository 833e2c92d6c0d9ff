/* test_threads_live.c - one client shared by threads, streaming or not, and kept-alive connections. */
#include <pthread.h>

#include "live.h"

#define THREADS 4
#define CALLS_PER_THREAD 5

typedef struct worker {
    ulm_client *client;
    int streams;       /* odd threads stream, so both paths share the pool */
    size_t streamed;   /* bytes the last streamed call delivered */
    int failures;
    char first_error[ULM_ERROR_SIZE];
} worker;

static int count_delta(const char *text, size_t length, void *payload)
{
    (void)text;
    ((worker *)payload)->streamed += length;
    return 0;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    ulm_request *req = NULL;
    ulm_request_new(&req);
    ulm_request_add_model(req, LIVE_LOCAL_MODEL);
    ulm_request_add_message(req, ULM_ROLE_USER, "The cat");
    ulm_request_set_max_tokens(req, 8);
    if (w->streams)
        ulm_request_set_on_delta(req, count_delta, w);
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        ulm_response *resp = NULL;
        w->streamed = 0;
        int rc = ulm_complete(&resp, w->client, req);
        if (rc != ULM_OK || ulm_response_text_length(resp) == 0 ||
            (w->streams && w->streamed != ulm_response_text_length(resp))) {
            if (!w->failures++)
                snprintf(w->first_error, sizeof w->first_error, "%s",
                         ulm_response_error_message(resp));
        }
        ulm_response_free(resp);
    }
    ulm_request_free(req);
    return NULL;
}

static void one_client_many_threads(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker){.client = c, .streams = i % 2};
        assert_int_equal(pthread_create(&threads[i], NULL, run_worker, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        if (workers[i].failures)
            fail_msg("thread %d: %d failures, first: %s", i, workers[i].failures,
                     workers[i].first_error);
    }
    ulm_client_free(c);
}

typedef struct log_lines {
    char lines[4][ULM_ERROR_SIZE];
    int count;
} log_lines;

static void keep_log(int level, const char *message, void *payload)
{
    log_lines *log = payload;
    (void)level;
    if (log->count < 4)
        snprintf(log->lines[log->count++], ULM_ERROR_SIZE, "%s", message);
}

static void sequential_calls_reuse_the_connection(void **state)
{
    (void)state;
    log_lines log = {.count = 0};
    ulm_client_options opts = ULM_CLIENT_OPTIONS_INIT;
    opts.ignore_environment = 1;
    opts.model_runner_url = live_url("ULM_TEST_DMR_URL");
    opts.log_fn = keep_log;
    opts.log_payload = &log;
    opts.log_level = ULM_LOG_DEBUG;
    ulm_client *c = NULL;
    assert_int_equal(ulm_client_new(&c, &opts, NULL, 0), ULM_OK);
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, "The cat");
    for (int i = 0; i < 2; i++) {
        ulm_response *resp = NULL;
        assert_int_equal(ulm_complete(&resp, c, req), ULM_OK);
        ulm_response_free(resp);
    }
    assert_int_equal(log.count, 2);
    assert_non_null(strstr(log.lines[0], "(new connection)"));
    assert_non_null(strstr(log.lines[1], "(reused connection)"));
    assert_non_null(strstr(log.lines[1], "dmr: POST http://"));
    ulm_request_free(req);
    ulm_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_client_many_threads),
        cmocka_unit_test(sequential_calls_reuse_the_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
