/* log.h - the library's diagnostics, through the callback a client was given. */
#ifndef ULM_LOG_H
#define ULM_LOG_H

#include "alloc.h"
#include "redact.h"

typedef struct ulm_logger {
    ulm_log_fn fn;   /* NULL: the library stays silent */
    void *payload;
    int level;       /* most verbose level passed to fn */
    const ulm_secrets *secrets; /* the client's keys, taken out of every line (may be NULL) */
} ulm_logger;

/* Formats one line and hands it, redacted (redact.h), to the logger's callback when
 * level passes. */
ULM_HIDDEN void ulm__log(const ulm_logger *log, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* ULM_LOG_H */
