/* openai_scan.c - reads the common OpenAI answer and stream chunk (text, finish reason, usage) without building a JSON tree; anything else is left to jansson. */
#include <string.h>

#include "openai_scan.h"

/*
 * A strict JSON scanner over the whole chunk: it accepts only what jansson accepts and
 * reads the same way, and gives up (0) on anything it does not need to handle fast: a
 * \u escape, a number that is not a small integer, a key written with escapes, a repeated
 * key it reads, "error", a non-null "usage", choices that are not an array of objects, a
 * delta that is not an object, a content or finish_reason of another type, nesting deeper
 * than MAX_DEPTH. Giving up changes nothing: the caller then parses with jansson, so the
 * result never depends on which path read a chunk.
 */

#define MAX_DEPTH 32

typedef struct scanner {
    const unsigned char *p, *end;
    int depth;
} scanner;

static void skip_ws(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* The length of the well-formed UTF-8 character at p (RFC 3629, as jansson checks it:
 * no overlong form, no surrogate, nothing above U+10FFFF), or 0. */
static size_t utf8_char(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/*
 * A string at s->p (its opening quote): its bytes between the quotes, and whether it
 * holds escapes. 0 for what jansson rejects (a control character, invalid UTF-8, a bad
 * escape, no closing quote) and for a \u escape, which this scanner leaves to jansson.
 */
static int scan_string(scanner *s, ulm_openai_span *out, int *escaped)
{
    const unsigned char *start = ++s->p;
    *escaped = 0;
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"') {
            out->data = (const char *)start;
            out->len = (size_t)(s->p - start);
            s->p++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (s->p + 1 >= s->end || !strchr("\"\\/bfnrt", s->p[1]) || !s->p[1])
                return 0;
            *escaped = 1;
            s->p += 2;
        } else if (c < 0x80) {
            s->p++;
        } else {
            size_t n = utf8_char(s->p, s->end);
            if (!n)
                return 0;
            s->p += n;
        }
    }
    return 0;
}

static int scan_value(scanner *s);

static int scan_literal(scanner *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return 0;
    s->p += n;
    return 1;
}

/* An integer of at most 18 digits (jansson's json_int_t holds it); other numbers are left
 * to jansson, which alone knows its limits for them. */
static int scan_number(scanner *s)
{
    if (s->p >= s->end)
        return 0;
    if (*s->p == '-')
        s->p++;
    const unsigned char *digits = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    size_t n = (size_t)(s->p - digits);
    if (n == 0 || n > 18 || (n > 1 && *digits == '0'))
        return 0;
    return s->p == s->end || (*s->p != '.' && *s->p != 'e' && *s->p != 'E');
}

/*
 * An object at s->p (its '{'). For each member, with its key (which has no escape),
 * on_member reads the value itself and returns 1, or returns -1 to read it generically,
 * or 0 to give up.
 */
typedef int (*member_fn)(scanner *s, const ulm_openai_span *key, void *ctx);

static int scan_object(scanner *s, member_fn on_member, void *ctx)
{
    if (++s->depth > MAX_DEPTH)
        return 0;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        s->depth--;
        return 1;
    }
    for (;;) {
        ulm_openai_span key;
        int escaped;
        if (s->p >= s->end || *s->p != '"' || !scan_string(s, &key, &escaped) || escaped)
            return 0;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return 0;
        s->p++;
        skip_ws(s);
        int read = on_member ? on_member(s, &key, ctx) : -1;
        if (read == 0 || (read < 0 && !scan_value(s)))
            return 0;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            s->depth--;
            return 1;
        }
        return 0;
    }
}

/* An array at s->p (its '['); on_first, when set, reads the first element. */
static int scan_array(scanner *s, int (*on_first)(scanner *s, void *ctx), void *ctx)
{
    if (++s->depth > MAX_DEPTH)
        return 0;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        s->depth--;
        return !on_first; /* an empty choices array is left to jansson */
    }
    for (int first = 1;; first = 0) {
        if (!(first && on_first ? on_first(s, ctx) : scan_value(s)))
            return 0;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            s->depth--;
            return 1;
        }
        return 0;
    }
}

