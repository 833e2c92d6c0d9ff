/* runner_metrics.c - a Docker Model Runner's state and own metrics as Prometheus text, under the ulm_dmr_ prefix. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "runner_metrics.h"

#define RUNNER_PREFIX "ulm_dmr_runner_"

/* The appends of one write: the first failure sticks, and the rest do nothing. */
typedef struct writer {
    ulm_text *out;
    int rc;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->rc == ULM_OK)
        w->rc = ulm_text_append(w->out, s, n);
}

static void put_str(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* A label value: backslash, double quote and line feed escaped, as the format says. */
static void put_label_value(writer *w, const char *s)
{
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (esc)
            put(w, esc, 2);
        else
            put(w, s, 1);
    }
}

static void put_family(writer *w, const char *name, const char *help, const char *type)
{
    put_str(w, "# HELP ");
    put_str(w, name);
    put(w, " ", 1);
    put_str(w, help);
    put_str(w, "\n# TYPE ");
    put_str(w, name);
    put(w, " ", 1);
    put_str(w, type);
    put(w, "\n", 1);
}

/* name{backend="...", then the caller's labels and "} value" */
static void put_series_start(writer *w, const char *name, const char *backend)
{
    put_str(w, name);
    put_str(w, "{backend=\"");
    put_label_value(w, backend);
    put(w, "\"", 1);
}

static void put_i64(writer *w, int64_t v)
{
    if (w->rc == ULM_OK)
        w->rc = ulm_text_appendf(w->out, "%" PRId64, v);
}

/* ---------------------------------------------------------------- the runner's state */

static const char *runner_state(const ulm_dmr_runner *r)
{
    return r->loading ? "loading" : r->in_use ? "in_use" : "idle";
}

static void write_state(writer *w, const ulm_runner_scrape *s)
{
    put_family(w, "ulm_dmr_up",
               "Whether the Docker Model Runner answered GET /engines/ps (1) or not (0).", "gauge");
    put_series_start(w, "ulm_dmr_up", s->backend);
    put_str(w, s->up ? "} 1\n" : "} 0\n");
    if (s->up) {
        static const char *const states[] = {"loading", "in_use", "idle"};
        put_family(w, "ulm_dmr_runners",
                   "Models the Docker Model Runner holds in memory, by state: loading, "
                   "in_use (serving a request) or idle.",
                   "gauge");
        for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
            int64_t n = 0;
            for (size_t r = 0; r < s->runners->count; r++)
                n += strcmp(runner_state(&s->runners->items[r]), states[i]) == 0;
            put_series_start(w, "ulm_dmr_runners", s->backend);
            put_str(w, ",state=\"");
            put_str(w, states[i]);
            put_str(w, "\"} ");
            put_i64(w, n);
            put(w, "\n", 1);
        }
        put_family(w, "ulm_dmr_runner_info",
                   "A model the Docker Model Runner holds in memory: its name, inference "
                   "engine, mode and state (always 1).",
                   "gauge");
        for (size_t r = 0; r < s->runners->count; r++) {
            const ulm_dmr_runner *x = &s->runners->items[r];
            const char *labels[][2] = {{"model", x->model},
                                       {"engine", x->backend},
                                       {"mode", x->mode},
                                       {"state", runner_state(x)},
                                       {"keep_alive", x->keep_alive}};
            put_series_start(w, "ulm_dmr_runner_info", s->backend);
            for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
                put(w, ",", 1);
                put_str(w, labels[i][0]);
                put_str(w, "=\"");
                put_label_value(w, labels[i][1] ? labels[i][1] : "");
                put(w, "\"", 1);
            }
            put_str(w, "} 1\n");
        }
    }
    if (s->disk_bytes >= 0) {
        put_family(w, "ulm_dmr_models_disk_bytes",
                   "Bytes the models pulled into the Docker Model Runner take on its disk.",
                   "gauge");
        put_series_start(w, "ulm_dmr_models_disk_bytes", s->backend);
        put_str(w, "} ");
        put_i64(w, s->disk_bytes);
        put(w, "\n", 1);
    }
}

/* ---------------------------------------------------------------- the runner's metrics */

static int name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* The length of the metric or label name at s (0: none there). */
static size_t name_length(const char *s, const char *end)
{
    size_t n = 0;
    while (s + n < end && name_char(s[n], n == 0))
        n++;
    return n;
}

/* ulm_dmr_runner_ and the runner's name, with ':' made '_' (a colon is for recording
 * rules) */
