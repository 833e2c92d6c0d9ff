/* json_write.c - writes JSON strings, numbers and keys into a buffer for request bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"

int ulm__json_string(ulm_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int rc = ulm__buf_append(b, "\"", 1);
    const char *run = s;
    for (const char *p = s; rc == ULM_OK && *p; p++) {
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
        rc = ulm__buf_append(b, run, (size_t)(p - run));
        if (rc == ULM_OK)
            rc = ulm__buf_append(b, esc, esc_len);
        run = p + 1;
    }
    if (rc == ULM_OK)
        rc = ulm__buf_append(b, run, strlen(run));
    return rc == ULM_OK ? ulm__buf_append(b, "\"", 1) : rc;
}

int ulm__json_real(ulm_buf *b, double value)
{
    char text[32];
    snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value)
        snprintf(text, sizeof text, "%.17g", value);
    return ulm__buf_append(b, text, strlen(text));
}

int ulm__json_key(ulm_buf *b, const char *key)
{
    int rc = ulm__buf_append(b, ",", 1);
    if (rc == ULM_OK)
        rc = ulm__json_string(b, key);
    return rc == ULM_OK ? ulm__buf_append(b, ":", 1) : rc;
}

int ulm__json_stops(ulm_buf *b, const ulm_request *req)
{
    int rc = ulm__buf_append(b, "[", 1);
    for (size_t i = 0; rc == ULM_OK && i < ulm_request_stop_count(req); i++) {
        if (i)
            rc = ulm__buf_append(b, ",", 1);
        if (rc == ULM_OK)
            rc = ulm__json_string(b, ulm_request_stop(req, i));
    }
    return rc == ULM_OK ? ulm__buf_append(b, "]", 1) : rc;
}

int ulm__json_send(ulm_buf *body, const char *method, const char *path,
                   ulm_http_request *out)
{
    int rc = ulm_http_request_set_target(out, method, path);
    if (rc != ULM_OK) {
        ulm__buf_free(body);
        return rc;
    }
    free(out->body);
    out->body = body->data;
    out->body_len = body->len;
    body->data = NULL;
    body->len = body->cap = 0;
    return ULM_OK;
}
