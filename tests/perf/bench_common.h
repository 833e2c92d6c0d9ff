/* bench_common.h - what the benchmarks share: fatal errors, clocks, medians, and the baseline's readers of OpenAI fields. */
#ifndef ULM_BENCH_COMMON_H
#define ULM_BENCH_COMMON_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ultrallm/ultrallm.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME, the benchmark's program name, before including bench_common.h"
#endif

/* A usage or setup error: the message, then exit status 2. */
static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(BENCH_NAME ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* The value of a command-line option: an integer of at least min, else die(). */
static inline long count_arg(const char *flag, const char *value, long min)
{
    char *end;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || *end || v < min)
        die("%s expects an integer >= %ld", flag, min);
    return v;
}

/* Microseconds on clock (CLOCK_MONOTONIC for wall time, CLOCK_PROCESS_CPUTIME_ID for CPU). */
static inline double now_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v in place. */
static inline double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The baseline (plain libcurl + jansson) reads an OpenAI answer the way the adapter does,
 * so that both sides of a ratio do the same parsing: these two are its finish reason and
 * token counts.
 */
static inline int finish_code(const char *reason)
{
    if (!reason)
        return ULM_FINISH_UNKNOWN;
    if (strcmp(reason, "stop") == 0)
        return ULM_FINISH_STOP;
    if (strcmp(reason, "length") == 0)
        return ULM_FINISH_LENGTH;
    if (strcmp(reason, "content_filter") == 0)
        return ULM_FINISH_CONTENT_FILTER;
    if (strcmp(reason, "tool_calls") == 0 || strcmp(reason, "function_call") == 0)
        return ULM_FINISH_TOOL_CALLS;
    return ULM_FINISH_UNKNOWN;
}

static inline long usage_count(json_t *usage, const char *key)
{
    json_t *v = json_object_get(usage, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (long)json_integer_value(v) : -1;
}

#endif /* ULM_BENCH_COMMON_H */
