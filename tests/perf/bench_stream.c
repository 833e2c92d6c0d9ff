/*
 * bench_stream.c - how fast the library reads a streamed answer, and how much it adds to
 * the time to the first token, each next to a hand-written libcurl + jansson client
 * measured in the same run.
 *
 * Usage:
 *   ulm-bench-stream [--events N] [--rounds R]
 *       in memory only
 *   ulm-bench-stream --url http://127.0.0.1:PORT [--events N] [--rounds R]
 *                    [--loop-rounds L] [--requests N] [--only memory|loopback|ttft]
 *       in memory, then over loopback (run-bench.sh --stream sets up the server);
 *       --only runs one of the three parts
 *   ulm-bench-stream --write-stream DIR [--events N]
 *       writes DIR/long.sse (N content deltas) and DIR/short.sse (16), then exits;
 *       other options are accepted and ignored, so a script can pass the same ones
 *   ulm-bench-stream --profile VARIANT [--chunk BYTES] [--events N] [--rounds R]
 *       runs one in-memory variant (framer, adapter, core, memchr or baseline) R times, for
 *       valgrind --tool=callgrind or perf; prints only its MiB/s
 *
 * The stream is a generated OpenAI chat.completion.chunk stream as a chat completion
 * with stream_options.include_usage sends it: a role chunk, N content deltas of 3-8
 * bytes of text (words, punctuation, escapes, non-ASCII), a finish_reason chunk, a usage
 * chunk and data: [DONE]. The same seed gives the same bytes every time.
 *
 * 1. In memory (process CPU time, median of R rounds, each variant once per round in
 *    rotating order), fed in 16 KiB chunks (curl's receive buffer) and in 7-byte chunks
 *    (the worst case: nearly every line spans chunks):
 *      framer alone    ulm__sse_feed with an emit that counts events
 *      framer+adapter  ulm__sse_feed + ulm__openai_parse_event into a ulm_result
 *      core path       ulm__stream_on_body: the above plus what stream.c adds per
 *                      event (clocks, [DONE], the size cap, delivery to on_delta)
 *      memchr pass     memchr for every line end, counting the blank lines: the
 *                      ceiling of any parser that looks at every line
 *      baseline        a memchr line splitter, json_loadb of each data line, the same
 *                      fields read with the same type checks, json_decref
 * 2. Over loopback: POST <url>/long/v1/chat/completions answered with long.sse.
 *    ulm_complete() with on_delta on an "openai" client whose base URL is <url>/long/v1,
 *    against one libcurl easy handle whose write callback runs the baseline parser;
 *    median over L requests a side, as wall time and as this process's CPU time.
 * 3. Time to first token: POST <url>/short/v1/chat/completions answered with short.sse,
 *    whose first content delta comes in the first bytes. Per request, the wall time from
 *    calling ulm_complete() to the first on_delta call, against the time from calling
 *    curl_easy_perform() to the first content parsed in the write callback; N requests a
 *    side, alternating, each side on its own kept-alive connection.
 *
 * Ratios are time over time, library / baseline: below 1 the library is faster. Each is
 * the median of the ratios of runs made next to each other (a round, a pair of
 * requests), so that what disturbs a stretch of the run falls on both sides.
 * Defaults: --events 20000 --rounds 15 --loop-rounds 20 --requests 2000.
 *
 * Exit status: 0 when every run read the expected answer (whatever the numbers), 1 when
 * a run failed or read something else, 2 on a usage or setup error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BENCH_NAME "ulm-bench-stream"
#include "bench_common.h"
#include "bench_text.h"
#include "builtin.h"
#include "client.h"
#include "openai_wire.h"
#include "sse.h"
#include "stream.h"

#define MIB (1024.0 * 1024.0)
#define SHORT_EVENTS 16
#define TTFT_WARMUP 20
#define PROMPT_TOKENS 42
/* the client's defaults for the framer's caps (max_event_line_bytes, max_event_bytes) */
#define MAX_LINE (1024 * 1024)
#define MAX_EVENT (4 * 1024 * 1024)
#define API_KEY "bench-key"
#define PROMPT "Write a long story about a streaming parser."
/* the body the library's OpenAI builder makes for this request, for the baseline */
#define WIRE_BODY                                                                  \
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"" PROMPT \
    "\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}"

/* What a reader made of a stream: enough to prove every side parsed the same thing. */
typedef struct summary {
    size_t events; /* the framer alone counts events; the others fill the rest */
    size_t text_len;
    uint32_t text_hash;
    int finish;
    long prompt_tokens, completion_tokens, total_tokens;
} summary;

static uint32_t fnv1a(uint32_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}
#define FNV_START 2166136261u

/* Nearest rank; sorts v in place. */
static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    return v[rank ? rank - 1 : 0];
}

/* ---------------------------------------------------------------- the stream */

/* The part every chunk shares, as gpt-4o-mini sends it. */
#define CHUNK_HEAD                                                                       \
    "data: {\"id\":\"chatcmpl-BENCHq8CjcvOU2jLn4n570S5qMJK\",\"object\":\"chat.completion." \
    "chunk\",\"created\":1741570283,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":" \
    "\"default\",\"system_fingerprint\":\"fp_06737a9306\",\"choices\":["

