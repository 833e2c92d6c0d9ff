/*
 * bench_load.c - the library under load and its memory: many calls at once from threads
 * sharing one client and from fan-out rounds, next to raw libcurl multi doing the same
 * requests; heap per call in flight, the peak of the largest answer, a client's RSS.
 *
 * Usage:
 *   ulm-bench-load --url http://127.0.0.1:PORT [--levels 1,8,64,256] [--calls N]
 *                  [--delay-calls N] [--rounds R] [--no-delay] [--soak N] [--overload W]
 *   ulm-bench-load --write-large DIR
 *       writes DIR/large.json, the largest answer a client takes by default, then exits
 *   ulm-bench-load --rss-probe lib|base URL
 *       (run by the bench itself, in a fresh process) makes one call with a new client,
 *       or with one libcurl handle, and prints the process's resident memory in KiB
 *
 * run-bench.sh --load and tests/perf/run start the nginx of nginx.conf, which answers:
 *   <url>/engines/v1/chat/completions         a fixed chat completion, at once
 *   <url>/delay/engines/v1/chat/completions   the same after 50 ms (the echo module's
 *                                             echo_sleep), so that calls overlap
 *   <url>/large/engines/v1/chat/completions   large.json (8 MiB less 1 KiB)
 *   <url>/slow/engines/v1/chat/completions    the fixed answer after 500 ms (--overload)
 *   <url>/delay-sse/engines/v1/chat/completions  the same answer as an event stream, after
 *                                             50 ms (streamed calls)
 * Both sides POST the same body to the same location and read the same fields; every
 * answer is checked.
 *
 * Load: for each level c and each server (fixed, then delayed), R rounds; a round runs,
 * in rotating order,
 *   threads   c threads sharing one client, each calling ulm_complete() until N calls
 *             of the round are done
 *   fan-out   ulm_round_run() with c members (the same model), repeated until N calls
 *             are done; above ULM_ROUND_MAX_MEMBERS, c / 64 threads each running rounds
 *             of 64 members
 *   baseline  one thread, one libcurl multi handle with c easy handles in flight, each
 *             re-added as soon as its answer is parsed with jansson, until N are done
 *   baseline in rounds (the fan-out side's own, for c up to 64): the same, but the c
 *             requests go together and the next c once all are answered, as a round
 *             sends its members; reported as its own row, fan-out over it
 * (the threads of the first two are started, and have used the allocator once, before the
 * clocks start) and reports per side process CPU time per call (every thread), calls per second of
 * wall time, p50 and p99 of each call's wall time (a fan-out member's is its round's),
 * and the most heap in use during the run over c: heap per call in flight (with the
 * delayed server, where c calls are really in flight at once). Ratios are ours over the
 * baseline's in the same round, their median over the rounds.
 * The client keeps up to 256 idle engines (max_idle_connections), so that at every level
 * each call finds a kept-alive connection as the baseline's handles do.
 *
 * Streamed calls (with the echo module): at each level above 1, c threads calling
 * ulm_complete() with an on_delta against <url>/delay-sse/engines/v1/chat/completions (the
 * same answer as event stream chunks after 50 ms), against the same threads making
 * blocking calls to the delayed answer in the same rounds: CPU per call and heap per call
 * in flight, streamed over blocking (see streamed()).
 *
 * Memory: the RSS of a fresh process after one call through a new client, against a
 * fresh process after one call through one libcurl easy handle (both processes are this
 * program, so both map the same libraries); the most heap in use while one call reads
 * large.json, against the baseline reading it into one buffer and parsing it.
 *
 * Overload (--overload W, with the echo module): W waves of 64 calls at a backend that
 * takes 8 at once and queues 32, against the 500 ms server: how many beyond the queue
 * were refused with ULM_EBUSY (24 a wave), how many queued calls were answered before
 * one that joined the queue earlier, how long a refusal took, and the heap in use after
 * the last wave against after the first (see overload()).
 *
 * Soak (--soak N): N calls through one client, a blocking call and a round of 8 members
 * in turn, every answer checked, the RSS sampled each tenth of the way; it reports the
 * RSS at the end and the peak against the RSS after the first tenth (flat is the target).
 *
 * Defaults: --levels 1,8,64,256 --calls 2000 --delay-calls 4*c (at least 20) --rounds 3.
 * Exit status: 0 when every call read the expected answer (whatever the numbers), 1 when
 * one failed, 2 on a usage or setup error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ultrallm/ultrallm.h>

#define BENCH_NAME "ulm-bench-load"
#include "bench_alloc.h"
#include "bench_common.h"

#define BENCH_MODEL "dmr/ai/smollm2"
#define WIRE_MODEL "ai/smollm2:latest"
#define PROMPT "Say hello in one short sentence."
#define MAX_TOKENS 16
#define MAX_LEVEL 256
#define LARGE_BYTES (8 * 1024 * 1024 - 1024)

extern char **environ;

/* What a side read from one answer. */
typedef struct summary {
    size_t text_len;
    uint32_t text_hash;
    int finish;
    long total_tokens;
} summary;

static uint32_t fnv1a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int same(const summary *a, const summary *b)
{
    return a->text_len == b->text_len && a->text_hash == b->text_hash && a->finish == b->finish &&
           a->total_tokens == b->total_tokens;
}

static void lib_summary(const ulm_response *resp, summary *out)
{
    out->text_len = ulm_response_text_length(resp);
    out->text_hash = fnv1a(ulm_response_text(resp), out->text_len);
    out->finish = ulm_response_finish_reason(resp);
    out->total_tokens = ulm_response_total_tokens(resp);
}

