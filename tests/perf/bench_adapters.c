/*
 * bench_adapters.c - what reading one streamed answer costs in each provider's wire
 * format: the same text streamed as OpenAI chat.completion.chunk events, as Anthropic
 * Messages events and as Gemini streamGenerateContent?alt=sse chunks, each read in memory
 * through the core's stream reader with the real adapter. OpenAI is the baseline.
 *
 * Usage:
 *   ulm-bench-adapters [--events N] [--rounds R]
 *       in memory
 *   ulm-bench-adapters --url http://127.0.0.1:PORT [--events N] [--rounds R] [--loop-rounds L]
 *       in memory, then over loopback (run-bench.sh --adapters sets up the server)
 *   ulm-bench-adapters --write-stream DIR [--events N]
 *       writes DIR/openai.sse, DIR/anthropic.sse and DIR/gemini.sse, then exits; other
 *       options are accepted and ignored, so a script can pass the same ones
 *   ulm-bench-adapters --profile openai|anthropic|gemini [--events N] [--rounds R]
 *       reads one provider's stream R times, for perf or valgrind --tool=callgrind;
 *       prints only its numbers
 *
 * The answer is N deltas of 3-8 bytes of text (words, punctuation, escapes, non-ASCII),
 * drawn as bench_stream.c draws them, so it is the text that benchmark streams. Each
 * stream has the shape of the fixtures in tests/fixtures/<provider>/:
 *   openai     a role chunk, N content chunks, a finish_reason chunk, a usage chunk,
 *              data: [DONE]; LF line ends (openai/stream_chat.txt)
 *   anthropic  message_start, content_block_start, ping, N content_block_delta
 *              text_delta events, content_block_stop, message_delta (end_turn and
 *              usage), message_stop; event: and data: lines, LF line ends
 *              (anthropic/stream_messages.txt)
 *   gemini     N GenerateContentResponse chunks, each with the cumulative usageMetadata,
 *              the last with finishReason STOP; no event: lines, no end marker, CRLF
 *              CRLF after each (gemini/stream_generate.txt)
 * Every delta is one output token, so all three report the same usage.
 *
 * A pass hands one stream to ulm__stream_on_body in 16 KiB chunks (curl's receive
 * buffer), then calls ulm__stream_finish, with an on_delta that joins the deltas. A pass
 * that misses its stream's end, whose joined deltas differ from the text, or whose finish
 * reason, token counts or model differ from what its stream says, ends the run: a broken
 * path must not pass for a fast one.
 *
 * Each stream is also read by a baseline, what a careful hand-written client does: split
 * lines with memchr (copying only a line that spans two chunks), json_loadb each data
 * line, read the same fields with jansson, json_decref; it is checked the same way.
 *
 * Process CPU time per pass. A round reads each stream once through the library and once
 * through the baseline, who goes first rotating; MiB/s (of wire bytes) and ns per delta
 * are medians over R rounds, time/OpenAI is the median of each round's time over the same
 * round's OpenAI time and time/base over the same format's baseline, so that what
 * disturbs a stretch of the run falls on both sides of a ratio. The text is the same in
 * all three, so a ratio of times is the ratio of ns per delta.
 *
 * Over loopback, nginx answers a POST to <url>/fmt/<provider>/... with that provider's
 * stream (nginx.conf). ulm_complete() with an on_delta, on a client whose backend of that
 * provider has the base URL <url>/fmt/<provider> (OpenAI's: .../v1), against one libcurl
 * easy handle sending the same request line and headers whose write callback runs the
 * baseline above; L requests a side, alternating who goes first, every answer checked as
 * in memory. Process CPU time per request: MiB/s of SSE body bytes, and the median of the
 * pairs' CPU ratios.
 * Defaults: --events 20000 --rounds 15 --loop-rounds 20.
 *
 * Exit status: 0 when every pass read the expected answer (whatever the numbers), 1 when
 * a pass failed or read something else, 2 on a usage or setup error.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define BENCH_NAME "ulm-bench-adapters"
#include "bench_common.h"
#include "bench_text.h"
#include "builtin.h"
#include "client.h"
#include "stream.h"

#define MIB (1024.0 * 1024.0)
#define CHUNK 16384
#define PROMPT_TOKENS 42
#define OPENAI_MODEL "gpt-4o-mini-2024-07-18"
#define ANTHROPIC_MODEL "claude-sonnet-4-5-20250929"
#define GEMINI_MODEL "gemini-2.5-flash"

/* ---------------------------------------------------------------- the streams */

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        die("a formatted line does not fit in %zu bytes", sizeof line);
    sb_add(b, line, (size_t)n);
}