/* Writes a stream of n content deltas into b, and what a reader must make of it. */
static void make_stream(sbuf *b, size_t n, summary *expect)
{
    uint32_t x = BENCH_TOKEN_SEED;
    uint32_t hash = FNV_START;
    size_t text_len = 0;
    sb_str(b, CHUNK_HEAD "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                         "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],"
                         "\"usage\":null}\n\n");
    for (size_t i = 0; i < n; i++) {
        const char *tok = next_token(&x);
        sb_str(b, CHUNK_HEAD "{\"index\":0,\"delta\":{\"content\":");
        json_string_into(b, tok);
        sb_str(b, "},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
        hash = fnv1a(hash, tok, strlen(tok));
        text_len += strlen(tok);
    }
    sb_str(b, CHUNK_HEAD "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"
                         "\"stop\"}],\"usage\":null}\n\n");
    char usage[512];
    snprintf(usage, sizeof usage,
             CHUNK_HEAD "],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%zu,"
                        "\"total_tokens\":%zu,\"prompt_tokens_details\":{\"cached_tokens\":0,"
                        "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_"
                        "tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
                        "\"rejected_prediction_tokens\":0}}}\n\n",
             PROMPT_TOKENS, n, PROMPT_TOKENS + n);
    sb_str(b, usage);
    sb_str(b, "data: [DONE]\n\n");
    *expect = (summary){
        .events = n + 4,
        .text_len = text_len,
        .text_hash = hash,
        .finish = ULM_FINISH_STOP,
        .prompt_tokens = PROMPT_TOKENS,
        .completion_tokens = (long)n,
        .total_tokens = PROMPT_TOKENS + (long)n,
    };
}

/* ---------------------------------------------------------------- the baseline parser */

/*
 * What a careful hand-written client does with the bytes curl hands it: split lines
 * with memchr, copying only a line that spans two chunks; parse each "data:" line with
 * jansson; read the fields the library reads, with the same type checks. It assumes
 * what OpenAI sends, one data line per event and LF line ends, where the library's
 * framer implements the whole SSE grammar (CR, CRLF, multi-line data, comments).
 */
typedef struct base_parser {
    char *carry; /* a line that began in an earlier chunk */
    size_t carry_len, carry_cap;
    char *text;
    size_t text_len, text_cap;
    char *model;
    int finish, done, failed;
    long prompt_tokens, completion_tokens, total_tokens;
    size_t events;
    double first_at; /* wall us of the first content, when first_wanted */
    int first_wanted;
} base_parser;

static void base_reset(base_parser *b)
{
    b->carry_len = b->text_len = 0;
    free(b->model);
    b->model = NULL;
    b->finish = ULM_FINISH_UNKNOWN;
    b->done = b->failed = 0;
    b->prompt_tokens = b->completion_tokens = b->total_tokens = -1;
    b->events = 0;
    b->first_at = 0;
}

static void base_free(base_parser *b)
{
    free(b->carry);
    free(b->text);
    free(b->model);
}

static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    char *g = realloc(*p, c);
    if (!g)
        return -1;
    *p = g;
    *cap = c;
    return 0;
}

static int base_event(base_parser *b, const char *data, size_t len)
{
    b->events++;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        b->done = 1;
        return 0;
    }
    if (b->done)
        return 0;
    json_t *root = json_loadb(data, len, 0, NULL);
    if (!json_is_object(root) || json_is_object(json_object_get(root, "error"))) {
        json_decref(root);
        return -1;
    }
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *content = json_object_get(json_object_get(choice, "delta"), "content");
    size_t n = json_string_length(content);
    const char *text = json_string_value(content);
    int rc = 0;
    if (text && n) {
        if (grow(&b->text, &b->text_cap, b->text_len + n + 1) != 0) {
            rc = -1;
        } else {
            memcpy(b->text + b->text_len, text, n);
            b->text_len += n;
            b->text[b->text_len] = '\0';
            if (b->first_wanted && !b->first_at)
                b->first_at = now_us(CLOCK_MONOTONIC);
        }
    }
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    if (finish)
        b->finish = finish_code(finish);
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        long p = usage_count(usage, "prompt_tokens"), c = usage_count(usage, "completion_tokens"),
             t = usage_count(usage, "total_tokens");
        if (p >= 0)
            b->prompt_tokens = p;
        if (c >= 0)
            b->completion_tokens = c;
        if (t >= 0)
            b->total_tokens = t;
    }
    const char *model = json_string_value(json_object_get(root, "model"));
    if (model && !b->model && !(b->model = strdup(model)))
        rc = -1;
    json_decref(root);
    return rc;
}

static int base_line(base_parser *b, const char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len < 5 || memcmp(line, "data:", 5) != 0)
        return 0; /* the blank line between events, comments, other fields */
    line += 5, len -= 5;
    if (len && *line == ' ')
        line++, len--;
    return base_event(b, line, len);
}

