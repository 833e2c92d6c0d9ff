/* json_write.c - writes JSON strings, numbers and keys into a buffer for request bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"

int ulm__json_real(ulm_text *b, double value)
{
    char text[32];
    snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value)
        snprintf(text, sizeof text, "%.17g", value);
    return ulm_text_append(b, text, strlen(text));
}

int ulm__json_integer(ulm_text *b, long long value)
{
    char digits[24]; /* 19 digits and a sign at most */
    char *at = digits + sizeof digits;
    /* the magnitude as unsigned, so that LLONG_MIN does not overflow */
    unsigned long long magnitude = value < 0 ? 0ULL - (unsigned long long)value
                                             : (unsigned long long)value;
    do {
        *--at = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0)
        *--at = '-';
    return ulm_text_append(b, at, (size_t)(digits + sizeof digits - at));
}

int ulm__json_key(ulm_text *b, const char *key)
{
    int rc = ulm_text_append(b, ",", 1);
    if (rc == ULM_OK)
        rc = ulm__json_string(b, key);
    return rc == ULM_OK ? ulm_text_append(b, ":", 1) : rc;
}

int ulm__json_stops(ulm_text *b, const ulm_request *req)
{
    int rc = ulm_text_append(b, "[", 1);
    for (size_t i = 0; rc == ULM_OK && i < ulm_request_stop_count(req); i++) {
        if (i)
            rc = ulm_text_append(b, ",", 1);
        if (rc == ULM_OK)
            rc = ulm__json_string(b, ulm_request_stop(req, i));
    }
    return rc == ULM_OK ? ulm_text_append(b, "]", 1) : rc;
}

int ulm__json_send(ulm_text *body, const char *method, const char *path,
                   ulm_http_request *out)
{
    int rc = ulm_http_request_set_target(out, method, path);
    if (rc != ULM_OK) {
        ulm_text_free(body);
        return rc;
    }
    return ulm_http_request_take_body(out, body);
}