/* The answer's n deltas, drawn as bench_stream.c draws them: the same seed, the same text. */
static void make_deltas(const char **deltas, size_t n)
{
    uint32_t x = BENCH_TOKEN_SEED;
    for (size_t i = 0; i < n; i++)
        deltas[i] = next_token(&x);
}

/* The part every chunk shares: stream_chat.txt's fields, with values as gpt-4o-mini sends
 * them. */
#define OPENAI_HEAD                                                                         \
    "data: {\"id\":\"chatcmpl-BENCHq8CjcvOU2jLn4n570S5qMJK\",\"object\":\"chat.completion." \
    "chunk\",\"created\":1741570283,\"model\":\"" OPENAI_MODEL "\",\"system_fingerprint\":" \
    "\"fp_06737a9306\",\"choices\":["

static void write_openai(sbuf *b, const char *const *deltas, size_t n)
{
    sb_str(b, OPENAI_HEAD "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                          "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
    for (size_t i = 0; i < n; i++) {
        sb_str(b, OPENAI_HEAD "{\"index\":0,\"delta\":{\"content\":");
        json_string_into(b, deltas[i]);
        sb_str(b, "},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
    }
    sb_str(b, OPENAI_HEAD "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"
                          "\"stop\"}],\"usage\":null}\n\n");
    sb_printf(b,
              OPENAI_HEAD "],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%zu,"
                          "\"total_tokens\":%zu}}\n\n",
              PROMPT_TOKENS, n, PROMPT_TOKENS + n);
    sb_str(b, "data: [DONE]\n\n");
}

static void write_anthropic(sbuf *b, const char *const *deltas, size_t n)
{
    sb_printf(b,
              "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
              "\"" ANTHROPIC_MODEL "\",\"id\":\"msg_01BENCHg6Kfz5DcGhbZ7N8aRQ\",\"type\":"
              "\"message\",\"role\":\"assistant\",\"content\":[],\"stop_reason\":null,"
              "\"stop_sequence\":null,\"stop_details\":null,\"usage\":{\"input_tokens\":%d,"
              "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
              "\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,"
              "\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":"
              "\"standard\"}}}\n\n",
              PROMPT_TOKENS);
    sb_str(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
              "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    sb_str(b, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    for (size_t i = 0; i < n; i++) {
        sb_str(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                  "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":");
        json_string_into(b, deltas[i]);
        sb_str(b, "}}\n\n");
    }
    sb_str(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}"
              "\n\n");
    sb_printf(b,
              "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
              "\"end_turn\",\"stop_sequence\":null,\"stop_details\":null},\"usage\":{"
              "\"input_tokens\":%d,\"cache_creation_input_tokens\":0,"
              "\"cache_read_input_tokens\":0,\"output_tokens\":%zu}}\n\n",
              PROMPT_TOKENS, n);
    sb_str(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

static void write_gemini(sbuf *b, const char *const *deltas, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sb_str(b, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": ");
        json_string_into(b, deltas[i]);
        sb_str(b, "}],\"role\": \"model\"},");
        if (i + 1 == n)
            sb_str(b, "\"finishReason\": \"STOP\",");
        sb_printf(b,
                  "\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": %d,"
                  "\"candidatesTokenCount\": %zu,\"totalTokenCount\": %zu,"
                  "\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": %d}]},"
                  "\"modelVersion\": \"" GEMINI_MODEL "\",\"responseId\": "
                  "\"BENCHqfF1kQcXEwzgPx6Tl2Ys\"}\r\n\r\n",
                  PROMPT_TOKENS, i + 1, PROMPT_TOKENS + i + 1, PROMPT_TOKENS);
    }
}

/* One provider: its wire format, its real adapter, and the model its stream names. */
typedef struct wire {
    const char *key, *label, *model;
    int (*provider_new)(ulm_provider **out);
    void (*write)(sbuf *b, const char *const *deltas, size_t n);
    sbuf stream;
    ulm_provider *provider;
} wire;

/* ---------------------------------------------------------------- reading */

/* The deltas on_delta was handed, joined; its buffer is kept from pass to pass. */
typedef struct joined {
    char *text;
    size_t len, cap;
} joined;

