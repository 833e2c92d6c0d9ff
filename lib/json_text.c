/* json_text.c - JSON string literals: the one escaper of the library, for bodies and messages. */
#include <string.h>

#include "alloc.h"

/*
 * Request bodies are written directly rather than through a jansson tree: json_dumps()
 * checks every container for cycles with a formatted key in a hash table, which made
 * building a short body cost more than sending it. Text reaching this is valid UTF-8
 * (ulm_request_add_message checks), so escaping quotes, backslashes and control
 * characters is all JSON asks.
 */
int ulm_text_append_json_string(ulm_text *b, const char *s, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    if (!b || (!s && length))
        return ULM_EINVAL;
    int rc = ulm_text_append(b, "\"", 1);
    const char *run = s, *end = s + length;
    for (const char *p = s; rc == ULM_OK && p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t esc_len = 2;
        switch (ch) {
        case '"':
        case '\\':
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 0xF];
            esc_len = 6;
        }
        rc = ulm_text_append(b, run, (size_t)(p - run));
        if (rc == ULM_OK)
            rc = ulm_text_append(b, esc, esc_len);
        run = p + 1;
    }
    if (rc == ULM_OK)
        rc = ulm_text_append(b, run, (size_t)(end - run));
    return rc == ULM_OK ? ulm_text_append(b, "\"", 1) : rc;
}
