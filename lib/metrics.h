/* metrics.h - a client's metrics registry: what the call path records, without locks. */
#ifndef ULM_METRICS_H
#define ULM_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "client.h"

/*
 * Every number is a C11 atomic bumped with a relaxed increment: recording takes no lock
 * and allocates nothing, except the once-per-model claim of a model's series (below).
 * Counters only ever grow; an export reads each value once, so a histogram's count is
 * the sum of the bucket counts it printed and always equals its +Inf bucket.
 *
 * Backends are named by their index in the client's backends[]; a recording for an index
 * the registry does not know is ignored, and so is every recording on a NULL registry.
 */

/* Models per backend with series of their own. The 33rd model of a backend, and any name
 * that is empty, not UTF-8, longer than 255 bytes or "other", counts under model="other". */
#define ULM_METRICS_MODEL_CAP 32

/* Error classes a failure is counted under: every code from ULM_EINVAL to the last one
 * (ulm_error_name), and "unknown" for anything else. A test holds this to the error list. */
#define ULM_METRICS_ERROR_CLASSES (-ULM_ECONTENT_FILTER + 1)

/* Finite upper bounds of the histograms (docs/metrics.md says why these). */
#define ULM_METRICS_BUCKETS 13

typedef atomic_uint_fast64_t ulm_metric_counter;

/* A histogram's finite upper bounds as integers of its unit (microseconds; thousandths of
 * a token per second), so that an observation on a bound lands in that bound's bucket
 * exactly, and the text of each as its le label. */
typedef struct ulm_metric_bounds {
    uint64_t at[ULM_METRICS_BUCKETS];
    const char *le[ULM_METRICS_BUCKETS];
} ulm_metric_bounds;

ULM_HIDDEN extern const ulm_metric_bounds ulm__metrics_seconds, ulm__metrics_token_rate;

/* Cumulative on export; counts per bucket here, so one observation is one increment. The
 * sum is kept in micro-units (microseconds, or thousandths of a token per second) as an
 * integer, which atomics add exactly. */
typedef struct ulm_metric_histogram {
    ulm_metric_counter bucket[ULM_METRICS_BUCKETS + 1]; /* the last is +Inf */
    ulm_metric_counter sum;
} ulm_metric_histogram;

/* The series of one backend and model. */
typedef struct ulm_model_series {
    char *name; /* NULL for model="other" */
    atomic_int used; /* model="other" is exported once something was counted in it */
    ulm_metric_counter requests_started, requests_succeeded, requests_cancelled;
    ulm_metric_counter requests_failed[ULM_METRICS_ERROR_CLASSES];
    ulm_metric_counter retries;
    ulm_metric_counter calls_succeeded, calls_cancelled, calls_served_offline;
    ulm_metric_counter calls_failed[ULM_METRICS_ERROR_CLASSES];
    ulm_metric_counter prompt_tokens, completion_tokens;
    ulm_metric_histogram request_seconds, call_seconds, first_token_seconds, load_wait_seconds;
    ulm_metric_histogram tokens_per_second;
} ulm_model_series;

/* The series of one backend: its models, its queue, its endpoints' breakers. */
typedef struct ulm_backend_metrics {
    char *name;
    int hidden;               /* switched off by a feature flag: not exported */
    char **endpoints;         /* the endpoint label of each URL: no userinfo, no query */
    atomic_int *breaker;      /* per endpoint: 0 closed, 1 half-open, 2 open */
    size_t endpoint_count;
    _Atomic(ulm_model_series *) models[ULM_METRICS_MODEL_CAP]; /* claimed in order */
    ulm_model_series other;
    atomic_int_fast64_t in_flight, queued;
    ulm_metric_counter queue_rejected;
} ulm_backend_metrics;

struct ulm_metrics {
    ulm_backend_metrics backends[ULM_MAX_BACKENDS];
    size_t backend_count;
    ulm_metric_counter fallbacks[ULM_MAX_BACKENDS][ULM_MAX_BACKENDS]; /* [from][to] */
    ulm_metric_counter rounds, round_members, rounds_quorum_reached, round_members_cancelled;
};

/* ---------------------------------------------------------------- lifecycle */

