/* test_threads_live.c - one client shared by threads, streaming or not, one request shared
 * by threads, a call made from a delta callback, and kept-alive connections. */
#include <pthread.h>
#include <stdatomic.h>

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

/* on_delta of a request several threads share: its payload is shared too. */
static int count_shared_delta(const char *text, size_t length, void *payload)
{
    (void)text;
    atomic_fetch_add((atomic_size_t *)payload, length);
    return 0;
}

typedef struct shared_request_worker {
    ulm_client *client;
    const ulm_request *req; /* the same for every thread */
    size_t answered;        /* bytes of text in this thread's responses */
    int failures;
    char first_error[ULM_ERROR_SIZE];
} shared_request_worker;

static void *run_shared_request(void *arg)
{
    shared_request_worker *w = arg;
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        ulm_response *resp = NULL;
        int rc = ulm_complete(&resp, w->client, w->req);
        if (rc != ULM_OK || ulm_response_text_length(resp) == 0) {
            if (!w->failures++)
                snprintf(w->first_error, sizeof w->first_error, "%s",
                         ulm_response_error_message(resp));
        } else {
            w->answered += ulm_response_text_length(resp);
        }
        ulm_response_free(resp);
    }
    return NULL;
}

/* One const request used by many threads at once (docs/api.md): the core only reads it, so
 * every call answers, and every byte streamed to the shared callback is in a response. */
static void one_request_many_threads(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *req = live_request(LIVE_LOCAL_MODEL, "The cat");
    atomic_size_t streamed;
    atomic_init(&streamed, 0);
    assert_int_equal(ulm_request_set_on_delta(req, count_shared_delta, &streamed), ULM_OK);
    shared_request_worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (shared_request_worker){.client = c, .req = req};
        assert_int_equal(pthread_create(&threads[i], NULL, run_shared_request, &workers[i]), 0);
    }
    size_t answered = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        if (workers[i].failures)
            fail_msg("thread %d: %d failures, first: %s", i, workers[i].failures,
                     workers[i].first_error);
        answered += workers[i].answered;
    }
    assert_true(answered > 0);
    assert_int_equal(atomic_load(&streamed), answered);
    assert_int_equal(ulm_request_message_count(req), 1); /* as it was built */
    ulm_request_free(req);
    ulm_client_free(c);
}

/* The outer call's on_delta makes a whole streamed call of its own on the same client. */
typedef struct nesting {
    ulm_client *client;
    const ulm_request *inner;
    int nested;            /* calls made from the callback */
    int inner_rc;
    size_t inner_answered; /* the inner response's text */
    size_t outer_streamed; /* what reached the outer callback */
} nesting;

static int complete_from_delta(const char *text, size_t length, void *payload)
{
    nesting *n = payload;
    (void)text;
    n->outer_streamed += length;
    if (n->nested++ == 0) {
        ulm_response *resp = NULL;
        n->inner_rc = ulm_complete(&resp, n->client, n->inner);
        n->inner_answered = ulm_response_text_length(resp);
        ulm_response_free(resp);
    }
    return 0;
}

/* ulm_complete() may be called from a delta callback (docs/api.md): the nested call borrows
 * an engine of its own from the client's pool, and both calls end as if alone. */
static void complete_from_a_delta_callback(void **state)
{
    (void)state;
    ulm_client *c = live_client(live_url("ULM_TEST_DMR_URL"), LIVE_DEAD_URL, NULL);
    ulm_request *outer = live_request(LIVE_LOCAL_MODEL, "The cat");
    ulm_request *inner = live_request(LIVE_LOCAL_MODEL, "The dog");
    live_deltas inner_deltas = {0};
    assert_int_equal(ulm_request_set_on_delta(inner, live_collect, &inner_deltas), ULM_OK);
    nesting n = {.client = c, .inner = inner};
    assert_int_equal(ulm_request_set_on_delta(outer, complete_from_delta, &n), ULM_OK);
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, c, outer);
    if (rc != ULM_OK)
        fail_msg("outer call: %s", ulm_response_error_message(resp));
    assert_true(n.nested > 0);
    assert_int_equal(n.inner_rc, ULM_OK);
    assert_true(n.inner_answered > 0);
    assert_int_equal(inner_deltas.len, n.inner_answered);
    assert_int_equal(n.outer_streamed, ulm_response_text_length(resp));
    assert_false(ulm_response_incomplete(resp));
    ulm_response_free(resp);
    ulm_request_free(inner);
    ulm_request_free(outer);
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
    /* the requests' lines only: a loaded machine may add a load probe's */
    if (!strstr(message, ": POST http://"))
        return;
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
        cmocka_unit_test(one_request_many_threads),
        cmocka_unit_test(complete_from_a_delta_callback),
        cmocka_unit_test(sequential_calls_reuse_the_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
