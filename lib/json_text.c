/* json_text.c - JSON string literals: the one escaper of the library, for bodies and messages. */
#include <string.h>

#include "json_text.h"

/*
 * Request bodies are written directly rather than through a jansson tree: json_dumps()
 * checks every container for cycles with a formatted key in a hash table, which made
 * building a short body cost more than sending it. Text reaching this is valid UTF-8
 * (ulm_request_add_message checks), so escaping quotes, backslashes and control
 * characters is all JSON asks.
 */
size_t ulm__json_escape(unsigned char ch, char out[6])
{
    static const char hex[] = "0123456789abcdef";
    if (ch >= 0x20 && ch != '"' && ch != '\\')
        return 0;
    out[0] = '\\';
    switch (ch) {
    case '"':
    case '\\':
        out[1] = (char)ch;
        return 2;
    case '\n':
        out[1] = 'n';
        return 2;
    case '\r':
        out[1] = 'r';
        return 2;
    case '\t':
        out[1] = 't';
        return 2;
    default:
        memcpy(out + 1, "u00", 3);
        out[4] = hex[ch >> 4];
        out[5] = hex[ch & 0xF];
        return 6;
    }
}

int ulm_text_append_json_string(ulm_text *b, const char *s, size_t length)
{
    if (!b || (!s && length))
        return ULM_EINVAL;
    int rc = ulm_text_append(b, "\"", 1);
    const char *run = s, *end = s + length;
    for (const char *p = s; rc == ULM_OK && p < end; p++) {
        char esc[6];
        size_t esc_len = ulm__json_escape((unsigned char)*p, esc);
        if (!esc_len)
            continue;
        rc = ulm_text_append(b, run, (size_t)(p - run));
        if (rc == ULM_OK)
            rc = ulm_text_append(b, esc, esc_len);
        run = p + 1;
    }
    if (rc == ULM_OK)
        rc = ulm_text_append(b, run, (size_t)(end - run));
    return rc == ULM_OK ? ulm_text_append(b, "\"", 1) : rc;
}
