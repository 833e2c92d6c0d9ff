/* utf8.h - strict UTF-8 (RFC 3629): what text the library accepts from a caller. */
#ifndef ULM_UTF8_H
#define ULM_UTF8_H

#include "alloc.h"

/*
 * The offset of the first byte of s[0, length) that does not start a well-formed UTF-8
 * character, or length when all of it is well formed. Surrogates (U+D800..U+DFFF), code
 * points above U+10FFFF, overlong forms and truncated sequences are not well formed.
 */
ULM_HIDDEN size_t ulm__utf8_invalid_at(const char *s, size_t length);

/* Whether the NUL-terminated s is well-formed UTF-8. */
static inline int ulm__valid_utf8(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return ulm__utf8_invalid_at(s, n) == n;
}

#endif /* ULM_UTF8_H */