static int on_delta(const char *text, size_t length, void *payload)
{
    joined *j = payload;
    if (j->len + length > j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 4096;
        while (cap < j->len + length)
            cap *= 2;
        char *grown = realloc(j->text, cap);
        if (!grown)
            return 1; /* cancels the stream: the pass then fails */
        j->text = grown;
        j->cap = cap;
    }
    memcpy(j->text + j->len, text, length);
    j->len += length;
    return 0;
}

/* What every pass must read: the text, and the finish and usage all three streams send. */
typedef struct expected {
    const char *text;
    size_t text_len;
    long prompt_tokens, completion_tokens, total_tokens;
} expected;

/* ---------------------------------------------------------------- the baseline */

/* What the baseline read from a stream, to be checked as the library's result is. */
typedef struct base_read {
    joined *text;
    char model[64];
    int finish_stop, ended;
    long prompt_tokens, completion_tokens, total_tokens;
} base_read;

static long json_count(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

static void copy_model(base_read *b, json_t *v)
{
    if (json_is_string(v))
        snprintf(b->model, sizeof b->model, "%s", json_string_value(v));
}

static int append_string(base_read *b, json_t *v)
{
    return json_is_string(v) ? on_delta(json_string_value(v), json_string_length(v), b->text)
                             : 0;
}

/* One data line's JSON, read as each provider's event asks; 0 or -1. */
static int base_event(const char *key, base_read *b, const char *data, size_t len)
{
    if (key[0] == 'o' && len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        b->ended = 1;
        return 0;
    }
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    int rc = 0;
    if (key[0] == 'o') { /* openai */
        copy_model(b, json_object_get(root, "model"));
        json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
        rc = append_string(b, json_object_get(json_object_get(choice, "delta"), "content"));
        json_t *finish = json_object_get(choice, "finish_reason");
        if (json_is_string(finish))
            b->finish_stop = strcmp(json_string_value(finish), "stop") == 0;
        json_t *usage = json_object_get(root, "usage");
        if (json_is_object(usage)) {
            b->prompt_tokens = json_count(usage, "prompt_tokens");
            b->completion_tokens = json_count(usage, "completion_tokens");
            b->total_tokens = json_count(usage, "total_tokens");
        }
    } else if (key[0] == 'a') { /* anthropic */
        const char *type = json_string_value(json_object_get(root, "type"));
        type = type ? type : "";
        if (strcmp(type, "content_block_delta") == 0) {
            rc = append_string(b, json_object_get(json_object_get(root, "delta"), "text"));
        } else if (strcmp(type, "message_start") == 0) {
            json_t *message = json_object_get(root, "message");
            copy_model(b, json_object_get(message, "model"));
            b->prompt_tokens = json_count(json_object_get(message, "usage"), "input_tokens");
        } else if (strcmp(type, "message_delta") == 0) {
            const char *stop =
                json_string_value(json_object_get(json_object_get(root, "delta"), "stop_reason"));
            b->finish_stop = stop && strcmp(stop, "end_turn") == 0;
            b->completion_tokens = json_count(json_object_get(root, "usage"), "output_tokens");
            b->total_tokens = b->prompt_tokens + b->completion_tokens;
        } else if (strcmp(type, "message_stop") == 0) {
            b->ended = 1;
        }
    } else { /* gemini */
        copy_model(b, json_object_get(root, "modelVersion"));
        json_t *cand = json_array_get(json_object_get(root, "candidates"), 0);
        json_t *parts = json_object_get(json_object_get(cand, "content"), "parts");
        for (size_t i = 0; rc == 0 && i < json_array_size(parts); i++)
            rc = append_string(b, json_object_get(json_array_get(parts, i), "text"));
        const char *finish = json_string_value(json_object_get(cand, "finishReason"));
        if (finish) {
            b->finish_stop = strcmp(finish, "STOP") == 0;
            b->ended = 1;
        }
        json_t *usage = json_object_get(root, "usageMetadata");
        if (json_is_object(usage)) {
            b->prompt_tokens = json_count(usage, "promptTokenCount");
            b->completion_tokens = json_count(usage, "candidatesTokenCount");
            b->total_tokens = json_count(usage, "totalTokenCount");
        }
    }
    json_decref(root);
    return rc ? -1 : 0;
}

/* A line without its end; only "data:" lines carry anything the baseline reads. */
static int base_line(const char *key, base_read *b, const char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len < 5 || memcmp(line, "data:", 5) != 0)
        return 0;
    line += 5, len -= 5;
    if (len && *line == ' ')
        line++, len--;
    return base_event(key, b, line, len);
}

