/* metrics.c - a client's metrics registry: creation, and the recordings of the call path. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "utf8.h"

/*
 * Latency, in microseconds: a warm small model answers a short prompt in tens of
 * milliseconds, a first token waits behind a model load of seconds to a minute (the
 * default load budget and first-token clock are 60 s), and a long answer from a slow
 * model can take minutes (the default deadline of a call is 300 s).
 */
const ulm_metric_bounds ulm__metrics_seconds = {
    {25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
     60000000, 120000000, 300000000},
    {"0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300"}};

/* Generated tokens per second, in thousandths: a small model on a CPU makes a few, a GPU
 * or a cloud model tens to hundreds, a tiny model a thousand and more. */
const ulm_metric_bounds ulm__metrics_token_rate = {
    {1000, 5000, 10000, 20000, 30000, 50000, 75000, 100000, 150000, 200000, 300000, 500000,
     1000000},
    {"1", "5", "10", "20", "30", "50", "75", "100", "150", "200", "300", "500", "1000"}};

/* ---------------------------------------------------------------- lifecycle */

/* The part of a URL that may be shown: no user or password before the host, no query. */
static char *endpoint_label(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    size_t authority = strcspn(host, "/?#");
    const char *at = memchr(host, '@', authority);
    size_t scheme_len = (size_t)(host - url);
    const char *rest = at ? at + 1 : host;
    size_t rest_len = strcspn(rest, "?#");
    char *label = ulm__malloc(scheme_len + rest_len + 1);
    if (label) {
        memcpy(label, url, scheme_len);
        memcpy(label + scheme_len, rest, rest_len);
        label[scheme_len + rest_len] = '\0';
    }
    return label;
}

static void clear_endpoints(ulm_backend_metrics *bm)
{
    for (size_t i = 0; i < bm->endpoint_count; i++)
        ulm__free(bm->endpoints[i]);
    ulm__free(bm->endpoints);
    ulm__free(bm->breaker);
    bm->endpoints = NULL;
    bm->breaker = NULL;
    bm->endpoint_count = 0;
}

/* Fills a fresh slot's name and endpoints from b; on failure the slot keeps what it has. */
static int describe_backend(ulm_backend_metrics *bm, const ulm_backend *b)
{
    ulm_backend_metrics fresh = {0};
    fresh.name = ulm__strdup(b->name);
    fresh.endpoints = ulm__calloc(b->endpoint_count, sizeof *fresh.endpoints);
    fresh.breaker = ulm__calloc(b->endpoint_count, sizeof *fresh.breaker);
    int rc = fresh.name && fresh.endpoints && fresh.breaker ? ULM_OK : ULM_ENOMEM;
    for (size_t i = 0; rc == ULM_OK && i < b->endpoint_count; i++) {
        if (!(fresh.endpoints[i] = endpoint_label(b->urls[i])))
            rc = ULM_ENOMEM;
        fresh.endpoint_count = i + 1;
    }
    if (rc != ULM_OK) {
        ulm__free(fresh.name);
        clear_endpoints(&fresh);
        return rc;
    }
    ulm__free(bm->name);
    clear_endpoints(bm);
    bm->name = fresh.name;
    bm->endpoints = fresh.endpoints;
    bm->breaker = fresh.breaker;
    bm->endpoint_count = fresh.endpoint_count;
    bm->hidden = b->hidden;
    return ULM_OK;
}

int ulm__metrics_set_backend(ulm_metrics *m, size_t index, const ulm_backend *b)
{
    if (!m || !b || index >= ULM_MAX_BACKENDS || index > m->backend_count)
        return ULM_EINVAL;
    int rc = describe_backend(&m->backends[index], b);
    if (rc == ULM_OK && index == m->backend_count)
        m->backend_count++;
    return rc;
}

int ulm__metrics_new(ulm_metrics **out, const ulm_backend *backends, size_t count)
{
    *out = NULL;
    if (count > ULM_MAX_BACKENDS)
        return ULM_EINVAL;
    ulm_metrics *m = ulm__calloc(1, sizeof *m);
    if (!m)
        return ULM_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        int rc = ulm__metrics_set_backend(m, i, &backends[i]);
        if (rc != ULM_OK) {
            ulm__metrics_free(m);
            return rc;
        }
    }
    *out = m;
    return ULM_OK;
}

