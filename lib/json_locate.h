/* json_locate.h - where a value sits in JSON text (jansson does not keep lines), and paths written for messages. */
#ifndef ULM_JSON_LOCATE_H
#define ULM_JSON_LOCATE_H

#include <stddef.h>

#include "alloc.h"

/* One step of a path from the top-level value: an object member or an array element. */
typedef struct ulm_json_step {
    const char *key; /* the member's name; NULL: the element at index */
    size_t index;
} ulm_json_step;

/*
 * The 1-based line on which the value at path starts in text, or 0 when text holds no
 * such value. Meant for text that jansson already parsed, but any bytes are safe: it never
 * reads outside text[0, length). When a key repeats, the first one counts.
 */
ULM_HIDDEN size_t ulm__json_line(const char *text, size_t length, const ulm_json_step *path,
                                 size_t depth);

/*
 * Writes path as messages show it: models.fast[1], and keys that are not plain names
 * ([A-Za-z_][A-Za-z0-9_-]*) quoted, as in models["local/ai/smollm2"].temperature. The root
 * is "". Always terminated; a path that does not fit is cut.
 */
ULM_HIDDEN void ulm__json_path_format(const ulm_json_step *path, size_t depth, char *buf,
                                      size_t size);

/*
 * Writes the length bytes at s as a JSON string literal ("a\"b"), so a message shows
 * control characters and quotes unambiguously. A string that does not fit is cut on a
 * UTF-8 boundary and ends in ..." instead; size must be at least 6.
 */
ULM_HIDDEN void ulm__json_quote(const char *s, size_t length, char *buf, size_t size);

#endif /* ULM_JSON_LOCATE_H */
