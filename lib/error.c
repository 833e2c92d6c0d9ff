/* error.c - error names, classification, and the redaction every message passes through. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"

typedef struct error_entry {
    int code;
    const char *name;
    const char *text;
    int retryable;
} error_entry;

static const error_entry error_table[] = {
    {ULM_OK, "ok", "success", 0},
    {ULM_EINVAL, "invalid_argument", "invalid argument", 0},
    {ULM_ENOMEM, "out_of_memory", "out of memory", 0},
    {ULM_ECONFIG, "config", "invalid configuration", 0},
    {ULM_EVERSION, "version", "unknown options version", 0},
    {ULM_ENOT_CONFIGURED, "not_configured", "backend not configured", 0},
    {ULM_ECONNECT, "connect", "could not connect to the backend", 1},
    {ULM_ETIMEOUT, "timeout", "the call's deadline passed", 1},
    {ULM_EAUTH, "auth", "the backend refused the credentials", 0},
    {ULM_ERATE_LIMIT, "rate_limit", "rate limited by the backend", 1},
    {ULM_EQUOTA, "quota", "account quota exhausted", 0},
    {ULM_EBAD_REQUEST, "bad_request", "the backend rejected the request", 0},
    {ULM_EMODEL_NOT_FOUND, "model_not_found", "model not found", 0},
    {ULM_EMODEL_LOAD, "model_load", "the local model failed to load", 1},
    {ULM_ECONTEXT_LENGTH, "context_length", "the prompt exceeds the model's context window", 0},
    {ULM_EUNAVAILABLE, "unavailable", "the backend is unavailable or overloaded", 1},
    {ULM_ESERVER, "server", "the backend failed", 1},
    {ULM_EPROTOCOL, "protocol", "malformed answer from the backend", 0},
    {ULM_ETOO_LARGE, "too_large", "the answer exceeds the size cap", 0},
    {ULM_ETRANSPORT, "transport", "transport failure", 1},
    {ULM_EUNSUPPORTED, "unsupported", "operation not supported by the backend", 0},
    {ULM_ECANCELLED, "cancelled", "cancelled by the caller", 0},
    {ULM_ECONNECT_TIMEOUT, "connect_timeout", "no connection within the connect timeout", 1},
    {ULM_ELOAD_TIMEOUT, "load_timeout", "the local model did not load within its budget", 1},
    {ULM_EFIRST_TOKEN_TIMEOUT, "first_token_timeout", "no first token in time", 1},
    {ULM_EIDLE_TIMEOUT, "idle_timeout", "the answer stalled past the idle timeout", 1},
    {ULM_EMODEL_LOADING, "model_loading", "the local model is still loading", 1},
    {ULM_EBUSY, "resource_exhausted", "the backend's request queue is full", 1},
    {ULM_ECIRCUIT_OPEN, "circuit_open", "the backend is cooling down after failures", 1},
    {ULM_ECONTENT_FILTER, "content_filter", "the provider's safety filter refused the prompt", 0},
};

static const error_entry *find_error(int code)
{
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
        if (error_table[i].code == code)
            return &error_table[i];
    return NULL;
}

const char *ulm_strerror(int code)
{
    const error_entry *e = find_error(code);
    return e ? e->text : "unknown error";
}

const char *ulm_error_name(int code)
{
    const error_entry *e = find_error(code);
    return e ? e->name : "unknown";
}

int ulm_error_is_retryable(int code)
{
    const error_entry *e = find_error(code);
    return e ? e->retryable : 0;
}

int ulm_error_from_http_status(int status)
{
    if (status >= 200 && status < 300)
        return ULM_OK;
    switch (status) {
    case 400:
    case 413:
    case 422:
        return ULM_EBAD_REQUEST;
    case 401:
    case 403:
        return ULM_EAUTH;
    case 404:
        return ULM_EMODEL_NOT_FOUND;
    case 429:
        return ULM_ERATE_LIMIT;
    case 408: /* the server gave up waiting: ETIMEOUT is our own deadline, not theirs */
    case 503:
    case 529:
        return ULM_EUNAVAILABLE;
    default:
        break;
    }
    if (status >= 500)
        return ULM_ESERVER;
    if (status >= 400)
        return ULM_EBAD_REQUEST;
    return ULM_EPROTOCOL;
}