void ulm__metrics_free(ulm_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->backend_count; i++) {
        ulm_backend_metrics *bm = &m->backends[i];
        ulm__free(bm->name);
        clear_endpoints(bm);
        for (size_t j = 0; j < ULM_METRICS_MODEL_CAP; j++) {
            ulm_model_series *s = atomic_load_explicit(&bm->models[j], memory_order_acquire);
            if (s)
                ulm__free(s->name);
            ulm__free(s);
        }
    }
    ulm__free(m);
}

/* ---------------------------------------------------------------- models */

/* Whether a name may have series of its own: a label value Prometheus and JSON take as it
 * is, and not the name of the overflow series. */
static int own_series_allowed(const char *model)
{
    return model && *model && strlen(model) < 256 && strcmp(model, "other") != 0 &&
           ulm__valid_utf8(model);
}

static ulm_model_series *other_of(ulm_backend_metrics *bm)
{
    if (!atomic_load_explicit(&bm->other.used, memory_order_relaxed))
        atomic_store_explicit(&bm->other.used, 1, memory_order_relaxed);
    return &bm->other;
}

/*
 * Claims a free slot from index first on for model: a fresh series goes in with a
 * compare-and-swap, so two threads claiming the same new model end with one slot, and
 * the loser takes the winner's. A series is published whole (release) before anyone can
 * see its pointer. The only allocation of the hot path, once per model.
 */
static ulm_model_series *claim(ulm_backend_metrics *bm, size_t first, const char *model)
{
    if (!own_series_allowed(model))
        return other_of(bm);
    ulm_model_series *fresh = ulm__calloc(1, sizeof *fresh);
    if (fresh && !(fresh->name = ulm__strdup(model))) {
        ulm__free(fresh);
        fresh = NULL;
    }
    if (!fresh)
        return other_of(bm); /* out of memory: counted, if not under its own name */
    for (size_t i = first; i < ULM_METRICS_MODEL_CAP; i++) {
        ulm_model_series *seen = NULL;
        if (atomic_compare_exchange_strong_explicit(&bm->models[i], &seen, fresh,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire))
            return fresh;
        if (strcmp(seen->name, model) == 0) {
            ulm__free(fresh->name);
            ulm__free(fresh);
            return seen;
        }
    }
    ulm__free(fresh->name);
    ulm__free(fresh);
    return other_of(bm);
}

/* The series of backend's model, claimed on its first recording; NULL for an unknown
 * backend. Slots fill in order and are never given back, so the first empty one ends the
 * search. */
static ulm_model_series *series_of(ulm_metrics *m, size_t backend, const char *model)
{
    if (!m || backend >= m->backend_count)
        return NULL;
    ulm_backend_metrics *bm = &m->backends[backend];
    for (size_t i = 0; i < ULM_METRICS_MODEL_CAP; i++) {
        ulm_model_series *s = atomic_load_explicit(&bm->models[i], memory_order_acquire);
        if (!s)
            return claim(bm, i, model);
        if (model && strcmp(s->name, model) == 0)
            return s;
    }
    return other_of(bm);
}

/* ---------------------------------------------------------------- recording */

