/* json_text.h - JSON string literals: the one escaper of the library, for bodies and messages. */
#ifndef ULM_JSON_TEXT_H
#define ULM_JSON_TEXT_H

#include "alloc.h"

/*
 * How one byte is written inside a JSON string: 0 when as itself, else the length of the
 * escape put in out (\" \\ \n \r \t, or \u00XX for another control character).
 * ulm_text_append_json_string() (provider.h) writes whole strings with it.
 */
ULM_HIDDEN size_t ulm__json_escape(unsigned char ch, char out[6]);

#endif /* ULM_JSON_TEXT_H */
