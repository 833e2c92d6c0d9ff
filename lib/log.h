/* log.h - the library's diagnostics, through the callbacks a client was given. */
#ifndef ULM_LOG_H
#define ULM_LOG_H

#include "alloc.h"
#include "redact.h"

typedef struct ulm_logger {
    ulm_log_fn fn; /* the message; NULL: not wanted */
    void *payload;
    ulm_log_event_fn event_fn; /* the structured fields; NULL: not wanted */
    void *event_payload;
    int level; /* most verbose level passed to either */
    const ulm_secrets *secrets; /* the client's keys, taken out of every line (may be NULL) */
} ulm_logger;

/* What a diagnostic is about, beside its message (ulm_log_event): strings may be NULL
 * for "does not apply"; error ULM_OK, http_status 0, attempt 0 and ms -1 say the same. */
typedef struct ulm_log_fields {
    const char *event;
    const char *backend;
    const char *model;
    unsigned int attempt;
    int error;
    int http_status;
    double ms;
} ulm_log_fields;

/* Non-zero when a diagnostic of level reaches a callback: lets a caller skip the work of
 * gathering fields that nobody reads. */
ULM_HIDDEN int ulm__log_wanted(const ulm_logger *log, int level);

/* Formats one line and hands it, redacted (redact.h), with fields, to the logger's
 * callbacks when level passes. */
ULM_HIDDEN void ulm__log_event(const ulm_logger *log, int level, ulm_log_fields fields,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* ULM_LOG_H */