static void put_runner_name(writer *w, const char *name, size_t n)
{
    put_str(w, RUNNER_PREFIX);
    for (size_t i = 0; i < n; i++)
        put(w, name[i] == ':' ? "_" : name + i, 1);
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* "# HELP name text" or "# TYPE name type", renamed; any other comment is left out. */
static int write_comment(writer *w, const char *p, const char *end)
{
    p = skip_blanks(p + 1, end);
    size_t keyword = (size_t)(end - p) >= 4 ? 4 : 0;
    if (!keyword || (memcmp(p, "HELP", 4) != 0 && memcmp(p, "TYPE", 4) != 0))
        return 0;
    const char *kind = p;
    p = skip_blanks(p + 4, end);
    size_t n = name_length(p, end);
    if (!n || (p + n < end && p[n] != ' ' && p[n] != '\t'))
        return 0;
    put_str(w, "# ");
    put(w, kind, 4);
    put(w, " ", 1);
    put_runner_name(w, p, n);
    const char *rest = skip_blanks(p + n, end);
    put(w, " ", 1);
    put(w, rest, (size_t)(end - rest));
    put(w, "\n", 1);
    return 1;
}

/* The end of the quoted label value that starts after the quote at p, or NULL. */
static const char *value_end(const char *p, const char *end)
{
    for (; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p;
    }
    return NULL;
}

/* Whether the value at p, up to a blank or end, is a number as the format writes one (Go's
 * ParseFloat and C's strtod agree on decimals, exponents, NaN and Inf). */
static int is_number(const char *p, const char *end)
{
    char text[64];
    size_t n = 0;
    while (p + n < end && p[n] != ' ' && p[n] != '\t')
        n++;
    if (!n || n >= sizeof text)
        return 0;
    memcpy(text, p, n);
    text[n] = '\0';
    char *stop;
    strtod(text, &stop);
    return *stop == '\0';
}

/* name{labels} value [timestamp], renamed and relabelled; 0 when it does not parse. */
static int write_sample(writer *w, const ulm_runner_scrape *s, const char *p, const char *end)
{
    size_t n = name_length(p, end);
    if (!n)
        return 0;
    const char *name = p;
    p += n;
    /* the labels are checked before anything is written */
    const char *labels = NULL, *labels_end = NULL;
    if (p < end && *p == '{') {
        labels = p + 1;
        for (p = labels;;) {
            p = skip_blanks(p, end);
            if (p < end && *p == '}')
                break;
            size_t ln = name_length(p, end);
            if (!ln || p + ln + 1 >= end || p[ln] != '=' || p[ln + 1] != '"')
                return 0;
            const char *closing = value_end(p + ln + 2, end);
            if (!closing)
                return 0;
            p = skip_blanks(closing + 1, end);
            if (p < end && *p == ',')
                p++;
            else if (p >= end || *p != '}')
                return 0;
        }
        labels_end = p;
        p++;
    }
    const char *value = skip_blanks(p, end);
    if (value == p && labels == NULL && value < end)
        return 0; /* the name runs into something else */
    if (value >= end || !is_number(value, end))
        return 0;
    put_runner_name(w, name, n);
    put_str(w, "{backend=\"");
    put_label_value(w, s->backend);
    put(w, "\"", 1);
    for (p = labels; labels && p < labels_end;) {
        p = skip_blanks(p, labels_end);
        if (p >= labels_end)
            break;
        size_t ln = name_length(p, labels_end);
        const char *closing = value_end(p + ln + 2, labels_end);
        put(w, ",", 1);
        if (ln == 7 && memcmp(p, "backend", 7) == 0)
            put_str(w, "engine");
        else
            put(w, p, ln);
        put(w, p + ln, (size_t)(closing + 1 - (p + ln))); /* ="value" as it was escaped */
        p = skip_blanks(closing + 1, labels_end);
        if (p < labels_end && *p == ',')
            p++;
    }
    put_str(w, "} ");
    put(w, value, (size_t)(end - value));
    put(w, "\n", 1);
    return 1;
}

static void write_runner_metrics(writer *w, const ulm_runner_scrape *s)
{
    const char *p = s->metrics, *end = s->metrics + s->metrics_length;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *trimmed = line_end;
        while (trimmed > p && (trimmed[-1] == '\r' || trimmed[-1] == ' ' || trimmed[-1] == '\t'))
            trimmed--;
        const char *start = skip_blanks(p, trimmed);
        if (start < trimmed) {
            if (*start == '#')
                write_comment(w, start, trimmed);
            else
                write_sample(w, s, start, trimmed);
        }
        p = eol ? eol + 1 : end;
    }
}

int ulm__runner_metrics_write(ulm_text *out, const ulm_runner_scrape *scrape)
{
    writer w = {.out = out, .rc = ULM_OK};
    write_state(&w, scrape);
    if (scrape->metrics)
        write_runner_metrics(&w, scrape);
    return w.rc;
}
