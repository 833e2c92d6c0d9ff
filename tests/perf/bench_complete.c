/*
 * bench_complete.c - measures the CPU that ulm_complete() costs per request next to the
 * same request made with plain libcurl + jansson, against one loopback HTTP server.
 *
 * Usage: ulm-bench-complete --url http://127.0.0.1:PORT [--requests N] [--warmup W]
 *                           [--rounds R]
 *
 * --url is a Docker Model Runner base URL, as MODEL_RUNNER_URL takes it: both sides POST
 * to <url>/engines/v1/chat/completions. run-bench.sh starts an nginx that answers there.
 *
 * Output: per side, CPU microseconds per request over all timed blocks (process CPU
 * time, user + system), the same for the least disturbed block, and wall microseconds
 * per request; heap allocations and bytes per request (every allocation in the
 * process, libcurl's and jansson's included: bench_alloc.h); then "ratio: X.XX", library
 * CPU over baseline CPU, and the same numbers as "@row" lines for tests/perf/run, whose
 * ratios are the median of the rounds' ratios.
 *
 * Exit status: 0 when every request succeeded (whatever the ratio: it is a number to
 * report, not a test), 1 when a request failed or the two sides read different answers,
 * 2 on a usage or setup error.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ultrallm/ultrallm.h>

#define BENCH_NAME "ulm-bench-complete"
#include "bench_alloc.h"
#include "bench_common.h"

#define BENCH_MODEL "dmr/ai/smollm2"
#define WIRE_MODEL "ai/smollm2:latest" /* what the DMR adapter makes of BENCH_MODEL */
#define PROMPT "Say hello in one short sentence."
#define MAX_TOKENS 16
/* The library's defaults for a local backend; the baseline sets the same so that curl
 * arms the same timers on both sides. */
#define TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 10000L

/* What a side read from one answer: enough to prove both parsed the same thing, and a
 * use of every parsed field so that no parsing work can be skipped. */
typedef struct summary {
    size_t text_len;
    uint32_t text_hash;
    int finish; /* an ulm_finish_reason */
    long prompt_tokens, completion_tokens, total_tokens;
} summary;

/* One way of making the request: the library, or the hand-written baseline. */
typedef struct side {
    const char *name;
    int (*one)(void *ctx, summary *out); /* 0 on success, else prints why */
    void *ctx;
    double cpu_us, wall_us;              /* summed over all timed blocks */
    double best_block_cpu_us_per_req;    /* the least disturbed block */
    double *block_cpu_us_per_req;        /* per round, for the rounds' ratios */
    long long allocs, alloc_bytes;       /* summed over all timed blocks */
    long done;
} side;

static uint32_t fnv1a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static double elapsed_us(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e6 + (double)(b->tv_nsec - a->tv_nsec) / 1e3;
}

/* ---------------------------------------------------------------- library side */

typedef struct lib_ctx {
    ulm_client *client;
    ulm_request *req;
} lib_ctx;

static int lib_one(void *ctx, summary *out)
{
    lib_ctx *l = ctx;
    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, l->client, l->req);
    if (rc != ULM_OK) {
        fprintf(stderr, "ulm_complete: %s (%s)\n", ulm_error_name(rc),
                resp ? ulm_response_error_message(resp) : "no response");
        ulm_response_free(resp);
        return -1;
    }
    const char *text = ulm_response_text(resp);
    out->text_len = ulm_response_text_length(resp);
    out->text_hash = fnv1a(text, out->text_len);
    out->finish = ulm_response_finish_reason(resp);
    out->prompt_tokens = ulm_response_prompt_tokens(resp);
    out->completion_tokens = ulm_response_completion_tokens(resp);
    out->total_tokens = ulm_response_total_tokens(resp);
    ulm_response_free(resp);
    return 0;
}

