/* fuzz_stream.c - any bytes as a provider's event stream, error body, answer and model list (and OpenAI answers and chunks read by both of their paths): a libFuzzer target, or a replayer of saved inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "openai_wire.h"
#include "redact.h"
#include "stream.h"
#include "replay_main.h" /* main() when built without libFuzzer */

/*
 * The first byte picks the provider (byte % 3), the status of the error body (byte / 3 %
 * 12) and whether the size caps are tight ((byte / 36) odd); the second byte is the size
 * of each read of the stream, 0 for one read of everything. The rest is the body.
 */
typedef int (*provider_new_fn)(ulm_provider **out);
static const provider_new_fn providers[] = {ulm__openai_provider_new,
                                            ulm__anthropic_provider_new,
                                            ulm__gemini_provider_new};
/* 302 stands for a status no class names: curl does not follow redirects */
static const int error_statuses[] = {302, 400, 401, 402, 403, 404,
                                     413, 429, 500, 503, 504, 529};
#define SELECTOR_BYTES 2

/* ulm_result_set_error keeps this much of the backend's words: the core's cap and room
 * past it for a key that straddles the cap to be redacted whole (lib/records.c). */
#define KEPT_UPSTREAM_TEXT (ULM_UPSTREAM_TEXT_CAP + 1024)

/* Whether s[0..len) is UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
static int is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF; /* range of the first continuation byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
        if (len - i - 1 < need || p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

/* What the stream handed to on_delta: the text joined, and where each piece ended in it. */
typedef struct deltas {
    ulm_text text;
    size_t *ends;
    size_t count, cap;
} deltas;

static int collect(const char *text, size_t length, void *payload)
{
    deltas *d = payload;
    if (ulm_text_append(&d->text, text, length) != ULM_OK ||
        ulm__reserve((void **)&d->ends, &d->cap, d->count, sizeof *d->ends) != ULM_OK)
        abort(); /* the harness's own memory: nothing of the library's to find here */
    d->ends[d->count++] = d->text.len;
    return 0;
}

static int in_error_range(int code)
{
    return code <= ULM_EINVAL && code >= ULM_ECONTENT_FILTER;
}

/* What every result promises, whatever produced it. */
static void check_result(const ulm_result *r)
{
    if (r->error == ULM_OK) {
        if (r->error_text)
            abort();
    } else if (!in_error_range(r->error)) {
        abort();
    }
    if (r->error_text) {
        size_t len = strlen(r->error_text);
        if (len > KEPT_UPSTREAM_TEXT)
            abort();
        /* what the core makes of it for a message: at most the cap and "...", no
         * control characters, and still UTF-8 when the backend's words were */
        char *shown = ulm__cap_text(r->error_text, len, ULM_UPSTREAM_TEXT_CAP);
        if (!shown)
            abort();
        size_t shown_len = strlen(shown);
        if (shown_len > ULM_UPSTREAM_TEXT_CAP + 3)
            abort();
        for (size_t i = 0; i < shown_len; i++)
            if ((unsigned char)shown[i] < 0x20 || shown[i] == 0x7f)
                abort();
        if (is_utf8(r->error_text, len) && !is_utf8(shown, shown_len))
            abort();
        free(shown);
    }
    /* Gemini's retryDelay is held to a day */
    if (r->retry_after_ms < -1 || r->retry_after_ms > ULM_MAX_TIMEOUT_MS)
        abort();
    for (size_t i = 0; i < r->model_id_count; i++)
        if (!r->model_ids[i])
            abort();
}

static void response_of(ulm_http_response *resp, int status, const char *content_type,
                        const uint8_t *body, size_t size)
{
    memset(resp, 0, sizeof *resp);
    resp->status = status;
    resp->content_type = ulm__strdup(content_type);
    /* a transport that got no body bytes leaves the body unset, as here */
    if (!resp->content_type || (size && ulm_text_append(&resp->body, (const char *)body, size) != ULM_OK))
        abort();
}

/* The body as a 200 event stream read in pieces of chunk bytes (0: one read). */
static void check_stream(const ulm_provider *p, const uint8_t *body, size_t size, size_t chunk,
                         int tight)
{
    /* the tight caps are below some seeds' text, events and lines, so that every cap is
     * reached from the start */
    size_t max_text = tight ? 32 : 1u << 20;
    ulm_clocks clocks;
    memset(&clocks, 0, sizeof clocks);
    deltas d = {0};
    ulm_http_response resp;
    response_of(&resp, 200, "text/event-stream", NULL, 0);
    ulm_result r;
    ulm__result_init(&r);
    ulm_stream_setup setup = {.provider = p, .result = &r, .clocks = &clocks,
                              .on_delta = collect, .payload = &d, .max_text = max_text,
                              .max_line = tight ? 512 : 1u << 16,
                              .max_event = tight ? 384 : 1u << 16};
    ulm_stream st;
    ulm__stream_init(&st, &setup);

    int rc = ULM_OK;
    for (size_t at = 0; rc == ULM_OK && at < size;) {
        size_t n = chunk && chunk < size - at ? chunk : size - at;
        rc = ulm__stream_on_body(&st, &resp, (const char *)body + at, n);
        at += n;
    }
    if (rc == ULM_OK)
        rc = ulm__stream_finish(&st, &resp);

    check_result(&r);
    if (rc != ULM_OK && !in_error_range(rc))
        abort();
    if (r.error != ULM_OK && rc == ULM_OK) /* a failure the backend reported is not success */
        abort();
    if (rc == ULM_OK && r.text_len > max_text)
        abort();
    /* on_delta saw a prefix of the text, never more, and all of it on success */
    if (d.text.len > r.text_len || (d.text.len && memcmp(d.text.data, r.text, d.text.len)) ||
        (rc == ULM_OK && d.text.len != r.text_len))
        abort();
    /* each piece is whole characters: none ends before a continuation byte */
    if (is_utf8(r.text, r.text_len))
        for (size_t i = 0; i < d.count; i++)
            if (d.ends[i] < r.text_len && ((unsigned char)r.text[d.ends[i]] & 0xC0) == 0x80)
                abort();

    ulm__stream_free(&st);
    ulm__result_clear(&r);
    ulm__http_response_clear(&resp);
    ulm_text_free(&d.text);
    free(d.ends);
}