static int base_parse(const char *body, size_t len, summary *out)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *content = json_object_get(json_object_get(choice, "message"), "content");
    if (!json_is_object(root) || !json_is_string(content)) {
        json_decref(root);
        return -1;
    }
    out->text_len = json_string_length(content);
    out->text_hash = fnv1a(json_string_value(content), out->text_len);
    out->finish = finish_code(json_string_value(json_object_get(choice, "finish_reason")));
    out->total_tokens = usage_count(json_object_get(root, "usage"), "total_tokens");
    json_decref(root);
    return 0;
}

/* ---------------------------------------------------------------- the library side */

typedef struct lib_side {
    ulm_client *client;
    ulm_request *req;
} lib_side;

static int lib_open(lib_side *l, const char *url)
{
    char err[ULM_ERROR_SIZE];
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.ignore_environment = 1;
    opts.model_runner_url = url;
    opts.max_idle_connections = MAX_LEVEL;
    if (ulm_client_new(&l->client, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "ulm_client_new: %s\n", err);
        return -1;
    }
    if (ulm_request_new(&l->req) != ULM_OK || ulm_request_add_model(l->req, BENCH_MODEL) ||
        ulm_request_add_message(l->req, ULM_ROLE_USER, PROMPT) ||
        ulm_request_set_max_tokens(l->req, MAX_TOKENS))
        return -1;
    return 0;
}

static void lib_close(lib_side *l)
{
    ulm_request_free(l->req);
    ulm_client_free(l->client);
}

static int lib_call(lib_side *l, summary *out)
{
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, l->client, l->req);
    if (rc != ULM_OK)
        fprintf(stderr, "ulm_complete: %s (%s)\n", ulm_error_name(rc),
                resp ? ulm_response_error_message(resp) : "no response");
    else
        lib_summary(resp, out);
    ulm_response_free(resp);
    return rc == ULM_OK ? 0 : -1;
}

/* ---------------------------------------------------------------- the baseline's handles */

typedef struct xfer {
    CURL *h;
    char *buf;
    size_t len, cap;
    double started_us;
} xfer;

static size_t xfer_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    xfer *x = userdata;
    size_t n = size * nmemb;
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 512;
        while (cap < x->len + n + 1)
            cap *= 2;
        char *grown = realloc(x->buf, cap);
        if (!grown)
            return 0;
        x->buf = grown;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return n;
}

typedef struct base_side {
    struct curl_slist *headers;
    char *body, *full_url;
    xfer *x; /* MAX_LEVEL handles, made once */
    CURLM *multi;
} base_side;

static int base_open(base_side *b, const char *url)
{
    static const char path[] = "/engines/v1/chat/completions";
    size_t len = strlen(url);
    if (!(b->full_url = malloc(len + sizeof path)))
        return -1;
    memcpy(b->full_url, url, len);
    memcpy(b->full_url + len, path, sizeof path);
    const char *lines[] = {"Accept: application/json", "Content-Type: application/json", "Expect:"};
    for (size_t i = 0; i < 3; i++)
        b->headers = curl_slist_append(b->headers, lines[i]);
    json_t *body = json_pack("{s:s, s:[{s:s, s:s}], s:i}", "model", WIRE_MODEL, "messages", "role",
                             "user", "content", PROMPT, "max_tokens", MAX_TOKENS);
    b->body = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    b->x = calloc(MAX_LEVEL, sizeof *b->x);
    b->multi = curl_multi_init();
    if (!b->headers || !b->body || !b->x || !b->multi)
        return -1;
    curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)MAX_LEVEL);
    for (size_t i = 0; i < MAX_LEVEL; i++) {
        CURL *h = b->x[i].h = curl_easy_init();
        if (!h)
            return -1;
        curl_easy_setopt(h, CURLOPT_URL, b->full_url);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "ultra-llm/" ULM_VERSION_STRING);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, b->headers);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b->body));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, xfer_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b->x[i]);
        curl_easy_setopt(h, CURLOPT_PRIVATE, &b->x[i]);
    }
    return 0;
}

static void base_close(base_side *b)
{
    for (size_t i = 0; b->x && i < MAX_LEVEL; i++) {
        curl_easy_cleanup(b->x[i].h);
        free(b->x[i].buf);
    }
    curl_multi_cleanup(b->multi);
    free(b->x);
    curl_slist_free_all(b->headers);
    free(b->body);
    free(b->full_url);
}

/* ---------------------------------------------------------------- one run of a side */

typedef struct run {
    double cpu_us, wall_us;
    double cpu0, wall0;  /* when the clocks started, if the side started them itself */
    long calls;
    double *lat_us;      /* one per call */
    long long peak_heap; /* the most heap in use during the run, above what was in use before */
} run;

typedef struct work {
    lib_side *lib;
    const summary *expect;
    long total, width; /* calls of the run; members of a round */
    _Atomic long next;
    _Atomic int failed;
    double *lat_us;
    pthread_barrier_t start; /* the threads and run_lib */
} work;

/* A thread waits until all are there and the clocks run: creating threads is not the
 * library's cost, and a program under load has its threads already (each has used the
 * allocator once, which gives it its arena). */
static void await_start(work *w)
{
    free(malloc(64));
    pthread_barrier_wait(&w->start);
}

static void *thread_calls(void *arg)
{
    work *w = arg;
    await_start(w);
    for (;;) {
        long i = atomic_fetch_add(&w->next, 1);
        if (i >= w->total || atomic_load(&w->failed))
            return NULL;
        summary got;
        double t0 = now_us(CLOCK_MONOTONIC);
        if (lib_call(w->lib, &got) != 0 || !same(&got, w->expect)) {
            atomic_store(&w->failed, 1);
            return NULL;
        }
        w->lat_us[i] = now_us(CLOCK_MONOTONIC) - t0;
    }
}

