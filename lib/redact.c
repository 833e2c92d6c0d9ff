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

static size_t configured_key_at(const ulm_secrets *secrets, const char *s, size_t left)
{
    if (!secrets)
        return 0;
    for (size_t i = 0; i < secrets->count; i++) {
        const char *key = secrets->keys[i];
        size_t klen = key ? strlen(key) : 0;
        if (klen && klen <= left && memcmp(s, key, klen) == 0)
            return klen;
    }
    return 0;
}

char *ulm__redacted(const ulm_secrets *secrets, const char *text, size_t length)
{
    ulm_text out = {0};
    if (ulm_text_append(&out, "", 0) != ULM_OK)
        return NULL;
    size_t i = 0;
    while (i < length) {
        size_t keep = 0;
        size_t hit = configured_key_at(secrets, text + i, length - i);
        if (!hit && (i == 0 || !is_key_char((unsigned char)text[i - 1])))
            hit = credential_at(text + i, length - i, &keep);
        int rc;
        if (hit) {
            rc = ulm_text_append(&out, text + i, keep);
            if (rc == ULM_OK)
                rc = ulm_text_append(&out, "[REDACTED]", 10);
            i += hit;
        } else {
            rc = ulm_text_append(&out, text + i, 1);
            i++;
        }
        if (rc != ULM_OK) {
            ulm_text_free(&out);
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

char *ulm__url_without_userinfo(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *at = memchr(host, '@', strcspn(host, "/?#"));
    if (!at)
        return ulm__strdup(url);
    size_t scheme = (size_t)(host - url), rest = strlen(at + 1);
    char *out = ulm__malloc(scheme + 4 + rest + 1);
    if (!out)
        return NULL;
    memcpy(out, url, scheme);
    memcpy(out + scheme, "***@", 4);
    memcpy(out + scheme + 4, at + 1, rest + 1);
    return out;
}