static int base_feed(base_parser *b, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        if (!nl || b->carry_len) {
            if (grow(&b->carry, &b->carry_cap, b->carry_len + len + 1) != 0)
                return -1;
            memcpy(b->carry + b->carry_len, p, len);
            b->carry_len += len;
            if (!nl)
                return 0;
        }
        int rc = b->carry_len ? base_line(b, b->carry, b->carry_len) : base_line(b, p, len);
        b->carry_len = 0;
        if (rc != 0)
            return rc;
        p = nl + 1;
        n -= len + 1;
    }
    return 0;
}

static void base_summary(const base_parser *b, summary *out)
{
    *out = (summary){
        .events = b->events,
        .text_len = b->text_len,
        .text_hash = fnv1a(FNV_START, b->text ? b->text : "", b->text_len),
        .finish = b->finish,
        .prompt_tokens = b->prompt_tokens,
        .completion_tokens = b->completion_tokens,
        .total_tokens = b->total_tokens,
    };
}

/* ---------------------------------------------------------------- in memory */

typedef struct memctx {
    const char *stream;
    size_t len, chunk;
    ulm_client *client;        /* for the core path: its settings (the caps) */
    ulm_provider *openai;      /* for the core path: the OpenAI adapter */
    base_parser base;
} memctx;

static void result_summary(const ulm_result *r, size_t events, summary *out)
{
    *out = (summary){
        .events = events,
        .text_len = r->text_len,
        .text_hash = fnv1a(FNV_START, r->text ? r->text : "", r->text_len),
        .finish = r->finish,
        .prompt_tokens = r->prompt_tokens,
        .completion_tokens = r->completion_tokens,
        .total_tokens = r->total_tokens,
    };
}

static int emit_count(void *ctx, const ulm_sse_event *ev)
{
    (void)ev;
    ++*(size_t *)ctx;
    return ULM_OK;
}

static int run_framer(memctx *m, summary *out)
{
    ulm_sse s;
    ulm__sse_init(&s, MAX_LINE, MAX_EVENT);
    size_t events = 0;
    int rc = ULM_OK;
    for (size_t off = 0; rc == ULM_OK && off < m->len; off += m->chunk) {
        size_t n = m->len - off < m->chunk ? m->len - off : m->chunk;
        rc = ulm__sse_feed(&s, m->stream + off, n, emit_count, &events);
    }
    ulm__sse_free(&s);
    *out = (summary){.events = events};
    return rc;
}

/* The ceiling: one memchr pass for the line ends, counting the blank lines that end
 * events, with nothing parsed. */
static int run_memchr(memctx *m, summary *out)
{
    size_t events = 0;
    int after_newline = 0; /* the byte before this chunk was a line end */
    for (size_t off = 0; off < m->len; off += m->chunk) {
        size_t n = m->len - off < m->chunk ? m->len - off : m->chunk;
        const char *p = m->stream + off, *end = p + n;
        for (const char *nl; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
            events += nl == p ? after_newline : nl[-1] == '\n';
            after_newline = 1;
        }
        after_newline = p == end && n && end[-1] == '\n';
    }
    *out = (summary){.events = events};
    return 0;
}

typedef struct adapter_ctx {
    ulm_result r;
    size_t events;
    int done;
} adapter_ctx;

static int emit_adapter(void *ctx, const ulm_sse_event *ev)
{
    adapter_ctx *a = ctx;
    a->events++;
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        a->done = 1; /* the core consumes the end marker itself, as here */
        return ULM_OK;
    }
    int rc = ulm__openai_parse_event(ev, &a->r);
    return rc != ULM_OK ? rc : a->r.error;
}

static int run_adapter(memctx *m, summary *out)
{
    adapter_ctx a = {.events = 0};
    ulm__result_init(&a.r);
    ulm_sse s;
    ulm__sse_init(&s, MAX_LINE, MAX_EVENT);
    int rc = ULM_OK;
    for (size_t off = 0; rc == ULM_OK && off < m->len; off += m->chunk) {
        size_t n = m->len - off < m->chunk ? m->len - off : m->chunk;
        rc = ulm__sse_feed(&s, m->stream + off, n, emit_adapter, &a);
    }
    ulm__sse_free(&s);
    result_summary(&a.r, a.events, out);
    if (rc == ULM_OK && !a.done)
        rc = ULM_EPROTOCOL;
    ulm__result_clear(&a.r);
    return rc;
}

typedef struct delta_count {
    size_t bytes;
    double first_at; /* wall us of the first call, when first_wanted */
    int first_wanted;
} delta_count;

static int on_delta(const char *text, size_t length, void *payload)
{
    (void)text;
    delta_count *d = payload;
    if (d->first_wanted && !d->first_at)
        d->first_at = now_us(CLOCK_MONOTONIC);
    d->bytes += length;
    return 0;
}