static void *thread_rounds(void *arg)
{
    work *w = arg;
    const char *members[ULM_ROUND_MAX_MEMBERS];
    for (long m = 0; m < w->width; m++)
        members[m] = BENCH_MODEL;
    await_start(w);
    for (;;) {
        long first = atomic_fetch_add(&w->next, w->width);
        if (first >= w->total || atomic_load(&w->failed))
            return NULL;
        ulm_round *round = NULL;
        double t0 = now_us(CLOCK_MONOTONIC);
        int rc = ulm_round_run(&round, w->lib->client, w->lib->req, members, (size_t)w->width,
                               NULL);
        double t = now_us(CLOCK_MONOTONIC) - t0;
        int ok = rc == ULM_OK && ulm_round_finished_count(round) == (size_t)w->width;
        for (long m = 0; ok && m < w->width; m++) {
            summary got;
            const ulm_response *resp = ulm_round_member(round, (size_t)m);
            if (!resp || ulm_response_error(resp) != ULM_OK) {
                ok = 0;
                break;
            }
            lib_summary(resp, &got);
            ok = same(&got, w->expect);
            if (first + m < w->total)
                w->lat_us[first + m] = t;
        }
        if (!ok) {
            fprintf(stderr, "fan-out round of %ld: %s (%s)\n", w->width, ulm_error_name(rc),
                    round ? ulm_round_error_message(round) : "no round");
            atomic_store(&w->failed, 1);
        }
        ulm_round_free(round);
        if (!ok)
            return NULL;
    }
}

/* c threads calling, or with fan_out c members in rounds (threads of 64 above 64). */
static int run_lib(lib_side *lib, const summary *expect, long c, long total, int fan_out, run *out)
{
    long width = fan_out ? (c < ULM_ROUND_MAX_MEMBERS ? c : ULM_ROUND_MAX_MEMBERS) : 1;
    long threads = fan_out ? c / width : c;
    work w = {.lib = lib, .expect = expect, .total = total, .width = width, .lat_us = out->lat_us};
    pthread_t tid[MAX_LEVEL];
    long started = 0;
    if (pthread_barrier_init(&w.start, NULL, (unsigned)threads + 1) != 0)
        return -1;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, fan_out ? thread_rounds : thread_calls, &w))
            die("cannot start %ld threads", threads); /* the others wait at the barrier */
    out->wall0 = now_us(CLOCK_MONOTONIC);
    out->cpu0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    pthread_barrier_wait(&w.start);
    for (long t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_barrier_destroy(&w.start);
    out->calls = total;
    return atomic_load(&w.failed) ? -1 : 0;
}

/* One thread, one multi handle, c transfers in flight: each sent again as soon as it is
 * answered, or with in_rounds, all c together once the last of them is answered (what a
 * round of c members does). */
static int run_base(base_side *b, const summary *expect, long c, long total, int in_rounds,
                    run *out)
{
    long started = 0, done = 0;
    for (; started < c && started < total; started++) {
        xfer *x = &b->x[started];
        x->len = 0;
        x->started_us = now_us(CLOCK_MONOTONIC);
        curl_multi_add_handle(b->multi, x->h);
    }
    while (done < total) {
        int running = 0;
        if (curl_multi_perform(b->multi, &running) != CURLM_OK)
            return -1;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(b->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *h = msg->easy_handle;
            CURLcode code = msg->data.result;
            xfer *x;
            curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            summary got;
            if (code != CURLE_OK || status != 200 || base_parse(x->buf, x->len, &got) != 0 ||
                !same(&got, expect)) {
                fprintf(stderr, "baseline: %s, HTTP %ld\n", curl_easy_strerror(code), status);
                return -1;
            }
            out->lat_us[done++] = now_us(CLOCK_MONOTONIC) - x->started_us;
            curl_multi_remove_handle(b->multi, h);
            if (!in_rounds && started < total) {
                started++;
                x->len = 0;
                x->started_us = now_us(CLOCK_MONOTONIC);
                curl_multi_add_handle(b->multi, h);
            }
        }
        if (in_rounds && done == started) /* the round is over: the next one */
            for (long i = 0; i < c && started < total; i++, started++) {
                xfer *x = &b->x[i];
                x->len = 0;
                x->started_us = now_us(CLOCK_MONOTONIC);
                curl_multi_add_handle(b->multi, x->h);
            }
        if (done < total && curl_multi_poll(b->multi, NULL, 0, 1000, NULL) != CURLM_OK)
            return -1;
    }
    out->calls = total;
    return 0;
}

enum {
    SIDE_THREADS,
    SIDE_FANOUT,
    SIDE_BASE,
    SIDE_BASE_ROUNDS, /* the baseline of a round: its c requests sent together */
    SIDES
};
static const char *const side_names[SIDES] = {"threads", "fan-out", "libcurl multi",
                                              "multi, rounds"};

static int timed_run(int side, lib_side *lib, base_side *b, const summary *expect, long c,
                     long total, run *out)
{
    bench_alloc_reset_peak();
    long long live0 = bench_alloc_now().live;
    out->cpu0 = out->wall0 = 0;
    double w0 = now_us(CLOCK_MONOTONIC), c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    int rc = side == SIDE_BASE || side == SIDE_BASE_ROUNDS
                 ? run_base(b, expect, c, total, side == SIDE_BASE_ROUNDS, out)
                 : run_lib(lib, expect, c, total, side == SIDE_FANOUT, out);
    out->cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID) - (out->cpu0 ? out->cpu0 : c0);
    out->wall_us = now_us(CLOCK_MONOTONIC) - (out->wall0 ? out->wall0 : w0);
    out->peak_heap = bench_alloc_now().peak - live0;
    return rc;
}

