/* openai_scan.h - a fast reader of the common OpenAI stream chunk, beside the jansson one of openai_wire.c. */
#ifndef ULM_OPENAI_SCAN_H
#define ULM_OPENAI_SCAN_H

#include "wire.h"

/* Bytes of a chunk's data, not NUL-terminated; data is NULL for a JSON null. */
typedef struct ulm_openai_span {
    const char *data;
    size_t len;
} ulm_openai_span;

/* What a chunk of the common shape says: its model, choices[0].delta.content (escapes
 * still in it when content_escaped) and choices[0].finish_reason. */
typedef struct ulm_openai_chunk {
    ulm_openai_span model, content, finish;
    int content_escaped;
} ulm_openai_chunk;

/*
 * Reads data[0, len) when it is a chunk of the common shape: valid JSON (as jansson
 * accepts it), an object with choices (an array whose first element is an object), no
 * "error", "usage" null or absent, and none of what openai_scan.c lists as left to
 * jansson. Returns 1 and fills out, else 0: then jansson must read the chunk.
 */
ULM_HIDDEN int ulm__openai_scan_chunk(const char *data, size_t len, ulm_openai_chunk *out);

/* Writes in's text with its escapes resolved into out (room for in->len bytes); returns
 * its length. in is a string ulm__openai_scan_chunk accepted. */
ULM_HIDDEN size_t ulm__openai_unescape(const ulm_openai_span *in, char *out);

#endif /* ULM_OPENAI_SCAN_H */