static int run_core(memctx *m, summary *out)
{
    ulm_result r;
    ulm__result_init(&r);
    ulm_clocks clocks = {.deadline = 0};
    delta_count d = {.bytes = 0};
    const ulm_settings *s = &m->client->settings;
    ulm_stream_setup setup = {.provider = m->openai, .result = &r, .clocks = &clocks,
                              .on_delta = on_delta, .payload = &d,
                              .max_text = s->max_response_bytes,
                              .max_line = s->max_event_line_bytes,
                              .max_event = s->max_event_bytes};
    ulm_stream st;
    ulm__stream_init(&st, &setup);
    char type[] = "text/event-stream";
    ulm_http_response resp = {.status = 200, .content_type = type};
    int rc = ULM_OK;
    for (size_t off = 0; rc == ULM_OK && off < m->len; off += m->chunk) {
        size_t n = m->len - off < m->chunk ? m->len - off : m->chunk;
        rc = ulm__stream_on_body(&st, &resp, m->stream + off, n);
    }
    if (rc == ULM_OK)
        rc = ulm__stream_finish(&st, &resp);
    result_summary(&r, 0, out);
    if (rc == ULM_OK && d.bytes != r.text_len)
        rc = ULM_EPROTOCOL;
    ulm__stream_free(&st);
    ulm__result_clear(&r);
    return rc;
}

static int run_baseline(memctx *m, summary *out)
{
    base_reset(&m->base);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < m->len; off += m->chunk) {
        size_t n = m->len - off < m->chunk ? m->len - off : m->chunk;
        rc = base_feed(&m->base, m->stream + off, n);
    }
    base_summary(&m->base, out);
    return rc == 0 && m->base.done ? 0 : -1;
}

typedef struct variant {
    const char *key, *label;
    int (*run)(memctx *m, summary *out);
    int events_only; /* the framer alone checks the event count, nothing else */
} variant;

static const variant variants[] = {
    {"framer", "framer alone (no-op emit)", run_framer, 1},
    {"adapter", "framer + OpenAI adapter", run_adapter, 0},
    {"core", "core path (+ stream.c)", run_core, 0},
    {"memchr", "memchr pass (no parsing)", run_memchr, 1},
    {"baseline", "baseline memchr+jansson", run_baseline, 0},
};
#define VARIANTS (sizeof variants / sizeof variants[0])
#define BASELINE (VARIANTS - 1)

static int same(const summary *a, const summary *b, int events_only)
{
    if (events_only)
        return a->events == b->events;
    return a->text_len == b->text_len && a->text_hash == b->text_hash &&
           a->finish == b->finish && a->prompt_tokens == b->prompt_tokens &&
           a->completion_tokens == b->completion_tokens && a->total_tokens == b->total_tokens;
}

/* One checked pass; returns its CPU microseconds, or -1. */
static double timed_pass(const variant *v, memctx *m, const summary *expect)
{
    summary got;
    double c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    int rc = v->run(m, &got);
    double c1 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    if (rc != 0 || !same(&got, expect, v->events_only)) {
        fprintf(stderr, "%s, %zu-byte chunks: %s\n", v->label, m->chunk,
                rc != 0 ? "failed" : "read something else than the stream holds");
        return -1;
    }
    return c1 - c0;
}

static int in_memory(memctx *m, const summary *expect, long rounds)
{
    static const size_t chunks[] = {16384, 7};
    double mibs[2][VARIANTS], ratio[2][VARIANTS];
    size_t n = (size_t)rounds;
    double *core_ratios = malloc(2 * n * sizeof *core_ratios); /* for the table's spread */
    double *us = malloc(n * VARIANTS * sizeof *us), *v = malloc(n * sizeof *v);
    if (!us || !v || !core_ratios)
        die("out of memory");
    int rc = 0;
    for (size_t c = 0; c < 2 && rc == 0; c++) {
        m->chunk = chunks[c];
        for (size_t k = 0; k < VARIANTS && rc == 0; k++) /* warm-up, and the first check */
            rc = timed_pass(&variants[k], m, expect) < 0 ? -1 : 0;
        for (size_t r = 0; r < n && rc == 0; r++)
            for (size_t k = 0; k < VARIANTS && rc == 0; k++) {
                size_t i = (r + k) % VARIANTS; /* who goes first rotates */
                us[i * n + r] = timed_pass(&variants[i], m, expect);
                rc = us[i * n + r] < 0 ? -1 : 0;
            }
        for (size_t i = 0; i < VARIANTS && rc == 0; i++) {
            for (size_t r = 0; r < n; r++)
                v[r] = (double)m->len / MIB / (us[i * n + r] / 1e6);
            mibs[c][i] = median(v, n);
            /* each round's ratio to the baseline pass of the same round: what disturbs
             * a stretch of the run falls on both sides of the ratio */
            for (size_t r = 0; r < n; r++)
                v[r] = us[i * n + r] / us[BASELINE * n + r];
            if (strcmp(variants[i].key, "core") == 0)
                memcpy(core_ratios + c * n, v, n * sizeof *v);
            ratio[c][i] = median(v, n);
        }
    }
    free(us);
    free(v);
    if (rc != 0) {
        free(core_ratios);
        return rc;
    }
    printf("in memory: %.2f MiB of SSE, %zu content deltas; MiB/s of process CPU time,\n"
           "median of %ld rounds; time/base: median of the rounds' time ratios\n",
           (double)m->len / MIB, expect->events - 4, rounds);
    printf("  %-28s %18s %18s\n", "", "16 KiB chunks", "7-byte chunks");
    printf("  %-28s %9s %8s %9s %8s\n", "", "MiB/s", "time/base", "MiB/s", "time/base");
    for (size_t i = 0; i < VARIANTS; i++)
        printf("  %-28s %9.1f %8.2f %9.1f %8.2f\n", variants[i].label, mibs[0][i], ratio[0][i],
               mibs[1][i], ratio[1][i]);
    /* the table's ratios are of time, ours over the baseline's: below 1 we are faster;
     * its MiB/s columns are speeds */
    size_t core = 2;
    table_row("OpenAI stream from memory, 16 KiB chunks", "MiB/s",
              mibs[0][core], mibs[0][BASELINE], core_ratios, n, ">= 200 MiB/s");
    table_row("OpenAI stream from memory, 7-byte chunks", "MiB/s", mibs[1][core],
              mibs[1][BASELINE], core_ratios + n, n, "-");
    table_row("SSE framer alone, 16 KiB chunks (the ceiling of a parser)", "MiB/s",
              mibs[0][0], 0, NULL, 0, "-");
    table_row("memchr pass over the stream, 16 KiB chunks (memory bandwidth)", "MiB/s",
              mibs[0][3], 0, NULL, 0, "-");
    free(core_ratios);
    return 0;
}