/* The baseline reading one stream as it arrives: its lines split with memchr, a line that
 * spans two pieces carried over. */
typedef struct base_reader {
    const wire *w;
    base_read b;
    joined *carry;
    int rc;
} base_reader;

static void base_begin(base_reader *r, const wire *w, joined *j, joined *carry)
{
    *r = (base_reader){.w = w, .carry = carry,
                       .b = {.text = j, .prompt_tokens = -1, .completion_tokens = -1,
                             .total_tokens = -1}};
    j->len = carry->len = 0;
}

/* One piece of the stream; 0, or -1 once a line failed. */
static int base_piece(base_reader *r, const char *p, size_t n)
{
    const char *end = p + n;
    while (r->rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) { /* the line goes on in the next piece */
            r->rc = on_delta(p, (size_t)(end - p), r->carry);
            break;
        }
        if (r->carry->len) {
            r->rc = on_delta(p, (size_t)(nl - p), r->carry);
            if (r->rc == 0)
                r->rc = base_line(r->w->key, &r->b, r->carry->text, r->carry->len);
            r->carry->len = 0;
        } else {
            r->rc = base_line(r->w->key, &r->b, p, (size_t)(nl - p));
        }
        p = nl + 1;
    }
    return r->rc ? -1 : 0;
}

/* What is wrong with what the baseline read, or NULL. */
static const char *base_wrong(const base_reader *r, const expected *e)
{
    const base_read *b = &r->b;
    if (r->rc != 0)
        return "a line did not parse";
    if (!b->ended)
        return "the stream's end was not seen";
    if (b->text->len != e->text_len || memcmp(b->text->text, e->text, e->text_len) != 0)
        return "the joined deltas differ from the text streamed";
    if (!b->finish_stop)
        return "the finish reason is not stop";
    if (b->prompt_tokens != e->prompt_tokens || b->completion_tokens != e->completion_tokens ||
        b->total_tokens != e->total_tokens)
        return "the token counts differ from the stream's";
    if (strcmp(b->model, r->w->model) != 0)
        return "the model differs from the stream's";
    return NULL;
}

/* One checked pass of the baseline over a stream in CHUNK-byte pieces; CPU us, or -1. */
static double base_stream(const wire *w, const expected *e, joined *j, joined *carry)
{
    base_reader r;
    base_begin(&r, w, j, carry);
    const char *s = w->stream.data;
    size_t len = w->stream.len;
    double c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t off = 0; off < len && base_piece(&r, s + off, len - off < CHUNK ? len - off : CHUNK) == 0;
         off += CHUNK)
        ;
    double c1 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    const char *wrong = base_wrong(&r, e);
    if (wrong)
        fprintf(stderr, "ulm-bench-adapters: %s baseline: %s\n", w->label, wrong);
    return wrong ? -1 : c1 - c0;
}

/* One checked pass through the core's stream reader; its CPU microseconds, or -1. */
static double read_stream(const wire *w, ulm_client *client, const expected *e, joined *j)
{
    ulm_result r;
    ulm__result_init(&r);
    ulm_clocks clocks = {.deadline = 0};
    const ulm_settings *caps = &client->settings;
    ulm_stream_setup setup = {.provider = w->provider, .result = &r, .clocks = &clocks,
                              .on_delta = on_delta, .payload = j,
                              .max_text = caps->max_response_bytes,
                              .max_line = caps->max_event_line_bytes,
                              .max_event = caps->max_event_bytes};
    ulm_stream st;
    ulm__stream_init(&st, &setup);
    char type[] = "text/event-stream";
    ulm_http_response resp = {.status = 200, .content_type = type};
    const char *s = w->stream.data;
    size_t len = w->stream.len;
    j->len = 0;
    int rc = ULM_OK;
    double c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t off = 0; rc == ULM_OK && off < len; off += CHUNK)
        rc = ulm__stream_on_body(&st, &resp, s + off, len - off < CHUNK ? len - off : CHUNK);
    if (rc == ULM_OK)
        rc = ulm__stream_finish(&st, &resp);
    double c1 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    const char *wrong = NULL;
    if (rc != ULM_OK)
        wrong = r.error_text ? r.error_text : st.detail[0] ? st.detail : ulm_error_name(rc);
    else if (!st.done && !r.stream_ended) /* [DONE], message_stop, finishReason */
        wrong = "the stream's end was not seen";
    else if (j->len != e->text_len || memcmp(j->text, e->text, e->text_len) != 0)
        wrong = "the joined deltas differ from the text streamed";
    else if (r.finish != ULM_FINISH_STOP)
        wrong = "the finish reason is not stop";
    else if (r.prompt_tokens != e->prompt_tokens || r.completion_tokens != e->completion_tokens ||
             r.total_tokens != e->total_tokens)
        wrong = "the token counts differ from the stream's";
    else if (!r.model || strcmp(r.model, w->model) != 0)
        wrong = "the model differs from the stream's";
    if (wrong)
        fprintf(stderr, "ulm-bench-adapters: %s: %s\n", w->label, wrong);
    ulm__stream_free(&st);
    ulm__result_clear(&r);
    return wrong ? -1 : c1 - c0;
}

