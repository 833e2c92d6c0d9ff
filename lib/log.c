/* log.c - the library's diagnostics, through the callback a client was given. */
#include <stdio.h>

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
    log->fn(level, line, log->payload);
}