/* ---------------------------------------------------------------- load */

typedef struct level_result {
    double cpu_per_call[SIDES], calls_per_s[SIDES], p50[SIDES], p99[SIDES], heap[SIDES];
    double cpu_ratio[3][64]; /* per round, threads and fan-out over the baseline, and fan-out
                                over the baseline sending in rounds */
} level_result;

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    return v[rank ? rank - 1 : 0];
}

static int load_level(lib_side *lib, base_side *b, const summary *expect, long c, long total,
                      long rounds, level_result *lr)
{
    double cpu[SIDES][64], rate[SIDES][64], heap[SIDES][64];
    double *lat[SIDES];
    total = (total + c - 1) / c * c; /* whole rounds of fan-out */
    for (int s = 0; s < SIDES; s++)
        if (!(lat[s] = malloc((size_t)(total * rounds) * sizeof(double))))
            die("out of memory");
    int rc = 0;
    for (long r = 0; r < rounds && rc == 0; r++)
        for (int k = 0; k < SIDES && rc == 0; k++) {
            int s = (int)((r + k) % SIDES);
            run one = {.lat_us = lat[s] + r * total};
            rc = timed_run(s, lib, b, expect, c, total, &one);
            cpu[s][r] = one.cpu_us / (double)one.calls;
            rate[s][r] = (double)one.calls / (one.wall_us / 1e6);
            heap[s][r] = (double)one.peak_heap / (double)c;
        }
    if (rc == 0) {
        for (long r = 0; r < rounds; r++) {
            lr->cpu_ratio[0][r] = cpu[SIDE_THREADS][r] / cpu[SIDE_BASE][r];
            lr->cpu_ratio[1][r] = cpu[SIDE_FANOUT][r] / cpu[SIDE_BASE][r];
            lr->cpu_ratio[2][r] = cpu[SIDE_FANOUT][r] / cpu[SIDE_BASE_ROUNDS][r];
        }
        for (int s = 0; s < SIDES; s++) {
            lr->cpu_per_call[s] = median(cpu[s], (size_t)rounds);
            lr->calls_per_s[s] = median(rate[s], (size_t)rounds);
            lr->heap[s] = median(heap[s], (size_t)rounds);
            lr->p50[s] = pct(lat[s], (size_t)(total * rounds), 50);
            lr->p99[s] = pct(lat[s], (size_t)(total * rounds), 99);
        }
    }
    for (int s = 0; s < SIDES; s++)
        free(lat[s]);
    return rc;
}

static int load(const char *url, const char *label, const long *levels, size_t nlevels, long calls,
                int per_level_calls, long rounds, int report_heap)
{
    lib_side lib = {0};
    base_side base = {0};
    summary expect;
    int rc = 1;
    if (lib_open(&lib, url) != 0 || base_open(&base, url) != 0)
        die("setup failed for %s", url);
    run probe = {.lat_us = (double[1]){0}};
    if (lib_call(&lib, &expect) != 0)
        goto out;
    if (run_base(&base, &expect, 1, 1, 0, &probe) != 0) {
        fprintf(stderr, "the library and the baseline read different answers\n");
        goto out;
    }
    printf("%s server: process CPU per call, calls/s of wall time, call latency; median of "
           "%ld rounds\n",
           label, rounds);
    printf("  %5s %-14s %11s %10s %10s %10s %12s %9s\n", "calls", "side", "CPU us/call", "calls/s",
           "p50 us", "p99 us", "heap B/call", "CPU/base");
    for (size_t i = 0; i < nlevels; i++) {
        long c = levels[i];
        long total = per_level_calls ? (4 * c > calls ? 4 * c : calls) : calls;
        level_result lr;
        /* a warm-up run of each side opens the connections this level needs */
        run warm = {.lat_us = malloc((size_t)c * 2 * sizeof(double))};
        if (!warm.lat_us)
            die("out of memory");
        int w = 0;
        for (int s = 0; s < SIDES && w == 0; s++)
            w = timed_run(s, &lib, &base, &expect, c, c, &warm);
        free(warm.lat_us);
        if (w != 0 || load_level(&lib, &base, &expect, c, total, rounds, &lr) != 0)
            goto out;
        for (int s = 0; s < SIDES; s++) {
            double tmp[64];
            double ratio = 0;
            if (s < SIDE_BASE) {
                memcpy(tmp, lr.cpu_ratio[s], (size_t)rounds * sizeof *tmp);
                ratio = median(tmp, (size_t)rounds);
            }
            printf("  %5ld %-14s %11.1f %10.0f %10.0f %10.0f %12.0f ", c, side_names[s],
                   lr.cpu_per_call[s], lr.calls_per_s[s], lr.p50[s], lr.p99[s], lr.heap[s]);
            if (s < SIDE_BASE)
                printf("%9.2f\n", ratio);
            else
                printf("%9s\n", s == SIDE_BASE ? "1" : "-");
        }
        char metric[160];
        for (int s = 0; s < 2; s++) {
            snprintf(metric, sizeof metric, "%s, %ld at once (%s), CPU per call", label, c,
                     side_names[s]);
            table_row(metric, "us", lr.cpu_per_call[s], lr.cpu_per_call[SIDE_BASE], lr.cpu_ratio[s],
                      (size_t)rounds, c == 256 ? "<= 1.2" : "-");
        }
        /* a round's own baseline: the same c requests sent together, the next c once all
         * are answered (above 64, the fan-out side runs several rounds on threads) */
        if (c > 1 && c <= ULM_ROUND_MAX_MEMBERS) {
            snprintf(metric, sizeof metric,
                     "%s, a round of %ld (fan-out vs multi sending the same %ld), CPU per call",
                     label, c, c);
            table_row(metric, "us", lr.cpu_per_call[SIDE_FANOUT],
                      lr.cpu_per_call[SIDE_BASE_ROUNDS], lr.cpu_ratio[2], (size_t)rounds,
                      c == 8 && strcmp(label, "fixed-answer") == 0 ? "<= 1.2" : "-");
        }
        snprintf(metric, sizeof metric, "%s, %ld at once (threads), calls/s", label, c);
        table_row(metric, "calls/s", lr.calls_per_s[SIDE_THREADS], lr.calls_per_s[SIDE_BASE], NULL,
                  0, "-");
        if (report_heap && c > 1)
            for (int s = 0; s < 2; s++) {
                snprintf(metric, sizeof metric, "heap per call in flight, %ld at once (%s)", c,
                         side_names[s]);
                table_row(metric, "bytes", lr.heap[s], lr.heap[SIDE_BASE], NULL, 0, "<= 32768");
            }
    }
    rc = 0;
out:
    base_close(&base);
    lib_close(&lib);
    return rc;
}

