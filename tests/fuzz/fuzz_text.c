/* fuzz_text.c - any bytes through the SSE framer, the UTF-8 validator, redaction and the URL and model-string parsers: a libFuzzer target, or a replayer of saved inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "redact.h"
#include "route.h"
#include "sse.h"
#include "url_local.h"
#include "utf8.h"
#include "replay_main.h" /* main() when built without libFuzzer */

/*
 * The first byte picks the framer's caps (odd: a 64-byte line and a 96-byte event) and the
 * second and third where the stream is cut into three reads; the rest is the text, which
 * every part reads. Besides crashes, sanitizer reports and leaks, it aborts when:
 * - the framer's events or return code depend on how the stream was cut into reads;
 * - ulm__utf8_invalid_at() disagrees with a decoder written from RFC 3629's definition;
 * - a key of 8 bytes or more, or a URL's userinfo, survives ulm__redacted().
 */
#define SELECTOR_BYTES 3

static void die(const char *why)
{
    fprintf(stderr, "fuzz_text: %s\n", why);
    abort();
}

/* ------------------------------------------------------------------ the framer */

typedef struct framed {
    ulm_text events; /* every event as name NUL data NUL, in order */
    int count;
} framed;

static int keep_event(void *ctx, const ulm_sse_event *event)
{
    framed *f = ctx;
    f->count++;
    if (ulm_text_append(&f->events, event->name, strlen(event->name) + 1) != ULM_OK ||
        ulm_text_append(&f->events, event->data, event->data_len) != ULM_OK ||
        ulm_text_append(&f->events, "", 1) != ULM_OK)
        return ULM_ENOMEM;
    return 0;
}

static int frame(const char *text, size_t n, const size_t *cuts, size_t cut_count, int tight,
                 framed *out)
{
    ulm_sse s;
    ulm__sse_init(&s, tight ? 64 : 1 << 20, tight ? 96 : 1 << 20);
    int rc = ULM_OK;
    size_t at = 0;
    for (size_t i = 0; i <= cut_count && rc == ULM_OK; i++) {
        size_t end = i < cut_count ? cuts[i] : n;
        rc = ulm__sse_feed(&s, text + at, end - at, keep_event, out);
        at = end;
    }
    ulm__sse_free(&s);
    return rc;
}

static void framing_does_not_depend_on_reads(const char *text, size_t n, size_t a, size_t b,
                                             int tight)
{
    size_t cuts[2] = {a < b ? a : b, a < b ? b : a};
    framed whole = {{0}, 0}, pieces = {{0}, 0};
    int rc_whole = frame(text, n, NULL, 0, tight, &whole);
    int rc_pieces = frame(text, n, cuts, 2, tight, &pieces);
    if (rc_whole != ULM_ENOMEM && rc_pieces != ULM_ENOMEM) {
        /* a cap is passed at the same event either way; events before it are the same */
        if (rc_whole != rc_pieces)
            die("the framer's result depends on the reads");
        if (whole.count != pieces.count || whole.events.len != pieces.events.len ||
            (whole.events.len &&
             memcmp(whole.events.data, pieces.events.data, whole.events.len) != 0))
            die("the framer's events depend on the reads");
    }
    ulm_text_free(&whole.events);
    ulm_text_free(&pieces.events);
}

/* ------------------------------------------------------------------ UTF-8 */

/* RFC 3629 by decoding: a code point from the bytes, then the checks on it. */
static size_t reference_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t need = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                                   : (c & 0xF8) == 0xF0 ? 3 : 4;
        if (need == 4 || (c >= 0x80 && c < 0xC0) || n - i - 1 < need)
            return i;
        unsigned long cp = need == 0 ? c : need == 1 ? c & 0x1F : need == 2 ? c & 0x0F : c & 0x07;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const unsigned long least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return n;
}

/* ------------------------------------------------------------------ redaction */

static int userinfo_char(unsigned char ch)
{
    return ch > ' ' && ch != 0x7f && !strchr("/?#@\"'<>", ch);
}

static void redaction_leaves_no_key(const char *text, size_t n)
{
    /* a key taken from the input itself: its first run of 8 to 40 letters and digits that
     * is not part of the marker */
    char key[41] = "";
    for (size_t i = 0; i < n && !key[0]; i++) {
        size_t len = 0;
        while (i + len < n && len < 40 &&
               ((text[i + len] >= 'a' && text[i + len] <= 'z') ||
                (text[i + len] >= '0' && text[i + len] <= '9')))
            len++;
        if (len >= ULM_REDACT_MIN_KEY) {
            memcpy(key, text + i, len);
            key[len] = '\0';
        }
        i += len;
    }
    const char *keys[] = {key};
    ulm_secrets secrets = {keys, key[0] ? 1 : 0};
    char *out = ulm__redacted(&secrets, text, n);
    if (!out)
        return;
    size_t out_len = strlen(out);
    /* the copy stops at a NUL of the input, as a C string does */
    if (key[0] && memchr(text, '\0', n) == NULL && strstr(out, key))
        die("a key survived redaction");
    for (const char *p = strstr(out, "://"); p; p = strstr(p + 1, "://")) {
        size_t run = 0;
        while (p + 3 + run < out + out_len &&
               (userinfo_char((unsigned char)p[3 + run]) || p[3 + run] == '&'))
            run++;
        if (run && p[3 + run] == '@' && !(run == 10 && memcmp(p + 3, "[REDACTED]", 10) == 0))
            die("a URL's userinfo survived redaction");
    }
    free(out);
}

/* ------------------------------------------------------------------ URLs and model strings */

static ulm_client *client(void)
{
    static ulm_client *c;
    if (!c) {
        ulm_client_options o = ULM_CLIENT_OPTIONS_INIT;
        o.ignore_environment = 1;
        o.model_runner_url = "http://127.0.0.1:1";
        o.openai_api_key = "sk-fuzz-0123456789";
        o.available_local_models = "ai/smollm2,ai/llama3.2:1B-Q8_0";
        if (ulm_client_new(&c, &o, NULL, 0) != ULM_OK)
            die("no client");
    }
    return c;
}

static void strings_parse(const char *s)
{
    (void)ulm__url_is_local(s);
    free(ulm__redacted_url(s));
    ulm_target t;
    char why[ULM_ERROR_SIZE];
    (void)ulm__target_resolve(client(), s, &t, why, sizeof why);
    ulm_request *req = NULL;
    if (ulm_request_new(&req) == ULM_OK) {
        (void)ulm_request_add_model(req, s);
        ulm_request_free(req);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < SELECTOR_BYTES)
        return 0;
    const char *text = (const char *)data + SELECTOR_BYTES;
    size_t n = size - SELECTOR_BYTES;
    size_t a = n ? data[1] * n / 256 : 0, b = n ? data[2] * n / 256 : 0;
    framing_does_not_depend_on_reads(text, n, a, b, data[0] & 1);
    if (ulm__utf8_invalid_at(text, n) != reference_invalid_at((const unsigned char *)text, n))
        die("ulm__utf8_invalid_at disagrees with RFC 3629");
    redaction_leaves_no_key(text, n);
    char *s = malloc(n + 1);
    if (!s)
        return 0;
    memcpy(s, text, n);
    s[n] = '\0';
    strings_parse(s);
    free(s);
    return 0;
}