static int profile(memctx *m, const summary *expect, const char *key, long rounds)
{
    for (size_t v = 0; v < VARIANTS; v++) {
        if (strcmp(variants[v].key, key) != 0)
            continue;
        double total = 0;
        for (long r = 0; r < rounds; r++) {
            double us = timed_pass(&variants[v], m, expect);
            if (us < 0)
                return 1;
            total += us;
        }
        printf("%s, %zu-byte chunks: %.1f MiB/s of CPU time over %ld passes\n",
               variants[v].label, m->chunk, (double)m->len * (double)rounds / MIB / (total / 1e6),
               rounds);
        return 0;
    }
    fprintf(stderr, "--profile: one of framer, adapter, core, memchr, baseline\n");
    return 2;
}

/* ---------------------------------------------------------------- over loopback */

typedef struct lib_side {
    ulm_client *client;
    ulm_request *req;
    delta_count delta;
} lib_side;

typedef struct base_side {
    CURL *curl;
    struct curl_slist *headers;
    base_parser parser;
} base_side;

/* One request on a side: its wall and CPU microseconds and, when first is not NULL,
 * the wall microseconds to the first token. */
typedef struct sample {
    double wall_us, cpu_us, first_us;
} sample;

static int lib_open(lib_side *l, const char *url, const char *path)
{
    char base_url[1100], err[ULM_ERROR_SIZE];
    snprintf(base_url, sizeof base_url, "%s%s", url, path);
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.ignore_environment = 1;
    opts.enable_model_runner = -1;
    opts.openai_api_key = API_KEY;
    opts.openai_base_url = base_url;
    if (ulm_client_new(&l->client, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "ulm_client_new: %s\n", err);
        return -1;
    }
    if (ulm_request_new(&l->req) != ULM_OK ||
        ulm_request_add_model(l->req, "openai/gpt-4o-mini") != ULM_OK ||
        ulm_request_add_message(l->req, ULM_ROLE_USER, PROMPT) != ULM_OK ||
        ulm_request_set_on_delta(l->req, on_delta, &l->delta) != ULM_OK) {
        fprintf(stderr, "building the request failed\n");
        return -1;
    }
    return 0;
}

static void lib_close(lib_side *l)
{
    ulm_request_free(l->req);
    ulm_client_free(l->client);
}

static int lib_one(lib_side *l, const summary *expect, sample *s)
{
    ulm_response *resp = NULL;
    l->delta = (delta_count){.first_wanted = 1};
    double w0 = now_us(CLOCK_MONOTONIC), c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    int rc = ulm_complete(&resp, l->client, l->req);
    double c1 = now_us(CLOCK_PROCESS_CPUTIME_ID), w1 = now_us(CLOCK_MONOTONIC);
    if (rc != ULM_OK) {
        fprintf(stderr, "ulm_complete: %s (%s)\n", ulm_error_name(rc),
                resp ? ulm_response_error_message(resp) : "no response");
        ulm_response_free(resp);
        return -1;
    }
    size_t len = ulm_response_text_length(resp);
    summary got = {
        .text_len = len,
        .text_hash = fnv1a(FNV_START, ulm_response_text(resp), len),
        .finish = ulm_response_finish_reason(resp),
        .prompt_tokens = ulm_response_prompt_tokens(resp),
        .completion_tokens = ulm_response_completion_tokens(resp),
        .total_tokens = ulm_response_total_tokens(resp),
    };
    ulm_response_free(resp);
    if (!same(&got, expect, 0) || l->delta.bytes != len) {
        fprintf(stderr, "ulm_complete read something else than the stream holds "
                        "(was the server's stream written with other --events?)\n");
        return -1;
    }
    *s = (sample){w1 - w0, c1 - c0, l->delta.first_at - w0};
    return 0;
}

static size_t base_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    base_side *b = userdata;
    return base_feed(&b->parser, data, size * nmemb) == 0 ? size * nmemb : 0;
}