/* ---------------------------------------------------------------- over loopback */

#define API_KEY "sk-bench-not-a-key"
#define PROMPT_BODY "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story.\"}],\"stream\":true}"

/* One provider over loopback: the library's client and request, the baseline's handle. */
typedef struct remote {
    const wire *w;
    ulm_client *client;
    ulm_request *req;
    joined text;               /* the library's deltas */
    CURL *curl;
    struct curl_slist *headers;
    base_reader reader;        /* the baseline's */
    joined base_text, carry;
} remote;

static int remote_open(remote *r, const wire *w, const char *url)
{
    char base_url[1100], full[1400], model[128], err[ULM_ERROR_SIZE];
    r->w = w;
    int openai = w->key[0] == 'o', anthropic = w->key[0] == 'a';
    snprintf(base_url, sizeof base_url, "%s/fmt/%s%s", url, w->key, openai ? "/v1" : "");
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.ignore_environment = 1;
    opts.enable_model_runner = -1;
    if (openai)
        opts.openai_base_url = base_url, opts.openai_api_key = API_KEY;
    else if (anthropic)
        opts.anthropic_base_url = base_url, opts.anthropic_api_key = API_KEY;
    else
        opts.gemini_base_url = base_url, opts.gemini_api_key = API_KEY;
    if (ulm_client_new(&r->client, &opts, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "ulm-bench-adapters: ulm_client_new: %s\n", err);
        return -1;
    }
    snprintf(model, sizeof model, "%s/%s", w->key, w->model);
    if (ulm_request_new(&r->req) != ULM_OK || ulm_request_add_model(r->req, model) != ULM_OK ||
        ulm_request_add_message(r->req, ULM_ROLE_USER, "Tell me a story.") != ULM_OK ||
        ulm_request_set_max_tokens(r->req, 32000) != ULM_OK ||
        ulm_request_set_on_delta(r->req, on_delta, &r->text) != ULM_OK)
        return -1;
    /* the request line and headers the library sends, so that nginx does the same work */
    if (openai)
        snprintf(full, sizeof full, "%s/chat/completions", base_url);
    else if (anthropic)
        snprintf(full, sizeof full, "%s/v1/messages", base_url);
    else
        snprintf(full, sizeof full, "%s/v1beta/models/%s:streamGenerateContent?alt=sse",
                 base_url, w->model);
    const char *lines[] = {"Accept: text/event-stream", "Content-Type: application/json",
                           "Expect:",
                           openai      ? "Authorization: Bearer " API_KEY
                           : anthropic ? "x-api-key: " API_KEY
                                       : "x-goog-api-key: " API_KEY,
                           anthropic ? "anthropic-version: 2023-06-01" : NULL};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *next = lines[i] ? curl_slist_append(r->headers, lines[i]) : r->headers;
        if (!next)
            return -1;
        r->headers = next;
    }
    if (!(r->curl = curl_easy_init()))
        return -1;
    curl_easy_setopt(r->curl, CURLOPT_URL, full);
    curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "ultra-llm/" ULM_VERSION_STRING);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, PROMPT_BODY);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(PROMPT_BODY));
    return 0;
}

static void remote_close(remote *r)
{
    ulm_request_free(r->req);
    ulm_client_free(r->client);
    curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
    free(r->text.text);
    free(r->base_text.text);
    free(r->carry.text);
}