/* ---------------------------------------------------------------- streamed calls */

static int ignore_delta(const char *text, size_t length, void *payload)
{
    (void)text, (void)length, (void)payload;
    return 0;
}

/*
 * Streamed calls under load: at each level, c threads calling ulm_complete() with an
 * on_delta against the delayed stream (the same answer as event stream chunks, after
 * 50 ms), next to the same threads making blocking calls against the delayed answer, in
 * the same rounds. A streamed call keeps an engine of its own (its on_delta runs on its
 * thread), where blocking calls share one. Every answer is checked against the blocking
 * one.
 */
static int streamed(const char *url, const long *levels, size_t nlevels, long calls, long rounds)
{
    char *blocking_url = malloc(strlen(url) + 16), *stream_url = malloc(strlen(url) + 16);
    if (!blocking_url || !stream_url)
        die("out of memory");
    sprintf(blocking_url, "%s/delay", url);
    sprintf(stream_url, "%s/delay-sse", url);
    lib_side blocking = {0}, stream = {0};
    summary expect, got;
    int rc = 1;
    if (lib_open(&blocking, blocking_url) != 0 || lib_open(&stream, stream_url) != 0 ||
        ulm_request_set_on_delta(stream.req, ignore_delta, NULL) != ULM_OK)
        die("setup failed for the streamed calls");
    if (lib_call(&blocking, &expect) != 0 || lib_call(&stream, &got) != 0)
        goto out;
    if (!same(&got, &expect)) {
        fprintf(stderr, "the streamed answer differs from the blocking one\n");
        goto out;
    }
    printf("streamed calls (50 ms delay, from threads): process CPU per call and heap per\n"
           "call in flight, streamed against blocking calls in the same rounds; median of %ld\n"
           "rounds\n  %5s %-10s %11s %12s %9s\n",
           rounds, "calls", "side", "CPU us/call", "heap B/call", "CPU/blk");
    for (size_t i = 0; i < nlevels; i++) {
        long c = levels[i];
        if (c < 2)
            continue;
        long total = 4 * c > calls ? 4 * c : calls;
        double cpu[2][64], heap[2][64], ratio[64];
        lib_side *sides[2] = {&stream, &blocking};
        for (int s = 0; s < 2; s++) { /* the warm-up opens the connections of this level */
            run warm = {.lat_us = malloc((size_t)c * sizeof(double))};
            if (!warm.lat_us)
                die("out of memory");
            int w = timed_run(SIDE_THREADS, sides[s], NULL, &expect, c, c, &warm);
            free(warm.lat_us);
            if (w != 0)
                goto out;
        }
        double *lat = malloc((size_t)total * sizeof *lat);
        if (!lat)
            die("out of memory");
        for (long r = 0; r < rounds; r++)
            for (int k = 0; k < 2; k++) {
                int s = (int)((r + k) % 2);
                run one = {.lat_us = lat};
                if (timed_run(SIDE_THREADS, sides[s], NULL, &expect, c, total, &one) != 0) {
                    free(lat);
                    goto out;
                }
                cpu[s][r] = one.cpu_us / (double)one.calls;
                heap[s][r] = (double)one.peak_heap / (double)c;
            }
        free(lat);
        for (long r = 0; r < rounds; r++)
            ratio[r] = cpu[0][r] / cpu[1][r];
        double med_cpu[2], med_heap[2];
        for (int s = 0; s < 2; s++) {
            med_cpu[s] = median(cpu[s], (size_t)rounds);
            med_heap[s] = median(heap[s], (size_t)rounds);
        }
        double tmp[64];
        memcpy(tmp, ratio, (size_t)rounds * sizeof *tmp);
        printf("  %5ld %-10s %11.1f %12.0f %9.2f\n  %5ld %-10s %11.1f %12.0f %9s\n", c,
               "streamed", med_cpu[0], med_heap[0], median(tmp, (size_t)rounds), c, "blocking",
               med_cpu[1], med_heap[1], "1");
        char metric[160];
        snprintf(metric, sizeof metric,
                 "50 ms delay, %ld at once (threads), streamed vs blocking calls, CPU per call", c);
        table_row(metric, "us", med_cpu[0], med_cpu[1], ratio, (size_t)rounds, "-");
        snprintf(metric, sizeof metric,
                 "heap per call in flight, %ld at once (threads, streamed vs blocking)", c);
        table_row(metric, "bytes", med_heap[0], med_heap[1], NULL, 0, "<= 32768");
    }
    rc = 0;
out:
    lib_close(&stream);
    lib_close(&blocking);
    free(blocking_url);
    free(stream_url);
    return rc;
}