static int base_open(base_side *b, const char *url, const char *path)
{
    char full[1100];
    snprintf(full, sizeof full, "%s%s/chat/completions", url, path);
    /* the header lines the library sends, so that nginx does the same work for both */
    const char *lines[] = {"Accept: text/event-stream", "Content-Type: application/json",
                           "Expect:", "Authorization: Bearer " API_KEY};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *next = curl_slist_append(b->headers, lines[i]);
        if (!next)
            return -1;
        b->headers = next;
    }
    if (!(b->curl = curl_easy_init()))
        return -1;
    CURL *h = b->curl;
    curl_easy_setopt(h, CURLOPT_URL, full);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ultra-llm/" ULM_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, b->headers);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, WIRE_BODY);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(WIRE_BODY));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, base_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    return 0;
}

static void base_close(base_side *b)
{
    curl_easy_cleanup(b->curl);
    curl_slist_free_all(b->headers);
    base_free(&b->parser);
}

static int base_one(base_side *b, const summary *expect, sample *s)
{
    base_reset(&b->parser);
    b->parser.first_wanted = 1;
    double w0 = now_us(CLOCK_MONOTONIC), c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    CURLcode code = curl_easy_perform(b->curl);
    double c1 = now_us(CLOCK_PROCESS_CPUTIME_ID), w1 = now_us(CLOCK_MONOTONIC);
    long status = 0;
    curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK || status != 200) {
        fprintf(stderr, "baseline: %s, HTTP %ld\n", curl_easy_strerror(code), status);
        return -1;
    }
    summary got;
    base_summary(&b->parser, &got);
    if (!b->parser.done || !same(&got, expect, 0)) {
        fprintf(stderr, "baseline read something else than the stream holds "
                        "(was the server's stream written with other --events?)\n");
        return -1;
    }
    *s = (sample){w1 - w0, c1 - c0, b->parser.first_at - w0};
    return 0;
}

/* nginx's count of accepted connections (stub_status), or -1 when it cannot be read. */
typedef struct status_reader {
    CURL *curl;
    char text[512];
    size_t len;
} status_reader;

static size_t status_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    status_reader *s = userdata;
    size_t n = size * nmemb, room = sizeof s->text - 1 - s->len;
    memcpy(s->text + s->len, data, n < room ? n : room);
    s->len += n < room ? n : room;
    s->text[s->len] = '\0';
    return n;
}

static long server_accepts(status_reader *s)
{
    s->len = 0;
    long accepts = -1, code = 0;
    if (curl_easy_perform(s->curl) == CURLE_OK &&
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200) {
        const char *nums = strstr(s->text, "requests\n");
        if (!nums || sscanf(nums + 9, "%ld", &accepts) != 1)
            accepts = -1;
    }
    return accepts;
}

/* Runs n requests a side, alternating who goes first (ABBA), into lib[] and base[]. */
static int alternate(lib_side *l, base_side *b, const summary *expect, long n, sample *ls,
                     sample *bs)
{
    for (long i = 0; i < n; i++) {
        int lib_first = (i & 1) == 0;
        for (int k = 0; k < 2; k++) {
            int rc = (k == 0) == lib_first ? lib_one(l, expect, &ls[i])
                                            : base_one(b, expect, &bs[i]);
            if (rc != 0)
                return -1;
        }
    }
    return 0;
}

static void print_connections(long before, long after)
{
    if (before >= 0 && after >= 0)
        printf("  connections opened while timed: %ld (0: every request reused one)\n",
               after - before);
}

/* What the loopback parts share: a side of each kind per answer, nginx's counter. */
typedef struct loopback {
    lib_side lib_long, lib_short;
    base_side base_long, base_short;
    status_reader status;
    sample *ls, *bs;
    double *v;
} loopback;