static void bump(ulm_metric_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void observe(ulm_metric_histogram *h, const ulm_metric_bounds *b, uint64_t value)
{
    size_t i = 0;
    while (i < ULM_METRICS_BUCKETS && value > b->at[i])
        i++;
    bump(&h->bucket[i], 1);
    bump(&h->sum, value);
}

/* Milliseconds as whole microseconds; NaN and negative times as 0. */
static uint64_t microseconds(double ms)
{
    if (!(ms > 0))
        return 0;
    if (ms >= 1e13) /* three centuries: held there, not undefined */
        return (uint64_t)1e16;
    return (uint64_t)(ms * 1000.0 + 0.5);
}

/* The failure counter of error's class: its slot, or the last one for an unknown code. */
static ulm_metric_counter *class_counter(ulm_metric_counter *by_class, int error)
{
    size_t i = error < 0 && error > -ULM_METRICS_ERROR_CLASSES ? (size_t)(-error - 1)
                                                                : ULM_METRICS_ERROR_CLASSES - 1;
    return &by_class[i];
}

/*
 * Generation speed: after the first token, the tokens that followed over the time they
 * took (a streamed answer), else all of them over the whole request; 0 when it cannot be
 * told. In thousandths of a token per second.
 */
static uint64_t token_rate(long completion_tokens, double ms, double first_token_ms)
{
    double tokens = (double)completion_tokens, span = ms;
    if (first_token_ms >= 0 && completion_tokens > 1 && ms > first_token_ms) {
        tokens -= 1;
        span = ms - first_token_ms;
    }
    if (completion_tokens <= 0 || !(span > 0))
        return 0;
    double rate = tokens / span * 1e6;
    return rate >= 1e15 ? (uint64_t)1e15 : (uint64_t)(rate + 0.5);
}

void ulm__metrics_request_started(ulm_metrics *m, size_t backend, const char *model)
{
    ulm_model_series *s = series_of(m, backend, model);
    if (s)
        bump(&s->requests_started, 1);
}

void ulm__metrics_request_finished(ulm_metrics *m, size_t backend, const char *model,
                                   int error, double ms, double first_token_ms,
                                   double load_wait_ms, long prompt_tokens,
                                   long completion_tokens)
{
    ulm_model_series *s = series_of(m, backend, model);
    if (!s)
        return;
    if (error == ULM_OK) {
        bump(&s->requests_succeeded, 1);
        observe(&s->request_seconds, &ulm__metrics_seconds, microseconds(ms));
        uint64_t rate = token_rate(completion_tokens, ms, first_token_ms);
        if (rate)
            observe(&s->tokens_per_second, &ulm__metrics_token_rate, rate);
    } else if (error == ULM_ECANCELLED) {
        bump(&s->requests_cancelled, 1);
    } else {
        bump(class_counter(s->requests_failed, error), 1);
    }
    if (first_token_ms >= 0)
        observe(&s->first_token_seconds, &ulm__metrics_seconds, microseconds(first_token_ms));
    if (load_wait_ms >= 0)
        observe(&s->load_wait_seconds, &ulm__metrics_seconds, microseconds(load_wait_ms));
    if (prompt_tokens > 0)
        bump(&s->prompt_tokens, (uint64_t)prompt_tokens);
    if (completion_tokens > 0)
        bump(&s->completion_tokens, (uint64_t)completion_tokens);
}

void ulm__metrics_retry(ulm_metrics *m, size_t backend, const char *model)
{
    ulm_model_series *s = series_of(m, backend, model);
    if (s)
        bump(&s->retries, 1);
}

void ulm__metrics_fallback(ulm_metrics *m, size_t from, size_t to)
{
    if (m && from < m->backend_count && to < m->backend_count)
        bump(&m->fallbacks[from][to], 1);
}

void ulm__metrics_call_finished(ulm_metrics *m, size_t backend, const char *model, int error,
                                double ms)
{
    ulm_model_series *s = series_of(m, backend, model);
    if (!s)
        return;
    if (error == ULM_OK) {
        bump(&s->calls_succeeded, 1);
        observe(&s->call_seconds, &ulm__metrics_seconds, microseconds(ms));
    } else if (error == ULM_ECANCELLED) {
        bump(&s->calls_cancelled, 1);
    } else {
        bump(class_counter(s->calls_failed, error), 1);
    }
}

void ulm__metrics_served_offline(ulm_metrics *m, size_t backend, const char *model)
{
    ulm_model_series *s = series_of(m, backend, model);
    if (s)
        bump(&s->calls_served_offline, 1);
}

void ulm__metrics_queue_rejected(ulm_metrics *m, size_t backend)
{
    if (m && backend < m->backend_count)
        bump(&m->backends[backend].queue_rejected, 1);
}

void ulm__metrics_in_flight(ulm_metrics *m, size_t backend, int delta)
{
    if (m && backend < m->backend_count)
        atomic_fetch_add_explicit(&m->backends[backend].in_flight, delta, memory_order_relaxed);
}

void ulm__metrics_queued(ulm_metrics *m, size_t backend, int delta)
{
    if (m && backend < m->backend_count)
        atomic_fetch_add_explicit(&m->backends[backend].queued, delta, memory_order_relaxed);
}

void ulm__metrics_breaker(ulm_metrics *m, size_t backend, size_t endpoint,
                          ulm_breaker_state state)
{
    if (!m || backend >= m->backend_count || endpoint >= m->backends[backend].endpoint_count)
        return;
    /* Exported in the order of severity: closed, half-open, open. */
    int value = state == ULM_BREAKER_OPEN ? 2 : state == ULM_BREAKER_HALF_OPEN ? 1 : 0;
    atomic_store_explicit(&m->backends[backend].breaker[endpoint], value, memory_order_relaxed);
}

void ulm__metrics_round(ulm_metrics *m, unsigned int members, int quorum_reached,
                        unsigned int cancelled)
{
    if (!m)
        return;
    bump(&m->rounds, 1);
    bump(&m->round_members, members);
    if (quorum_reached)
        bump(&m->rounds_quorum_reached, 1);
    bump(&m->round_members_cancelled, cancelled);
}