/*
 * A registry for a client whose backends are built: the names, hidden flags and endpoint
 * URLs of backends[0..count) are copied. ULM_ENOMEM or ULM_EINVAL (count above
 * ULM_MAX_BACKENDS); *out is NULL then.
 */
ULM_HIDDEN int ulm__metrics_new(ulm_metrics **out, const ulm_backend *backends, size_t count);

/*
 * Registers backend index anew after creation (ulm_client_add_provider adds one at the
 * end, or replaces one of the same name, which keeps its counts). Not while calls run.
 */
ULM_HIDDEN int ulm__metrics_set_backend(ulm_metrics *m, size_t index, const ulm_backend *b);

/* NULL is allowed. */
ULM_HIDDEN void ulm__metrics_free(ulm_metrics *m);

/* ---------------------------------------------------------------- recording */

/* A request (one attempt) is about to be sent to backend's model. */
ULM_HIDDEN void ulm__metrics_request_started(ulm_metrics *m, size_t backend, const char *model);

/*
 * A request ended with error (ULM_OK: it answered) after ms. first_token_ms: from its
 * start to the first token, -1 when no token came or it was not streamed; load_wait_ms:
 * the time a local model took to load, -1 when unknown; tokens as the backend reported
 * them, -1 for none. ULM_ECANCELLED counts as cancelled, not failed.
 */
ULM_HIDDEN void ulm__metrics_request_finished(ulm_metrics *m, size_t backend, const char *model,
                                              int error, double ms, double first_token_ms,
                                              double load_wait_ms, long prompt_tokens,
                                              long completion_tokens);

/* The same target is asked again after a failure. */
ULM_HIDDEN void ulm__metrics_retry(ulm_metrics *m, size_t backend, const char *model);

/* A call moves on from one backend to the next target's. */
ULM_HIDDEN void ulm__metrics_fallback(ulm_metrics *m, size_t from, size_t to);

/*
 * A call (ulm_complete) ended with error after ms; backend and model are those that
 * answered, or the last asked. ULM_ECANCELLED counts as cancelled, not failed.
 */
ULM_HIDDEN void ulm__metrics_call_finished(ulm_metrics *m, size_t backend, const char *model,
                                           int error, double ms);

/* A call was served offline by backend's local model (ulm_response_offline). */
ULM_HIDDEN void ulm__metrics_served_offline(ulm_metrics *m, size_t backend, const char *model);

/* Backend's queue turned a request away (ULM_EBUSY); nothing was sent. */
ULM_HIDDEN void ulm__metrics_queue_rejected(ulm_metrics *m, size_t backend);

/* Requests in flight at backend, and requests waiting in its queue: +1 or -1. */
ULM_HIDDEN void ulm__metrics_in_flight(ulm_metrics *m, size_t backend, int delta);
ULM_HIDDEN void ulm__metrics_queued(ulm_metrics *m, size_t backend, int delta);

/* The breaker of backend's endpoint (its index in the backend's urls) is now state. */
ULM_HIDDEN void ulm__metrics_breaker(ulm_metrics *m, size_t backend, size_t endpoint,
                                     ulm_breaker_state state);

/* A fan-out round ended: members asked, whether the quorum was reached, and how many
 * members were cancelled once it was. */
ULM_HIDDEN void ulm__metrics_round(ulm_metrics *m, unsigned int members, int quorum_reached,
                                   unsigned int cancelled);

/* ---------------------------------------------------------------- export */

/* What the library holds, read as the metrics are written. */
typedef struct ulm_resource_view {
    int64_t heap_bytes;         /* ulm__heap_held(): the whole process's library heap */
    int64_t connections_open;   /* the client's engines' sockets, in flight and kept alive */
    int64_t engines_idle;       /* engines waiting in the client's pool */
} ulm_resource_view;

/* ulm_client_metrics() on a registry: ULM_METRICS_PROMETHEUS or ULM_METRICS_JSON into buf,
 * snprintf-like, with the resources res (NULL: not written). Allocates nothing. */
ULM_HIDDEN size_t ulm__metrics_write(const ulm_metrics *m, const ulm_resource_view *res,
                                     int format, char *buf, size_t size);

#endif /* ULM_METRICS_H */