static int loopback_open(loopback *lb, const char *url, size_t most)
{
    char status_url[1100];
    snprintf(status_url, sizeof status_url, "%s/nginx_status", url);
    lb->ls = calloc(most, sizeof *lb->ls);
    lb->bs = calloc(most, sizeof *lb->bs);
    lb->v = calloc(most, sizeof *lb->v);
    if (!lb->ls || !lb->bs || !lb->v || !(lb->status.curl = curl_easy_init()) ||
        lib_open(&lb->lib_long, url, "/long/v1") != 0 ||
        lib_open(&lb->lib_short, url, "/short/v1") != 0 ||
        base_open(&lb->base_long, url, "/long/v1") != 0 ||
        base_open(&lb->base_short, url, "/short/v1") != 0)
        return -1;
    curl_easy_setopt(lb->status.curl, CURLOPT_URL, status_url);
    curl_easy_setopt(lb->status.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(lb->status.curl, CURLOPT_WRITEFUNCTION, status_write);
    curl_easy_setopt(lb->status.curl, CURLOPT_WRITEDATA, &lb->status);
    server_accepts(&lb->status); /* opens the status connection, so it does not count later */
    return 0;
}

static void loopback_close(loopback *lb)
{
    curl_easy_cleanup(lb->status.curl);
    lib_close(&lb->lib_long);
    lib_close(&lb->lib_short);
    base_close(&lb->base_long);
    base_close(&lb->base_short);
    free(lb->ls);
    free(lb->bs);
    free(lb->v);
}

enum { WALL, CPU, FIRST };

static double field(const sample *s, int which)
{
    return which == WALL ? s->wall_us : which == CPU ? s->cpu_us : s->first_us;
}

/* The median of one field of n samples; v keeps the values, sorted. */
static double median_of(double *v, const sample *s, size_t n, int which)
{
    for (size_t i = 0; i < n; i++)
        v[i] = field(&s[i], which);
    return median(v, n);
}

/* The median over n pairs of lib's field over base's. */
static double paired_ratio(double *v, const sample *ls, const sample *bs, size_t n, int which)
{
    for (size_t i = 0; i < n; i++)
        v[i] = field(&ls[i], which) / field(&bs[i], which);
    return median(v, n);
}

static int loopback_throughput(loopback *lb, const summary *expect, size_t len, long rounds)
{
    /* the warm-up opens each side's connection */
    if (alternate(&lb->lib_long, &lb->base_long, expect, 2, lb->ls, lb->bs) != 0)
        return -1;
    long before = server_accepts(&lb->status);
    if (alternate(&lb->lib_long, &lb->base_long, expect, rounds, lb->ls, lb->bs) != 0)
        return -1;
    long after = server_accepts(&lb->status);
    size_t n = (size_t)rounds;
    double mib = (double)len / MIB;
    double wall[2], cpu[2];
    for (int side = 0; side < 2; side++) {
        const sample *s = side ? lb->bs : lb->ls;
        wall[side] = median_of(lb->v, s, n, WALL);
        cpu[side] = median_of(lb->v, s, n, CPU);
    }
    printf("\nover loopback: POST answered with the %.2f MiB stream by nginx; MiB/s of SSE\n"
           "body bytes, median of %ld requests a side, interleaved; ratio: median of the\n"
           "pairs' time ratios\n",
           mib, rounds);
    printf("  %-28s %12s %12s\n", "", "wall MiB/s", "CPU MiB/s");
    printf("  %-28s %12.1f %12.1f\n", "ulm_complete() + on_delta", mib / (wall[0] / 1e6),
           mib / (cpu[0] / 1e6));
    printf("  %-28s %12.1f %12.1f\n", "libcurl + memchr + jansson", mib / (wall[1] / 1e6),
           mib / (cpu[1] / 1e6));
    printf("  %-28s %12.2f %12.2f\n", "time ratio lib/base",
           paired_ratio(lb->v, lb->ls, lb->bs, n, WALL),
           paired_ratio(lb->v, lb->ls, lb->bs, n, CPU));
    printf("  (CPU: this process only, user + system; nginx runs apart)\n");
    for (size_t i = 0; i < n; i++)
        lb->v[i] = field(&lb->ls[i], CPU) / field(&lb->bs[i], CPU);
    table_row("OpenAI stream over loopback, CPU", "MiB/s", mib / (cpu[0] / 1e6),
              mib / (cpu[1] / 1e6), lb->v, n, "-");
    print_connections(before, after);
    return 0;
}

static int time_to_first_token(loopback *lb, const summary *expect, size_t len, long requests)
{
    if (alternate(&lb->lib_short, &lb->base_short, expect, TTFT_WARMUP, lb->ls, lb->bs) != 0)
        return -1;
    long before = server_accepts(&lb->status);
    if (alternate(&lb->lib_short, &lb->base_short, expect, requests, lb->ls, lb->bs) != 0)
        return -1;
    long after = server_accepts(&lb->status);
    size_t n = (size_t)requests;
    double med[2], p90[2], whole[2], cpu[2];
    for (int side = 0; side < 2; side++) {
        const sample *s = side ? lb->bs : lb->ls;
        med[side] = median_of(lb->v, s, n, FIRST);
        p90[side] = percentile(lb->v, n, 90); /* v still holds the first_us values */
        whole[side] = median_of(lb->v, s, n, WALL);
        cpu[side] = median_of(lb->v, s, n, CPU);
    }
    for (size_t i = 0; i < n; i++)
        lb->v[i] = lb->ls[i].first_us - lb->bs[i].first_us;
    double paired = median(lb->v, n);
    printf("\ntime to first token: wall microseconds from the call to the first content\n"
           "delta, %ld requests a side, interleaved, kept-alive connections; %zu-byte\n"
           "answer with the first token in its first bytes; then the whole request's\n"
           "median wall and CPU microseconds\n",
           requests, len);
    printf("  %-28s %8s %8s %8s %8s\n", "", "median", "p90", "whole", "CPU");
    printf("  %-28s %8.1f %8.1f %8.1f %8.1f\n", "ulm_complete() -> on_delta", med[0], p90[0],
           whole[0], cpu[0]);
    printf("  %-28s %8.1f %8.1f %8.1f %8.1f\n", "curl_easy_perform -> parsed", med[1], p90[1],
           whole[1], cpu[1]);
    printf("  %-28s %8.1f %8.1f %8.1f %8.1f\n", "added by the library (us)", med[0] - med[1],
           p90[0] - p90[1], whole[0] - whole[1], cpu[0] - cpu[1]);
    printf("  %-28s %8.2f %8.2f %8.2f %8.2f\n", "ratio lib/base", med[0] / med[1],
           p90[0] / p90[1], whole[0] / whole[1], cpu[0] / cpu[1]);
    printf("  added, median of the %ld pairs' differences: %.1f us\n", requests, paired);
    for (size_t i = 0; i < n; i++)
        lb->v[i] = lb->ls[i].first_us / lb->bs[i].first_us;
    table_row("time to first token, median", "us", med[0], med[1], lb->v, n, "+10 us");
    printf("@row\ttime to first token, added (median of pairs)\tus\t%.2f\t-\t-\t-\t<= 10\n",
           paired);
    print_connections(before, after);
    return 0;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: ulm-bench-stream [--url http://127.0.0.1:PORT] [--events N] [--rounds R]\n"
            "                        [--loop-rounds L] [--requests N]\n"
            "                        [--only memory|loopback|ttft]\n"
            "       ulm-bench-stream --write-stream DIR [--events N]\n"
            "       ulm-bench-stream --profile framer|adapter|core|memchr|baseline\n"
            "                        [--chunk BYTES] [--events N] [--rounds R]\n"
            "defaults: --events 20000 --rounds 15 --loop-rounds 20 --requests 2000 --chunk 16384\n");
}

int main(int argc, char **argv)
{
    const char *url = NULL, *write_dir = NULL, *profile_key = NULL, *only = NULL;
    long events = 20000, rounds = 15, loop_rounds = 20, requests = 2000, chunk = 16384;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!value) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--url") == 0)
            url = value;
        else if (strcmp(argv[i], "--write-stream") == 0)
            write_dir = value;
        else if (strcmp(argv[i], "--profile") == 0)
            profile_key = value;
        else if (strcmp(argv[i], "--only") == 0)
            only = value;
        else if (strcmp(argv[i], "--events") == 0)
            events = count_arg("--events", value, 1);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = count_arg("--rounds", value, 1);
        else if (strcmp(argv[i], "--loop-rounds") == 0)
            loop_rounds = count_arg("--loop-rounds", value, 1);
        else if (strcmp(argv[i], "--requests") == 0)
            requests = count_arg("--requests", value, 1);
        else if (strcmp(argv[i], "--chunk") == 0)
            chunk = count_arg("--chunk", value, 1);
        else {
            usage(stderr);
            return 2;
        }
        i++; /* every option takes a value */
    }
    for (size_t i = 0; i < VOCAB_SIZE; i++)
        if (strlen(vocab[i]) < 3 || strlen(vocab[i]) > 8)
            die("token \"%s\" is not 3 to 8 bytes", vocab[i]);

    sbuf long_stream = {0}, short_stream = {0};
    summary long_expect, short_expect;
    make_stream(&long_stream, (size_t)events, &long_expect);
    make_stream(&short_stream, SHORT_EVENTS, &short_expect);
    if (write_dir) {
        if (mkdir(write_dir, 0777) != 0 && errno != EEXIST)
            die("cannot create %s: %s", write_dir, strerror(errno));
        write_file(write_dir, "long.sse", &long_stream);
        write_file(write_dir, "short.sse", &short_stream);
        free(long_stream.data);
        free(short_stream.data);
        return 0;
    }

    if (only && strcmp(only, "memory") != 0 && strcmp(only, "loopback") != 0 &&
        strcmp(only, "ttft") != 0)
        die("--only: one of memory, loopback, ttft");
    if (only && strcmp(only, "memory") != 0 && !url)
        die("--only %s needs --url", only);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init failed");
    char err[ULM_ERROR_SIZE];
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.ignore_environment = 1;
    memctx m = {.stream = long_stream.data, .len = long_stream.len, .chunk = (size_t)chunk};
    if (ulm_client_new(&m.client, &opts, err, sizeof err) != ULM_OK)
        die("ulm_client_new: %s", err);
    if (ulm__openai_provider_new(&m.openai) != ULM_OK)
        die("out of memory");

    int status = 0;
    if (profile_key) {
        status = profile(&m, &long_expect, profile_key, rounds);
    } else {
        printf("ulm-bench-stream\n");
        if (!only || strcmp(only, "memory") == 0)
            status = in_memory(&m, &long_expect, rounds) == 0 ? 0 : 1;
        if (status == 0 && url) {
            char base[1024];
            size_t len = strlen(url);
            while (len && url[len - 1] == '/') /* as the library strips it */
                len--;
            snprintf(base, sizeof base, "%.*s", (int)len, url);
            size_t most = (size_t)(loop_rounds > requests ? loop_rounds : requests);
            loopback lb = {0};
            if (loopback_open(&lb, base, most > TTFT_WARMUP ? most : TTFT_WARMUP) != 0) {
                fprintf(stderr, "loopback setup failed\n");
                status = 2;
            }
            if (status == 0 && (!only || strcmp(only, "loopback") == 0))
                status = loopback_throughput(&lb, &long_expect, long_stream.len, loop_rounds);
            if (status == 0 && (!only || strcmp(only, "ttft") == 0))
                status = time_to_first_token(&lb, &short_expect, short_stream.len, requests);
            status = status < 0 ? 1 : status;
            loopback_close(&lb);
        }
    }
    base_free(&m.base);
    m.openai->destroy(m.openai);
    ulm_client_free(m.client);
    curl_global_cleanup();
    free(long_stream.data);
    free(short_stream.data);
    return status;
}
