/* redact.h - what may be shown of a text that could hold a secret: keys removed, length capped. */
#ifndef ULM_REDACT_H
#define ULM_REDACT_H

#include "alloc.h"

/* How much of a backend's own error text reaches a caller. */
#define ULM_UPSTREAM_TEXT_CAP 200

/*
 * The shortest key used as a pattern. A configured key is replaced wherever it occurs,
 * inside longer words too (a key may follow "%3D" of an encoded query); a shorter one
 * ("x", "none": the dummies local servers are given) is not a secret worth garbling every
 * message for, and the library never writes a key into a message itself.
 */
#define ULM_REDACT_MIN_KEY 8

/* The keys a client was given, each replaced wherever it appears; the strings are borrowed. */
typedef struct ulm_secrets {
    const char **keys;
    size_t count;
} ulm_secrets;

/*
 * A copy of text with every key of secrets (may be NULL) and anything shaped like a
 * credential replaced by [REDACTED]: "sk-..." and "AIza..." keys, "Bearer ...", "Basic ..."
 * and key header values, a URL's userinfo ("https://[REDACTED]@host") and the values of
 * credential-named query parameters (key, api_key, apikey, api-key, access_token, token,
 * auth, password, secret, x-goog-api-key). NULL when memory ran out.
 */
ULM_HIDDEN char *ulm__redacted(const ulm_secrets *secrets, const char *text, size_t length);

/* A URL as it may be shown (in a log line, a message, describe, a model list): its
 * credentials replaced as ulm__redacted() does. NULL when memory ran out. */
ULM_HIDDEN char *ulm__redacted_url(const char *url);

/* Copies at most cap bytes of text (ending on a UTF-8 boundary), folding control
 * characters to spaces and marking a cut with "..." */
ULM_HIDDEN char *ulm__cap_text(const char *text, size_t length, size_t cap);

#endif /* ULM_REDACT_H */