static int lib_open(lib_ctx *l, const char *url)
{
    char err[ULM_ERROR_SIZE];
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.ignore_environment = 1; /* a stray OPENAI_API_KEY or MODEL_RUNNER_URL must not count */
    opts.model_runner_url = url;
    int rc = ulm_client_new(&l->client, &opts, err, sizeof err);
    if (rc != ULM_OK) {
        fprintf(stderr, "ulm_client_new: %s\n", err);
        return -1;
    }
    if ((rc = ulm_request_new(&l->req)) != ULM_OK ||
        (rc = ulm_request_add_model(l->req, BENCH_MODEL)) != ULM_OK ||
        (rc = ulm_request_add_message(l->req, ULM_ROLE_USER, PROMPT)) != ULM_OK ||
        (rc = ulm_request_set_max_tokens(l->req, MAX_TOKENS)) != ULM_OK) {
        fprintf(stderr, "building the request: %s\n", ulm_strerror(rc));
        return -1;
    }
    return 0;
}

static void lib_close(lib_ctx *l)
{
    ulm_request_free(l->req);
    ulm_client_free(l->client);
}

/* ---------------------------------------------------------------- baseline side */

/*
 * What a careful hand-written client does: one easy handle whose options are set once,
 * the body serialized once, a receive buffer that is reused, and the same fields read
 * from the answer with the same type checks as the library's OpenAI parser.
 */
typedef struct base_ctx {
    CURL *curl;
    struct curl_slist *headers;
    char *body;
    char *buf;
    size_t len, cap;
    int out_of_memory;
} base_ctx;

static size_t base_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    base_ctx *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->buf, cap);
        if (!grown) {
            b->out_of_memory = 1;
            return 0;
        }
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    return n;
}

static int base_parse(const char *body, size_t len, summary *out)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *message = json_object_get(choice, "message");
    json_t *content = json_object_get(message, "content");
    if (!json_is_object(root) || !json_is_object(choice) || !json_is_object(message) ||
        (content && !json_is_string(content) && !json_is_null(content))) {
        fprintf(stderr, "baseline: the answer is not a chat completion\n");
        json_decref(root);
        return -1;
    }
    const char *text = json_is_string(content) ? json_string_value(content) : "";
    out->text_len = json_is_string(content) ? json_string_length(content) : 0;
    out->text_hash = fnv1a(text, out->text_len);
    out->finish = finish_code(json_string_value(json_object_get(choice, "finish_reason")));
    json_t *usage = json_object_get(root, "usage");
    out->prompt_tokens = usage_count(usage, "prompt_tokens");
    out->completion_tokens = usage_count(usage, "completion_tokens");
    out->total_tokens = usage_count(usage, "total_tokens");
    json_decref(root);
    return 0;
}

static int base_one(void *ctx, summary *out)
{
    base_ctx *b = ctx;
    b->len = 0;
    CURLcode code = curl_easy_perform(b->curl);
    if (code != CURLE_OK) {
        fprintf(stderr, "baseline: %s\n",
                b->out_of_memory ? "out of memory" : curl_easy_strerror(code));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        fprintf(stderr, "baseline: HTTP %ld\n", status);
        return -1;
    }
    return base_parse(b->buf ? b->buf : "", b->len, out);
}

/* The body exactly as the library's OpenAI wire builder makes it, key order included. */
static char *base_body(void)
{
    json_t *body = json_object();
    json_t *messages = json_array();
    json_t *m = json_pack("{s:s, s:s}", "role", "user", "content", PROMPT);
    char *text = NULL;
    if (body && messages && m && json_array_append_new(messages, m) == 0 &&
        json_object_set_new(body, "model", json_string(WIRE_MODEL)) == 0 &&
        json_object_set(body, "messages", messages) == 0 &&
        json_object_set_new(body, "max_tokens", json_integer(MAX_TOKENS)) == 0)
        text = json_dumps(body, JSON_COMPACT);
    json_decref(messages);
    json_decref(body);
    return text;
}

