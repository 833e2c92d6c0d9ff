/*
 * bench_metrics.c - what the metrics cost a call: the recordings one call makes, timed on
 * one thread and on eight at once, and what one export of a busy registry costs.
 *
 * Usage:
 *   ulm-bench-metrics [--calls N] [--rounds R]
 *
 * A call's worth of recordings is what the call path records for a streamed call answered
 * at its first try: requests in flight +1, request started, request finished (with time
 * to first token, load wait and tokens), in flight -1, the endpoint's breaker state, call
 * finished. Three of those look the model up among four claimed on the backend (it is the
 * third, and all four share the "ai/" prefix), so the string compares are counted too.
 *
 * Runs, each N call-worths per thread, R rounds, medians reported:
 *   1 thread          the cost without contention
 *   8 threads, shared every thread on the same backend and model: all increments hit the
 *                     same cache lines, the worst case (this machine may have fewer cores
 *                     than threads; the CPU time per call-worth is what counts)
 *   8 threads, apart  each thread on a model of its own, as several models are called
 * ns per call-worth is process CPU time over the call-worths; "of a 40 us call" puts it
 * against the CPU a call costs here. After every round the totals must be exact, or the
 * run ends: a broken path must not pass for a fast one.
 *
 * Export: the Prometheus text of a registry of three backends and 48 models (as in
 * tests/metrics/metrics_sample.c), median of R writes, with its size.
 * Defaults: --calls 500000 --rounds 7.
 *
 * Exit status: 0 when every total was exact (whatever the numbers), 1 when one was not,
 * 2 on a usage or setup error.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "ulm-bench-metrics"
#include "bench_common.h"
#include "metrics.h"

#define THREADS 8
#define CALL_US 40.0 /* the CPU of one call through the library, measured by bench_complete */

static const char *const models[] = {"ai/smollm2:latest", "ai/qwen2.5:7B-Q4_K_M",
                                     "ai/gemma3:latest", "ai/llama3.2:latest"};

typedef struct worker {
    ulm_metrics *m;
    const char *model;
    long calls;
    pthread_t thread;
} worker;

/* One call's recordings, as the call path will make them. */
static void record_call(ulm_metrics *m, const char *model, long i)
{
    ulm__metrics_in_flight(m, 0, +1);
    ulm__metrics_request_started(m, 0, model);
    ulm__metrics_request_finished(m, 0, model, ULM_OK, 850.0 + (double)(i & 1023), 120.0,
                                  i & 1 ? 15.0 : -1, 42, 180);
    ulm__metrics_in_flight(m, 0, -1);
    ulm__metrics_breaker(m, 0, 0, ULM_BREAKER_CLOSED);
    ulm__metrics_call_finished(m, 0, model, ULM_OK, 860.0 + (double)(i & 1023));
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (long i = 0; i < w->calls; i++)
        record_call(w->m, w->model, i);
    return NULL;
}

/* A registry whose backend 0 has the four models claimed, in order. */
static ulm_metrics *fresh_registry(void)
{
    char *urls[] = {"http://127.0.0.1:12434/engines/v1"};
    ulm_backend b = {0};
    b.name = "dmr";
    b.urls = urls;
    b.endpoint_count = 1;
    ulm_metrics *m = NULL;
    if (ulm__metrics_new(&m, &b, 1) != ULM_OK)
        die("out of memory");
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        ulm__metrics_request_started(m, 0, models[i]);
    return m;
}

/* Whether the totals of the model in slot are those of calls call-worths; started counts
 * the requests started in all. */
static int exact(ulm_metrics *m, size_t slot, uint64_t calls, uint64_t started)
{
    ulm_model_series *s = atomic_load(&m->backends[0].models[slot]);
    uint64_t answered = 0;
    for (size_t i = 0; i <= ULM_METRICS_BUCKETS; i++)
        answered += s->request_seconds.bucket[i];
    return s && s->requests_started == started && s->requests_succeeded == calls &&
           s->calls_succeeded == calls && answered == calls &&
           s->completion_tokens == 180 * calls && m->backends[0].in_flight == 0;
}

/* CPU ns per call-worth of one run: threads workers, on one model (2, the third) or on
 * a model each (apart). */
