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

/* v[round(p * (n - 1))] of v sorted; sorts v in place. */
static inline double quantile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

/*
 * One row of the table tests/perf/run prints, as a tab-separated line that starts with
 * "@row": the metric, its unit, ours, the baseline's, the ratio, the spread (the middle
 * half of the ratios: their 25th and 75th percentiles) and the target ("-" for none).
 * A ratio is always of cost, ours over the baseline's: time, CPU or bytes, so below 1 we
 * are cheaper; for a speed (a unit ending in "/s") that is the baseline's speed over ours.
 * ratios holds one ratio per repetition, each measured next to its baseline; the ratio
 * printed is their median. With no ratios (n == 0) the ratio comes from ours and base,
 * without a spread; with no baseline (base <= 0) there is no ratio. Sorts ratios in place.
 */
static inline void table_row(const char *metric, const char *unit, double ours, double base,
                             double *ratios, size_t n, const char *target)
{
    printf("@row\t%s\t%s\t%.6g\t", metric, unit, ours);
    if (base > 0)
        printf("%.6g\t", base);
    else
        printf("-\t");
    if (n > 0)
        printf("%.4f\t%.4f-%.4f", median(ratios, n), quantile(ratios, n, 0.25),
               quantile(ratios, n, 0.75));
    else if (base > 0 && strlen(unit) > 2 && strcmp(unit + strlen(unit) - 2, "/s") == 0)
        printf("%.4f\t-", base / ours);
    else if (base > 0)
        printf("%.4f\t-", ours / base);
    else
        printf("-\t-");
    printf("\t%s\n", target ? target : "-");
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