static int base_open(base_ctx *b, const char *url)
{
    /* the library strips trailing slashes from the base URL; so must we, to hit the
     * same location */
    size_t len = strlen(url);
    while (len && url[len - 1] == '/')
        len--;
    static const char path[] = "/engines/v1/chat/completions";
    char *full = malloc(len + sizeof path);
    if (!full)
        return -1;
    memcpy(full, url, len);
    memcpy(full + len, path, sizeof path);

    /* the same header lines the library sends, so nginx does the same work for both */
    const char *lines[] = {"Accept: application/json", "Content-Type: application/json",
                           "Expect:"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *next = curl_slist_append(b->headers, lines[i]);
        if (!next) {
            free(full);
            return -1;
        }
        b->headers = next;
    }
    b->body = base_body();
    b->curl = curl_easy_init();
    if (!b->body || !b->curl) {
        free(full);
        return -1;
    }
    CURL *h = b->curl;
    curl_easy_setopt(h, CURLOPT_URL, full); /* curl copies it */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ultra-llm/" ULM_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, b->headers);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b->body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, base_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    free(full);
    return 0;
}

static void base_close(base_ctx *b)
{
    curl_easy_cleanup(b->curl);
    curl_slist_free_all(b->headers);
    free(b->body);
    free(b->buf);
}

/* ---------------------------------------------------------------- timing */

static int same(const summary *a, const summary *b)
{
    return a->text_len == b->text_len && a->text_hash == b->text_hash &&
           a->finish == b->finish && a->prompt_tokens == b->prompt_tokens &&
           a->completion_tokens == b->completion_tokens && a->total_tokens == b->total_tokens;
}

/* Runs n requests, each checked against the answer both sides agreed on at the start. */
static int run_requests(side *s, long n, const summary *expected)
{
    for (long i = 0; i < n; i++) {
        summary got;
        if (s->one(s->ctx, &got) != 0)
            return -1;
        if (!same(&got, expected)) {
            fprintf(stderr, "%s: the answer differs from the first one\n", s->name);
            return -1;
        }
    }
    return 0;
}

