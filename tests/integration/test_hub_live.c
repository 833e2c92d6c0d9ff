/* test_hub_live.c - blocking calls of many threads at once share one engine: every answer arrives (also over connections the server closes), a cancelled call ends alone, the engine passes between threads. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <jansson.h>

#include "live.h"

#define THREADS 16
#define CALLS_PER_THREAD 12
#define STREAMING_THREADS 2 /* on engines of their own, beside the shared one */

typedef struct caller {
    ulm_client *client;
    const char *scenario;    /* the fault server's, for this thread's calls */
    char url[256];           /* the server's URL of it, made before the thread starts */
    int streams;
    long delay_ms;           /* before the first call */
    ulm_cancel *cancel;      /* NULL: not cancellable */
    int calls;
    int failures;
    int rc;                  /* of the last call */
    int rank;                /* the order in which the callers finished, from 0 */
    size_t streamed;
    char first_error[ULM_ERROR_SIZE];
} caller;

static atomic_int finished;

static void sleep_ms(long ms)
{
    struct timespec wait = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&wait, NULL);
}

static void fault_url(char *url, size_t size, const char *scenario)
{
    snprintf(url, size, "%s/%s/v1", live_url("ULM_TEST_FAULT_URL"), scenario);
}

static ulm_client *openai_client(void)
{
    char url[256];
    fault_url(url, sizeof url, "ok/0");
    ulm_client_options o = live_options(LIVE_DEAD_URL, url, "sk-test");
    return live_client_with(&o);
}

static int count_delta(const char *text, size_t length, void *payload)
{
    (void)text;
    ((caller *)payload)->streamed += length;
    return 0;
}

static void *run_caller(void *arg)
{
    caller *k = arg;
    ulm_request *req = NULL;
    ulm_request_new(&req);
    ulm_request_add_model(req, "openai/fault-model");
    ulm_request_add_message(req, ULM_ROLE_USER, "hi");
    ulm_request_set_backend_override(req, "openai", NULL, k->url);
    if (k->streams)
        ulm_request_set_on_delta(req, count_delta, k);
    if (k->cancel)
        ulm_request_set_cancel(req, k->cancel);
    if (k->delay_ms)
        sleep_ms(k->delay_ms);
    for (int i = 0; i < k->calls; i++) {
        ulm_response *resp = NULL;
        k->streamed = 0;
        k->rc = ulm_complete(&resp, k->client, req);
        int right = k->rc == ULM_OK && strcmp(ulm_response_text(resp), FAULT_TEXT) == 0 &&
                    (!k->streams || k->streamed == strlen(FAULT_TEXT));
        if (!right && !k->failures++)
            snprintf(k->first_error, sizeof k->first_error, "%s: %s", ulm_error_name(k->rc),
                     resp ? ulm_response_error_message(resp) : "no response");
        ulm_response_free(resp);
    }
    k->rank = atomic_fetch_add(&finished, 1);
    ulm_request_free(req);
    return NULL;
}

static void start_all(caller *callers, size_t n, pthread_t *threads)
{
    atomic_store(&finished, 0);
    for (size_t i = 0; i < n; i++) {
        fault_url(callers[i].url, sizeof callers[i].url, callers[i].scenario);
        assert_int_equal(pthread_create(&threads[i], NULL, run_caller, &callers[i]), 0);
    }
}