/* One checked request through the library; its CPU microseconds, or -1. */
static double remote_lib(remote *r, const expected *e)
{
    ulm_response *resp = NULL;
    r->text.len = 0;
    double c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    int rc = ulm_complete(&resp, r->client, r->req);
    double c1 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    const char *wrong = NULL;
    if (rc != ULM_OK)
        wrong = resp ? ulm_response_error_message(resp) : ulm_error_name(rc);
    else if (r->text.len != e->text_len || memcmp(r->text.text, e->text, e->text_len) != 0 ||
             ulm_response_text_length(resp) != e->text_len)
        wrong = "the deltas differ from the text streamed (was the server's stream written "
                "with other --events?)";
    else if (ulm_response_finish_reason(resp) != ULM_FINISH_STOP)
        wrong = "the finish reason is not stop";
    else if (ulm_response_prompt_tokens(resp) != e->prompt_tokens ||
             ulm_response_completion_tokens(resp) != e->completion_tokens ||
             ulm_response_total_tokens(resp) != e->total_tokens)
        wrong = "the token counts differ from the stream's";
    if (wrong)
        fprintf(stderr, "ulm-bench-adapters: %s over loopback: %s\n", r->w->label, wrong);
    ulm_response_free(resp);
    return wrong ? -1 : c1 - c0;
}

static size_t remote_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    return base_piece(userdata, data, size * nmemb) == 0 ? size * nmemb : 0;
}

/* One checked request through the baseline; its CPU microseconds, or -1. */
static double remote_base(remote *r, const expected *e)
{
    base_begin(&r->reader, r->w, &r->base_text, &r->carry);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, remote_write);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &r->reader);
    double c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    CURLcode code = curl_easy_perform(r->curl);
    double c1 = now_us(CLOCK_PROCESS_CPUTIME_ID);
    long status = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    const char *wrong = code != CURLE_OK ? curl_easy_strerror(code)
                        : status != 200  ? "an HTTP status other than 200"
                                         : base_wrong(&r->reader, e);
    if (wrong)
        fprintf(stderr, "ulm-bench-adapters: %s baseline over loopback: %s\n", r->w->label,
                wrong);
    return wrong ? -1 : c1 - c0;
}

/* Each provider's stream over loopback, loop_rounds requests a side. */
static int over_loopback(wire *wires, size_t count, const char *url, const expected *e,
                         long loop_rounds)
{
    size_t n = (size_t)loop_rounds;
    double *lib = malloc(n * sizeof *lib), *base = malloc(n * sizeof *base),
           *v = malloc(n * sizeof *v);
    if (!lib || !base || !v)
        die("out of memory");
    int rc = 0;
    printf("\nover loopback: each provider's stream answered by nginx to a POST, read by\n"
           "ulm_complete() with on_delta and by libcurl + the baseline above; process CPU\n"
           "time per request, median of %ld requests a side, alternating; ratio: median of\n"
           "the pairs' CPU ratios\n"
           "  %-10s %12s %12s %10s\n",
           loop_rounds, "", "CPU MiB/s", "base MiB/s", "CPU/base");
    for (size_t i = 0; i < count && rc == 0; i++) {
        remote r = {0};
        rc = remote_open(&r, &wires[i], url);
        /* the warm-up opens each side's connection and checks the first answers */
        for (int k = 0; k < 2 && rc == 0; k++)
            rc = remote_lib(&r, e) < 0 || remote_base(&r, e) < 0;
        for (size_t k = 0; k < n && rc == 0; k++) {
            int lib_first = (k & 1) == 0;
            for (int side = 0; side < 2 && rc == 0; side++) {
                int is_lib = (side == 0) == lib_first;
                double us = is_lib ? remote_lib(&r, e) : remote_base(&r, e);
                (is_lib ? lib : base)[k] = us;
                rc = us < 0;
            }
        }
        if (rc == 0) {
            double mib = (double)wires[i].stream.len / MIB;
            for (size_t k = 0; k < n; k++)
                v[k] = lib[k] / base[k];
            double ratio = median(v, n);
            for (size_t k = 0; k < n; k++)
                v[k] = lib[k] / base[k];
            double ours = mib / (median(lib, n) / 1e6), theirs = mib / (median(base, n) / 1e6);
            printf("  %-10s %12.1f %12.1f %10.2f\n", wires[i].label, ours, theirs, ratio);
            char metric[96];
            snprintf(metric, sizeof metric, "%s stream over loopback, through the adapter, CPU",
                     wires[i].label);
            table_row(metric, "MiB/s", ours, theirs, v, n, "-");
        }
        remote_close(&r);
    }
    free(lib);
    free(base);
    free(v);
    return rc;
}

