/* json_write.h - writes JSON text straight into a buffer, for the adapters' request bodies. */
#ifndef ULM_JSON_WRITE_H
#define ULM_JSON_WRITE_H

#include "wire.h"

/*
 * Request bodies are written directly rather than through a jansson tree (json_text.c in
 * the core says why), with the library's one string escaper, ulm_text_append_json_string().
 */

/* Appends a string literal's bytes, its length counted by the compiler, not by hand. */
#define ulm__json_literal(b, literal) ulm_text_append((b), (literal), sizeof(literal) - 1)

#include <string.h>

/* A JSON string: s between quotes, escaped. */
static inline int ulm__json_string(ulm_text *b, const char *s)
{
    return ulm_text_append_json_string(b, s, strlen(s));
}

/* A whole number, in decimal. */
ULM_HIDDEN int ulm__json_integer(ulm_text *b, long long value);

/* The shortest number that reads back as the same double. */
ULM_HIDDEN int ulm__json_real(ulm_text *b, double value);

/* ,"key": - for every member after an object's first. */
ULM_HIDDEN int ulm__json_key(ulm_text *b, const char *key);

/* An array of the request's stop sequences. */
ULM_HIDDEN int ulm__json_stops(ulm_text *b, const ulm_request *req);

/* Moves a written body into the request (no copy) and sets method and path; on failure
 * the body is freed. */
ULM_HIDDEN int ulm__json_send(ulm_text *body, const char *method, const char *path,
                              ulm_http_request *out);

#endif /* ULM_JSON_WRITE_H */
