/* json_write.h - writes JSON text straight into a buffer, for the adapters' request bodies. */
#ifndef ULM_JSON_WRITE_H
#define ULM_JSON_WRITE_H

#include "../lib/internal.h"

/*
 * Request bodies are written directly rather than through a jansson tree: json_dumps()
 * checks every container for cycles with a formatted key in a hash table, which made
 * building a short body cost more than sending it. Text reaching these is valid UTF-8
 * (ulm_request_add_message checks), so escaping quotes, backslashes and control
 * characters is all JSON asks.
 */

/* Appends a string literal's bytes, its length counted by the compiler, not by hand. */
#define ulm__json_literal(b, literal) ulm__buf_append((b), (literal), sizeof(literal) - 1)

/* A JSON string: s between quotes, escaped. */
ULM_HIDDEN int ulm__json_string(ulm_buf *b, const char *s);

/* The shortest number that reads back as the same double. */
ULM_HIDDEN int ulm__json_real(ulm_buf *b, double value);

/* ,"key": - for every member after an object's first. */
ULM_HIDDEN int ulm__json_key(ulm_buf *b, const char *key);

/* An array of the request's stop sequences. */
ULM_HIDDEN int ulm__json_stops(ulm_buf *b, const ulm_request *req);

/* Moves a written body into the request (no copy) and sets method and path; on failure
 * the body is freed. */
ULM_HIDDEN int ulm__json_send(ulm_buf *body, const char *method, const char *path,
                              ulm_http_request *out);

#endif /* ULM_JSON_WRITE_H */