/* ---------------------------------------------------------------- main */

/* Pass k of a round: the library's read of wire k / 2 (k even) or its baseline's. */
static double pass(wire *wires, size_t k, ulm_client *client, const expected *e, joined *j,
                   joined *carry)
{
    return k % 2 ? base_stream(&wires[k / 2], e, j, carry)
                 : read_stream(&wires[k / 2], client, e, j);
}

static int compare(wire *wires, size_t count, ulm_client *client, const expected *e, size_t n,
                   long rounds, joined *j)
{
    size_t nr = (size_t)rounds, passes = 2 * count;
    double *us = malloc(passes * nr * sizeof *us), *v = malloc(nr * sizeof *v);
    joined carry = {0};
    if (!us || !v)
        die("out of memory");
    int rc = 0;
    for (size_t k = 0; k < passes && rc == 0; k++) /* warm-up, and the first check */
        rc = pass(wires, k, client, e, j, &carry) < 0;
    for (size_t r = 0; r < nr && rc == 0; r++)
        for (size_t k = 0; k < passes && rc == 0; k++) {
            size_t i = (r + k) % passes; /* who goes first rotates */
            us[i * nr + r] = pass(wires, i, client, e, j, &carry);
            rc = us[i * nr + r] < 0;
        }
    if (rc == 0) {
        printf("ulm-bench-adapters\n"
               "one answer of %zu deltas (%zu bytes of text) streamed in each provider's wire\n"
               "format, read in memory by the core's stream reader and the provider's adapter\n"
               "in %d-byte chunks; process CPU time, median of %ld rounds (each stream once\n"
               "per round, rotating order); time/OpenAI: median of the rounds' time ratios\n",
               n, e->text_len, CHUNK, rounds);
        printf("  %-10s %9s %9s %9s %9s %12s %10s %10s\n", "", "wire MiB", "B/delta",
               "MiB/s", "ns/delta", "time/OpenAI", "base MiB/s", "time/base");
        for (size_t i = 0; i < count; i++) {
            const double *t = us + 2 * i * nr, *bt = us + (2 * i + 1) * nr;
            double mib = (double)wires[i].stream.len / MIB;
            for (size_t r = 0; r < nr; r++)
                v[r] = mib / (t[r] / 1e6);
            double speed = median(v, nr);
            for (size_t r = 0; r < nr; r++)
                v[r] = mib / (bt[r] / 1e6);
            double base_speed = median(v, nr);
            for (size_t r = 0; r < nr; r++)
                v[r] = t[r] * 1e3 / (double)n;
            double ns = median(v, nr);
            for (size_t r = 0; r < nr; r++)
                v[r] = t[r] / us[r]; /* wires[0], OpenAI, is the baseline */
            double to_openai = median(v, nr);
            for (size_t r = 0; r < nr; r++)
                v[r] = t[r] / bt[r];
            printf("  %-10s %9.2f %9.1f %9.1f %9.0f %12.2f %10.1f %10.2f\n", wires[i].label,
                   mib, (double)wires[i].stream.len / (double)n, speed, ns, to_openai,
                   base_speed, median(v, nr));
            char metric[96];
            snprintf(metric, sizeof metric, "%s stream from memory, through the adapter",
                     wires[i].label);
            table_row(metric, "MiB/s", speed, base_speed, v, nr,
                      i == 0 ? ">= 200 MiB/s" : "-");
        }
    }
    free(us);
    free(v);
    free(carry.text);
    return rc;
}

static int profile(const wire *w, ulm_client *client, const expected *e, size_t n, long rounds,
                   joined *j)
{
    double total = 0;
    for (long r = 0; r < rounds; r++) {
        double us = read_stream(w, client, e, j);
        if (us < 0)
            return 1;
        total += us;
    }
    printf("%s: %.1f MiB/s, %.0f ns/delta of CPU time over %ld passes\n", w->label,
           (double)w->stream.len * (double)rounds / MIB / (total / 1e6),
           total * 1e3 / (double)rounds / (double)n, rounds);
    return 0;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: ulm-bench-adapters [--url http://127.0.0.1:PORT] [--events N] [--rounds R] "
                "[--loop-rounds L]\n"
                "       ulm-bench-adapters --write-stream DIR [--events N]\n"
                "       ulm-bench-adapters --profile openai|anthropic|gemini [--events N] "
                "[--rounds R]\n"
                "defaults: --events 20000 --rounds 15 --loop-rounds 20\n");
}