static int scan_value(scanner *s)
{
    if (s->p >= s->end)
        return 0;
    ulm_openai_span ignored;
    int escaped;
    switch (*s->p) {
    case '"':
        return scan_string(s, &ignored, &escaped);
    case '{':
        return scan_object(s, NULL, NULL);
    case '[':
        return scan_array(s, NULL, NULL);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && scan_number(s);
    }
}

static int key_is(const ulm_openai_span *key, const char *name)
{
    size_t n = strlen(name);
    return key->len == n && memcmp(key->data, name, n) == 0;
}

/* A string or null, once; 1 with its span (data NULL for null), 0 to give up. */
static int string_or_null(scanner *s, int *seen, ulm_openai_span *out, int *escaped)
{
    if ((*seen)++)
        return 0;
    if (s->p < s->end && *s->p == 'n') {
        out->data = NULL;
        out->len = 0;
        *escaped = 0;
        return scan_literal(s, "null");
    }
    return s->p < s->end && *s->p == '"' && scan_string(s, out, escaped);
}

typedef struct seen {
    int model, choices, delta, content, finish, usage;
} seen;

typedef struct reading {
    ulm_openai_chunk *chunk;
    seen seen;
} reading;

static int delta_member(scanner *s, const ulm_openai_span *key, void *ctx)
{
    reading *r = ctx;
    if (!key_is(key, "content"))
        return -1;
    return string_or_null(s, &r->seen.content, &r->chunk->content, &r->chunk->content_escaped);
}

static int choice_member(scanner *s, const ulm_openai_span *key, void *ctx)
{
    reading *r = ctx;
    if (key_is(key, "delta")) {
        if (r->seen.delta++ || s->p >= s->end || *s->p != '{')
            return 0;
        return scan_object(s, delta_member, r);
    }
    if (key_is(key, "finish_reason")) {
        int escaped;
        return string_or_null(s, &r->seen.finish, &r->chunk->finish, &escaped) && !escaped;
    }
    return -1;
}

static int first_choice(scanner *s, void *ctx)
{
    return s->p < s->end && *s->p == '{' && scan_object(s, choice_member, ctx);
}

static int chunk_member(scanner *s, const ulm_openai_span *key, void *ctx)
{
    reading *r = ctx;
    if (key_is(key, "model")) {
        int escaped;
        return string_or_null(s, &r->seen.model, &r->chunk->model, &escaped) && !escaped;
    }
    if (key_is(key, "choices")) {
        if (r->seen.choices++ || s->p >= s->end || *s->p != '[')
            return 0;
        return scan_array(s, first_choice, r);
    }
    if (key_is(key, "usage")) /* the usage chunk comes once: jansson reads it */
        return !r->seen.usage++ && scan_literal(s, "null");
    if (key_is(key, "error"))
        return 0;
    return -1;
}