static void run_all(caller *callers, size_t n)
{
    pthread_t threads[THREADS];
    start_all(callers, n, threads);
    for (size_t i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
}

/* Fails naming the first caller of n, other than the one at skip, with a wrong answer. */
static void assert_all_right(const caller *callers, size_t n, size_t skip)
{
    for (size_t i = 0; i < n; i++)
        if (i != skip && callers[i].failures)
            fail_msg("thread %zu: %d of %d calls wrong, first: %s", i, callers[i].failures,
                     callers[i].calls, callers[i].first_error);
}

static long long engines_idle(ulm_client *c)
{
    char text[16384];
    size_t n = ulm_client_metrics(c, ULM_METRICS_JSON, text, sizeof text);
    assert_true(n > 0 && n < sizeof text);
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    json_t *v = json_object_get(root, "engines_idle");
    assert_true(json_is_integer(v));
    long long idle = json_integer_value(v);
    json_decref(root);
    return idle;
}

/* Answers at once and after a delay, so that the thread driving the engine is often done
 * before the others and hands it over; two threads stream beside them. */
static void calls_of_many_threads_all_arrive(void **state)
{
    (void)state;
    ulm_client *c = openai_client();
    caller callers[THREADS];
    for (size_t i = 0; i < THREADS; i++)
        callers[i] = (caller){.client = c,
                              .scenario = i % 2 ? "delay-first-byte/25" : "ok/0",
                              .streams = i < STREAMING_THREADS,
                              .calls = CALLS_PER_THREAD};
    run_all(callers, THREADS);
    assert_all_right(callers, THREADS, THREADS);
    /* the blocking calls took one engine between them, the streamed ones one each: the
     * pool never had to make more */
    long long idle = engines_idle(c);
    if (idle < 1 || idle > 1 + STREAMING_THREADS)
        fail_msg("%lld engines in the pool after %d threads", idle, THREADS);
    ulm_client_free(c);
}

/* The server closes half the connections right after their answer and others a few ms
 * after: a call that went out on one of them is sent again on a fresh connection, also when
 * it waits on the shared engine beside calls of other threads. */
static void connections_the_server_closes_lose_no_call(void **state)
{
    (void)state;
    ulm_client *c = openai_client();
    char tag[64];
    snprintf(tag, sizeof tag, "close-after/50/hub-%ld", (long)live_now_ms());
    caller callers[THREADS];
    for (size_t i = 0; i < THREADS; i++)
        callers[i] = (caller){.client = c, .scenario = i % 2 ? tag : "close-idle/2",
                              .calls = CALLS_PER_THREAD};
    run_all(callers, THREADS);
    assert_all_right(callers, THREADS, THREADS);
    ulm_client_free(c);
}

/* Eight calls wait on the shared engine, each with a token of its own (more than the
 * engine watches without growing its list); one is cancelled. */
static void a_cancelled_call_ends_and_the_others_go_on(void **state)
{
    (void)state;
    enum { N = 8, CANCELLED = 5 };
    ulm_client *c = openai_client();
    caller callers[N];
    for (size_t i = 0; i < N; i++) {
        callers[i] = (caller){.client = c, .scenario = "delay-first-byte/1500", .calls = 1};
        assert_int_equal(ulm_cancel_new(&callers[i].cancel), ULM_OK);
    }
    pthread_t threads[N];
    start_all(callers, N, threads);
    sleep_ms(200); /* most likely all are waiting by now; if not, it is cancelled before
                      it starts, which ends the same way */
    ulm_cancel_trigger(callers[CANCELLED].cancel);
    for (size_t i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(callers[CANCELLED].rc, ULM_ECANCELLED);
    assert_int_equal(callers[CANCELLED].rank, 0);
    assert_all_right(callers, N, CANCELLED);
    for (size_t i = 0; i < N; i++)
        ulm_cancel_free(callers[i].cancel);
    ulm_client_free(c);
}

/* The first caller drives the engine; its call ends first, while the second's still
 * waits, so the second thread takes the engine over and finishes its own call. */
static void the_engine_passes_to_a_thread_still_waiting(void **state)
{
    (void)state;
    ulm_client *c = openai_client();
    for (int pass = 0; pass < 3; pass++) {
        caller callers[2] = {
            {.client = c, .scenario = "delay-first-byte/600", .calls = 1},
            {.client = c, .scenario = "delay-first-byte/1200", .calls = 1, .delay_ms = 100},
        };
        run_all(callers, 2);
        assert_all_right(callers, 2, 2);
        assert_int_equal(callers[0].rank, 0);
    }
    ulm_client_free(c);
}

int main(void)
{
    live_url("ULM_TEST_FAULT_URL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_of_many_threads_all_arrive),
        cmocka_unit_test(connections_the_server_closes_lose_no_call),
        cmocka_unit_test(a_cancelled_call_ends_and_the_others_go_on),
        cmocka_unit_test(the_engine_passes_to_a_thread_still_waiting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
