/* log.c - the library's diagnostics, through the callback a client was given, redacted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void ulm__log(const ulm_logger *log, int level, const char *fmt, ...)
{
    if (!log || !log->fn || level > log->level)
        return;
    char line[ULM_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* every line, whatever it was made of: a URL with credentials, a backend's words */
    char *clean = ulm__redacted(log->secrets, line, strlen(line));
    if (!clean)
        return; /* out of memory: a line that might hold a key is not worth the risk */
    log->fn(level, clean, log->payload);
    free(clean);
}