/* ------------------------------------------------------------ redaction */

static int is_key_char(unsigned char ch)
{
    return isalnum(ch) || ch == '-' || ch == '_';
}

/* The characters of an HTTP credential (RFC 7235 token68), which may hold dots. */
static int is_token68_char(unsigned char ch)
{
    return is_key_char(ch) || ch == '.' || ch == '~' || ch == '+' || ch == '/' || ch == '=';
}

static size_t run_length(const char *s, size_t left, int (*in_run)(unsigned char))
{
    size_t n = 0;
    while (n < left && in_run((unsigned char)s[n]))
        n++;
    return n;
}

/* Length of a credential-shaped run at s (0 if none): "sk-...", "AIza...", "Bearer ...". */
static size_t credential_at(const char *s, size_t left, size_t *keep)
{
    static const struct {
        const char *prefix;
        size_t min_tail;
        int keep_prefix;
        int (*in_run)(unsigned char);
    } shapes[] = {
        {"sk-", 8, 0, is_key_char},
        {"AIza", 20, 0, is_key_char},
        {"Bearer ", 1, 1, is_token68_char},
        {"x-api-key: ", 1, 1, is_token68_char},
        {"x-goog-api-key: ", 1, 1, is_token68_char},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t plen = strlen(shapes[i].prefix);
        if (left < plen || strncasecmp(s, shapes[i].prefix, plen) != 0)
            continue;
        size_t tail = run_length(s + plen, left - plen, shapes[i].in_run);
        if (tail < shapes[i].min_tail)
            continue;
        *keep = shapes[i].keep_prefix ? plen : 0;
        return plen + tail;
    }
    return 0;
}

static size_t configured_key_at(const ulm_client *c, const char *s, size_t left)
{
    if (!c)
        return 0;
    for (size_t i = 0; i < c->backend_count; i++) {
        const char *key = c->backends[i].api_key;
        size_t klen = key ? strlen(key) : 0;
        if (klen && klen <= left && memcmp(s, key, klen) == 0)
            return klen;
    }
    return 0;
}

char *ulm__redacted(const ulm_client *c, const char *text, size_t length)
{
    ulm_buf out = {0};
    if (ulm__buf_append(&out, "", 0) != ULM_OK)
        return NULL;
    size_t i = 0;
    while (i < length) {
        size_t keep = 0;
        size_t hit = configured_key_at(c, text + i, length - i);
        if (!hit && (i == 0 || !is_key_char((unsigned char)text[i - 1])))
            hit = credential_at(text + i, length - i, &keep);
        int rc;
        if (hit) {
            rc = ulm__buf_append(&out, text + i, keep);
            if (rc == ULM_OK)
                rc = ulm__buf_append(&out, "[REDACTED]", 10);
            i += hit;
        } else {
            rc = ulm__buf_append(&out, text + i, 1);
            i++;
        }
        if (rc != ULM_OK) {
            ulm__buf_free(&out);
            return NULL;
        }
    }
    return out.data;
}

char *ulm__cap_text(const char *text, size_t length, size_t cap)
{
    /* text/plain bodies end in a newline that would become a trailing space */
    while (length && (unsigned char)text[length - 1] <= ' ')
        length--;
    while (length && (unsigned char)*text <= ' ')
        text++, length--;
    int cut = length > cap;
    size_t n = cut ? cap : length;
    /* back up to the start of a UTF-8 character so the copy stays valid text */
    if (cut)
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    char *out = ulm__malloc(n + 4);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    if (cut) {
        memcpy(out + n, "...", 4);
    } else {
        out[n] = '\0';
    }
    return out;
}