static int timed_block(side *s, long round, long n, const summary *expected)
{
    struct timespec c0, c1, w0, w1;
    alloc_counts a0 = bench_alloc_now();
    clock_gettime(CLOCK_MONOTONIC, &w0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    int rc = run_requests(s, n, expected);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    alloc_counts a1 = bench_alloc_now();
    if (rc != 0)
        return rc;
    double cpu = elapsed_us(&c0, &c1);
    s->allocs += a1.calls - a0.calls;
    s->alloc_bytes += a1.bytes - a0.bytes;
    s->block_cpu_us_per_req[round] = cpu / (double)n;
    s->cpu_us += cpu;
    s->wall_us += elapsed_us(&w0, &w1);
    s->done += n;
    if (s->best_block_cpu_us_per_req == 0 || cpu / (double)n < s->best_block_cpu_us_per_req)
        s->best_block_cpu_us_per_req = cpu / (double)n;
    return 0;
}

/* ---------------------------------------------------------------- main */

static int parse_count(const char *flag, const char *value, long min, long *out)
{
    char *end;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || *end || v < min) {
        fprintf(stderr, "%s: expects an integer >= %ld\n", flag, min);
        return -1;
    }
    *out = v;
    return 0;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: ulm-bench-complete --url http://127.0.0.1:PORT [--requests N] "
                "[--warmup W] [--rounds R]\n");
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    long requests = 2000, warmup = 100, rounds = 20;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(argv[i], "--url") == 0 && value)
            url = value;
        else if (strcmp(argv[i], "--requests") == 0)
            rc = parse_count("--requests", value, 1, &requests);
        else if (strcmp(argv[i], "--warmup") == 0)
            rc = parse_count("--warmup", value, 0, &warmup);
        else if (strcmp(argv[i], "--rounds") == 0)
            rc = parse_count("--rounds", value, 1, &rounds);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
        if (rc != 0)
            return 2;
        i++; /* every flag takes a value */
    }
    if (!url) {
        usage(stderr);
        return 2;
    }
    if (rounds > requests)
        rounds = requests;

    /* the library initializes curl globally on its own; the baseline needs it too, and
     * doing it first keeps that one-time cost out of both measurements */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "curl_global_init failed\n");
        return 2;
    }
    int status = 2;
    lib_ctx lib = {0};
    base_ctx base = {0};
    side sides[2] = {{.name = "ulm_complete()", .one = lib_one, .ctx = &lib},
                     {.name = "libcurl+jansson", .one = base_one, .ctx = &base}};
    summary expected, other;
    double *block_cpu = calloc(2 * (size_t)rounds, sizeof *block_cpu);
    double *ratios = calloc((size_t)rounds, sizeof *ratios);
    if (!block_cpu || !ratios) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    sides[0].block_cpu_us_per_req = block_cpu;
    sides[1].block_cpu_us_per_req = block_cpu + rounds;
    if (lib_open(&lib, url) != 0 || base_open(&base, url) != 0) {
        fprintf(stderr, "setup failed\n");
        goto out;
    }

    status = 1;
    /* both sides must read the same answer, else the comparison means nothing */
    if (sides[0].one(sides[0].ctx, &expected) != 0 || sides[1].one(sides[1].ctx, &other) != 0)
        goto out;
    if (!same(&expected, &other)) {
        fprintf(stderr, "the library and the baseline read different answers\n");
        goto out;
    }
    /* warm-up opens each side's kept-alive connection and warms allocator and caches */
    for (int s = 0; s < 2; s++)
        if (run_requests(&sides[s], warmup, &expected) != 0)
            goto out;

    /* Blocks alternate between the sides, and which goes first alternates each round
     * (ABBA), so that frequency scaling, noise and drift fall on both equally. */
    for (long r = 0; r < rounds; r++) {
        long n = requests / rounds + (r < requests % rounds ? 1 : 0);
        for (int k = 0; k < 2; k++) {
            side *s = &sides[(r & 1) ^ k];
            if (timed_block(s, r, n, &expected) != 0)
                goto out;
        }
    }

    double cpu[2], wall[2];
    for (int s = 0; s < 2; s++) {
        cpu[s] = sides[s].cpu_us / (double)sides[s].done;
        wall[s] = sides[s].wall_us / (double)sides[s].done;
    }
    printf("ulm-bench-complete: %ld requests per side in %ld rounds, %ld warm-up, %s\n",
           requests, rounds, warmup, url);
    printf("  %-18s %12s %12s %12s\n", "", "CPU us/req", "best block", "wall us/req");
    for (int s = 0; s < 2; s++)
        printf("  %-18s %12.1f %12.1f %12.1f\n", sides[s].name, cpu[s],
               sides[s].best_block_cpu_us_per_req, wall[s]);
    printf("  %-18s %12.2f %12.2f %12.2f\n", "ratio lib/base", cpu[0] / cpu[1],
           sides[0].best_block_cpu_us_per_req / sides[1].best_block_cpu_us_per_req,
           wall[0] / wall[1]);
    double allocs[2], alloc_bytes[2];
    for (int s = 0; s < 2; s++) {
        allocs[s] = (double)sides[s].allocs / (double)sides[s].done;
        alloc_bytes[s] = (double)sides[s].alloc_bytes / (double)sides[s].done;
    }
    printf("  %-18s %12s %12s\n", "", "allocs/req", "bytes/req");
    for (int s = 0; s < 2; s++)
        printf("  %-18s %12.1f %12.0f\n", sides[s].name, allocs[s], alloc_bytes[s]);
    printf("ratio: %.2f\n", cpu[0] / cpu[1]);
    for (long r = 0; r < rounds; r++)
        ratios[r] = block_cpu[r] / block_cpu[rounds + r];
    table_row("sequential ulm_complete(), CPU per call", "us", cpu[0], cpu[1], ratios,
              (size_t)rounds, "<= 1.3");
    table_row("sequential, heap allocations per call", "allocs", allocs[0], allocs[1], NULL, 0,
              "-");
    table_row("sequential, heap bytes allocated per call", "bytes", alloc_bytes[0],
              alloc_bytes[1], NULL, 0, "-");
    status = 0;
out:
    free(block_cpu);
    free(ratios);
    base_close(&base);
    lib_close(&lib);
    curl_global_cleanup();
    return status;
}
