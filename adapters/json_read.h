/* json_read.h - reading the answers' JSON the same way in every adapter. */
#ifndef ULM_JSON_READ_H
#define ULM_JSON_READ_H

#include <jansson.h>

#include "wire.h"

/* A provider's name for something (an error type, a finish reason) and what it means here. */
typedef struct ulm_name_code {
    const char *name;
    int code;
} ulm_name_code;

/* The code of name in table (count entries); fallback for NULL or a name not listed. */
ULM_HIDDEN int ulm__code_of(const ulm_name_code *table, size_t count, const char *name,
                            int fallback);

/* object[key] when it is a whole number >= 0, else -1 (a count the backend did not give). */
ULM_HIDDEN long ulm__json_count(json_t *object, const char *key);

/* The answer was not what the protocol promises: ULM_EPROTOCOL with a reason. */
ULM_HIDDEN int ulm__protocol_error(ulm_result *out, const char *what);

/* Classifies a failure as code with the backend's message (a JSON string, or none). */
ULM_HIDDEN int ulm__error_with_message(ulm_result *out, int code, json_t *message);

/*
 * body parsed as a JSON object into *root (the caller decrefs it); when it is not one,
 * *root is NULL and out gets a protocol error saying what ("the answer", "a stream
 * event") was wrong: "... has invalid UTF-8 at byte N (0xXX)" (N counted from 0), "... is
 * an event stream where JSON was expected", or "... is not a JSON object". Returns what
 * setting the error returned, else ULM_OK.
 */
ULM_HIDDEN int ulm__json_object_of(const char *body, size_t length, const char *what,
                                   ulm_result *out, json_t **root);

/* One embedding, a JSON array of numbers, added to out (ULM_OP_EMBED); a protocol error
 * when it is not one. */
ULM_HIDDEN int ulm__json_add_vector(ulm_result *out, json_t *array);

/* A model list of the form {"data":[{"id":...},...]} (OpenAI, Anthropic) into out. */
ULM_HIDDEN int ulm__json_model_ids(json_t *root, ulm_result *out);

#endif /* ULM_JSON_READ_H */
