/* redact.c - what may be shown of a text that could hold a secret: keys removed, length capped. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redact.h"

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

/* Length of a credential-shaped run at s (0 if none): "sk-...", "AIza...", "Bearer ...",
 * "Basic ...". */
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
        {"Basic ", 1, 1, is_token68_char}, /* a URL's userinfo as libcurl sends it */
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

/* Where a URL's userinfo or a query value ends: at the next delimiter of a URL, or of the
 * text around it (a space, a quote, an angle bracket). */
static int is_url_value_char(unsigned char ch)
{
    return ch > ' ' && ch != 0x7f && !strchr("/?#@&\"'<>", ch);
}

/*
 * Length of a credential inside a URL at s (0 if none), *keep the part before it that
 * stays: the userinfo of "scheme://user:pass@host" (all of it, since a proxy may take a
 * key as the user name) and the value of a credential-named query parameter.
 */
static size_t url_credential_at(const char *s, size_t left, size_t *keep)
{
    if (left > 3 && memcmp(s, "://", 3) == 0) {
        size_t run = 0;
        while (3 + run < left && (is_url_value_char((unsigned char)s[3 + run]) ||
                                  s[3 + run] == '&'))
            run++;
        if (run && 3 + run < left && s[3 + run] == '@') {
            *keep = 3;
            return 3 + run;
        }
        return 0;
    }
    if (*s != '?' && *s != '&')
        return 0;
    static const char *const names[] = {"key=", "api_key=", "apikey=", "api-key=",
                                        "access_token=", "token=", "auth=", "password=",
                                        "secret=", "x-goog-api-key="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t nlen = strlen(names[i]);
        if (left - 1 < nlen || strncasecmp(s + 1, names[i], nlen) != 0)
            continue;
        size_t tail = run_length(s + 1 + nlen, left - 1 - nlen, is_url_value_char);
        if (!tail)
            return 0;
        *keep = 1 + nlen;
        return 1 + nlen + tail;
    }
    return 0;
}

/* A key shorter than ULM_REDACT_MIN_KEY is no pattern: "x", a local server's dummy key,
 * would otherwise take every "x" out of a message. */
static size_t configured_key_at(const ulm_secrets *secrets, const char *s, size_t left)
{
    if (!secrets)
        return 0;
    for (size_t i = 0; i < secrets->count; i++) {
        const char *key = secrets->keys[i];
        size_t klen = key ? strlen(key) : 0;
        if (klen >= ULM_REDACT_MIN_KEY && klen <= left && memcmp(s, key, klen) == 0)
            return klen;
    }
    return 0;
}

/*
 * One pass over text: with secrets, every configured key is replaced; without, every
 * credential shape. Keys go first, in a pass of their own, so that a key is replaced even
 * where it is part of the words a shape keeps ("&password=" for a key "password").
 */
static char *redact_pass(const ulm_secrets *secrets, const char *text, size_t length)
{
    ulm_text out = {0};
    if (ulm_text_append(&out, "", 0) != ULM_OK)
        return NULL;
    size_t i = 0, plain = 0; /* text[plain..i) is copied as it is, in one append */
    while (i < length) {
        size_t keep = 0, hit;
        if (secrets) {
            hit = configured_key_at(secrets, text + i, length - i);
        } else {
            hit = i == 0 || !is_key_char((unsigned char)text[i - 1])
                      ? credential_at(text + i, length - i, &keep)
                      : 0;
            if (!hit)
                hit = url_credential_at(text + i, length - i, &keep);
        }
        if (!hit) {
            i++;
            continue;
        }
        int rc = ulm_text_append(&out, text + plain, i - plain + keep);
        if (rc == ULM_OK)
            rc = ulm_text_append(&out, "[REDACTED]", 10);
        if (rc != ULM_OK) {
            ulm_text_free(&out);
            return NULL;
        }
        i += hit;
        plain = i;
    }
    if (ulm_text_append(&out, text + plain, length - plain) != ULM_OK) {
        ulm_text_free(&out);
        return NULL;
    }
    return out.data;
}

char *ulm__redacted(const ulm_secrets *secrets, const char *text, size_t length)
{
    if (!secrets || !secrets->count)
        return redact_pass(NULL, text, length);
    char *keys_out = redact_pass(secrets, text, length);
    if (!keys_out)
        return NULL;
    char *out = redact_pass(NULL, keys_out, strlen(keys_out));
    ulm__free(keys_out);
    return out;
}

char *ulm__redacted_url(const char *url)
{
    return ulm__redacted(NULL, url, strlen(url));
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