int main(int argc, char **argv)
{
    const char *profile_key = NULL, *url = NULL, *write_dir = NULL;
    long events = 20000, rounds = 15, loop_rounds = 20;
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
        if (strcmp(argv[i], "--profile") == 0)
            profile_key = value;
        else if (strcmp(argv[i], "--url") == 0)
            url = value;
        else if (strcmp(argv[i], "--write-stream") == 0)
            write_dir = value;
        else if (strcmp(argv[i], "--loop-rounds") == 0)
            loop_rounds = count_arg("--loop-rounds", value, 1);
        else if (strcmp(argv[i], "--events") == 0)
            events = count_arg("--events", value, 1);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = count_arg("--rounds", value, 1);
        else {
            usage(stderr);
            return 2;
        }
        i++; /* every option takes a value */
    }
    for (size_t i = 0; i < VOCAB_SIZE; i++)
        if (strlen(vocab[i]) < 3 || strlen(vocab[i]) > 8)
            die("token \"%s\" is not 3 to 8 bytes", vocab[i]);

    wire wires[] = { /* OpenAI first: the baseline of the ratios */
        {.key = "openai", .label = "OpenAI", .model = OPENAI_MODEL,
         .provider_new = ulm__openai_provider_new, .write = write_openai},
        {.key = "anthropic", .label = "Anthropic", .model = ANTHROPIC_MODEL,
         .provider_new = ulm__anthropic_provider_new, .write = write_anthropic},
        {.key = "gemini", .label = "Gemini", .model = GEMINI_MODEL,
         .provider_new = ulm__gemini_provider_new, .write = write_gemini},
    };
    size_t count = sizeof wires / sizeof wires[0], n = (size_t)events;
    const wire *profiled = NULL;
    for (size_t i = 0; profile_key && i < count; i++)
        if (strcmp(wires[i].key, profile_key) == 0)
            profiled = &wires[i];
    if (profile_key && !profiled)
        die("--profile: one of openai, anthropic, gemini");

    const char **deltas = malloc(n * sizeof *deltas);
    if (!deltas)
        die("out of memory");
    make_deltas(deltas, n);
    sbuf text = {0};
    for (size_t i = 0; i < n; i++)
        sb_str(&text, deltas[i]);
    expected e = {
        .text = text.data,
        .text_len = text.len,
        .prompt_tokens = PROMPT_TOKENS,
        .completion_tokens = (long)n,
        .total_tokens = PROMPT_TOKENS + (long)n,
    };
    for (size_t i = 0; i < count; i++) {
        wires[i].write(&wires[i].stream, deltas, n);
        if (wires[i].provider_new(&wires[i].provider) != ULM_OK)
            die("out of memory");
    }
    free(deltas);
    if (write_dir) {
        for (size_t i = 0; i < count; i++) {
            char name[32];
            snprintf(name, sizeof name, "%s.sse", wires[i].key);
            write_file(write_dir, name, &wires[i].stream);
            wires[i].provider->destroy(wires[i].provider);
            free(wires[i].stream.data);
        }
        free(text.data);
        return 0;
    }

    /* a client only for its settings: the framer's and the text's caps, as an
     * application gets them by default */
    char err[ULM_ERROR_SIZE];
    ulm_client_options opts;
    ulm_client_options_init(&opts, ULM_CLIENT_OPTIONS_VERSION);
    opts.ignore_environment = 1;
    ulm_client *client;
    if (ulm_client_new(&client, &opts, err, sizeof err) != ULM_OK)
        die("ulm_client_new: %s", err);

    joined j = {0};
    int status = profiled ? profile(profiled, client, &e, n, rounds, &j)
                          : compare(wires, count, client, &e, n, rounds, &j);
    if (status == 0 && url && !profiled)
        status = over_loopback(wires, count, url, &e, loop_rounds);
    free(j.text);
    ulm_client_free(client);
    for (size_t i = 0; i < count; i++) {
        wires[i].provider->destroy(wires[i].provider);
        free(wires[i].stream.data);
    }
    free(text.data);
    return status;
}