/* ---------------------------------------------------------------- memory */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static int rss_probe(const char *which, const char *url)
{
    summary got;
    if (strcmp(which, "lib") == 0) {
        lib_side lib = {0};
        if (lib_open(&lib, url) != 0 || lib_call(&lib, &got) != 0)
            return 1;
        printf("%ld\n", rss_kib());
        lib_close(&lib);
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    base_side b = {0};
    if (base_open(&b, url) != 0)
        return 1;
    /* one handle, as a hand-written blocking client has: the other ones go */
    for (size_t i = 1; i < MAX_LEVEL; i++) {
        curl_easy_cleanup(b.x[i].h);
        b.x[i].h = NULL;
    }
    if (curl_easy_perform(b.x[0].h) != CURLE_OK || base_parse(b.x[0].buf, b.x[0].len, &got))
        return 1;
    printf("%ld\n", rss_kib());
    base_close(&b);
    return 0;
}

static long spawn_probe(const char *self, const char *which, const char *url)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    char *argv[] = {(char *)self, "--rss-probe", (char *)which, (char *)url, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        return -1;
    }
    char out[64] = {0};
    ssize_t n = read(fd[0], out, sizeof out - 1);
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    return n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? strtol(out, NULL, 10) : -1;
}

/* The large answer: text of 3-8 byte words, as a model writes it. */
static char *large_answer(size_t *len)
{
    static const char head[] =
        "{\"id\":\"chatcmpl-large\",\"object\":\"chat.completion\",\"created\":1700000000,"
        "\"model\":\"ai/smollm2:latest\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":\"";
    static const char tail[] = "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
                               "31,\"completion_tokens\":2000000,\"total_tokens\":2000031}}";
    static const char *const words[] = {" the", " model", " token", " stream",
                                        " and", " JSON",  ", it",   ".\\n"};
    char *s = malloc(LARGE_BYTES + 1);
    if (!s)
        die("out of memory");
    size_t n = 0;
    memcpy(s, head, sizeof head - 1);
    n = sizeof head - 1;
    uint32_t x = 0x2545F491u;
    while (n + 16 + sizeof tail < LARGE_BYTES) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        const char *w = words[x % 8];
        memcpy(s + n, w, strlen(w));
        n += strlen(w);
    }
    memcpy(s + n, tail, sizeof tail);
    *len = n + sizeof tail - 1;
    return s;
}

static int large(const char *url)
{
    char *lurl = malloc(strlen(url) + 8);
    if (!lurl)
        die("out of memory");
    sprintf(lurl, "%s/large", url);
    lib_side lib = {0};
    base_side b = {0};
    summary ours, theirs;
    int rc = 1;
    if (lib_open(&lib, lurl) != 0 || base_open(&b, lurl) != 0)
        goto out;
    bench_alloc_reset_peak();
    long long live0 = bench_alloc_now().live;
    if (lib_call(&lib, &ours) != 0)
        goto out;
    double peak_lib = (double)(bench_alloc_now().peak - live0);
    bench_alloc_reset_peak();
    live0 = bench_alloc_now().live;
    xfer *x = &b.x[0];
    if (curl_easy_perform(x->h) != CURLE_OK || base_parse(x->buf, x->len, &theirs) != 0 ||
        !same(&ours, &theirs)) {
        fprintf(stderr, "large answer: the sides read different answers\n");
        goto out;
    }
    double peak_base = (double)(bench_alloc_now().peak - live0);
    printf("largest answer (%.2f MiB body, %.2f MiB text): peak heap %.2f MiB (library), "
           "%.2f MiB (libcurl + jansson)\n",
           (double)x->len / 1048576.0, (double)ours.text_len / 1048576.0, peak_lib / 1048576.0,
           peak_base / 1048576.0);
    table_row("peak heap of one call reading the largest answer (8 MiB)", "MiB",
              peak_lib / 1048576.0, peak_base / 1048576.0, NULL, 0, "-");
    rc = 0;
out:
    base_close(&b);
    lib_close(&lib);
    free(lurl);
    return rc;
}

/* ---------------------------------------------------------------- soak */

/*
 * soak calls through one client, as a blocking call and a round of eight members in turn,
 * every answer checked; the RSS after the first tenth (every cache and pool warm) against
 * the RSS at the end, sampled each tenth: a library that keeps something per call grows.
 */
static int soak(const char *url, long total)
{
    lib_side lib = {0};
    summary expect, got;
    if (lib_open(&lib, url) != 0 || lib_call(&lib, &expect) != 0)
        return 1;
    const char *members[8];
    for (size_t m = 0; m < 8; m++)
        members[m] = BENCH_MODEL;
    long done = 0, warm = -1, last = -1, peak = 0, next_sample = total / 10;
    printf("soak: %ld calls, a blocking call and a round of 8 in turn; RSS KiB:", total);
    while (done < total) {
        if (lib_call(&lib, &got) != 0 || !same(&got, &expect))
            return 1;
        ulm_round *round = NULL;
        if (ulm_round_run(&round, lib.client, lib.req, members, 8, NULL) != ULM_OK)
            return 1;
        for (size_t m = 0; m < 8; m++) {
            lib_summary(ulm_round_member(round, m), &got);
            if (!same(&got, &expect))
                return 1;
        }
        ulm_round_free(round);
        done += 9;
        if (done >= next_sample) {
            last = rss_kib();
            printf(" %ld", last);
            if (warm < 0)
                warm = last;
            if (last > peak)
                peak = last;
            next_sample += total / 10;
        }
    }
    printf("\n");
    lib_close(&lib);
    char metric[96];
    snprintf(metric, sizeof metric, "RSS after %ld calls (soak) vs after the first tenth", total);
    table_row(metric, "KiB", (double)last, (double)warm, NULL, 0, "flat");
    snprintf(metric, sizeof metric, "peak RSS over %ld calls (soak) vs after the first tenth", total);
    table_row(metric, "KiB", (double)peak, (double)warm, NULL, 0, "flat");
    return 0;
}