static double run(int threads, int apart, long calls)
{
    ulm_metrics *m = fresh_registry();
    char names[THREADS][32];
    worker w[THREADS];
    double cpu0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    for (int t = 0; t < threads; t++) {
        snprintf(names[t], sizeof names[t], "ai/own-model-%d:latest", t);
        w[t] = (worker){.m = m, .model = apart ? names[t] : models[2], .calls = calls};
        if (threads == 1)
            worker_main(&w[t]);
        else if (pthread_create(&w[t].thread, NULL, worker_main, &w[t]) != 0)
            die("pthread_create failed");
    }
    for (int t = 0; threads > 1 && t < threads; t++)
        pthread_join(w[t].thread, NULL);
    double cpu = now_us(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    uint64_t all = (uint64_t)calls * (uint64_t)threads;
    int ok = apart ? 1 : exact(m, 2, all, all + 1); /* fresh_registry started one */
    for (size_t i = 4; apart && i < 4 + (size_t)threads; i++)
        ok &= exact(m, i, (uint64_t)calls, (uint64_t)calls);
    ulm__metrics_free(m);
    if (!ok) {
        fprintf(stderr, BENCH_NAME ": the totals of a run are not exact\n");
        exit(1);
    }
    return cpu * 1e3 / ((double)calls * threads);
}

/* A registry as busy as tests/metrics/metrics_sample.c makes one: 3 backends, 48 models. */
static ulm_metrics *busy_registry(void)
{
    char *urls[] = {"http://127.0.0.1:12434/engines/v1", "http://127.0.0.2:8080/v1"};
    ulm_backend b[3] = {{0}};
    const char *names[] = {"dmr", "openai", "gemini"};
    for (int i = 0; i < 3; i++) {
        b[i].name = (char *)names[i];
        b[i].urls = urls;
        b[i].endpoint_count = i == 1 ? 2 : 1;
    }
    ulm_metrics *m = NULL;
    if (ulm__metrics_new(&m, b, 3) != ULM_OK)
        die("out of memory");
    char model[32];
    for (int i = 0; i < 48; i++) {
        snprintf(model, sizeof model, "ai/model-%02d:latest", i);
        size_t backend = i < 8 ? 0 : i < 11 ? 1 : 2;
        for (int k = 0; k < 20; k++) {
            ulm__metrics_request_started(m, backend, model);
            ulm__metrics_request_finished(m, backend, model, k % 7 ? ULM_OK : ULM_ERATE_LIMIT,
                                          100.0 * k, 30.0 * k, k % 5 ? -1 : 900.0, 40, 90);
            ulm__metrics_call_finished(m, backend, model, ULM_OK, 120.0 * k);
        }
    }
    return m;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: ulm-bench-metrics [--calls N] [--rounds R]\n"
                "defaults: --calls 500000 --rounds 7\n");
}

int main(int argc, char **argv)
{
    long calls = 500000, rounds = 7;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--calls") == 0)
            calls = count_arg("--calls", value, 1);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = count_arg("--rounds", value, 1);
        else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    double *one = calloc((size_t)rounds, sizeof *one);
    double *shared = calloc((size_t)rounds, sizeof *shared);
    double *apart = calloc((size_t)rounds, sizeof *apart);
    double *export_us = calloc((size_t)rounds, sizeof *export_us);
    if (!one || !shared || !apart || !export_us)
        die("out of memory");
    for (long r = 0; r < rounds; r++) {
        one[r] = run(1, 0, calls);
        shared[r] = run(THREADS, 0, calls);
        apart[r] = run(THREADS, 1, calls);
    }
    ulm_metrics *m = busy_registry();
    size_t size = ulm__metrics_write(m, NULL, ULM_METRICS_PROMETHEUS, NULL, 0) + 1;
    char *text = malloc(size);
    if (!text)
        die("out of memory");
    for (long r = 0; r < rounds; r++) {
        double t0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
        if (ulm__metrics_write(m, NULL, ULM_METRICS_PROMETHEUS, text, size) + 1 != size)
            die("the export changed size");
        export_us[r] = now_us(CLOCK_PROCESS_CPUTIME_ID) - t0;
    }
    printf("recordings of one call (6 recordings, 3 model lookups), %ld call-worths per thread, "
           "median of %ld rounds:\n",
           calls, rounds);
    const char *labels[] = {"1 thread", "8 threads, one model", "8 threads, a model each"};
    double *runs[] = {one, shared, apart};
    for (int i = 0; i < 3; i++) {
        double ns = median(runs[i], (size_t)rounds);
        printf("  %-26s %7.1f ns CPU per call  (%.3f%% of a %.0f us call)\n", labels[i], ns,
               ns / (CALL_US * 10.0), CALL_US);
    }
    printf("export, Prometheus text of 3 backends and 48 models: %zu bytes in %.0f us CPU\n",
           size - 1, median(export_us, (size_t)rounds));
    free(text);
    ulm__metrics_free(m);
    free(one);
    free(shared);
    free(apart);
    free(export_us);
    return 0;
}
