/* redact.h - what may be shown of a text that could hold a secret: keys removed, length capped. */
#ifndef ULM_REDACT_H
#define ULM_REDACT_H

#include "alloc.h"

/* How much of a backend's own error text reaches a caller. */
#define ULM_UPSTREAM_TEXT_CAP 200

/* The keys a client was given, each replaced wherever it appears; the strings are borrowed. */
typedef struct ulm_secrets {
    const char **keys;
    size_t count;
} ulm_secrets;

/* A copy of text with every key of secrets (may be NULL) and anything shaped like a
 * credential replaced by [REDACTED]; NULL when memory ran out. */
ULM_HIDDEN char *ulm__redacted(const ulm_secrets *secrets, const char *text, size_t length);

/* A copy of url with its user:password@ part, if any, shown as ***@ (a credential
 * wherever it is written); NULL when memory ran out. */
ULM_HIDDEN char *ulm__url_without_userinfo(const char *url);

/* Copies at most cap bytes of text (ending on a UTF-8 boundary), folding control
 * characters to spaces and marking a cut with "..." */
ULM_HIDDEN char *ulm__cap_text(const char *text, size_t length, size_t cap);

#endif /* ULM_REDACT_H */