/* ---------------------------------------------------------------- overload */

/*
 * A backend that lets OVERLOAD_IN_FLIGHT requests in at once and queues OVERLOAD_QUEUE
 * more, against the server that answers after OVERLOAD_SERVICE_MS. A wave starts
 * OVERLOAD_CALLS threads, each making one call: the first in-flight + queue of them
 * OVERLOAD_STAGGER_MS apart (all inside the first service time, so each joins the queue
 * behind the one before), the rest together after them, when the queue is full. Each wave
 * should answer the first ones in the order they came, a batch per service time, and
 * refuse the rest with ULM_EBUSY at once; the heap in use after each wave should not grow.
 */
#define OVERLOAD_IN_FLIGHT 8
#define OVERLOAD_QUEUE 32
#define OVERLOAD_CALLS 64
#define OVERLOAD_STAGGER_MS 5.0
#define OVERLOAD_SERVICE_MS 500.0

typedef struct overload_call {
    ulm_client *client;
    ulm_request *req;
    const summary *expect;
    double start_at, submitted, ended; /* monotonic ms */
    int rc, wrong;
} overload_call;

static double now_ms_mono(void)
{
    return now_us(CLOCK_MONOTONIC) / 1000.0;
}

static void *overload_thread(void *arg)
{
    overload_call *k = arg;
    long long ns = (long long)(k->start_at * 1e6);
    struct timespec at = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
        ;
    ulm_response *resp = NULL;
    k->submitted = now_ms_mono();
    k->rc = ulm_complete(&resp, k->client, k->req);
    k->ended = now_ms_mono();
    if (k->rc == ULM_OK) {
        summary got;
        lib_summary(resp, &got);
        k->wrong = !same(&got, k->expect);
    }
    ulm_response_free(resp);
    return NULL;
}