/* The body as a whole answer to op with this status. */
static void check_parse(const ulm_provider *p, ulm_op op, int status, const uint8_t *body,
                        size_t size)
{
    ulm_http_response resp;
    response_of(&resp, status, "application/json", body, size);
    ulm_result r;
    ulm__result_init(&r);
    /* parse() returns ULM_OK unless memory ran out: a failure is a classified result */
    if (p->parse(p, op, &resp, &r) != ULM_OK)
        abort();
    check_result(&r);
    if ((status < 200 || status >= 300) && r.error == ULM_OK)
        abort();
    ulm__result_clear(&r);
    ulm__http_response_clear(&resp);
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_result(const ulm_result *a, const ulm_result *b)
{
    return a->text_len == b->text_len &&
           (!a->text_len || memcmp(a->text, b->text, a->text_len) == 0) &&
           a->finish == b->finish && a->error == b->error &&
           a->prompt_tokens == b->prompt_tokens &&
           a->completion_tokens == b->completion_tokens && a->total_tokens == b->total_tokens &&
           same_text(a->model, b->model) && same_text(a->error_text, b->error_text);
}

/* Each line of the body as one OpenAI chunk, read by ulm__openai_parse_event (whose fast
 * scanner reads the common chunk itself) and by jansson alone: the two results must be
 * the same, so correctness never depends on which path read a chunk. */
static void check_openai_paths_agree(const uint8_t *body, size_t size)
{
    ulm_result fast, slow;
    ulm__result_init(&fast);
    ulm__result_init(&slow);
    for (size_t at = 0; at <= size;) {
        const uint8_t *nl = memchr(body + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (body + at)) : size - at;
        char *line = malloc(len + 1);
        if (!line)
            abort();
        memcpy(line, body + at, len);
        line[len] = '\0';
        ulm_sse_event ev = {.name = "", .data = line, .data_len = len};
        if (ulm__openai_parse_event(&ev, &fast) != ulm__openai_parse_event_json(&ev, &slow))
            abort();
        free(line);
        if (!same_result(&fast, &slow))
            abort();
        at += len + 1;
    }
    ulm__result_clear(&fast);
    ulm__result_clear(&slow);
}

/* The body as one OpenAI answer, read by ulm__openai_parse (whose scanner reads the common
 * answer itself) and by jansson alone: the same return code and result. */
static void check_openai_answer_paths_agree(const uint8_t *body, size_t size)
{
    ulm_http_response resp;
    response_of(&resp, 200, "application/json", body, size);
    ulm_result fast, slow;
    ulm__result_init(&fast);
    ulm__result_init(&slow);
    if (ulm__openai_parse(ULM_OP_CHAT, &resp, &fast) !=
            ulm__openai_parse_json(ULM_OP_CHAT, &resp, &slow) ||
        !same_result(&fast, &slow))
        abort();
    ulm__result_clear(&fast);
    ulm__result_clear(&slow);
    ulm__http_response_clear(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < SELECTOR_BYTES)
        return 0;
    unsigned int pick = data[0];
    size_t nstatus = sizeof error_statuses / sizeof error_statuses[0];
    size_t nproviders = sizeof providers / sizeof providers[0];
    int status = error_statuses[pick / nproviders % nstatus];
    int tight = (int)(pick / nproviders / nstatus % 2);
    ulm_provider *p = NULL;
    if (providers[pick % nproviders](&p) != ULM_OK)
        abort();
    const uint8_t *body = data + SELECTOR_BYTES;
    size -= SELECTOR_BYTES;
    check_stream(p, body, size, data[1], tight);
    check_parse(p, ULM_OP_CHAT, status, body, size);
    check_parse(p, ULM_OP_CHAT, 200, body, size);
    check_parse(p, ULM_OP_MODELS, 200, body, size);
    if (pick % nproviders == 0) {
        check_openai_paths_agree(body, size);
        check_openai_answer_paths_agree(body, size);
    }
    p->destroy(p);
    return 0;
}