int ulm__openai_scan_chunk(const char *data, size_t len, ulm_openai_chunk *out)
{
    memset(out, 0, sizeof *out);
    scanner s = {.p = (const unsigned char *)data, .end = (const unsigned char *)data + len};
    reading r = {.chunk = out};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{' || !scan_object(&s, chunk_member, &r))
        return 0;
    skip_ws(&s);
    return s.p == s.end && r.seen.choices;
}

/* ------------------------------------------------------------ a whole chat completion */

typedef struct completion_seen {
    int model, choices, message, content, finish, usage, prompt, completion, total;
} completion_seen;

typedef struct completion_reading {
    ulm_openai_completion *answer;
    completion_seen seen;
} completion_reading;

/* A count of usage, once: a whole number >= 0 as it is, any other value -1 (as
 * ulm__json_count reads it); 0 to give up. */
static int count_member(scanner *s, int *seen, long *out)
{
    if ((*seen)++)
        return 0;
    *out = -1;
    if (s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
        int negative = *s->p == '-';
        const unsigned char *digits = s->p + negative;
        if (!scan_number(s))
            return 0;
        long value = 0;
        for (const unsigned char *d = digits; d < s->p; d++)
            value = value * 10 + (*d - '0');
        *out = negative && value ? -1 : value; /* -0 is 0 to jansson */
        return 1;
    }
    return scan_value(s);
}

static int usage_member(scanner *s, const ulm_openai_span *key, void *ctx)
{
    completion_reading *r = ctx;
    if (key_is(key, "prompt_tokens"))
        return count_member(s, &r->seen.prompt, &r->answer->prompt_tokens);
    if (key_is(key, "completion_tokens"))
        return count_member(s, &r->seen.completion, &r->answer->completion_tokens);
    if (key_is(key, "total_tokens"))
        return count_member(s, &r->seen.total, &r->answer->total_tokens);
    return -1;
}

static int message_member(scanner *s, const ulm_openai_span *key, void *ctx)
{
    completion_reading *r = ctx;
    if (!key_is(key, "content"))
        return -1;
    return string_or_null(s, &r->seen.content, &r->answer->content,
                          &r->answer->content_escaped);
}

static int answer_choice_member(scanner *s, const ulm_openai_span *key, void *ctx)
{
    completion_reading *r = ctx;
    if (key_is(key, "message")) {
        if (r->seen.message++ || s->p >= s->end || *s->p != '{')
            return 0;
        return scan_object(s, message_member, r);
    }
    if (key_is(key, "finish_reason")) {
        int escaped;
        return string_or_null(s, &r->seen.finish, &r->answer->finish, &escaped) && !escaped;
    }
    return -1;
}

static int first_answer_choice(scanner *s, void *ctx)
{
    completion_reading *r = ctx;
    return s->p < s->end && *s->p == '{' && scan_object(s, answer_choice_member, ctx) &&
           r->seen.message;
}

static int completion_member(scanner *s, const ulm_openai_span *key, void *ctx)
{
    completion_reading *r = ctx;
    if (key_is(key, "model")) {
        int escaped;
        return string_or_null(s, &r->seen.model, &r->answer->model, &escaped) && !escaped;
    }
    if (key_is(key, "choices")) {
        if (r->seen.choices++ || s->p >= s->end || *s->p != '[')
            return 0;
        return scan_array(s, first_answer_choice, r);
    }
    if (key_is(key, "usage")) {
        if (r->seen.usage++)
            return 0;
        /* usage that is not an object gives no counts, as for jansson */
        return s->p < s->end && *s->p == '{' ? scan_object(s, usage_member, r) : scan_value(s);
    }
    if (key_is(key, "error"))
        return 0;
    return -1;
}

int ulm__openai_scan_completion(const char *data, size_t len, ulm_openai_completion *out)
{
    memset(out, 0, sizeof *out);
    out->prompt_tokens = out->completion_tokens = out->total_tokens = -1;
    scanner s = {.p = (const unsigned char *)data, .end = (const unsigned char *)data + len};
    completion_reading r = {.answer = out};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{' || !scan_object(&s, completion_member, &r))
        return 0;
    skip_ws(&s);
    return s.p == s.end && r.seen.choices;
}

size_t ulm__openai_unescape(const ulm_openai_span *in, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < in->len; i++) {
        char c = in->data[i];
        if (c == '\\') {
            c = in->data[++i];
            c = c == 'b'   ? '\b'
                : c == 'f' ? '\f'
                : c == 'n' ? '\n'
                : c == 'r' ? '\r'
                : c == 't' ? '\t'
                           : c; /* '"', '\\', '/' stand for themselves */
        }
        out[n++] = c;
    }
    return n;
}