static int overload(const char *url, long waves)
{
    char config[1024];
    snprintf(config, sizeof config,
             "{\"backends\": {\"limited\": {\"type\": \"dmr\", \"url\": \"%s/slow\","
             " \"max_in_flight\": %d, \"max_queue\": %d}}}",
             url, OVERLOAD_IN_FLIGHT, OVERLOAD_QUEUE);
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.ignore_environment = 1;
    opts.model_runner_url = url;
    opts.config_json = config;
    opts.max_idle_connections = OVERLOAD_CALLS;
    ulm_client *client = NULL;
    ulm_request *req = NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(&client, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "overload: ulm_client_new: %s\n", err);
        return 1;
    }
    lib_side plain = {0};
    summary expect;
    if (lib_open(&plain, url) != 0 || lib_call(&plain, &expect) != 0)
        return 1;
    lib_close(&plain);
    if (ulm_request_new(&req) != ULM_OK || ulm_request_add_model(req, "limited/ai/smollm2") ||
        ulm_request_add_message(req, ULM_ROLE_USER, PROMPT) ||
        ulm_request_set_max_tokens(req, MAX_TOKENS))
        return 1;
    const long queued = OVERLOAD_IN_FLIGHT + OVERLOAD_QUEUE, beyond = OVERLOAD_CALLS - queued;
    long refused = 0, inversions = 0, failed = 0;
    long long heap_first = 0, heap_last = 0;
    double refuse_ms[64 * OVERLOAD_CALLS];
    size_t nrefuse = 0;
    if (waves > 64)
        waves = 64;
    overload_call calls[OVERLOAD_CALLS];
    pthread_t threads[OVERLOAD_CALLS];
    for (long w = 0; w < waves; w++) {
        double t0 = now_ms_mono() + 50.0; /* time for every thread to start */
        for (long i = 0; i < OVERLOAD_CALLS; i++) {
            double offset = i < queued ? (double)i * OVERLOAD_STAGGER_MS
                                       : (double)queued * OVERLOAD_STAGGER_MS + 50.0;
            calls[i] = (overload_call){.client = client, .req = req, .expect = &expect,
                                       .start_at = t0 + offset};
            if (pthread_create(&threads[i], NULL, overload_thread, &calls[i]) != 0)
                die("pthread_create failed");
        }
        for (long i = 0; i < OVERLOAD_CALLS; i++)
            pthread_join(threads[i], NULL);
        for (long i = 0; i < OVERLOAD_CALLS; i++) {
            const overload_call *k = &calls[i];
            if (k->rc == ULM_EBUSY) {
                refused++;
                refuse_ms[nrefuse++] = k->ended - k->submitted;
            } else if (k->rc != ULM_OK || k->wrong) {
                fprintf(stderr, "overload: call %ld: %s\n", i,
                        k->wrong ? "an unexpected answer" : ulm_error_name(k->rc));
                failed++;
            }
            /* an answer before one that joined the queue earlier, by more than half a
             * service time (the calls of one batch end together) */
            for (long j = 0; j < i; j++)
                inversions += calls[j].rc == ULM_OK && k->rc == ULM_OK &&
                              calls[j].ended > k->ended + OVERLOAD_SERVICE_MS / 2;
        }
        long long live = bench_alloc_now().live;
        if (w == 0)
            heap_first = live;
        heap_last = live;
    }
    ulm_request_free(req);
    ulm_client_free(client);
    printf("overload: %ld waves of %d calls at %d in flight and %d queued: %ld refused with "
           "busy (%ld expected), %ld answered out of order, %ld failed; heap in use %lld "
           "bytes after the first wave, %lld after the last\n",
           waves, OVERLOAD_CALLS, OVERLOAD_IN_FLIGHT, OVERLOAD_QUEUE, refused, beyond * waves,
           inversions, failed, heap_first, heap_last);
    table_row("overload: calls beyond the queue refused with busy, of those expected", "calls",
              (double)refused, (double)(beyond * waves), NULL, 0, "all");
    table_row("overload: queued calls answered before one that came earlier", "calls",
              (double)inversions, 0, NULL, 0, "0");
    table_row("overload: time to refuse a call beyond the queue, p99", "ms",
              nrefuse ? quantile(refuse_ms, nrefuse, 0.99) : 0, 0, NULL, 0, "-");
    table_row("overload: heap in use after the last wave vs after the first", "bytes",
              (double)heap_last, (double)heap_first, NULL, 0, "flat");
    return failed ? 1 : 0;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *to)
{
    fprintf(to, "usage: ulm-bench-load --url http://127.0.0.1:PORT [--levels 1,8,64,256] "
                "[--calls N] [--delay-calls N] [--rounds R] [--no-delay] [--soak N]\n"
                "                      [--overload WAVES]\n"
                "       ulm-bench-load --write-large DIR\n");
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--rss-probe") == 0)
        return rss_probe(argv[2], argv[3]);
    const char *url = NULL;
    long levels[8] = {1, 8, 64, 256};
    size_t nlevels = 4;
    long calls = 2000, delay_calls = 20, rounds = 3, soak_calls = 0, overload_waves = 0;
    int delay = 1;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--write-large") == 0 && value) {
            size_t len;
            char *s = large_answer(&len), path[4096];
            snprintf(path, sizeof path, "%s/large.json", value);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(s, 1, len, f) != len || fclose(f) != 0)
                die("cannot write %s: %s", path, strerror(errno));
            free(s);
            return 0;
        } else if (strcmp(argv[i], "--url") == 0 && value) {
            url = value;
        } else if (strcmp(argv[i], "--levels") == 0 && value) {
            nlevels = 0;
            for (char *p = (char *)value; *p && nlevels < 8;) {
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p || v < 1 || v > MAX_LEVEL ||
                    (v > ULM_ROUND_MAX_MEMBERS && v % ULM_ROUND_MAX_MEMBERS))
                    die("--levels: integers from 1 to %d, above 64 multiples of 64", MAX_LEVEL);
                levels[nlevels++] = v;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',')
                    die("--levels: a comma-separated list");
            }
        } else if (strcmp(argv[i], "--calls") == 0) {
            calls = count_arg("--calls", value, 1);
        } else if (strcmp(argv[i], "--delay-calls") == 0) {
            delay_calls = count_arg("--delay-calls", value, 1);
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rounds = count_arg("--rounds", value, 1);
            if (rounds > 64)
                die("--rounds: at most 64");
        } else if (strcmp(argv[i], "--soak") == 0) {
            soak_calls = count_arg("--soak", value, 10);
        } else if (strcmp(argv[i], "--overload") == 0) {
            overload_waves = count_arg("--overload", value, 1);
            if (overload_waves > 64)
                die("--overload: at most 64 waves");
        } else if (strcmp(argv[i], "--no-delay") == 0) {
            delay = 0;
            continue;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (!url) {
        usage(stderr);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init failed");

    long rss_lib = spawn_probe(argv[0], "lib", url), rss_base = spawn_probe(argv[0], "base", url);
    if (rss_lib < 0 || rss_base < 0) {
        fprintf(stderr, "the RSS probes failed\n");
        return 1;
    }
    printf("RSS after one call: %.1f MiB with a client, %.1f MiB with one libcurl handle\n",
           (double)rss_lib / 1024.0, (double)rss_base / 1024.0);
    table_row("RSS of a process after one call (a client vs one libcurl handle)", "MiB",
              (double)rss_lib / 1024.0, (double)rss_base / 1024.0, NULL, 0, "<= 12");
    if (large(url) != 0)
        return 1;

    int rc = load(url, "fixed-answer", levels, nlevels, calls, 0, rounds, 0);
    if (rc == 0 && delay) {
        char *durl = malloc(strlen(url) + 8);
        if (!durl)
            die("out of memory");
        sprintf(durl, "%s/delay", url);
        rc = load(durl, "50 ms delay", levels, nlevels, delay_calls, 1, rounds, 1);
        free(durl);
    }
    if (rc == 0 && delay && streamed(url, levels, nlevels, delay_calls, rounds) != 0) {
        fprintf(stderr, "streamed: a call failed or read an unexpected answer\n");
        rc = 1;
    }
    if (rc == 0 && overload_waves && delay && overload(url, overload_waves) != 0) {
        fprintf(stderr, "overload: a call failed or read an unexpected answer\n");
        rc = 1;
    }
    if (rc == 0 && soak_calls && soak(url, soak_calls) != 0) {
        fprintf(stderr, "soak: a call failed or read an unexpected answer\n");
        rc = 1;
    }
    curl_global_cleanup();
    return rc;
}
