/* openai_scan.h - a fast reader of the common OpenAI answer and stream chunk, beside the jansson one of openai_wire.c. */
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

/* What a whole chat completion of the common shape says: its model,
 * choices[0].message.content (escapes still in it when content_escaped), the finish
 * reason, and usage's counts (-1 for one it does not give as a whole number >= 0). */
typedef struct ulm_openai_completion {
    ulm_openai_span model, content, finish;
    int content_escaped;
    long prompt_tokens, completion_tokens, total_tokens;
} ulm_openai_completion;

/*
 * Reads data[0, len) when it is a chat completion of the common shape: valid JSON (as
 * jansson accepts it), an object with choices (an array whose first element is an object
 * holding a message object), no "error", and none of what openai_scan.c lists as left to
 * jansson. Returns 1 and fills out, else 0: then jansson must read the answer.
 */
ULM_HIDDEN int ulm__openai_scan_completion(const char *data, size_t len,
                                           ulm_openai_completion *out);

/* Writes in's text with its escapes resolved into out (room for in->len bytes); returns
 * its length. in is a string ulm__openai_scan_chunk accepted. */
ULM_HIDDEN size_t ulm__openai_unescape(const ulm_openai_span *in, char *out);

#endif /* ULM_OPENAI_SCAN_H */
