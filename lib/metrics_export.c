/* metrics_export.c - a metrics registry as Prometheus text or JSON, in a caller's buffer. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "metrics.h"

/* ---------------------------------------------------------------- the buffer */

/* The caller's buffer: what fits is written, and len counts everything, as snprintf
 * does, so nothing here allocates and nothing can fail. */
typedef struct sink {
    char *buf;
    size_t size;
    size_t len;
} sink;

static void put(sink *o, const char *s, size_t n)
{
    if (o->len + 1 < o->size) {
        size_t room = o->size - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_str(sink *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u64(sink *o, uint64_t v)
{
    char text[24];
    put(o, text, (size_t)snprintf(text, sizeof text, "%" PRIu64, v));
}

static void put_i64(sink *o, int64_t v)
{
    char text[24];
    put(o, text, (size_t)snprintf(text, sizeof text, "%" PRId64, v));
}

/* A sum kept in millionths or thousandths, printed exactly as a decimal fraction. */
static void put_fixed(sink *o, uint64_t v, uint64_t scale)
{
    char text[48];
    int digits = scale == 1000000 ? 6 : 3;
    put(o, text,
        (size_t)snprintf(text, sizeof text, "%" PRIu64 ".%0*" PRIu64, v / scale, digits,
                         v % scale));
}

/* A Prometheus label value: backslash, double quote and line feed escaped. */
static void put_label_value(sink *o, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        put(o, run, (size_t)(s - run));
        put(o, esc, 2);
        run = s + 1;
    }
    put(o, run, (size_t)(s - run));
}

/* A JSON string: quotes, backslashes and control characters escaped; the text is UTF-8
 * (model names are checked when their series is claimed). */
static void put_json_string(sink *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(o, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        put(o, run, (size_t)(s - run));
        char esc[6] = {'\\', (char)ch};
        if (ch < 0x20) {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 0xF];
        }
        put(o, esc, ch < 0x20 ? 6 : 2);
        run = s + 1;
    }
    put(o, run, (size_t)(s - run));
    put(o, "\"", 1);
}

static uint64_t load(const ulm_metric_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---------------------------------------------------------------- what is exported */

typedef enum family_kind { COUNTER, BY_CLASS, HISTOGRAM } family_kind;

/* A metric of every backend and model: its name without the ulm_ prefix, its help line,
 * and where its numbers are in a ulm_model_series. */
typedef struct model_family {
    const char *name;
    const char *help;
    family_kind kind;
    size_t offset;
    const ulm_metric_bounds *bounds; /* histograms */
} model_family;

#define SERIES_FIELD(field) offsetof(ulm_model_series, field)

static const model_family model_families[] = {
    {"requests_started_total",
     "Requests sent to a backend's model: every attempt, retries and fallbacks included.",
     COUNTER, SERIES_FIELD(requests_started), NULL},
    {"requests_succeeded_total", "Requests that the backend answered.", COUNTER,
     SERIES_FIELD(requests_succeeded), NULL},
    {"requests_failed_total", "Requests that failed, by error class (ulm_error_name).",
     BY_CLASS, SERIES_FIELD(requests_failed), NULL},
    {"requests_cancelled_total", "Requests the caller cancelled (ULM_ECANCELLED).", COUNTER,
     SERIES_FIELD(requests_cancelled), NULL},
    {"retries_total", "Requests sent again to the same model after a failure.", COUNTER,
     SERIES_FIELD(retries), NULL},
    {"request_duration_seconds", "Duration of the requests that succeeded, start to last byte.",
     HISTOGRAM, SERIES_FIELD(request_seconds), &ulm__metrics_seconds},
    {"time_to_first_token_seconds", "Time from a streamed request's start to its first token.",
     HISTOGRAM, SERIES_FIELD(first_token_seconds), &ulm__metrics_seconds},
    {"model_load_wait_seconds", "Time a request waited for a local model to load.", HISTOGRAM,
     SERIES_FIELD(load_wait_seconds), &ulm__metrics_seconds},
    {"completion_tokens_per_second",
     "Generation speed of the requests that succeeded: tokens after the first over the time "
     "they took when streamed, else all tokens over the whole request.",
     HISTOGRAM, SERIES_FIELD(tokens_per_second), &ulm__metrics_token_rate},
    {"prompt_tokens_total", "Prompt tokens the backend reported.", COUNTER,
     SERIES_FIELD(prompt_tokens), NULL},
    {"completion_tokens_total", "Completion tokens the backend reported.", COUNTER,
     SERIES_FIELD(completion_tokens), NULL},
    {"calls_succeeded_total",
     "Calls (ulm_complete) that got an answer, by the backend and model that gave it.",
     COUNTER, SERIES_FIELD(calls_succeeded), NULL},
    {"calls_failed_total",
     "Calls that failed after every retry and fallback, by the last backend and model asked "
     "and error class.",
     BY_CLASS, SERIES_FIELD(calls_failed), NULL},
    {"calls_cancelled_total", "Calls the caller cancelled.", COUNTER,
     SERIES_FIELD(calls_cancelled), NULL},
    {"calls_served_offline_total",
     "Calls a local model answered because cloud backends were unreachable.", COUNTER,
     SERIES_FIELD(calls_served_offline), NULL},
    {"call_duration_seconds",
     "Duration of the calls that succeeded, all retries and fallbacks included.", HISTOGRAM,
     SERIES_FIELD(call_seconds), &ulm__metrics_seconds},
};

#define FAMILY_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* The name of failure class i (ulm_error_name of its code). */
static const char *class_name(size_t i)
{
    return i + 1 < ULM_METRICS_ERROR_CLASSES ? ulm_error_name(-(int)i - 1) : "unknown";
}

/* One backend's series as they stand when the export starts, so that every family lists
 * the same models even while new ones are claimed. */
typedef struct backend_view {
    const ulm_backend_metrics *bm;
    const ulm_model_series *series[ULM_METRICS_MODEL_CAP + 1];
    size_t count;
} backend_view;

typedef struct snapshot {
    backend_view backends[ULM_MAX_BACKENDS];
    size_t count;
} snapshot;

static void take_snapshot(const ulm_metrics *m, snapshot *v)
{
    v->count = 0;
    for (size_t b = 0; b < m->backend_count; b++) {
        const ulm_backend_metrics *bm = &m->backends[b];
        if (bm->hidden)
            continue;
        backend_view *bv = &v->backends[v->count++];
        bv->bm = bm;
        bv->count = 0;
        for (size_t i = 0; i < ULM_METRICS_MODEL_CAP; i++) {
            const ulm_model_series *s =
                atomic_load_explicit(&bm->models[i], memory_order_acquire);
            if (!s)
                break;
            bv->series[bv->count++] = s;
        }
        if (atomic_load_explicit(&bm->other.used, memory_order_relaxed))
            bv->series[bv->count++] = &bm->other;
    }
}

static const char *model_label(const ulm_model_series *s)
{
    return s->name ? s->name : "other";
}

static const void *field_of(const ulm_model_series *s, const model_family *f)
{
    return (const char *)s + f->offset;
}

/* A histogram's cumulative bucket counts, read once; the last is the count. */
static void read_histogram(const ulm_metric_histogram *h, uint64_t cumulative[],
                           uint64_t *sum)
{
    uint64_t running = 0;
    for (size_t i = 0; i <= ULM_METRICS_BUCKETS; i++) {
        running += load(&h->bucket[i]);
        cumulative[i] = running;
    }
    *sum = load(&h->sum);
}

static uint64_t sum_scale(const ulm_metric_bounds *b)
{
    return b == &ulm__metrics_seconds ? 1000000 : 1000;
}

/* ---------------------------------------------------------------- Prometheus */

static void prom_header(sink *o, const char *name, const char *help, const char *type)
{
    put_str(o, "# HELP ulm_");
    put_str(o, name);
    put(o, " ", 1);
    put_str(o, help);
    put_str(o, "\n# TYPE ulm_");
    put_str(o, name);
    put(o, " ", 1);
    put_str(o, type);
    put(o, "\n", 1);
}

/* ulm_<name><suffix>{backend="..",model=".." and extra, if any */
static void prom_series_start(sink *o, const char *name, const char *suffix,
                              const backend_view *bv, const ulm_model_series *s)
{
    put_str(o, "ulm_");
    put_str(o, name);
    put_str(o, suffix);
    put_str(o, "{backend=\"");
    put_label_value(o, bv->bm->name);
    put_str(o, "\",model=\"");
    put_label_value(o, model_label(s));
    put(o, "\"", 1);
}

static void prom_histogram(sink *o, const model_family *f, const backend_view *bv,
                           const ulm_model_series *s)
{
    uint64_t cumulative[ULM_METRICS_BUCKETS + 1], sum;
    read_histogram(field_of(s, f), cumulative, &sum);
    for (size_t i = 0; i <= ULM_METRICS_BUCKETS; i++) {
        prom_series_start(o, f->name, "_bucket", bv, s);
        put_str(o, ",le=\"");
        put_str(o, i < ULM_METRICS_BUCKETS ? f->bounds->le[i] : "+Inf");
        put_str(o, "\"} ");
        put_u64(o, cumulative[i]);
        put(o, "\n", 1);
    }
    prom_series_start(o, f->name, "_sum", bv, s);
    put_str(o, "} ");
    put_fixed(o, sum, sum_scale(f->bounds));
    put(o, "\n", 1);
    prom_series_start(o, f->name, "_count", bv, s);
    put_str(o, "} ");
    put_u64(o, cumulative[ULM_METRICS_BUCKETS]);
    put(o, "\n", 1);
}

static void prom_model_family(sink *o, const model_family *f, const snapshot *v)
{
    prom_header(o, f->name, f->help, f->kind == HISTOGRAM ? "histogram" : "counter");
    for (size_t b = 0; b < v->count; b++) {
        const backend_view *bv = &v->backends[b];
        for (size_t j = 0; j < bv->count; j++) {
            const ulm_model_series *s = bv->series[j];
            if (f->kind == HISTOGRAM) {
                prom_histogram(o, f, bv, s);
            } else if (f->kind == COUNTER) {
                prom_series_start(o, f->name, "", bv, s);
                put_str(o, "} ");
                put_u64(o, load(field_of(s, f)));
                put(o, "\n", 1);
            } else {
                /* only the classes that happened: thirty series per model would drown
                 * the few that matter */
                const ulm_metric_counter *by_class = field_of(s, f);
                for (size_t i = 0; i < ULM_METRICS_ERROR_CLASSES; i++) {
                    uint64_t n = load(&by_class[i]);
                    if (!n)
                        continue;
                    prom_series_start(o, f->name, "", bv, s);
                    put_str(o, ",class=\"");
                    put_str(o, class_name(i));
                    put_str(o, "\"} ");
                    put_u64(o, n);
                    put(o, "\n", 1);
                }
            }
        }
    }
}

static void prom_backend_line(sink *o, const char *name, const backend_view *bv)
{
    put_str(o, "ulm_");
    put_str(o, name);
    put_str(o, "{backend=\"");
    put_label_value(o, bv->bm->name);
    put_str(o, "\"} ");
}

static void prom_backends(sink *o, const snapshot *v)
{
    prom_header(o, "requests_in_flight", "Requests being sent or answered now.", "gauge");
    for (size_t b = 0; b < v->count; b++) {
        prom_backend_line(o, "requests_in_flight", &v->backends[b]);
        put_i64(o, atomic_load_explicit(&v->backends[b].bm->in_flight, memory_order_relaxed));
        put(o, "\n", 1);
    }
    prom_header(o, "queue_depth", "Requests waiting for a slot in the backend's limit.",
                "gauge");
    for (size_t b = 0; b < v->count; b++) {
        prom_backend_line(o, "queue_depth", &v->backends[b]);
        put_i64(o, atomic_load_explicit(&v->backends[b].bm->queued, memory_order_relaxed));
        put(o, "\n", 1);
    }
    prom_header(o, "queue_rejected_total",
                "Requests turned away because the backend's queue was full (resource_exhausted).",
                "counter");
    for (size_t b = 0; b < v->count; b++) {
        prom_backend_line(o, "queue_rejected_total", &v->backends[b]);
        put_u64(o, load(&v->backends[b].bm->queue_rejected));
        put(o, "\n", 1);
    }
    prom_header(o, "breaker_state",
                "Circuit breaker of each endpoint: 0 closed, 1 half-open, 2 open.", "gauge");
    for (size_t b = 0; b < v->count; b++) {
        const ulm_backend_metrics *bm = v->backends[b].bm;
        for (size_t e = 0; e < bm->endpoint_count; e++) {
            put_str(o, "ulm_breaker_state{backend=\"");
            put_label_value(o, bm->name);
            put_str(o, "\",endpoint=\"");
            put_label_value(o, bm->endpoints[e]);
            put_str(o, "\"} ");
            put_i64(o, atomic_load_explicit(&bm->breaker[e], memory_order_relaxed));
            put(o, "\n", 1);
        }
    }
}

static void prom_fallbacks(sink *o, const ulm_metrics *m)
{
    prom_header(o, "fallbacks_total",
                "Calls that moved on from one backend to the next target's.", "counter");
    for (size_t from = 0; from < m->backend_count; from++) {
        for (size_t to = 0; to < m->backend_count; to++) {
            uint64_t n = load(&m->fallbacks[from][to]);
            if (!n)
                continue;
            put_str(o, "ulm_fallbacks_total{from=\"");
            put_label_value(o, m->backends[from].name);
            put_str(o, "\",to=\"");
            put_label_value(o, m->backends[to].name);
            put_str(o, "\"} ");
            put_u64(o, n);
            put(o, "\n", 1);
        }
    }
}

/* A family of one series without labels: name, help, where its value is. */
typedef struct scalar_family {
    const char *name;
    const char *help;
    size_t offset;
} scalar_family;

/* The counters of fan-out rounds, in ulm_metrics. */
static const scalar_family round_families[] = {
    {"rounds_total", "Fan-out rounds: several models asked at once.",
     offsetof(ulm_metrics, rounds)},
    {"round_members_total", "Models asked in fan-out rounds.",
     offsetof(ulm_metrics, round_members)},
    {"rounds_quorum_reached_total", "Fan-out rounds that reached their quorum.",
     offsetof(ulm_metrics, rounds_quorum_reached)},
    {"round_members_cancelled_total", "Members cancelled once their round's quorum was reached.",
     offsetof(ulm_metrics, round_members_cancelled)},
};

static uint64_t round_value(const ulm_metrics *m, const scalar_family *f)
{
    return load((const ulm_metric_counter *)((const char *)m + f->offset));
}

/* The gauges of what the library holds, in ulm_resource_view. */
static const scalar_family resource_families[] = {
    {"heap_bytes",
     "Heap the library holds in this process, all clients and the requests, responses and "
     "round results the program holds included; libcurl's and jansson's own allocations are "
     "not in it.",
     offsetof(ulm_resource_view, heap_bytes)},
    {"connections_open",
     "Sockets the client's engines hold open: connections in flight and kept alive for the "
     "next requests.",
     offsetof(ulm_resource_view, connections_open)},
    {"engines_idle",
     "Engines (a libcurl multi handle with its kept-alive connections) waiting in the "
     "client's pool.",
     offsetof(ulm_resource_view, engines_idle)},
};

static int64_t resource_value(const ulm_resource_view *res, const scalar_family *f)
{
    return *(const int64_t *)((const char *)res + f->offset);
}

/* The header of a family of one series and the start of its line: "ulm_<name> ". */
static void prom_scalar_start(sink *o, const scalar_family *f, const char *type)
{
    prom_header(o, f->name, f->help, type);
    put_str(o, "ulm_");
    put_str(o, f->name);
    put(o, " ", 1);
}

static void write_prometheus(sink *o, const ulm_metrics *m, const ulm_resource_view *res,
                             const snapshot *v)
{
    for (size_t i = 0; i < FAMILY_COUNT(model_families); i++)
        prom_model_family(o, &model_families[i], v);
    prom_backends(o, v);
    prom_fallbacks(o, m);
    for (size_t i = 0; i < FAMILY_COUNT(round_families); i++) {
        prom_scalar_start(o, &round_families[i], "counter");
        put_u64(o, round_value(m, &round_families[i]));
        put(o, "\n", 1);
    }
    for (size_t i = 0; res && i < FAMILY_COUNT(resource_families); i++) {
        prom_scalar_start(o, &resource_families[i], "gauge");
        put_i64(o, resource_value(res, &resource_families[i]));
        put(o, "\n", 1);
    }
}

/* ---------------------------------------------------------------- JSON */

/* "name": - a member's key, with the comma before every member but the first */
static void json_key(sink *o, int *first, const char *name)
{
    if (!*first)
        put(o, ",", 1);
    *first = 0;
    put_json_string(o, name);
    put(o, ":", 1);
}

static void json_histogram(sink *o, const model_family *f, const ulm_model_series *s)
{
    uint64_t cumulative[ULM_METRICS_BUCKETS + 1], sum;
    read_histogram(field_of(s, f), cumulative, &sum);
    put_str(o, "{\"count\":");
    put_u64(o, cumulative[ULM_METRICS_BUCKETS]);
    put_str(o, ",\"sum\":");
    put_fixed(o, sum, sum_scale(f->bounds));
    put_str(o, ",\"buckets\":{");
    for (size_t i = 0; i <= ULM_METRICS_BUCKETS; i++) {
        put_str(o, i ? ",\"" : "\"");
        put_str(o, i < ULM_METRICS_BUCKETS ? f->bounds->le[i] : "+Inf");
        put_str(o, "\":");
        put_u64(o, cumulative[i]);
    }
    put_str(o, "}}");
}

static void json_model(sink *o, const ulm_model_series *s)
{
    int first = 1;
    put(o, "{", 1);
    json_key(o, &first, "model");
    put_json_string(o, model_label(s));
    for (size_t i = 0; i < FAMILY_COUNT(model_families); i++) {
        const model_family *f = &model_families[i];
        json_key(o, &first, f->name);
        if (f->kind == HISTOGRAM) {
            json_histogram(o, f, s);
        } else if (f->kind == COUNTER) {
            put_u64(o, load(field_of(s, f)));
        } else {
            const ulm_metric_counter *by_class = field_of(s, f);
            int first_class = 1;
            put(o, "{", 1);
            for (size_t c = 0; c < ULM_METRICS_ERROR_CLASSES; c++) {
                uint64_t n = load(&by_class[c]);
                if (!n)
                    continue;
                json_key(o, &first_class, class_name(c));
                put_u64(o, n);
            }
            put(o, "}", 1);
        }
    }
    put(o, "}", 1);
}

static void json_backend(sink *o, const backend_view *bv)
{
    const ulm_backend_metrics *bm = bv->bm;
    put_str(o, "{\"backend\":");
    put_json_string(o, bm->name);
    put_str(o, ",\"requests_in_flight\":");
    put_i64(o, atomic_load_explicit(&bm->in_flight, memory_order_relaxed));
    put_str(o, ",\"queue_depth\":");
    put_i64(o, atomic_load_explicit(&bm->queued, memory_order_relaxed));
    put_str(o, ",\"queue_rejected_total\":");
    put_u64(o, load(&bm->queue_rejected));
    put_str(o, ",\"breaker_state\":[");
    for (size_t e = 0; e < bm->endpoint_count; e++) {
        put_str(o, e ? ",{\"endpoint\":" : "{\"endpoint\":");
        put_json_string(o, bm->endpoints[e]);
        put_str(o, ",\"state\":");
        put_i64(o, atomic_load_explicit(&bm->breaker[e], memory_order_relaxed));
        put(o, "}", 1);
    }
    put_str(o, "],\"models\":[");
    for (size_t j = 0; j < bv->count; j++) {
        if (j)
            put(o, ",", 1);
        json_model(o, bv->series[j]);
    }
    put_str(o, "]}");
}

static void write_json(sink *o, const ulm_metrics *m, const ulm_resource_view *res,
                       const snapshot *v)
{
    put_str(o, "{\"backends\":[");
    for (size_t b = 0; b < v->count; b++) {
        if (b)
            put(o, ",", 1);
        json_backend(o, &v->backends[b]);
    }
    put_str(o, "],\"fallbacks_total\":[");
    int first = 1;
    for (size_t from = 0; from < m->backend_count; from++) {
        for (size_t to = 0; to < m->backend_count; to++) {
            uint64_t n = load(&m->fallbacks[from][to]);
            if (!n)
                continue;
            put_str(o, first ? "{\"from\":" : ",{\"from\":");
            first = 0;
            put_json_string(o, m->backends[from].name);
            put_str(o, ",\"to\":");
            put_json_string(o, m->backends[to].name);
            put_str(o, ",\"value\":");
            put_u64(o, n);
            put(o, "}", 1);
        }
    }
    put(o, "]", 1);
    int first_key = 0; /* "backends" and "fallbacks_total" came before */
    for (size_t i = 0; i < FAMILY_COUNT(round_families); i++) {
        json_key(o, &first_key, round_families[i].name);
        put_u64(o, round_value(m, &round_families[i]));
    }
    for (size_t i = 0; res && i < FAMILY_COUNT(resource_families); i++) {
        json_key(o, &first_key, resource_families[i].name);
        put_i64(o, resource_value(res, &resource_families[i]));
    }
    put(o, "}", 1);
}

/* ---------------------------------------------------------------- entry points */

size_t ulm__metrics_write(const ulm_metrics *m, const ulm_resource_view *res, int format,
                          char *buf, size_t size)
{
    sink o = {.buf = buf, .size = buf ? size : 0};
    if (m && (format == ULM_METRICS_PROMETHEUS || format == ULM_METRICS_JSON)) {
        snapshot v;
        take_snapshot(m, &v);
        if (format == ULM_METRICS_PROMETHEUS)
            write_prometheus(&o, m, res, &v);
        else
            write_json(&o, m, res, &v);
    }
    if (o.size)
        buf[o.len < o.size ? o.len : o.size - 1] = '\0';
    return o.len;
}

size_t ulm_client_metrics(ulm_client *client, int format, char *buf, size_t size)
{
    if (!client)
        return ulm__metrics_write(NULL, NULL, format, buf, size);
    ulm_resource_view res = {.heap_bytes = (int64_t)ulm__heap_held(),
                             .connections_open = ulm__engine_pool_sockets(client->engines),
                             .engines_idle = ulm__engine_pool_idle(client->engines)};
    return ulm__metrics_write(client->metrics, &res, format, buf, size);
}
